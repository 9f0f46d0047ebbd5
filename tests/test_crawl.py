"""Crawlers end to end against the replay of the real recorded APIs, with faults injected.

The yardstick: a crawl stores exactly what `pgxlit load` stores from the same
recorded files, once each, however many 429s, 5xx and truncated bodies it met.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.ingest.crawl_dailymed import DailyMedCrawler
from pgxlit.ingest.crawl_openfda import OpenFdaCrawler, build_label_query
from pgxlit.ingest.crawl_pubmed import PubMedCrawler
from pgxlit.ingest.http import HttpFetcher
from pgxlit.ingest.load import Loader
from pgxlit.replay.server import ReplayServer
from pgxlit.store import Store

FAULTS = {"fail_rate": 0.15, "status_429_every": 7, "truncate_rate": 0.1, "seed": 11}


def fast_settings(tmp: Path, server: ReplayServer, **extra: object) -> Settings:
    values: dict[str, object] = {
        "home": tmp, "db_url": f"sqlite:///{tmp / 'crawl.sqlite'}",
        "openfda_rate_per_min": 600_000, "dailymed_rate_per_sec": 10_000, "eutils_rate_per_sec": 10_000,
        "http_backoff_base_s": 0.001, "http_backoff_max_s": 0.01, "http_max_retries": 8,
        "openfda_page_size": 25, "eutils_batch_size": 100, **server.base_urls,
    }
    values.update(extra)
    return Settings(**values)


def vda_pmids(shared: Path) -> list[str]:
    index = shared / "corpora/pubmed/efetch/pharmgkb_vda_2018/index.tsv"
    pmids: list[str] = []
    for line in index.read_text().splitlines()[1:]:
        pmids += line.split("\t")[3].split(",")
    return pmids


def snapshot_of(store: Store) -> tuple[dict, dict]:
    labels = {lv.key: lv for lv in store.label_versions()}
    return labels, store.stats()


@pytest.fixture(scope="module")
def loaded(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    tmp = tmp_path_factory.mktemp("loaded")
    settings = Settings(home=tmp, db_url=f"sqlite:///{tmp / 'load.sqlite'}")
    store = Store(settings.resolved_db_url)
    report = Loader(store, settings).load(
        [shared / "corpora/fda", shared / "corpora/pubmed/efetch/pharmgkb_vda_2018"]
    )
    assert report.files_failed == 0
    return store


def test_faulty_crawl_stores_the_same_as_load(shared: Path, tmp_path: Path, loaded: Store) -> None:
    with ReplayServer(shared / "corpora", **FAULTS) as server:
        settings = fast_settings(tmp_path, server)
        store = Store(settings.resolved_db_url)
        with HttpFetcher(settings) as fetcher:
            labels = OpenFdaCrawler(store, fetcher, settings).crawl(build_label_query(every_label=True))
            set_ids = sorted(
                {lv.set_id for lv in store.label_versions()}
                | {p.name for p in (shared / "corpora/fda/spl").iterdir()}
                | {p.stem for p in (shared / "corpora/fda/dailymed/history").iterdir()}
            )
            history = DailyMedCrawler(store, fetcher, settings).crawl(set_ids)
            query = " OR ".join(f"{p}[pmid]" for p in vda_pmids(shared))
            pubmed = PubMedCrawler(store, fetcher, settings).crawl(query)
            retries = fetcher.retries
    assert retries > 10, "the injected faults should have forced retries"
    assert labels.counts.label_versions_added == 199 and labels.total == 199
    assert history.counts.label_versions_added == 13
    assert pubmed.counts.abstracts_added == 2037
    crawled, crawled_stats = snapshot_of(store)
    expected, expected_stats = snapshot_of(loaded)
    assert crawled.keys() == expected.keys()
    assert crawled == expected
    for key in ("labels", "label_versions", "sections", "abstracts", "pubmed_records", "label_history_entries"):
        assert crawled_stats[key] == expected_stats[key], key
    for pmid in vda_pmids(shared)[::97]:
        assert store.abstract(pmid) == loaded.abstract(pmid)


def test_second_crawl_adds_nothing(shared: Path, tmp_path: Path) -> None:
    with ReplayServer(shared / "corpora") as server:
        settings = fast_settings(tmp_path, server)
        store = Store(settings.resolved_db_url)
        with HttpFetcher(settings) as fetcher:
            crawler = OpenFdaCrawler(store, fetcher, settings)
            first = crawler.crawl(build_label_query(drugs=["clopidogrel"]))
            second = crawler.crawl(build_label_query(drugs=["clopidogrel"]))
    assert first.counts.label_versions_added == 7  # 7 recorded versions over 3 set ids
    assert second.counts.label_versions_added == 0 and second.counts.label_versions_unchanged == 7
    assert store.stats()["labels"] == 3


def test_unknown_drug_is_an_empty_result_not_an_error(shared: Path, tmp_path: Path) -> None:
    with ReplayServer(shared / "corpora") as server:
        settings = fast_settings(tmp_path, server)
        store = Store(settings.resolved_db_url)
        with HttpFetcher(settings) as fetcher:
            report = OpenFdaCrawler(store, fetcher, settings).crawl(build_label_query(drugs=["notadrugatall"]))
            pubmed = PubMedCrawler(store, fetcher, settings).crawl("notawordinpubmedxyz")
    assert report.total == 0 and report.records_seen == 0
    assert pubmed.total == 0 and pubmed.notes  # PhraseNotFound is reported
    assert store.stats()["label_versions"] == 0


def test_eutils_rate_limit_is_kept(shared: Path, tmp_path: Path) -> None:
    with ReplayServer(shared / "corpora") as server:
        settings = fast_settings(tmp_path, server, eutils_rate_per_sec=None, eutils_batch_size=20)
        store = Store(settings.resolved_db_url)
        with HttpFetcher(settings) as fetcher:
            report = PubMedCrawler(store, fetcher, settings).crawl("warfarin AND VKORC1", max_records=100)
        assert report.counts.abstracts_added == 100
        assert server.max_requests_per_second("/entrez/eutils") <= 3


def test_pubmed_max_and_incremental_resume_state(shared: Path, tmp_path: Path) -> None:
    with ReplayServer(shared / "corpora") as server:
        settings = fast_settings(tmp_path, server)
        store = Store(settings.resolved_db_url)
        with HttpFetcher(settings) as fetcher:
            report = PubMedCrawler(store, fetcher, settings).crawl("clopidogrel AND CYP2C19", max_records=10)
        state = store.crawl_state("pubmed:clopidogrel AND CYP2C19")
    assert report.counts.abstracts_added == 10
    assert state is not None and state.status == "done" and state.cursor["retstart"] == 10
