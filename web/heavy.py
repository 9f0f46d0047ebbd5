"""Heavy reads (asks, triple listings, the full digest) in worker processes.

Why: a check is well under a millisecond of Python, but in one server process it waits for the GIL
behind every ask (retrieval, evidence selection, SQLAlchemy rows) and listing. Each worker process
loads the index and the embedding model once, at start, and answers from its own copy (about
0.55 GB each on the demo store). The server process keeps only checks, review writes and HTTP.
Workers load at normal priority (at a lower one, on a machine shared with other jobs, they starved
and took minutes to load), then step aside: with `web.worker_idle` (the default on Linux) every thread
of a worker runs under SCHED_IDLE, so a worker takes any CPU the server process does not want and a
check or review preempts it at once; else their priority drops by `web.worker_nice`. With
`web.split_cpus` the server process keeps the first CPU and the workers run on the others. On the idle
2-core machine, idle-class workers on every CPU measured best for checks and asks alike
(docs/speed.md): a pinned server leaves most of its core unused.

The pool is bounded: at most `workers + queue` heavy requests are admitted at once; past that the
caller gets `Busy` (the server answers 503 with Retry-After) instead of a queue whose latency grows
without limit. A worker that dies is replaced on the next request. The full digest (seconds to
minutes of Python after a label change) is built by one more worker without a model, so it
neither holds the server's GIL nor takes an ask worker away.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pgxlit.config import Settings

log = logging.getLogger("pgxlit.web.heavy")

WARM_QUESTION = "Which gene should be tested before prescribing this drug?"


class Busy(RuntimeError):
    """Too many heavy requests in flight; the client should retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# ---- worker side (runs in the child processes) --------------------------------------------------
_services: Any = None


def _init_worker(settings: Settings, threads: int, preload: bool, cpus: set[int] | None) -> None:
    """Cap native threads to this worker's share of cores; an ask worker loads index and model once."""
    global _services
    pin_cpus(cpus)  # before any thread starts: they inherit it
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="pgxlit-parent-watch").start()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)  # before faiss/numpy start their thread pools
    from pgxlit.web.services import Services

    _services = Services(settings, lambda: None)
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
        if preload and _services.index_ready():
            # load now, and answer once so the lazily built parts (lexicons, extractors) are ready too
            _services.ask(WARM_QUESTION)
    except Exception:  # no index yet, or it cannot load: the ask that needs it reports why
        log.warning("worker could not preload the answerer; asks will retry", exc_info=True)
    lower_priority(settings.web.worker_nice, settings.web.worker_idle)


def lower_priority(nice: int, idle: bool = False) -> None:
    """Once loaded, this worker yields the cores to the server process: a check (a few milliseconds of the
    server's CPU) is scheduled before the next slice of an ask. Loading happens before, at normal priority,
    because at a lower one on a busy machine a worker took minutes to load.

    `idle`: every thread of the process (faiss's and ONNX Runtime's too; threads started later inherit
    it) moves to SCHED_IDLE, which preempts at once for any normal task; Linux scheduling is per thread,
    so the process's own priority alone would leave the threads it already started as they were."""
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            for tid in os.listdir("/proc/self/task"):
                os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
            return
        except OSError:  # not permitted or no /proc here: fall back to niceness
            log.warning("could not move the ask worker to SCHED_IDLE; lowering its priority instead")
    if nice > 0:
        try:
            os.nice(nice)
        except OSError:  # not permitted here: keep the priority it has
            log.warning("could not lower the ask worker's priority by %d", nice)


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(the server's CPU, the workers' CPUs): the first CPU this process may use, and the others;
    None with fewer than two. Fixed cores measured better than priorities alone on a shared 2-core
    machine: asks no longer take the core a check is waiting for (docs/speed.md)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return ({cpus[0]}, set(cpus[1:])) if len(cpus) >= 2 else None


def pin_cpus(cpus: set[int] | None) -> None:
    """Keep this process, and the threads it starts from now on, on `cpus` (None: leave it)."""
    if cpus:
        os.sched_setaffinity(0, cpus)


