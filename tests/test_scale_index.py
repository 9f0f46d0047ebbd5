"""IVF-PQ at scale: trained once, filled shard by shard, merged; the result is the one-shot index.

A faiss IVF index appends each vector to its list, so merging shards in input order must give
exactly the index that one `add` of all vectors gives: same ids, same codes, same search results.
Checked on synthetic vectors (in memory, through bytes, and through shard files merged in memory
or into on-disk inverted lists) and on the real pipeline: `update_index` with MiniLM vectors of
recorded abstracts, in several shards, whose saved index is what the searcher loads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pgxlit.config import Settings
from pgxlit.engine import LocalEngine
from pgxlit.index import dense
from pgxlit.ingest.load import Loader
from pgxlit.records import Abstract
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
PUBMED = REPO / "corpora" / "snapshot" / "pubmed"
QUERIES = ["CYP2C19 poor metabolizers and clopidogrel", "warfarin dose VKORC1 genotype", "HLA-B*57:01 abacavir",
           "TPMT thiopurine toxicity", "codeine CYP2D6 ultrarapid metabolizers"]


def test_list_count_follows_the_corpus_size() -> None:
    assert dense.choose_nlist(10_000) == 400
    assert dense.choose_nlist(1_000_000) == 4_000
    assert dense.choose_nlist(14_000_000) == 14_966
    assert dense.choose_nlist(142_000_000) == 47_665  # all of PubMed's passages
    assert dense.choose_nlist(400_000_000) == dense.NLIST_MAX == 65_536
    assert dense.choose_nlist(142_000_000, setting=16_384) == 16_384
    assert dense.choose_nlist(10) == 16
    assert dense.training_size(5_000) == 5_000  # small: train on everything
    assert dense.training_size(14_000_000) == 64 * 14_966
    assert dense.training_size(142_000_000) == 1_000_000  # capped by index_train_max


@pytest.fixture(scope="module")
def vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(12_000, 48)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.arange(1_000, 13_000, dtype=np.int64), x


def test_shards_merged_give_the_one_shot_index(vectors: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    ids, x = vectors
    trained = dense.new_index("ivfpq", 48, x[::3], expected=len(x), nprobe=8)
    assert trained.nlist == min(dense.choose_nlist(len(x)), len(x[::3]) // 39)  # ~39 training points per list
    one_shot = dense.empty_copy(trained)
    dense.add(one_shot, ids, x)
    in_memory, through_bytes, as_lists = dense.empty_copy(trained), dense.empty_copy(trained), dense.empty_copy(trained)
    files = []
    for i, start in enumerate(range(0, len(x), 5_000)):  # three uneven shards
        part = slice(start, start + 5_000)
        dense.merge(in_memory, dense.encode_shard(trained, ids[part], x[part]))
        lists = dense.shard_lists(dense.encode_shard(trained, ids[part], x[part]))  # what a worker sends back
        assert lists.nbytes < len(x[part]) * (8 + 24 + 1)  # ids and 24-byte codes, no quantizer, no raw vectors
        dense.merge_lists(as_lists, lists)
        blob = dense.to_bytes(dense.encode_shard(trained, ids[part], x[part]))
        shard = dense.from_bytes(blob)
        dense.save(shard, tmp_path / f"shard{i}.faiss")
        files.append(tmp_path / f"shard{i}.faiss")
        dense.merge(through_bytes, shard)
    from_files = dense.merge_shard_files(trained, files, tmp_path / "merged.faiss")
    dense.merge_shard_files(trained, files, tmp_path / "ondisk.faiss", on_disk=True)
    on_disk = dense.load(tmp_path / "ondisk.faiss")  # the searcher's load: memory-mapped lists
    assert (tmp_path / "ondisk.ivfdata").exists()
    queries = x[:40] + 0.05
    want_scores, want_ids = one_shot.search(queries, 10)
    for index in (in_memory, through_bytes, as_lists, from_files, dense.load(tmp_path / "merged.faiss"), on_disk):
        assert index.ntotal == len(x) and index.nprobe == 8
        scores, got = index.search(queries, 10)
        assert np.array_equal(got, want_ids) and np.array_equal(scores, want_scores)
        assert np.array_equal(np.sort(dense.ids(index)), ids)
    _, only = dense.search(on_disk, x[3], 3, allowed=np.asarray([ids[3], ids[9]]))
    assert only[0] == ids[3]
    with pytest.raises(ValueError, match="empty trained index"):
        dense.encode_shard(one_shot, ids[:2], x[:2])


@pytest.fixture(scope="module")
def abstracts(tmp_path_factory: pytest.TempPathFactory) -> list[Abstract]:
    folder = tmp_path_factory.mktemp("pubmed")
    store = Store(f"sqlite:///{folder / 's.sqlite'}")
    Loader(store, Settings(home=folder)).load([PUBMED])
    out = [r for _, _, r in store.documents_for_extraction() if isinstance(r, Abstract)]
    store.close()
    return out[:28]


def _store(path: Path, records: list[Abstract]) -> Store:
    store = Store(f"sqlite:///{path}")
    with store.transaction() as session:
        for a in records:
            store.save_abstract(session, a, None, SaveCounts())
    return store


def _one_shot(home: Path, store: Store) -> object:
    """The trained index the build saved, filled with every live passage's vector in one add."""
    from pgxlit.index.embed import embedder_for

    rows = list(store.passage_texts())
    index = dense.empty_copy(dense.load(home / "index" / "trained.faiss", mmap=False))
    vectors = embedder_for(Settings()).encode([t for _, t in rows])
    dense.add(index, np.asarray([pid for pid, _ in rows], dtype=np.int64), vectors)
    return index


