"""Keep the search index in step with the store, incrementally.

A document (label version or abstract) is indexed once per content hash: new documents get
passages and vectors; a changed abstract retires its old passages; a new label version marks
the older versions' passages superseded (still searchable with a filter). Only new passages
of current versions are embedded, which is the expensive part (a version already superseded
when first indexed is searched through BM25); BM25 is rebuilt from the stored passages.

An IVF-PQ index is trained once on a sample and saved empty (`trained.faiss`); new passages are
then embedded and encoded shard by shard (`index_shard`, on the engine's workers when one is
given) and each shard's codes are merged into the index, so no process holds all raw vectors.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pgxlit.extract.pipeline import annotate_texts, rules_nlp
from pgxlit.extract.triples import abstract_text
from pgxlit.index import dense
from pgxlit.index.embed import Embedder, get_embedder
from pgxlit.index.lexical import LexicalIndex
from pgxlit.index.passages import (
    abstract_passages,
    evidence_passage,
    label_passages,
    triple_entry,
)

from pgxlit.config import Settings
from pgxlit.records import Abstract, LabelVersion
from pgxlit.store import Store

Progress = Callable[[int, int | None], None]
# An engine's map: runs a top-level function over jobs (on workers) and yields results in order.
ShardMap = Callable[[Callable[..., object], Iterable[object]], Iterator[object]]


@dataclass(frozen=True, slots=True)
class IndexPaths:
    folder: Path

    @property
    def dense(self) -> Path:
        return self.folder / "dense.faiss"

    @property
    def lexical(self) -> Path:
        return self.folder / "bm25"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"

    @property
    def trained(self) -> Path:
        """The IVF-PQ quantizers with no vectors: every shard is encoded into a copy of it."""
        return self.folder / "trained.faiss"


def index_paths(settings: Settings) -> IndexPaths:
    return IndexPaths(settings.home / "index")


def read_manifest(paths: IndexPaths) -> dict[str, object] | None:
    if not paths.manifest.exists():
        return None
    return json.loads(paths.manifest.read_text())


def _write_manifest(paths: IndexPaths, data: dict[str, object]) -> None:
    tmp = paths.manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, paths.manifest)


@dataclass(frozen=True, slots=True)
class ShardJob:
    """What a worker needs to encode one shard: the embedder's settings, the trained index file, the passages."""

    model: str
    device: str
    batch_size: int
    threads: int
    trained: str
    ids: list[int]
    texts: list[str]


_TRAINED: dict[tuple[str, int], object] = {}


def index_shard(job: ShardJob) -> dense.ShardLists:
    """Embed one shard's passages and encode them into a copy of the trained index; returns its lists' codes.

    Runs on a worker: it loads the model (once per process) and the trained file (once per file version)."""
    import torch

    key = (job.trained, os.stat(job.trained).st_mtime_ns)
    if key not in _TRAINED:
        _TRAINED.clear()
        _TRAINED[key] = dense.load(Path(job.trained), mmap=False)
    embedder = get_embedder(job.model, job.device, job.batch_size)
    torch.set_num_threads(job.threads)  # the embedder takes every core; a worker owns only its share
    vectors = encode_unique(embedder, job.texts)
    shard = dense.encode_shard(_TRAINED[key], np.asarray(job.ids, dtype=np.int64), vectors)  # type: ignore[arg-type]
    return dense.shard_lists(shard)


