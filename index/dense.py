"""The dense half of the index: faiss vectors keyed by passage id, saved on disk and memory-mapped.

Exact inner product (flat) while the index is small; HNSW or IVF-PQ when a setting or the
size asks for it. Ids are passage ids, so a hit maps straight back to its row in the store.
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

KINDS = ("flat", "hnsw", "ivfpq")


def choose_kind(setting: str, expected_vectors: int, flat_max: int) -> str:
    if setting != "auto":
        if setting not in KINDS:
            raise ValueError(f"index_kind must be auto, {', '.join(KINDS)}; got {setting!r}")
        return setting
    return "flat" if expected_vectors <= flat_max else "ivfpq"


def new_index(kind: str, dim: int, training: np.ndarray | None = None) -> faiss.Index:
    """An empty id-mapped index; IVF-PQ learns its coarse centroids and codebooks from `training`."""
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = 64
        return faiss.IndexIDMap2(inner)
    if training is None or len(training) == 0:
        raise ValueError("an IVF-PQ index needs training vectors")
    nlist = int(min(4096, max(16, 4 * np.sqrt(len(training)))))
    nlist = min(nlist, max(1, len(training) // 39))  # faiss wants ~39 points per centroid
    m = 48 if dim % 48 == 0 else 32 if dim % 32 == 0 else 16
    quantizer = faiss.IndexFlatIP(dim)
    nbits = 8 if len(training) >= 256 * 39 else 4  # each codebook needs ~39 points per code
    index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
    index.train(training)
    index.nprobe = min(32, nlist)
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
    scores, ids = index.search(query, k, params=params) if params is not None else index.search(query, k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def save(index: faiss.Index, path: Path) -> None:
    """Write beside, then rename: a crash never leaves a half-written index."""
    tmp = path.with_suffix(".tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


def load(path: Path, mmap: bool = True) -> faiss.Index:
    """Memory-mapped read: the OS pages vectors in as searches touch them."""
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
    try:
        return faiss.read_index(str(path), flags)
    except RuntimeError:
        return faiss.read_index(str(path))
