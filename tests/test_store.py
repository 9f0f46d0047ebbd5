"""The store keeps raw bytes and records once, and keeps abstract revisions."""

from __future__ import annotations

import dataclasses

from pgxlit.records import Abstract, AbstractSection, LabelVersion, Section
from pgxlit.store import SaveCounts, Store

LABEL = LabelVersion(
    set_id="a1de8bba-3b1d-4c9d-ab8a-32d2c05e67c8",
    version=28,
    effective_time="20231128",
    spl_id="1187214d-f028-4db4-a59c-ab3bb029c46f",
    title="Xeloda",
    generic_names=("CAPECITABINE",),
    sections=(
        Section(order=0, field="boxed_warning", loinc="34066-1", text="WARNING: ..."),
        Section(order=1, field="pharmacogenomics", loinc="66106-6", text="DPYD variants ..."),
    ),
)
ABSTRACT = Abstract(
    pmid="26866747",
    title="Association of KCNQ1 polymorphisms with gliclazide efficacy.",
    sections=(AbstractSection(text="To investigate ...", label="OBJECTIVES", category="OBJECTIVE"),),
    date_revised="2016-02-13",
)


def test_same_records_twice_add_nothing(store: Store) -> None:
    counts = SaveCounts()
    for _ in range(2):
        with store.transaction() as s:
            raw = store.save_raw(s, url="file:///x.json", body=b"{}", source="openfda", counts=counts)
            store.save_label_version(s, LABEL, raw, counts)
            store.save_abstract(s, ABSTRACT, raw, counts)
    assert counts.raw_added == 1
    assert counts.label_versions_added == 1 and counts.label_versions_unchanged == 1
    assert counts.abstracts_added == 1 and counts.abstracts_unchanged == 1
    stats = store.stats()
    assert stats["labels"] == 1 and stats["label_versions"] == 1 and stats["sections"] == 2
    assert stats["abstracts"] == 1
    assert store.label_versions()[0] == LABEL
    assert store.raw_body(raw) == b"{}"


def test_changed_abstract_becomes_a_revision(store: Store) -> None:
    counts = SaveCounts()
    revised = dataclasses.replace(ABSTRACT, title=ABSTRACT.title + " Erratum.", date_revised="2018-01-01")
    with store.transaction() as s:
        store.save_abstract(s, ABSTRACT, None, counts)
    with store.transaction() as s:
        store.save_abstract(s, revised, None, counts)
    assert counts.abstracts_revised == 1
    assert store.abstract_revision_count(ABSTRACT.pmid) == 2
    assert store.abstract(ABSTRACT.pmid) == revised
    with store.transaction() as s:
        store.delete_abstracts(s, [ABSTRACT.pmid], counts)
    assert store.abstract(ABSTRACT.pmid) is None
    assert store.stats()["abstracts"] == 0


def test_failed_transaction_stores_nothing(store: Store) -> None:
    counts = SaveCounts()
    try:
        with store.transaction() as s:
            store.save_label_version(s, LABEL, None, counts)
            raise RuntimeError("crash mid-write")
    except RuntimeError:
        pass
    assert store.stats()["label_versions"] == 0


def test_crawl_state_round_trip(store: Store) -> None:
    with store.transaction() as s:
        store.set_crawl_state(s, "pubmed:q", {"retstart": 200})
    state = store.crawl_state("pubmed:q")
    assert state is not None and state.cursor == {"retstart": 200} and state.status == "running"
    with store.transaction() as s:
        store.set_crawl_state(s, "pubmed:q", {"retstart": 400}, done=True)
    state = store.crawl_state("pubmed:q")
    assert state.status == "done" and state.last_success_at is not None