def test_sharded_index_build_is_the_one_shot_build_and_what_search_loads(abstracts: list[Abstract],
                                                                          tmp_path: Path) -> None:
    from pgxlit.index.shards import run_index_on
    from pgxlit.index.build import update_index
    from pgxlit.index.embed import embedder_for
    from pgxlit.index.search import Searcher

    home = tmp_path / "home"
    settings = Settings(home=home, index_kind="ivfpq", index_shard_passages=24, index_nprobe=4)
    store = _store(tmp_path / "s.sqlite", abstracts[:20])
    try:
        # In-process shards through the worker function (LocalEngine(1) maps in this process).
        report = update_index(store, settings, shard_map=LocalEngine(1).map)
        assert report["index_kind"] == "ivfpq" and report["vectors"] == report["passages_added"] > 2 * 24
        merged = dense.load(home / "index" / "dense.faiss", mmap=False)
        reference = _one_shot(home, store)
        embedder = embedder_for(settings)
        q = embedder.encode(QUERIES)
        assert merged.nprobe == min(4, merged.nlist)  # the setting, saved with the index
        assert np.array_equal(merged.search(q, 10)[1], reference.search(q, 10)[1])  # type: ignore[attr-defined]
        assert np.array_equal(merged.search(q, 10)[0], reference.search(q, 10)[0])  # type: ignore[attr-defined]

        # New abstracts go in as further shards of the same trained index (an incremental run).
        with store.transaction() as session:
            for a in abstracts[20:]:
                store.save_abstract(session, a, None, SaveCounts())
        again = run_index_on(LocalEngine(1), store, settings)  # the plain local path: shards in this process
        assert again["documents_indexed"] == len(abstracts) - 20 and again["passages_added"] > 0
        merged = dense.load(home / "index" / "dense.faiss", mmap=False)
        reference = _one_shot(home, store)
        assert merged.ntotal == reference.ntotal  # type: ignore[attr-defined]
        assert np.array_equal(merged.search(q, 10)[1], reference.search(q, 10)[1])  # type: ignore[attr-defined]

        searcher = Searcher(store, settings)  # what `pgxlit search` and `ask` open
        assert dense.index_kind(searcher.dense) == "ivfpq" and searcher.dense.ntotal == merged.ntotal
        hits = searcher.search(QUERIES[0], k=5, mode="dense")
        want = [int(i) for i in reference.search(q[:1], 100)[1][0] if i >= 0]  # type: ignore[attr-defined]
        assert [h.passage.id for h in hits] == want[:5]

        # A training sample smaller than the corpus: its vectors go in first, the rest in shards; same hits.
        small = Settings(home=tmp_path / "small", index_kind="ivfpq", index_shard_passages=24, index_train_max=50)
        report = update_index(store, small, shard_map=LocalEngine(1).map)
        assert report["vectors"] == report["passages_added"] == merged.ntotal
        sampled = dense.load(small.home / "index" / "dense.faiss", mmap=False)
        reference = _one_shot(small.home, store)
        for got, want_ in zip(sampled.search(q, 10)[0], reference.search(q, 10)[0], strict=True):  # type: ignore[attr-defined]
            assert np.array_equal(np.sort(got), np.sort(want_))
    finally:
        store.close()
