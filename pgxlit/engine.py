"""Where extraction and embedding run: in this process, in local worker processes, or on Ray.

The driver reads documents from the store, cuts them into shards (a label's versions stay
together; abstracts go in PMID order), and the engine runs the *same* extraction or embedding
function on each shard. Results come back in shard order and the driver writes them through
the store, so SQLite (one writer) and Postgres behave alike and the output does not depend on
the engine. Models load once per worker process (their loaders are cached per process).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar

import numpy as np

from pgxlit.config import Settings
from pgxlit.records import Abstract, LabelVersion, Triple
from pgxlit.store import Store

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
                                             initializer=_init_worker, initargs=(1,))
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
    count = workers or (settings.engine_workers if settings else 0) or (2 if name == "ray" else 1)
    if name == "ray":
        return RayEngine(count, settings.ray_address if settings else None)
    return LocalEngine(count)


def _init_worker(threads: int) -> None:
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


# ---- PGx pre-filter ------------------------------------------------------------
# MeSH headings that mark a study of genetic variation in drug response (descriptor names as PubMed writes them).
PGX_MESH = frozenset({
    "Pharmacogenetics", "Pharmacogenomic Variants", "Pharmacogenomic Testing", "Polymorphism, Single Nucleotide",
    "Polymorphism, Genetic", "Genotype", "Alleles", "Gene Frequency", "Genetic Variation", "Haplotypes",
    "Genetic Predisposition to Disease", "Cytochrome P-450 Enzyme System", "Precision Medicine",
})
GENETIC_LABELS = frozenset({"GENE", "VARIANT", "ALLELE", "PHENOTYPE"})


def pgx_relevant(abstract: Abstract) -> bool:
    """Could this abstract yield a PGx triple? A PGx MeSH heading, or a drug and a genetic factor named in it.

    A triple needs a drug and a gene, variant, allele or metabolizer status in one sentence, so an
    abstract whose text names no drug or no genetic factor (lexicons and grammars, the cheap part of
    extraction) gives none: the NER model and relation classifier never need to see it.
    """
    if any(m.split("/")[0] in PGX_MESH or m.startswith("Cytochrome P-450 CYP") for m in abstract.mesh_terms):
        return True
    from pgxlit.extract.triples import abstract_text

    labels = {m.label for m in _recognizer().find(abstract_text(abstract))}
    return "DRUG" in labels and bool(labels & GENETIC_LABELS)


_RECOGNIZER: Any = None


def _recognizer() -> Any:
    global _RECOGNIZER
    if _RECOGNIZER is None:
        from pgxlit.extract.pipeline import PgxEntityRecognizer

        _RECOGNIZER = PgxEntityRecognizer()
    return _RECOGNIZER


# ---- the work functions that run on workers ------------------------------------
def extract_shard(shard: list[Doc]) -> list[tuple[str, str, list[Triple]]]:
    """The same code `pgxlit extract` runs locally, on one shard."""
    from pgxlit.extract.triples import iter_triples

    try:
        return list(iter_triples(shard))
    except Exception as exc:  # a worker's traceback alone does not say which documents
        raise RuntimeError(f"extraction failed in shard {shard_name(shard)}: {exc}") from exc


def extract_relevant_shard(shard: list[Doc]) -> list[tuple[str, str, list[Triple] | None]]:
    """extract_shard for the abstracts `pgx_relevant` keeps; the others come back with None."""
    keep = [d for d in shard if not isinstance(d[2], Abstract) or pgx_relevant(d[2])]
    done = {key: (key, sha, triples) for key, sha, triples in extract_shard(keep)} if keep else {}
    return [done.get(key, (key, sha, None)) for key, sha, _ in shard]


def embed_shard(job: tuple[str, str, int, int, list[str]]) -> np.ndarray:
    """Embed one chunk of passage texts with the model the settings name."""
    from pgxlit.index.embed import get_embedder

    model, device, batch_size, threads, texts = job
    embedder = get_embedder(model, device, batch_size)
    _init_worker(threads)  # the embedder sets torch to all cores; a worker owns only its share
    return embedder.encode(texts)


# ---- drivers -------------------------------------------------------------------
def run_extraction_on(
    engine: ExecutionEngine, store: Store, *, force: bool = False, shard_size: int = 256,
    prefilter: bool = False, progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, int]:
    """`run_extraction` with the per-document work spread over the engine's workers.

    Each shard is written in one transaction by the driver (`Store.replace_triples_many`: bulk inserts for
    documents with no stored triples), so a killed run resumes at a shard. With
    `prefilter`, abstracts `pgx_relevant` rejects are counted and left unextracted (not marked
    done), so a later run without the filter still reaches them.
    """
    from pgxlit.extract.pipeline import extractor_name
    from pgxlit.extract.run import pending_documents, tally

    extractor = extractor_name()
    total = store.count_documents()
    counts = {"documents": total, "extracted": 0, "already_current": 0, "filtered_out": 0, "triples": 0,
              "pgx_triples": 0, "workers": engine.workers}

    work = extract_relevant_shard if prefilter else extract_shard
    pending = pending_documents(store, extractor, force, counts, progress)
    for results in engine.map(work, shard_documents(pending, shard_size)):
        # One transaction per shard, and documents never extracted before go in by multi-row inserts:
        # the driver's writes, not the workers, limit a large run.
        with store.transaction() as session:
            store.replace_triples_many(session, extractor, [r for r in results if r[2] is not None])
        for _doc_key, _sha, triples in results:
            if triples is None:  # the pre-filter turned it away on the worker
                counts["filtered_out"] += 1
            else:
                tally(counts, triples)
            if progress:
                progress(1, total)
    return counts


class ShardedEmbedder:
    """An `Embedder` whose encode() spreads the texts over the engine's workers (the index's costly part)."""

    def __init__(self, engine: ExecutionEngine, settings: Settings, chunk: int = 512) -> None:
        from pgxlit.index.embed import get_embedder

        self.engine = engine
        self.model, self.device, self.batch_size = settings.embed_model, settings.embed_device, settings.embed_batch_size
        local = get_embedder(self.model, self.device, self.batch_size)  # name and dim, and query-time use
        self.name, self.dim = local.name, local.dim
        self.chunk = chunk
        self.threads = max(1, (os.cpu_count() or 1) // engine.workers)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        jobs = ((self.model, self.device, self.batch_size, self.threads, texts[i : i + self.chunk])
                for i in range(0, len(texts), self.chunk))
        return np.concatenate(list(self.engine.map(embed_shard, jobs)), axis=0)


def run_index_on(engine: ExecutionEngine, store: Store, settings: Settings, *, rebuild: bool = False,
                 progress: Callable[[int, int | None], None] | None = None) -> dict[str, object]:
    """`update_index` with embedding spread over the engine's workers; passages and BM25 stay in the driver.

    An IVF-PQ index is trained in the driver on a sample (embedded on the workers), then each worker
    embeds and encodes whole shards of passages and sends back only their codes, which the driver merges.
    """
    from pgxlit.index.build import update_index

    sharded = engine.workers > 1 or engine.name != "local"
    embedder = ShardedEmbedder(engine, settings) if sharded else None
    report = update_index(store, settings, rebuild=rebuild, embedder=embedder, progress=progress,
                          shard_map=engine.map if sharded else None,
                          shard_threads=embedder.threads if embedder is not None else 1)
    return {**report, "engine": engine.name, "workers": engine.workers}
