"""The store on a real PostgreSQL server: the same code path as SQLite, chosen by URL.

The SQLite store tests and the curator-review tests run again here unchanged against a
throwaway server (tests/pg.py); then the shipped snapshot goes through `pgxlit load`,
extraction and `pgxlit triples` on Postgres and must give what SQLite gives.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import test_review as review_cases
import test_store as store_cases
from pg import pg_server, pg_url  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from pgxlit.records import Passage
from pgxlit.store import Store

REPO = Path(__file__).resolve().parents[1]

CASES: list[Callable[[Store], None]] = [
    store_cases.test_same_records_twice_add_nothing,
    store_cases.test_changed_abstract_becomes_a_revision,
    store_cases.test_failed_transaction_stores_nothing,
    store_cases.test_crawl_state_round_trip,
    review_cases.test_decisions_survive_re_extraction_and_nothing_is_duplicated,
    review_cases.test_a_curated_triple_the_extractor_drops_is_kept_and_logged,
    review_cases.test_an_edit_keeps_what_was_extracted_and_re_extraction_keeps_the_edit,
    review_cases.test_uncurated_triples_are_replaced,
    review_cases.test_review_refuses_unknown_ids_and_actions,
]


@pytest.fixture()
def pg_store(pg_url: str) -> Iterator[Store]:  # noqa: F811
    store = Store(pg_url)
    yield store
    store.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__.removeprefix("test_"))
def test_store_behaviour_on_postgres(case: Callable[[Store], None], pg_store: Store) -> None:
    assert pg_store.engine.dialect.name == "postgresql"
    case(pg_store)


def test_label_versions_keep_their_order_and_conflicts_on_postgres(pg_store: Store) -> None:
    newer = dataclasses.replace(store_cases.LABEL, version=29)
    conflicting = dataclasses.replace(store_cases.LABEL, title="Xeloda (other text)")
    counts = store_cases.SaveCounts()
    with pg_store.transaction() as s:
        pg_store.save_label_version(s, newer, None, counts)
        pg_store.save_label_version(s, store_cases.LABEL, None, counts)
        pg_store.save_label_version(s, conflicting, None, counts)
    assert (counts.label_versions_added, counts.label_versions_conflicting) == (2, 1)
    assert [v.version for v in pg_store.label_versions(store_cases.LABEL.set_id.upper())] == [28, 29]
    assert pg_store.label_version(store_cases.LABEL.set_id, 28) == store_cases.LABEL
    assert pg_store.stored_versions(store_cases.LABEL.set_id) == {28, 29}


def _passage(version: int, text: str) -> Passage:
    return Passage(doc_key=f"label:{store_cases.LABEL.set_id}:{version}", source="fda_label", text=text, start=0,
                   end=len(text), sentence_starts=(0,), set_id=store_cases.LABEL.set_id, version=version,
                   section="pharmacogenomics", drugs=("capecitabine",), genes=("DPYD",))


def test_passages_retire_and_supersede_on_postgres(pg_store: Store) -> None:
    counts = store_cases.SaveCounts()
    with pg_store.transaction() as s:
        pg_store.save_label_version(s, store_cases.LABEL, None, counts)
        pg_store.save_label_version(s, dataclasses.replace(store_cases.LABEL, version=29), None, counts)
        old = pg_store.add_passages(s, "sha-28", [_passage(28, "DPYD variants raise toxicity.")])
        new = pg_store.add_passages(s, "sha-29", [_passage(29, "Test for DPYD variants before starting.")])
    with pg_store.transaction() as s:
        assert pg_store.mark_superseded(s) == 1
    rows = {row[0]: row for row in pg_store.passage_rows()}
    assert rows[old[0]][12] is True and rows[new[0]][12] is False  # superseded flag
    assert pg_store.passages(old)[old[0]].genes == ("DPYD",)
    assert pg_store.indexed_documents() == {_passage(28, "").doc_key: "sha-28", _passage(29, "").doc_key: "sha-29"}
    with pg_store.transaction() as s:
        assert pg_store.retire_document(s, _passage(28, "").doc_key) == old
    assert [pid for pid, _ in pg_store.passage_texts()] == new


def _cli(args: list[str], db_url: str, home: Path) -> str:
    from pgxlit.cli import app
    from pgxlit.config import get_settings

    get_settings.cache_clear()
    env = {"PGXLIT_DB_URL": db_url, "PGXLIT_HOME": str(home)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def _extract_some_labels(store: Store, set_ids: list[str]) -> None:
    """Real extraction of a few labels, written through the store as `pgxlit extract` writes it."""
    from pgxlit.extract.pipeline import extractor_name
    from pgxlit.extract.triples import iter_triples

    docs = [d for d in store.documents_for_extraction() if d[0].split(":")[1] in set_ids]
    for doc_key, sha, triples in iter_triples(docs):
        with store.transaction() as session:
            store.replace_triples(session, doc_key, sha, extractor_name(), triples)


SET_IDS = ["01b14603-8f29-4fa3-8d7e-9d523f802e0b"]  # Plavix (clopidogrel), CYP2C19 boxed warning


def test_snapshot_load_extract_and_triples_through_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    sqlite_url = f"sqlite:///{tmp_path / 'ref.sqlite'}"
    reports = {}
    for name, url in (("postgres", pg_url), ("sqlite", sqlite_url)):
        reports[name] = json.loads(_cli(["load", str(REPO / "corpora" / "snapshot"), "--json"], url, tmp_path))
        again = json.loads(_cli(["load", str(REPO / "corpora" / "snapshot"), "--json"], url, tmp_path))
        assert again["label_versions_added"] == 0 and again["abstracts_added"] == 0  # idempotent on both
    for key in ("label_versions_added", "abstracts_added", "raw_added", "files_loaded"):
        assert reports["postgres"][key] == reports["sqlite"][key], key
    assert reports["postgres"]["label_versions_added"] > 0 and reports["postgres"]["abstracts_added"] > 0
    pg, lite = Store(pg_url), Store(sqlite_url)
    try:
        assert pg.stats() == lite.stats()
        labels = {lv.set_id for lv in pg.label_versions()}
        assert set(SET_IDS) <= labels
        for store in (pg, lite):
            _extract_some_labels(store, SET_IDS)
        triples = {n: _cli(["triples", "--drug", "clopidogrel", "--gene", "CYP2C19", "--json"], u, tmp_path)
                   for n, u in (("postgres", pg_url), ("sqlite", sqlite_url))}
        rows = json.loads(triples["postgres"])
        assert rows and rows == json.loads(triples["sqlite"])
        assert any(r["pgx"] and r["evidence"]["set_id"] == SET_IDS[0] for r in rows)
        assert pg.stats()["triples"] == lite.stats()["triples"] > 0
    finally:
        pg.close()
        lite.close()
