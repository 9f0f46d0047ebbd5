"""Engines: Ray (started here, two CPUs) must store exactly the triples the local run stores.

The input is real: label versions and abstracts from the shipped snapshot, copied into two
fresh stores; one is extracted by `run_extraction` (the default path), the other through Ray
in small shards so several shards run on both workers and come back out of order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.engine import LocalEngine, get_engine, shard_documents
from pgxlit.extract.run import run_extraction
from pgxlit.extract.shards import run_extraction_on
from pgxlit.index.shards import run_index_on
from pgxlit.ingest.load import Loader
from pgxlit.records import Abstract, LabelVersion
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
CLOPIDOGREL = "01b14603-8f29-4fa3-8d7e-9d523f802e0b"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, LabelVersion | Abstract]]:
    """Two labels (one with two versions) and 60 abstracts from the shipped snapshot."""
    folder = tmp_path_factory.mktemp("snapshot")
    store = Store(f"sqlite:///{folder / 'all.sqlite'}")
    Loader(store, Settings(home=folder)).load([REPO / "corpora" / "snapshot"])
    docs = list(store.documents_for_extraction())
    store.close()
    labels = [d for d in docs if isinstance(d[2], LabelVersion)]
    set_ids = {d[2].set_id for d in labels}
    two = next(s for s in sorted(set_ids) if sum(d[2].set_id == s for d in labels) >= 2)
    chosen = [d for d in labels if d[2].set_id in (two, CLOPIDOGREL)]
    abstracts = [d for d in docs if isinstance(d[2], Abstract)][:60]
    assert len(chosen) >= 3 and len(abstracts) == 60
    return chosen + abstracts


def _store_with(path: Path, docs: list[tuple[str, str, LabelVersion | Abstract]]) -> Store:
    store = Store(f"sqlite:///{path}")
    counts = SaveCounts()
    with store.transaction() as session:
        for _, _, record in docs:
            if isinstance(record, LabelVersion):
                store.save_label_version(session, record, None, counts)
            else:
                store.save_abstract(session, record, None, counts)
    return store


def _stored_triples(store: Store) -> list[dict]:
    return sorted(({**t.to_json()} for t in store.triples(latest_only=False)),
                  key=lambda t: (t["evidence"]["set_id"] or "", t["evidence"]["version"] or 0,
                                 t["evidence"]["pmid"] or "", t["evidence"]["section"] or "", t["evidence"]["start"],
                                 t["drug"], t["gene"] or "", t["variant"] or "", t["relation"]))


def test_shards_keep_label_versions_together_and_abstracts_in_pmid_order(sample: list) -> None:
    shards = list(shard_documents(sample, size=16, label_size=1))
    assert [d for s in shards for d in s] == sample  # nothing lost, nothing reordered
    for shard in shards:
        kinds = {isinstance(d[2], LabelVersion) for d in shard}
        assert len(kinds) == 1  # a shard is labels or abstracts, never both
        if kinds == {True}:
            assert len({d[2].set_id for d in shard}) == 1  # label_size=1: one set, all its versions
        else:
            assert len(shard) <= 16
    versions = [len(s) for s in shards if isinstance(s[0][2], LabelVersion)]
    assert max(versions) >= 2
    pmids = [d[0] for d in sample if isinstance(d[2], Abstract)]
    assert pmids == sorted(pmids)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="local, ray"):
        get_engine("spark")


@pytest.fixture(scope="module")
def ray_engine() -> Iterator[object]:
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'ray==2.60.0' to test the ray engine")
    engine = get_engine("ray", 2)
    yield engine
    engine.close()


def test_ray_and_local_store_identical_triples(sample: list, ray_engine: object, tmp_path: Path) -> None:
    local, on_ray = _store_with(tmp_path / "local.sqlite", sample), _store_with(tmp_path / "ray.sqlite", sample)
    try:
        local_report = run_extraction(local)
        ray_report = run_extraction_on(ray_engine, on_ray, shard_size=16)  # type: ignore[arg-type]
        expected, got = _stored_triples(local), _stored_triples(on_ray)
        assert local_report["extracted"] == ray_report["extracted"] == len(sample)
        assert any(t["pgx"] and t["evidence"]["set_id"] == CLOPIDOGREL for t in expected)
        assert any(t["evidence"]["pmid"] for t in expected)
        assert got == expected
        # A second run on Ray finds everything current, as the local run would.
        again = run_extraction_on(ray_engine, on_ray)  # type: ignore[arg-type]
        assert again["already_current"] == len(sample) and again["extracted"] == 0
    finally:
        local.close()
        on_ray.close()


def test_ray_embedding_gives_the_local_index(sample: list, ray_engine: object, tmp_path: Path) -> None:
    import numpy as np

    from pgxlit.index import dense

    docs = [d for d in sample if isinstance(d[2], Abstract)][:20]
    vectors = {}
    for name, engine in (("local", LocalEngine(1)), ("ray", ray_engine)):
        home = tmp_path / name
        store = _store_with(tmp_path / f"{name}.sqlite", docs)
        settings = Settings(home=home, index_kind="flat")
        report = run_index_on(engine, store, settings)  # type: ignore[arg-type]
        assert report["engine"] == name and report["vectors"] > 0
        index = dense.load(home / "index" / "dense.faiss", mmap=False)
        ids = dense.ids(index)
        stored = np.vstack([index.reconstruct(int(i)) for i in ids])  # flat IDMap2 keeps the vectors
        vectors[name] = (ids, stored, [t for _, t in store.passage_texts()])
        store.close()
    assert np.array_equal(vectors["local"][0], vectors["ray"][0])
    assert vectors["local"][2] == vectors["ray"][2]
    assert np.allclose(vectors["local"][1], vectors["ray"][1], atol=1e-5)


def test_extract_command_takes_the_engine_from_flag_or_setting(sample: list, ray_engine: object, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from pgxlit.cli import app
    from pgxlit.config import get_settings

    docs = [d for d in sample if isinstance(d[2], Abstract)][:12]
    reports = {}
    for name, args, env in (("flag", ["--engine", "ray", "--workers", "2"], {}), ("setting", [], {"PGXLIT_ENGINE": "ray"}),
                            ("local", [], {})):
        path = tmp_path / f"{name}.sqlite"
        _store_with(path, docs).close()
        monkeypatch.setenv("PGXLIT_DB_URL", f"sqlite:///{path}")
        monkeypatch.setenv("PGXLIT_HOME", str(tmp_path))
        for key in ("PGXLIT_ENGINE",):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["extract", *args, "--json"])
        get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        reports[name] = json.loads(result.output)
        store = Store(f"sqlite:///{path}")
        reports[name]["stored"] = _stored_triples(store)
        store.close()
    assert reports["flag"]["workers"] == reports["setting"]["workers"] == 2  # the ray path reports its workers
    assert "workers" not in reports["local"]  # the default stays the plain local run
    assert reports["flag"]["stored"] == reports["setting"]["stored"] == reports["local"]["stored"]
    assert reports["local"]["extracted"] == len(docs)


def test_ray_builds_ivfpq_shards_and_merges_them_into_the_local_index(sample: list, ray_engine: object,
                                                                     tmp_path: Path) -> None:
    """Workers embed and encode whole shards into the trained IVF-PQ index; the driver only merges codes."""
    import numpy as np

    from pgxlit.index import dense
    from pgxlit.index.embed import get_embedder
    from pgxlit.index.search import Searcher

    docs = [d for d in sample if isinstance(d[2], Abstract)][:16]
    found = {}
    query = get_embedder().encode(["CYP2C19 poor metabolizers clopidogrel", "warfarin VKORC1 dose"])
    for name, engine in (("local", LocalEngine(1)), ("ray", ray_engine)):
        home = tmp_path / name
        store = _store_with(tmp_path / f"{name}.sqlite", docs)
        settings = Settings(home=home, index_kind="ivfpq", index_shard_passages=16)
        report = run_index_on(engine, store, settings)  # type: ignore[arg-type]
        assert report["index_kind"] == "ivfpq" and report["vectors"] > 3 * 16  # several shards
        index = Searcher(store, settings).dense  # the merged index is what search opens
        found[name] = (np.sort(dense.ids(index)), index.search(query, 5)[1])
        store.close()
    assert np.array_equal(found["local"][0], found["ray"][0])
    assert np.array_equal(found["local"][1], found["ray"][1])