def _exit_with_parent(parent: int) -> None:
    """A worker whose server died (kill -9, a crash) exits too, rather than holding a model's memory."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _ask(question: str, k: int | None, source: str | None, all_versions: bool) -> Any:
    return _services.ask(question, k, source, all_versions)


def _triple_entries(kwargs: dict[str, Any]) -> tuple[int, list[Any]]:
    return _services.store.triple_entries(**kwargs)


def _digest_full() -> tuple[Any, Any]:
    """The digest of every stored label and the version index it is narrowed with (pickled back)."""
    from pgxlit.digest.build import Selection, build_digest
    from pgxlit.digest.source import version_index

    store = _services.store
    return build_digest(store, Selection()), version_index(store)


def _ping() -> int:
    return os.getpid()


TASKS = {"ask": _ask, "triple_entries": _triple_entries, "digest_full": _digest_full, "ping": _ping}
SLOW_TASKS = frozenset({"digest_full"})  # seconds to minutes each: their own worker, outside the ask queue


# ---- server side ---------------------------------------------------------------------------------
class _Lane:
    """One ProcessPoolExecutor, started on first use and replaced when a worker dies."""

    def __init__(self, settings: Settings, workers: int, threads: int, preload: bool,
                 cpus: set[int] | None = None) -> None:
        self.workers = workers
        self._initargs = (settings, threads, preload, cpus)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._started: list[Future] = []  # one ping per worker: done once that worker has loaded

    def ready(self) -> bool:
        """At least one worker has finished loading (its start-up ping was answered)."""
        return any(f.done() and not f.cancelled() and f.exception() is None for f in self._started)

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the server process has threads (uvicorn, refreshes) that fork would copy mid-lock
                self._executor = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"),
                                                     initializer=_init_worker, initargs=self._initargs)
                # one task each, so every worker starts (and loads) now; answered once it has loaded
                self._started = [self._executor.submit(_ping) for _ in range(self.workers)]
            return self._executor

    def run(self, fn: Any, *args: Any) -> Any:
        try:
            return self.executor().submit(fn, *args).result()
        except BrokenProcessPool as exc:
            log.error("a heavy worker died (%s); starting new workers", exc)
            with self._lock:
                broken, self._executor = self._executor, None
                self._started = []
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            raise Busy("a worker process stopped; it is being restarted, retry shortly", retry_after=5) from exc

    def pids(self) -> list[int]:
        executor = self._executor
        return [p.pid for p in (executor._processes or {}).values()] if executor is not None else []  # noqa: SLF001

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._started = []
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


class HeavyPool:
    """`workers` processes with their own answerer for asks and listings, and one more (no model) for
    the full digest, so a digest rebuild never holds up asks. `call` blocks the calling thread, not the GIL."""

    def __init__(self, settings: Settings, workers: int, queue: int) -> None:
        if workers < 1:
            raise ValueError("a heavy pool needs at least one worker process")
        self.settings = settings
        self.workers = workers
        self.queue = max(0, queue)
        self._lock = threading.Lock()
        self._in_flight = 0
        split = split_cpus() if settings.web.split_cpus else None
        self.server_cpus, cpus = split if split else (None, None)
        threads = max(1, len(cpus or os.sched_getaffinity(0)) // workers)
        self._asks = _Lane(settings, workers, threads, preload=True, cpus=cpus)
        self._slow = _Lane(settings, 1, 1, preload=False, cpus=cpus)

    @property
    def capacity(self) -> int:
        """Asks and listings admitted at once: one running per worker plus the waiting queue."""
        return self.workers + self.queue

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        """Start the ask workers now (they load the index and model) rather than on the first ask."""
        self._asks.executor()

    def ready(self) -> bool:
        """At least one ask worker has loaded its index and model."""
        return self._asks.ready()

    def call(self, task: str, *args: Any, meanwhile: Callable[[], Any] | None = None) -> Any:
        """Run one task in a worker and return its result; Busy when the pool is full or a worker died.

        `meanwhile`: how to answer in this process while no worker has loaded yet (a listing needs no
        model; without it a listing waited for a worker's seconds of loading, past the request timeout)."""
        fn = TASKS[task]
        if task in SLOW_TASKS:  # the caller serialises these (one digest build at a time)
            return self._slow.run(fn, *args)
        with self._lock:
            if self._in_flight >= self.capacity:
                raise Busy(f"the server is answering {self._in_flight} heavy requests already; retry shortly",
                           retry_after=max(1, self._in_flight // self.workers))
            self._in_flight += 1
        try:
            if meanwhile is not None and not self._asks.ready():
                self._asks.executor()  # the workers load meanwhile
                return meanwhile()
            return self._asks.run(fn, *args)
        finally:
            with self._lock:
                self._in_flight -= 1

    def pids(self) -> list[int]:
        """The ask workers' process ids (for CPU and memory figures), empty before they start."""
        return self._asks.pids()

    def digest_pids(self) -> list[int]:
        """The digest worker's process id once it has started (its CPU is not the asks')."""
        return self._slow.pids()

    def close(self) -> None:
        self._asks.close()
        self._slow.close()