def update_index(
    store: Store, settings: Settings, *, rebuild: bool = False, embedder: Embedder | None = None,
    progress: Progress | None = None, shard_map: ShardMap | None = None, shard_threads: int = 1,
) -> dict[str, object]:
    """Index what is new since the last run (or everything with `rebuild`); returns a report.

    With `shard_map` (an engine's map), IVF-PQ shards are embedded and encoded on its workers, each
    with `shard_threads` torch threads; without it, in this process with `embedder`."""
    started = time.perf_counter()
    paths = index_paths(settings)
    paths.folder.mkdir(parents=True, exist_ok=True)
    embedder = embedder or get_embedder(settings.embed.model, settings.embed.device, settings.embed.batch_size)
    manifest = read_manifest(paths)
    if manifest and manifest.get("embed_model") != embedder.name and not rebuild:
        raise ValueError(
            f"the index was built with embedding model {manifest.get('embed_model')!r}, settings now say "
            f"{embedder.name!r}: run `pgxlit index --rebuild`"
        )
    index = None
    if rebuild or manifest is None:
        with store.transaction() as session:
            store.delete_all_passages(session)
        paths.dense.unlink(missing_ok=True)
        paths.trained.unlink(missing_ok=True)
        _write_manifest(paths, {"embed_model": embedder.name, "status": "building"})
    elif paths.dense.exists():
        index = dense.load(paths.dense, mmap=False)
        dense.set_nprobe(index, settings.index.nprobe)
        if dense.index_kind(index) == "ivfpq" and not paths.trained.exists():  # built before shards existed
            dense.save(dense.empty_copy(index), paths.trained)

    indexed = store.indexed_documents()
    todo: list[tuple[str, str, LabelVersion | Abstract]] = []
    total = store.count_documents()
    unchanged = 0
    for doc_key, sha, record in store.documents_for_extraction():
        if indexed.get(doc_key) == sha:
            unchanged += 1
            if progress:
                progress(1, total)
        else:
            todo.append((doc_key, sha, record))

    nlp = rules_nlp()
    size = settings.index.window_sentences
    known = set(dense.ids(index).tolist()) if index is not None else set()
    state = {"index": index, "added": 0}
    retired: list[int] = []

    def sync_vectors() -> None:
        """Embed every live passage the dense index lacks (also repairs a run killed before saving)."""
        with store.transaction() as session:
            store.mark_superseded(session)
        # Passages of superseded label versions stay reachable through BM25 and filters; embedding
        # them too would double a first build for text nobody searches by default.
        live = [row[0] for row in store.passage_rows() if not row[12]]
        missing = [pid for pid in live if pid not in known]
        if state["index"] is None:
            kind = dense.choose_kind(settings.index.kind, len(live), settings.index.flat_max)
            training, sample_ids = None, []
            if kind == "ivfpq":
                want = dense.training_size(len(live), settings.index.nlist, settings.index.train_max)
                rows = list(store.passage_texts(missing[:: max(1, len(missing) // max(want, 1))][:want]))
                sample_ids = [pid for pid, _ in rows]
                training = encode_unique(embedder, [t for _, t in rows])
            state["index"] = dense.new_index(kind, embedder.dim, training, expected=len(live),
                                             nlist=settings.index.nlist, nprobe=settings.index.nprobe)
            if kind == "ivfpq":
                dense.save(state["index"], paths.trained)
                # The sample is already embedded: its vectors go in first instead of being embedded again.
                dense.add(state["index"], np.asarray(sample_ids, dtype=np.int64), training)
                known.update(sample_ids)
                state["added"] += len(sample_ids)
                taken = set(sample_ids)
                missing = [pid for pid in missing if pid not in taken]
                del training
        step = max(1, settings.index.shard_passages)
        chunks = (missing[start : start + step] for start in range(0, len(missing), step))
        if dense.index_kind(state["index"]) == "ivfpq":
            for added in _add_shards(state["index"], paths.trained, chunks, store, embedder, settings, shard_map,
                                     shard_threads):
                known.update(added)
                state["added"] += len(added)
        else:
            for chunk_ids in chunks:
                chunk = list(store.passage_texts(chunk_ids))
                vectors = encode_unique(embedder, [t for _, t in chunk])
                dense.add(state["index"], np.asarray([pid for pid, _ in chunk], dtype=np.int64), vectors)
                known.update(pid for pid, _ in chunk)
                state["added"] += len(chunk)
        dense.save(state["index"], paths.dense)

    if index is not None or store.indexed_documents():
        sync_vectors()
    for batch_start in range(0, len(todo), 200):
        batch = todo[batch_start : batch_start + 200]
        triples_by_doc = store.triples_of(key for key, _, _ in batch)
        abstracts = [(k, r) for k, _, r in batch if isinstance(r, Abstract)]
        annotated = dict(zip(
            (k for k, _ in abstracts), annotate_texts((abstract_text(r) for _, r in abstracts), nlp), strict=True
        ))
        for doc_key, sha, record in batch:
            if isinstance(record, LabelVersion):
                passages = label_passages(record, size, nlp)
            else:
                passages = abstract_passages(record, size, sentences=annotated[doc_key])
            with store.transaction() as session:
                retired += store.retire_document(session, doc_key)
                ids = store.add_passages(session, sha, passages)
                stored = [replace(p, id=i) for p, i in zip(passages, ids, strict=True)]
                entries = []
                for triple in triples_by_doc.get(doc_key, []):
                    if not triple.pgx:
                        continue  # plain drug-protein facts are searchable through their passage
                    holder = evidence_passage(triple, stored)
                    if holder is not None:
                        entries.append(triple_entry(triple, holder))
                store.add_passages(session, sha, entries)
            if progress:
                progress(1, total)
        sync_vectors()
    with store.transaction() as session:
        superseded = store.mark_superseded(session)
    if state["index"] is None:
        sync_vectors()
    index = state["index"]
    removed = dense.remove(index, retired)
    if removed:
        dense.save(index, paths.dense)
    lexical = LexicalIndex.build(store.passage_texts())
    lexical.save(paths.lexical)
    new_ids = range(state["added"])
    report: dict[str, object] = {
        "documents": total, "documents_indexed": len(todo), "documents_unchanged": unchanged,
        "passages_added": len(new_ids), "passages_retired": len(retired), "vectors_removed": removed,
        "superseded_passages": superseded, "vectors": int(index.ntotal), "lexical_documents": int(len(lexical.ids)),
        "index_kind": dense.index_kind(index), "embed_model": embedder.name, "dim": embedder.dim,
        "rebuild_advised": settings.index.kind == "auto" and dense.index_kind(index) == "flat"
        and index.ntotal > settings.index.flat_max,  # grown past exact search: --rebuild makes it IVF-PQ
        "seconds": round(time.perf_counter() - started, 2),
    }
    _write_manifest(paths, {**report, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return report


def _add_shards(index: object, trained: Path, chunks: Iterable[list[int]], store: Store, embedder: Embedder,
                settings: Settings, shard_map: ShardMap | None, threads: int) -> Iterator[list[int]]:
    """Encode each chunk of passages as a shard of the trained index and merge it in; yields each shard's ids.

    Shards come back in input order, so the merged index is the one a single `add` of all vectors gives."""
    jobs = (ShardJob(settings.embed.model, settings.embed.device, settings.embed.batch_size, threads, str(trained),
                     [pid for pid, _ in rows], [t for _, t in rows])
            for rows in (list(store.passage_texts(ids)) for ids in chunks))
    if shard_map is None:  # in this process, with the embedder we were given
        empty = dense.load(trained, mmap=False)
        for job in jobs:
            shard = dense.encode_shard(empty, np.asarray(job.ids, dtype=np.int64), encode_unique(embedder, job.texts))
            dense.merge(index, shard)
            yield job.ids
        return
    pending: list[list[int]] = []

    def remember(job: ShardJob) -> ShardJob:
        pending.append(job.ids)
        return job

    for part in shard_map(index_shard, (remember(job) for job in jobs)):
        dense.merge_lists(index, part)  # type: ignore[arg-type]
        yield pending.pop(0)


def encode_unique(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Label versions repeat most of their text: embed each distinct text once."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    order: dict[str, int] = {}
    for t in texts:
        order.setdefault(t, len(order))
    unique = embedder.encode(list(order))
    return unique[[order[t] for t in texts]]
