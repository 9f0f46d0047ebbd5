"""Where stage work runs: in this process, in local worker processes, or on Ray.

A driver cuts its input into shards (`shard_documents`: a label's versions stay together,
abstracts go in PMID order) and an engine runs the *same* module-level function on each shard:
the stage passes that function in (`extract.shards.extract_shard`, `index.shards.embed_shard`),
so this module knows no stage. Results come back in shard order and the driver writes them
through the store, so SQLite (one writer) and Postgres behave alike and the output does not
depend on the engine. Models load once per worker process (their loaders are cached per process).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar

from pgxlit.config import Settings
from pgxlit.records import Abstract, LabelVersion

ENGINES = ("local", "ray")
S = TypeVar("S")
R = TypeVar("R")
Doc = tuple[str, str, LabelVersion | Abstract]  # (doc_key, content hash, record)


class ExecutionEngine(Protocol):
    """Runs a picklable, top-level function over shards and yields results in input order."""

    name: str
    workers: int

    def map(self, fn: Callable[[S], R], shards: Iterable[S]) -> Iterator[R]: ...

    def close(self) -> None: ...


def _ordered(submit: Callable[[S], Any], wait: Callable[[Any], R], shards: Iterable[S], in_flight: int) -> Iterator[R]:
    """Keep a bounded number of shards running and yield results in order: memory stays flat."""
    pending: deque[Any] = deque()
    for shard in shards:
        pending.append(submit(shard))
        if len(pending) >= in_flight:
            yield wait(pending.popleft())
    while pending:
        yield wait(pending.popleft())


class LocalEngine:
    """One worker runs in this process; more run in spawned processes (forking after torch is unsafe)."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[S], R], shards: Iterable[S]) -> Iterator[R]:
        if self.workers == 1:
            yield from (fn(shard) for shard in shards)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                             initializer=limit_threads, initargs=(1,))
        pool = self._pool

        def wait(f: Future[R]) -> R:
            return f.result()

        yield from _ordered(lambda s: pool.submit(fn, s), wait, shards, 2 * self.workers)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class RayEngine:
    """Ray tasks, one CPU each; a local Ray is started unless `address` names a cluster ("auto" finds one)."""

    name = "ray"

    def __init__(self, workers: int = 2, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ValueError("the ray engine needs Ray: pip install 'ray==2.60.0' (or use --engine local)") from exc
        self._ray = ray
        self.workers = max(1, workers)
        self._started = False
        if not ray.is_initialized():
            # Workers read settings from PGXLIT_* like the driver, so they load the same models.
            env = {k: v for k, v in os.environ.items() if k.startswith(("PGXLIT_", "HF_"))}
            env.setdefault("OMP_NUM_THREADS", "1")
            # "local" starts our own Ray even when another one runs on this machine (Ray would join that one).
            ray.init(address=address or "local", num_cpus=None if address else self.workers, include_dashboard=False,
                     runtime_env={"env_vars": env}, log_to_driver=False, configure_logging=False)
            self._started = True
        self._remote: dict[Callable[..., Any], Any] = {}

    def map(self, fn: Callable[[S], R], shards: Iterable[S]) -> Iterator[R]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(num_cpus=1, max_retries=2)(fn)
        yield from _ordered(lambda s: remote.remote(s), self._ray.get, shards, 2 * self.workers)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def get_engine(name: str, workers: int | None = None, settings: Settings | None = None) -> ExecutionEngine:
    """The engine a command or setting names; an unknown name says which exist."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
    count = workers or (settings.engine.workers if settings else 0) or (2 if name == "ray" else 1)
    if name == "ray":
        return RayEngine(count, settings.engine.ray_address if settings else None)
    return LocalEngine(count)


def limit_threads(threads: int) -> None:
    """Two workers on two cores must not each start a thread per core."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


# ---- sharding ----------------------------------------------------------------
def shard_documents(docs: Iterable[Doc], size: int, label_size: int = 4) -> Iterator[list[Doc]]:
    """Contiguous shards in store order: abstracts by PMID range, labels with their set's versions together.

    Labels are far longer than abstracts, so a label shard holds fewer documents.
    """
    shard: list[Doc] = []
    for doc in docs:
        is_label = isinstance(doc[2], LabelVersion)
        limit = label_size if is_label else size
        same_set = bool(shard) and is_label and isinstance(shard[-1][2], LabelVersion) \
            and shard[-1][2].set_id == doc[2].set_id
        kind_changed = bool(shard) and isinstance(shard[-1][2], LabelVersion) != is_label
        if shard and (kind_changed or (len(shard) >= limit and not same_set)):
            yield shard
            shard = []
        shard.append(doc)
    if shard:
        yield shard


def shard_name(shard: Sequence[Doc]) -> str:
    """A readable range for errors and logs, e.g. pubmed:10022-10988."""
    return f"{shard[0][0]}..{shard[-1][0].split(':', 1)[1]}"
