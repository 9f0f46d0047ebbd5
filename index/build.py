"""Keep the search index in step with the store, incrementally.

A document (label version or abstract) is indexed once per content hash: new documents get
passages and vectors; a changed abstract retires its old passages; a new label version marks
the older versions' passages superseded (still searchable with a filter). Only new passages
of current versions are embedded, which is the expensive part (a version already superseded
when first indexed is searched through BM25); BM25 is rebuilt from the stored passages.

An IVF-PQ index is trained once on a sample and saved empty (`trained.faiss`); new passages are
then embedded and encoded shard by shard (`index_shard`, on the engine's workers when one is
given) and each shard's codes are merged into the index, so no process holds all raw vectors.

A first build or `--rebuild` never touches the live index: it is written to
`index-generations/building` and swapped in by replacing the `index` symlink (one rename), so
searches keep answering from the old index until the new one is complete; a killed rebuild resumes
from the building folder. Passage ids are stable across builds (a passage stored again keeps its
row), so `/evidence/{id}` links made before a rebuild open the same text after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pgxlit.extract.pipeline import AnnotationMemo, annotate_texts, clear_handover, handover_folder, rules_nlp
from pgxlit.extract.triples import abstract_text
from pgxlit.index import dense
from pgxlit.index.embed import Embedder, embedder_for, get_embedder
from pgxlit.index.lexical import LexicalIndex
from pgxlit.index.paths import IndexPaths, index_paths, read_manifest
from pgxlit.index.passages import (
    abstract_passages,
    embeddable,
    evidence_passage,
    label_passages,
    triple_entry,
    vector_text,
)

from pgxlit.config import Settings
from pgxlit.records import Abstract, LabelVersion, Passage, Triple
from pgxlit.store import Store, passage_key

Progress = Callable[[int, int | None], None]
GENERATIONS = "index-generations"  # finished builds, and `building` while one is written
RETIRE_PENDING = "retire.pending"  # a swapped-in build whose dropped passages are not yet retired
TRIPLE_DIGESTS = "triple_digests.json"  # doc_key -> digest of the triples its entries were made from
CHECKPOINT_S = 10.0  # a full build saves its vectors this often, so a killed build resumes
CHECKPOINT_PASSAGES = 1024  # and embeds a flat index at most this many passages between chances to save
# An engine's map: runs a top-level function over jobs (on workers) and yields results in order.
ShardMap = Callable[[Callable[..., object], Iterable[object]], Iterator[object]]


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
    runtime: str = "auto"
    quantize: bool = False


_TRAINED: dict[tuple[str, int], object] = {}


def index_shard(job: ShardJob) -> dense.ShardLists:
    """Embed one shard's passages and encode them into a copy of the trained index; returns its lists' codes.

    Runs on a worker: it loads the model (once per process) and the trained file (once per file version)."""
    key = (job.trained, os.stat(job.trained).st_mtime_ns)
    if key not in _TRAINED:
        _TRAINED.clear()
        _TRAINED[key] = dense.load(Path(job.trained), mmap=False)
    embedder = get_embedder(job.model, job.device, job.batch_size, job.runtime, job.threads, job.quantize)
    if "torch" in sys.modules:  # sentence-transformers takes every core; a worker owns only its share
        sys.modules["torch"].set_num_threads(job.threads)  # (ONNX sessions start with `threads`: no torch import)
    vectors = encode_unique(embedder, job.texts)
    shard = dense.encode_shard(_TRAINED[key], np.asarray(job.ids, dtype=np.int64), vectors)  # type: ignore[arg-type]
    return dense.shard_lists(shard)


def update_index(
    store: Store, settings: Settings, *, rebuild: bool = False, embedder: Embedder | None = None,
    progress: Progress | None = None, shard_map: ShardMap | None = None, shard_threads: int = 1,
) -> dict[str, object]:
    """Index what is new since the last run (or everything with `rebuild`); returns a report.

    A first build and a rebuild are written beside the live index and swapped in when complete
    (`_full_build`); an incremental run adds to the live index in place. With `shard_map` (an
    engine's map), IVF-PQ shards are embedded and encoded on its workers, each with `shard_threads`
    torch threads; without it, in this process with `embedder`."""
    started = time.perf_counter()
    embedder = embedder or embedder_for(settings)
    paths = index_paths(settings)
    finish_retire(store, paths)
    manifest = read_manifest(paths)
    if rebuild or manifest is None or manifest.get("status") == "building" or not paths.dense.exists():
        return _full_build(store, settings, embedder, progress, shard_map, shard_threads, started)
    if manifest.get("embed_model") != embedder.name:
        raise ValueError(
            f"the index was built with embedding model {manifest.get('embed_model')!r}, settings now say "
            f"{embedder.name!r}: run `pgxlit index --rebuild`"
        )
    index = dense.load(paths.dense, mmap=False)
    dense.set_nprobe(index, settings.index.nprobe)
    if dense.index_kind(index) == "ivfpq" and not paths.trained.exists():  # built before shards existed
        dense.save(dense.empty_copy(index), paths.trained)

    encoder = DistinctEncoder(embedder)
    indexed = store.indexed_documents()
    todo: list[tuple[str, str, LabelVersion | Abstract]] = []
    total = store.count_documents()
    unchanged = 0
    same_text: list[tuple[str, str]] = []
    for doc_key, sha, record in store.documents_for_extraction():
        if indexed.get(doc_key) == sha:
            unchanged += 1
            same_text.append((doc_key, sha))
            if progress:
                progress(1, total)
        else:
            todo.append((doc_key, sha, record))

    added = 0
    retired: list[int] = []

    def sync_vectors() -> None:
        """Embed every live passage the dense index lacks (also repairs a run killed before saving)."""
        nonlocal index, added
        with store.transaction() as session:
            store.mark_superseded(session)
        # Passages of superseded label versions stay reachable through BM25 and filters; embedding
        # them too would double a first build for text nobody searches by default.
        rows = [row for row in store.passage_rows() if embeddable(
            row[5], bool(row[12]), boilerplate=settings.index.embed_boilerplate, kind=row[1],
            triple_vectors=settings.index.triple_vectors)]
        index, n = _embed_missing(index, paths, [row[0] for row in rows], VectorTexts.of(store, rows, settings),
                                  encoder, settings, shard_map, shard_threads)
        added += n

    sync_vectors()
    for ids, gone in _store_passages(store, settings, todo, progress, total, retire=True):
        again = set(ids)  # a document's unchanged passages come back with their ids: not retired
        retired += [pid for pid in gone if pid not in again]
        sync_vectors()
    # Re-extraction and reviews change a document's triples without changing its text.
    digests = _read_digests(paths.folder / TRIPLE_DIGESTS)
    refreshed, stale = refresh_triple_entries(store, same_text, digests)
    if refreshed:
        retired += stale
        sync_vectors()
    digests.update(triple_digests(store, [key for key, _, _ in todo]))
    with store.transaction() as session:
        superseded = store.mark_superseded(session)
    removed = dense.remove(index, retired)
    if removed:
        dense.save(index, paths.dense)
    lexical = LexicalIndex.build(store.passage_texts())
    lexical.save(paths.lexical)
    report = _report(settings, embedder, index, lexical, started, documents=total, documents_indexed=len(todo),
                     documents_unchanged=unchanged, passages_added=added, passages_retired=len(retired),
                     vectors_removed=removed, superseded_passages=superseded, texts_embedded=encoder.encoded,
                     triple_documents_refreshed=refreshed)
    _write_json(paths.folder / TRIPLE_DIGESTS, digests)
    _write_manifest(paths, {**report, "built_at": _now()})
    _save_search_metadata(store, paths)
    return report


def _save_search_metadata(store: Store, paths: IndexPaths) -> None:
    """Search metadata saved with the generation it describes, so the first ask after a build reads a
    small file instead of every passage row (`Metadata.for_index` rereads it when the manifest moves)."""
    from pgxlit.index.search import Metadata

    Metadata.for_index(store, paths)


def _full_build(store: Store, settings: Settings, embedder: Embedder, progress: Progress | None,
                shard_map: ShardMap | None, shard_threads: int, started: float) -> dict[str, object]:
    """Every document's passages and vectors into `index-generations/building`, then one atomic swap.

    The live index answers throughout: its files are not touched, and its passage rows keep their ids
    (a passage stored again reuses its row). A run killed at any point leaves the live index as it
    was; the next rebuild resumes from the building folder (passages are not cut again once their
    ids are saved, vectors already embedded are kept) when the model and window are the same."""
    root = settings.home
    building = IndexPaths(root / GENERATIONS / "building")
    wants = {"embed_model": embedder.name, "window_sentences": settings.index.window_sentences,
             "triple_vectors": settings.index.triple_vectors,
             "index_kind": settings.index.kind}
    previous = read_manifest(building)
    resumed = bool(previous) and all(previous.get(k) == v for k, v in wants.items())  # type: ignore[union-attr]
    if not resumed:
        shutil.rmtree(building.folder, ignore_errors=True)
        building.folder.mkdir(parents=True)
        _write_manifest(building, {**wants, "status": "building", "phase": "passages"})
    total = store.count_documents()
    before = {row[0] for row in store.passage_rows()}
    if resumed and previous.get("phase") == "embedding" and building.build_ids.exists():  # type: ignore[union-attr]
        wanted = np.load(building.build_ids)
        if progress:
            progress(total, total)
    else:
        ids: list[int] = []
        for batch_ids, _ in _store_passages(store, settings, list(store.documents_for_extraction()), progress,
                                            total, retire=False):
            ids += batch_ids
        wanted = np.asarray(sorted(set(ids)), dtype=np.int64)
        _save_array(building.build_ids, wanted)
        _write_manifest(building, {**wants, "status": "building", "phase": "embedding"})
    with store.transaction() as session:
        superseded = store.mark_superseded(session)
    keep = set(wanted.tolist())
    rows = [row for row in store.passage_rows() if row[0] in keep and embeddable(
        row[5], bool(row[12]), boilerplate=settings.index.embed_boilerplate, kind=row[1],
        triple_vectors=settings.index.triple_vectors)]
    live = [row[0] for row in rows]
    index = None
    if resumed and building.dense.exists():
        index = dense.load(building.dense, mmap=False)
        index = index if dense.index_kind(index) != "ivfpq" or building.trained.exists() else None
    encoder = DistinctEncoder(embedder)
    index, added = _embed_missing(index, building, live, VectorTexts.of(store, rows, settings), encoder, settings,
                                  shard_map, shard_threads, checkpoint=True)
    lexical = LexicalIndex.build(_texts_in_id_order(store, wanted))
    lexical.save(building.lexical)
    report = _report(settings, embedder, index, lexical, started, documents=total, documents_indexed=total,
                     documents_unchanged=0, passages_added=added, passages_retired=len(before - keep),
                     vectors_removed=0, superseded_passages=superseded, texts_embedded=encoder.encoded)
    report.update(rebuilt=True, resumed=resumed, passage_ids_kept=len(before & keep))
    _write_json(building.folder / TRIPLE_DIGESTS,
                triple_digests(store, [key for key, _, _ in store.documents_for_extraction()]))
    (building.folder / RETIRE_PENDING).touch()
    _write_manifest(building, {**report, "built_at": _now()})
    generation = root / GENERATIONS / f"g{time.time_ns():020d}"
    os.rename(building.folder, generation)
    previous = _point_live_at(root, generation)
    finish_retire(store, IndexPaths(generation))
    _save_search_metadata(store, IndexPaths(generation))
    _drop_old_generations(root, keep={generation, *([previous] if previous else [])})
    return report


def _store_passages(store: Store, settings: Settings, docs: list[tuple[str, str, LabelVersion | Abstract]],
                    progress: Progress | None, total: int, *, retire: bool) -> Iterator[tuple[list[int], list[int]]]:
    """Cut documents into passages (and their PGx triples into entries) and store them, 200 documents at a time.

    Yields each batch's passage ids and, with `retire`, the ids of passages the documents had before.
    Label sections are annotated once per distinct text, or read from what `pgxlit extract` handed
    over (the same rule pipeline over the same sections); the handover is dropped once all are cut."""
    nlp = rules_nlp()
    sections = AnnotationMemo(nlp, handover=handover_folder(settings.home))
    size = settings.index.window_sentences
    for batch_start in range(0, len(docs), 200):
        batch = docs[batch_start : batch_start + 200]
        triples_by_doc = store.triples_of(key for key, _, _ in batch)
        abstracts = [(k, r) for k, _, r in batch if isinstance(r, Abstract)]
        annotated = dict(zip(
            (k for k, _ in abstracts), annotate_texts((abstract_text(r) for _, r in abstracts), nlp), strict=True
        ))
        batch_ids: list[int] = []
        gone: list[int] = []
        for doc_key, sha, record in batch:
            if isinstance(record, LabelVersion):
                passages = label_passages(record, size, nlp, boilerplate=settings.index.embed_boilerplate,
                                          annotations=sections)
            else:
                passages = abstract_passages(record, size, sentences=annotated[doc_key])
            with store.transaction() as session:
                if retire:
                    gone += store.retire_document(session, doc_key)
                ids = store.add_passages(session, sha, passages)
                stored = [replace(p, id=i) for p, i in zip(passages, ids, strict=True)]
                entries = triple_entries(triples_by_doc.get(doc_key, []), stored)
                batch_ids += ids + store.add_passages(session, sha, entries)
            if progress:
                progress(1, total)
        yield batch_ids, gone
    clear_handover(settings.home)


def triple_entries(triples: Iterable[Triple], stored: list[Passage]) -> list[Passage]:
    """The searchable entries of a document's PGx triples, each pointing at the stored passage holding its sentence."""
    entries = []
    for triple in triples:
        if not triple.pgx:
            continue  # plain drug-protein facts are searchable through their passage
        holder = evidence_passage(triple, stored)
        if holder is not None:
            entries.append(triple_entry(triple, holder))
    return entries


def triples_digest(triples: Iterable[Triple]) -> str:
    """What a document's triple entries are made of: equal digests give equal entries (its passages unchanged)."""
    h = hashlib.sha256()
    for t in triples:
        if t.pgx:
            e = t.evidence
            h.update(json.dumps([t.drug, t.gene, t.variant, t.relation, t.effect, e.section, e.start, e.end,
                                 e.sentence]).encode())
    return h.hexdigest()


def triple_digests(store: Store, doc_keys: list[str], chunk: int = 500) -> dict[str, str]:
    """doc_key -> `triples_digest` of its current (not rejected) triples."""
    out: dict[str, str] = {}
    for start in range(0, len(doc_keys), chunk):
        for doc_key, triples in store.triples_of(doc_keys[start : start + chunk]).items():
            out[doc_key] = triples_digest(triples)
    return out


def refresh_triple_entries(store: Store, docs: list[tuple[str, str]], digests: dict[str, str],
                           chunk: int = 500) -> tuple[int, list[int]]:
    """Rebuild the triple entries of documents whose text is indexed but whose triples changed since.

    `docs` are (doc_key, content hash); `digests` (updated in place) holds what each document's entries
    were made from. A document whose digest moved (or is unknown, as in an index built before digests
    were kept) has its entries compared with what its triples give now, and rewritten when they differ:
    its passages keep their rows and ids, new entries are stored, stale ones retired. Entries carry no
    vectors, so nothing is embedded. Returns how many documents changed and the retired entry ids."""
    refreshed, gone = 0, []
    for start in range(0, len(docs), chunk):
        batch = docs[start : start + chunk]
        triples = store.triples_of(key for key, _ in batch)
        for doc_key, sha in batch:
            digest = triples_digest(triples.get(doc_key, []))
            if digests.get(doc_key) == digest:
                continue
            digests[doc_key] = digest
            stored = store.passages_of(doc_key)
            passages = [p for p in stored if p.kind != "triple"]
            entries = triple_entries(triples.get(doc_key, []), passages)
            if Counter(map(passage_key, entries)) == Counter(passage_key(p) for p in stored if p.kind == "triple"):
                continue
            with store.transaction() as session:
                before = store.retire_document(session, doc_key)  # every row, revived just below if kept
                again = set(store.add_passages(session, sha, [*passages, *entries]))
            gone += [pid for pid in before if pid not in again]
            refreshed += 1
    return refreshed, gone


def _read_digests(path: Path) -> dict[str, str]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class VectorTexts:
    """The texts the encoder reads for passage ids: `vector_text` of each (a triple entry may be embedded from its facts)."""

    def __init__(self, store: Store, entries: set[int], triple_vectors: str) -> None:
        self.store, self.entries, self.triple_vectors = store, entries, triple_vectors

    @classmethod
    def of(cls, store: Store, rows: Iterable[tuple[Any, ...]], settings: Settings) -> VectorTexts:
        return cls(store, {row[0] for row in rows if row[1] == "triple"}, settings.index.triple_vectors)

    def passage_texts(self, ids: Iterable[int]) -> Iterator[tuple[int, str]]:
        for pid, text in self.store.passage_texts(ids):
            yield pid, vector_text(text, "triple" if pid in self.entries else "passage", self.triple_vectors)


def _embed_missing(index: object | None, paths: IndexPaths, live: list[int], store: VectorTexts, embedder: DistinctEncoder,
                   settings: Settings, shard_map: ShardMap | None, shard_threads: int,
                   checkpoint: bool = False) -> tuple[object, int]:
    """Embed the `live` passages `index` lacks (creating it when None); returns the index and how many were added.

    With `checkpoint`, the index is saved every CHECKPOINT_S seconds, so a killed build keeps its vectors."""
    known = set(dense.ids(index).tolist()) if index is not None else set()
    missing = [pid for pid in live if pid not in known]
    added = 0
    if index is None:
        kind = dense.choose_kind(settings.index.kind, len(live), settings.index.flat_max)
        training, sample_ids = None, []
        if kind == "ivfpq":
            want = dense.training_size(len(live), settings.index.nlist, settings.index.train_max)
            rows = list(store.passage_texts(missing[:: max(1, len(missing) // max(want, 1))][:want]))
            sample_ids = [pid for pid, _ in rows]
            training = embedder.encode([t for _, t in rows])
        index = dense.new_index(kind, embedder.dim, training, expected=len(live),
                                nlist=settings.index.nlist, nprobe=settings.index.nprobe)
        if kind == "ivfpq":
            dense.save(index, paths.trained)
            # The sample is already embedded: its vectors go in first instead of being embedded again.
            dense.add(index, np.asarray(sample_ids, dtype=np.int64), training)
            added += len(sample_ids)
            taken = set(sample_ids)
            missing = [pid for pid in missing if pid not in taken]
            del training
    step = max(1, settings.index.shard_passages)
    if checkpoint and dense.index_kind(index) != "ivfpq":
        step = min(step, CHECKPOINT_PASSAGES)  # flat chunks are only a loop here: small ones checkpoint often
    chunks = (missing[start : start + step] for start in range(0, len(missing), step))
    saved = time.monotonic()
    if dense.index_kind(index) == "ivfpq":
        shards = _add_shards(index, paths.trained, chunks, store, embedder, settings, shard_map, shard_threads)
    else:
        shards = _add_flat(index, chunks, store, embedder)
    for shard_ids in shards:
        added += len(shard_ids)
        if checkpoint and time.monotonic() - saved >= CHECKPOINT_S:
            dense.save(index, paths.dense)
            saved = time.monotonic()
    dense.save(index, paths.dense)
    return index, added


def _add_flat(index: object, chunks: Iterable[list[int]], store: VectorTexts, embedder: DistinctEncoder
              ) -> Iterator[list[int]]:
    for chunk_ids in chunks:
        chunk = list(store.passage_texts(chunk_ids))
        vectors = embedder.encode([t for _, t in chunk])
        dense.add(index, np.asarray([pid for pid, _ in chunk], dtype=np.int64), vectors)
        yield [pid for pid, _ in chunk]


def _texts_in_id_order(store: Store, ids: np.ndarray, chunk: int = 10_000) -> Iterator[tuple[int, str]]:
    """(id, text) of the given passages in id order, fetched a bounded number of ids at a time."""
    for start in range(0, len(ids), chunk):
        yield from store.passage_texts(ids[start : start + chunk].tolist())


def _report(settings: Settings, embedder: Embedder, index: object, lexical: LexicalIndex, started: float,
            **counts: int) -> dict[str, object]:
    return {
        **counts, "vectors": int(index.ntotal), "lexical_documents": int(len(lexical.ids)),  # type: ignore[attr-defined]
        "index_kind": dense.index_kind(index), "embed_model": embedder.name, "dim": embedder.dim,
        "triple_vectors": settings.index.triple_vectors,
        "rebuild_advised": settings.index.kind == "auto" and dense.index_kind(index) == "flat"
        and index.ntotal > settings.index.flat_max,  # type: ignore[attr-defined]  # grown past exact search
        "seconds": round(time.perf_counter() - started, 2),
    }


def finish_retire(store: Store, paths: IndexPaths) -> int:
    """Retire the passages a swapped-in build no longer has (also after a kill between swap and retire)."""
    marker = paths.folder / RETIRE_PENDING
    if not marker.exists() or not paths.build_ids.exists():
        return 0
    with store.transaction() as session:
        gone = store.retire_passages_except(session, np.load(paths.build_ids).tolist())
    marker.unlink()
    return len(gone)


def _point_live_at(root: Path, generation: Path) -> Path | None:
    """Swap the `index` pointer to a finished generation in one rename (a symlink replaced atomically).

    Returns the folder that was live before, if any."""
    link = root / "index"
    tmp = root / "index.swap"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(generation, root), tmp)
    previous = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        # An index folder from before generations: moved aside once (the only moment with no live index).
        previous = generation.with_name(f"legacy-{time.time_ns()}")
        os.rename(link, previous)
    os.replace(tmp, link)
    return previous


def _drop_old_generations(root: Path, keep: set[Path]) -> None:
    """Remove finished generations except the live one and the one before it (readers may still hold it)."""
    kept = {p.resolve() for p in keep}
    for old in (root / GENERATIONS).iterdir():
        if old.is_dir() and old.name != "building" and old.resolve() not in kept:
            shutil.rmtree(old, ignore_errors=True)


def _save_array(path: Path, values: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, values)
    os.replace(tmp, path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _add_shards(index: object, trained: Path, chunks: Iterable[list[int]], store: VectorTexts, embedder: DistinctEncoder,
                settings: Settings, shard_map: ShardMap | None, threads: int) -> Iterator[list[int]]:
    """Encode each chunk of passages as a shard of the trained index and merge it in; yields each shard's ids.

    Shards come back in input order, so the merged index is the one a single `add` of all vectors gives."""
    jobs = (ShardJob(settings.embed.model, settings.embed.device, settings.embed.batch_size, threads, str(trained),
                     [pid for pid, _ in rows], [t for _, t in rows], settings.embed.runtime, settings.embed.quantize)
            for rows in (list(store.passage_texts(ids)) for ids in chunks))
    if shard_map is None:  # in this process, with the embedder we were given
        empty = dense.load(trained, mmap=False)
        for job in jobs:
            shard = dense.encode_shard(empty, np.asarray(job.ids, dtype=np.int64), embedder.encode(job.texts))
            dense.merge(index, shard)
            yield job.ids
        return
    pending: list[list[int]] = []

    def remember(job: ShardJob) -> ShardJob:
        pending.append(job.ids)
        embedder.encoded += len(set(job.texts))  # each worker embeds its shard's distinct texts
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


class DistinctEncoder:
    """An embedder that encodes each distinct text once per build, across chunks as well as within one.

    Label versions and generics of one drug repeat passages word for word, and the repeats sit near
    each other in passage-id order, so the vectors of the last `limit` texts (about 2.5 KB each with
    their text) catch nearly all of them while memory stays flat. Every passage keeps its own row and
    vector id; only the encoding is shared. `encoded` counts the texts actually run through the model."""

    def __init__(self, embedder: Embedder, limit: int = 8192) -> None:
        self.embedder = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.limit = limit
        self.encoded = 0
        self._known: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        new = [t for t in dict.fromkeys(texts) if t not in self._known]
        found = dict(zip(new, self.embedder.encode(new), strict=True)) if new else {}
        self.encoded += len(new)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vector = found.get(text)
            if vector is None:
                vector = self._known[text]
                self._known.move_to_end(text)
            out[row] = vector
        for text, vector in found.items():
            self._known[text] = vector
        while len(self._known) > self.limit:
            self._known.popitem(last=False)
        return out
