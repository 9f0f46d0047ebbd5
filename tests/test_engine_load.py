"""Parallel PubMed loading and the PGx pre-filter, on the shipped snapshot's real PubMed files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.engine import LocalEngine
from pgxlit.extract.run import run_extraction
from pgxlit.extract.shards import pgx_relevant, run_extraction_on
from pgxlit.ingest.load import Loader
from pgxlit.records import Abstract
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
PUBMED = REPO / "corpora" / "snapshot" / "pubmed"


def _folder_with_a_broken_file(tmp_path: Path) -> Path:
    """The snapshot's PubMed .xml.gz files plus one cut off mid-record (a failed download)."""
    folder = tmp_path / "baseline"
    shutil.copytree(PUBMED, folder)
    first = sorted(folder.glob("*.xml.gz"))[0]
    text = gzip.decompress(first.read_bytes())
    (folder / "zz_truncated.xml.gz").write_bytes(gzip.compress(text[: len(text) // 2]))
    return folder


def _load(folder: Path, tmp_path: Path, workers: int, name: str) -> tuple[dict, Store]:
    store = Store(f"sqlite:///{tmp_path / name}")
    report = Loader(store, Settings(home=tmp_path, load_workers=workers)).load([folder])
    return report.as_dict(), store


def test_parallel_load_stores_what_the_serial_load_stores(tmp_path: Path) -> None:
    folder = _folder_with_a_broken_file(tmp_path)
    serial, one = _load(folder, tmp_path, 1, "serial.sqlite")
    parallel, two = _load(folder, tmp_path, 2, "parallel.sqlite")
    try:
        assert serial["files_failed"] == 1 and "zz_truncated" in serial["errors"][0]
        assert parallel == serial  # same counts, same error, same skipped files
        assert serial["abstracts_added"] > 100
        assert one.stats() == two.stats()
        keys = [(k, sha) for k, sha, _ in one.documents_for_extraction()]
        assert keys == [(k, sha) for k, sha, _ in two.documents_for_extraction()]
        # Snapshot files share some PMIDs (counted unchanged); nothing of the cut file is stored or counted.
        assert serial["abstracts_unchanged"] > 0
        again, _ = _load(folder, tmp_path, 2, "parallel.sqlite")
        assert again["abstracts_added"] == 0
        assert again["abstracts_unchanged"] == serial["abstracts_added"] + serial["abstracts_unchanged"]
    finally:
        one.close()
        two.close()


@pytest.fixture(scope="module")
def snapshot_abstracts(tmp_path_factory: pytest.TempPathFactory) -> list[Abstract]:
    folder = tmp_path_factory.mktemp("pubmed")
    store = Store(f"sqlite:///{folder / 's.sqlite'}")
    Loader(store, Settings(home=folder)).load([PUBMED])
    out = [r for _, _, r in store.documents_for_extraction() if isinstance(r, Abstract)]
    store.close()
    return out


def test_prefilter_loses_no_pgx_triple_and_skips_the_rest(snapshot_abstracts: list[Abstract], tmp_path: Path) -> None:
    kept = [a for a in snapshot_abstracts if pgx_relevant(a)]
    dropped = [a for a in snapshot_abstracts if not pgx_relevant(a)]
    assert dropped, "the snapshot has abstracts that name no drug and genetic factor; the filter must skip some"
    sample = kept[:25] + dropped[:25]
    stores = {}
    for name in ("all", "filtered"):
        store = stores[name] = Store(f"sqlite:///{tmp_path / (name + '.sqlite')}")
        with store.transaction() as session:
            for a in sample:
                store.save_abstract(session, a, None, SaveCounts())
    try:
        full = run_extraction(stores["all"])
        filtered = run_extraction_on(LocalEngine(1), stores["filtered"], prefilter=True)
        assert filtered["filtered_out"] == len(dropped[:25]) and filtered["extracted"] == len(kept[:25])
        pgx = lambda s: sorted(repr((t.drug, t.gene, t.variant, t.evidence.pmid, t.evidence.start))  # noqa: E731
                               for t in s.triples(pgx=True, latest_only=False))
        assert pgx(stores["filtered"]) == pgx(stores["all"]) and full["pgx_triples"] > 0
        # Filtered abstracts are not marked done: a run without the filter still reaches them.
        rest = run_extraction_on(LocalEngine(1), stores["filtered"])
        assert rest["extracted"] == len(dropped[:25]) and rest["already_current"] == len(kept[:25])
    finally:
        for store in stores.values():
            store.close()
