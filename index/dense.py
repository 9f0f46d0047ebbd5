"""The dense half of the index: faiss vectors keyed by passage id, saved on disk and memory-mapped.

Exact inner product (flat) while the index is small; HNSW or IVF-PQ when a setting or the
size asks for it. Ids are passage ids, so a hit maps straight back to its row in the store.

At scale an IVF-PQ index is built the way faiss recommends for billions of vectors: the coarse
quantizer and the PQ codebooks are trained once on a sample and saved empty ("trained"); each
shard of passages is encoded into its own copy of that empty index (on a worker), and the shards'
inverted lists are merged into one index (in memory with `merge_from`, or into an on-disk
`.ivfdata` file). Raw vectors never meet in one process: a shard holds only its own, and the
merged index only the 48-byte codes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

KINDS = ("flat", "hnsw", "ivfpq")
SEARCH_THREADS = 1  # OpenMP threads for one query's search (see `search`)
NLIST_MAX = 65_536  # beyond this the flat coarse quantizer dominates each query
POINTS_PER_LIST = 39  # faiss's minimum of training points per centroid


def choose_kind(setting: str, expected_vectors: int, flat_max: int) -> str:
    if setting != "auto":
        if setting not in KINDS:
            raise ValueError(f"index_kind must be auto, {', '.join(KINDS)}; got {setting!r}")
        return setting
    return "flat" if expected_vectors <= flat_max else "ivfpq"


def choose_nlist(expected_vectors: int, setting: int = 0) -> int:
    """Inverted lists for an index of this many vectors: ~4·√n (faiss's rule of thumb), 16 to 65,536."""
    if setting > 0:
        return setting
    return int(min(NLIST_MAX, max(16, 4 * np.sqrt(max(expected_vectors, 1)))))


def training_size(expected_vectors: int, setting_nlist: int = 0, train_max: int = 1_000_000) -> int:
    """How many sampled vectors to train on: 64 per list (at least 10,000 for 8-bit codebooks), capped."""
    want = max(64 * choose_nlist(expected_vectors, setting_nlist), 256 * POINTS_PER_LIST)
    return int(min(expected_vectors, want, train_max))


def new_index(kind: str, dim: int, training: np.ndarray | None = None, *, expected: int | None = None,
              nlist: int = 0, nprobe: int = 32) -> faiss.Index:
    """An empty id-mapped index; IVF-PQ learns its coarse centroids and codebooks from `training`.

    `expected` is how many vectors the index will hold (the list count follows it, not the sample's
    size), and `nlist` overrides it; lists are still capped so each has ~39 training points.
    """
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = 64
        return faiss.IndexIDMap2(inner)
    if training is None or len(training) == 0:
        raise ValueError("an IVF-PQ index needs training vectors")
    lists = choose_nlist(expected or len(training), nlist)
    lists = min(lists, max(1, len(training) // POINTS_PER_LIST))
    m = 48 if dim % 48 == 0 else 32 if dim % 32 == 0 else 16
    quantizer = faiss.IndexFlatIP(dim)
    nbits = 8 if len(training) >= 256 * POINTS_PER_LIST else 4  # each codebook needs ~39 points per code
    index = faiss.IndexIVFPQ(quantizer, dim, lists, m, nbits, faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(training, dtype=np.float32))
    set_nprobe(index, nprobe)
    return index


def set_nprobe(index: faiss.Index, nprobe: int) -> None:
    """Lists an IVF search scans (saved with the index); other kinds ignore it."""
    if index_kind(index) == "ivfpq":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = max(1, min(nprobe, ivf.nlist))


# ---- sharded IVF-PQ builds -------------------------------------------------------
def empty_copy(index: faiss.Index) -> faiss.Index:
    """The trained quantizers of an IVF index without its vectors: what every shard starts from."""
    copy = faiss.clone_index(index)
    copy.reset()
    return copy


def encode_shard(trained: faiss.Index, ids: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """One shard: these vectors' codes in a copy of the trained, empty index (the raw vectors are dropped)."""
    if trained.ntotal:
        raise ValueError("a shard starts from the empty trained index, not from one holding vectors")
    shard = faiss.clone_index(trained)
    add(shard, ids, vectors)
    return shard


def merge(into: faiss.Index, shard: faiss.Index) -> None:
    """Append a shard's inverted lists to the index (the shard is left empty).

    Lists keep shard order, so merging shards in input order gives exactly the one-shot index."""
    into.merge_from(shard, 0)


@dataclass(frozen=True, slots=True)
class ShardLists:
    """A shard's non-empty inverted lists as flat arrays: what a worker sends back.

    Only ids and codes travel (8 + 48 bytes per vector for MiniLM's 384-d), not the shard's copy of
    the coarse quantizer, which at 16k-65k lists would outweigh a shard of 4,096 raw vectors."""

    lists: np.ndarray  # list numbers, int64
    sizes: np.ndarray  # entries per list, int64
    ids: np.ndarray  # int64, list after list
    codes: np.ndarray  # uint8, code_size bytes per entry

    @property
    def nbytes(self) -> int:
        return self.lists.nbytes + self.sizes.nbytes + self.ids.nbytes + self.codes.nbytes


def shard_lists(shard: faiss.Index) -> ShardLists:
    ivf = faiss.extract_index_ivf(shard)
    inv = ivf.invlists
    sizes = np.asarray([inv.list_size(i) for i in range(ivf.nlist)], dtype=np.int64)
    lists = np.flatnonzero(sizes).astype(np.int64)
    ids = [faiss.rev_swig_ptr(inv.get_ids(int(i)), int(sizes[i])).copy() for i in lists]
    codes = [faiss.rev_swig_ptr(inv.get_codes(int(i)), int(sizes[i]) * inv.code_size).copy() for i in lists]
    return ShardLists(lists, sizes[lists], np.concatenate(ids) if ids else np.zeros(0, np.int64),
                      np.concatenate(codes) if codes else np.zeros(0, np.uint8))


def merge_lists(into: faiss.Index, part: ShardLists) -> None:
    """`merge` for a shard sent as lists: each list's entries are appended in order, as `merge_from` does."""
    ivf = faiss.extract_index_ivf(into)
    inv = ivf.invlists
    size = inv.code_size
    ids = np.ascontiguousarray(part.ids, dtype=np.int64)
    codes = np.ascontiguousarray(part.codes, dtype=np.uint8)
    offset = 0
    for list_no, n in zip(part.lists.tolist(), part.sizes.tolist(), strict=True):
        inv.add_entries(list_no, n, faiss.swig_ptr(ids[offset:]), faiss.swig_ptr(codes[offset * size :]))
        offset += n
    before = into.ntotal
    ivf.ntotal += offset
    if into.ntotal == before:  # a wrapper around the IVF index (the same object otherwise)
        into.ntotal += offset


def to_bytes(index: faiss.Index) -> np.ndarray:
    """A whole index (or shard file's content) as bytes, quantizer included."""
    return faiss.serialize_index(index)


def from_bytes(blob: np.ndarray) -> faiss.Index:
    return faiss.deserialize_index(np.asarray(blob, dtype=np.uint8))


def merge_shard_files(trained: faiss.Index, shard_paths: list[Path], out: Path, *, on_disk: bool = False) -> faiss.Index:
    """Merge shard files into one index saved at `out`.

    In memory, the merged codes must fit in RAM (56 bytes per vector: 8 GB for 142 M passages). With
    `on_disk`, faiss memory-maps the shards and writes the merged lists to `out` + ".ivfdata", so the
    merge and later searches need RAM only for the quantizer and the lists a query touches.
    """
    index = empty_copy(trained)
    if on_disk:
        from faiss.contrib.ondisk import merge_ondisk

        merge_ondisk(index, [str(p) for p in shard_paths], str(out.with_suffix(".ivfdata")))
    else:
        for path in shard_paths:
            merge(index, faiss.read_index(str(path)))
    save(index, out)
    return index


def index_kind(index: faiss.Index) -> str:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    if isinstance(inner, faiss.IndexHNSWFlat):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFPQ) or isinstance(index, faiss.IndexIVFPQ):
        return "ivfpq"
    return "flat"


def ids(index: faiss.Index) -> np.ndarray:
    """The ids an index holds, to find passages still waiting for their vector."""
    if isinstance(index, faiss.IndexIDMap2) or hasattr(index, "id_map"):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    parts = [
        faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
        for i in range(invlists.nlist) if invlists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def add(index: faiss.Index, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))


def remove(index: faiss.Index, ids: list[int]) -> int:
    """Drop vectors where the index kind allows it (flat, IVF); HNSW keeps them and search filters them."""
    if not ids or index_kind(index) == "hnsw":
        return 0
    return int(index.remove_ids(np.asarray(ids, dtype=np.int64)))


def search(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the k nearest vectors, only among `allowed` ids when given."""
    if index.ntotal == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    params = None
    if allowed is not None:
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
        kind = index_kind(index)
        if kind == "ivfpq":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
        elif kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(64, k))
        else:
            params = faiss.SearchParameters(sel=selector)
    # One query gains nothing from OpenMP threads: they spin-wait, and on a shared 2-core machine a
    # flat search took 24 ms of CPU with 2 threads against 1 ms with one (this thread only; restored).
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(SEARCH_THREADS)
    try:
        scores, ids = index.search(query, k, params=params) if params is not None else index.search(query, k)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def save(index: faiss.Index, path: Path) -> None:
    """Write beside, then rename: a crash never leaves a half-written index."""
    tmp = path.with_suffix(".tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


def load(path: Path, mmap: bool = True) -> faiss.Index:
    """Memory-mapped read: the OS pages vectors in as searches touch them (an on-disk merge always is)."""
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
    try:
        return faiss.read_index(str(path), flags)
    except RuntimeError:
        return faiss.read_index(str(path))
