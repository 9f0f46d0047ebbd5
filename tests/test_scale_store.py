"""Bulk triple writes (`replace_triples_many`) store exactly what one `replace_triples` per document stores.

Real extractions of recorded abstracts are written twice, into two fresh stores: document by
document, and shard by shard through the bulk path. Curators then accept, reject and edit
triples in both, and a second extraction (changed confidences, a lost triple, new documents
mixed into the same shards) runs again both ways. Triples, ids, review states, the audit log and
the extraction records must be equal, on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg import pg_server  # noqa: F401  (fixture)
from sqlalchemy import select

from pgxlit.config import Settings
from pgxlit.extract.shards import extract_shard
from pgxlit.ingest.load import Loader
from pgxlit.records import Abstract, Triple
from pgxlit.store import Store
from pgxlit.store.schema import ExtractedDocRow

REPO = Path(__file__).resolve().parents[1]
PUBMED = REPO / "corpora" / "snapshot" / "pubmed"
Result = tuple[str, str, list[Triple]]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    """Real triples of 30 recorded abstracts, as workers return them (two emptied)."""
    folder = tmp_path_factory.mktemp("pubmed")
    store = Store(f"sqlite:///{folder / 's.sqlite'}")
    Loader(store, Settings(home=folder)).load([PUBMED])
    docs = [d for d in store.documents_for_extraction() if isinstance(d[2], Abstract)][:30]
    store.close()
    results = extract_shard(docs)
    assert sum(bool(t) for _, _, t in results) >= 10
    for i in (3, 24):  # abstracts where extraction finds nothing must be recorded as extracted too
        results[i] = (results[i][0], results[i][1], [])
    return results


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """(written per document, written in bulk): two fresh stores of one kind."""
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'one.sqlite'}", f"sqlite:///{tmp_path / 'bulk.sqlite'}"]
    else:
        server = request.getfixturevalue("pg_server")
        urls = [server.create_database(), server.create_database()]
    pair = (Store(urls[0]), Store(urls[1]))
    yield pair
    for store in pair:
        store.close()
    if request.param == "postgres":
        for url in urls:
            server.drop_database(url)


def _write(store: Store, results: list[Result], bulk: bool, extractor: str) -> None:
    if bulk:
        for i in range(0, len(results), 8):  # shards of 8, one transaction each
            with store.transaction() as session:
                store.replace_triples_many(session, extractor, results[i : i + 8])
    else:
        for key, sha, triples in results:
            with store.transaction() as session:
                store.replace_triples(session, key, sha, extractor, triples)


def _curate(store: Store) -> None:
    _, entries = store.triple_entries(limit=None, latest_only=False)
    entries.sort(key=lambda e: e.id)
    store.review([entries[0].id], "accept", "Ann", "as the abstract says")
    store.review([entries[1].id], "reject", "Ben", "wrong drug")
    store.review([entries[2].id], "edit", "Ann", "gene symbol", {"variant": "*2"})


def _second_extraction(first: list[Result], more: list[Result]) -> list[Result]:
    """A newer extractor: other confidences, the first document's last triple lost, new documents mixed in."""
    out: list[Result] = []
    for n, (key, sha, triples) in enumerate(first):
        changed = [dataclasses.replace(t, confidence=round(t.confidence * 0.9, 4), extractor="rules-2") for t in triples]
        if n == 0 and changed:
            changed = changed[:-1]
        out.append((key, sha, changed))
        if n < len(more):
            out.append(more[n])
    return out


def _state(store: Store) -> dict[str, Any]:
    _, entries = store.triple_entries(limit=None, latest_only=False)
    audit = [(r["triple_id"], r["doc_key"], r["action"], r["actor"], r["reason"], r["old_status"], r["new_status"],
              r["before"], r["after"]) for r in store.audit_log(limit=10_000)]
    with store.transaction() as session:
        docs = [(r.doc_key, r.content_sha256, r.extractor, r.triples)
                for r in session.scalars(select(ExtractedDocRow).order_by(ExtractedDocRow.doc_key))]
    return {"triples": sorted((e.id, e.doc_key, e.review_status, str(e.triple.to_json())) for e in entries),
            "audit": audit, "extracted": docs}


def test_bulk_writes_store_what_per_document_writes_store(stores: tuple[Store, Store],
                                                          extracted: list[Result]) -> None:
    first, more = extracted[:20], extracted[20:]
    for store, bulk in zip(stores, (False, True), strict=True):
        _write(store, first, bulk, "rules-1")
    one, many = _state(stores[0]), _state(stores[1])
    assert one == many and len(one["triples"]) == sum(len(t) for _, _, t in first) > 10
    assert len(one["extracted"]) == 20  # documents without triples are recorded as extracted too

    for store, bulk in zip(stores, (False, True), strict=True):
        _curate(store)
        _write(store, _second_extraction(first, more), bulk, "rules-2")
    one, many = _state(stores[0]), _state(stores[1])
    assert one == many
    statuses = {status for _, _, status, _ in one["triples"]}
    assert {"accepted", "rejected", "pending"} <= statuses
    actions = {a[2] for a in one["audit"]}
    assert {"accept", "reject", "edit", "carried_over"} <= actions
    assert {extractor for _, _, extractor, _ in one["extracted"]} == {"rules-2"}
    # The batched lookup answers what the per-document check answers.
    keys = [key for key, _, _ in extracted] + ["pubmed:0"]
    states = stores[1].extraction_states(keys)
    for key, sha, _ in extracted:
        assert (states.get(key) == (sha, "rules-2")) == stores[1].extraction_is_current(key, sha, "rules-2")
    assert "pubmed:0" not in states and len(states) == len(extracted)
