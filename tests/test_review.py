"""Curator review in the store: decisions, edits and their audit survive re-extraction.

Triples are built by hand from a real clopidogrel label sentence, so each test reads as the
story it checks: a curator acts, extraction runs again, nothing the curator did is lost.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pgxlit.records import Evidence, Triple
from pgxlit.store import Store, triple_identity
from pgxlit.web.review import ReviewError, check_action, normalise_changes

SENTENCE = ("Effectiveness of Plavix depends on conversion to an active metabolite by the cytochrome P450 (CYP) "
            "system, principally CYP2C19.")
DOC = "label:01b14603-8f29-4fa3-8d7e-9d523f802e0b:34"


def _triple(variant: str | None = None, confidence: float = 0.6, start: int = 0, relation: str = "influences") -> Triple:
    evidence = Evidence(source="fda_label", sentence=SENTENCE, start=start, end=start + len(SENTENCE),
                        set_id="01b14603-8f29-4fa3-8d7e-9d523f802e0b", version=34, section="boxed_warning",
                        effective_time="20210305")
    return Triple(drug="clopidogrel", drug_id="PA449053", gene="CYP2C19", gene_id="HGNC:2621", variant=variant,
                  relation=relation, effect="metabolism", negated=False, hedged=False, confidence=confidence, pgx=True,
                  evidence=evidence, extractor="rules-1")


def _extract(store: Store, triples: list[Triple], extractor: str = "rules-1") -> None:
    with store.transaction() as session:
        store.replace_triples(session, DOC, "sha-1", extractor, [replace(t, extractor=extractor) for t in triples])


def _ids(store: Store) -> dict[str | None, int]:
    _total, entries = store.triple_entries(limit=None, latest_only=False)
    return {e.triple.variant: e.id for e in entries}


def test_decisions_survive_re_extraction_and_nothing_is_duplicated(store: Store) -> None:
    _extract(store, [_triple("poor metabolizer"), _triple("*2"), _triple("*3")])
    ids = _ids(store)
    store.review([ids["poor metabolizer"]], "accept", "Ann", "matches the boxed warning")
    store.review([ids["*2"]], "reject", "Ben", "allele not named in this sentence")

    # a new extractor version: same facts, other confidence and offsets; *3 is gone, *17 is new
    _extract(store, [_triple("poor metabolizer", 0.9, 12), _triple("*2", 0.8, 12), _triple("*17", 0.5, 12)],
             extractor="rules-2")
    total, entries = store.triple_entries(limit=None, latest_only=False)
    by_variant = {e.triple.variant: e for e in entries}
    assert total == 3 and set(by_variant) == {"poor metabolizer", "*2", "*17"}
    accepted, rejected = by_variant["poor metabolizer"], by_variant["*2"]
    assert (accepted.id, accepted.review_status) == (ids["poor metabolizer"], "accepted")
    assert (rejected.id, rejected.review_status) == (ids["*2"], "rejected")
    assert accepted.triple.confidence == 0.9 and accepted.triple.evidence.start == 12
    assert accepted.triple.extractor == "rules-2"
    assert by_variant["*17"].review_status == "pending"
    history = store.audit_log(ids["poor metabolizer"])
    assert [h["action"] for h in history] == ["carried_over", "accept"]
    assert history[1]["actor"] == "Ann" and history[1]["reason"] == "matches the boxed warning"


def test_a_curated_triple_the_extractor_drops_is_kept_and_logged(store: Store) -> None:
    _extract(store, [_triple("poor metabolizer"), _triple("*2")])
    kept = _ids(store)["*2"]
    store.review([kept], "accept", "Ann")
    _extract(store, [_triple("poor metabolizer")], extractor="rules-2")
    entry = store.triple_entry(kept)
    assert entry is not None and entry.review_status == "accepted"
    assert store.audit_log(kept)[0]["action"] == "not_reextracted"


def test_an_edit_keeps_what_was_extracted_and_re_extraction_keeps_the_edit(store: Store) -> None:
    _extract(store, [_triple("poor metabolizer", relation="influences")])
    tid = _ids(store)["poor metabolizer"]
    key_before = triple_identity(store.triple_entry(tid).triple)
    changes = normalise_changes({"relation": "decreases", "variant": "  CYP2C19 poor   metabolizer "})
    store.review([tid], "edit", "Ann", "the sentence says reduced conversion", changes)
    edited = store.triple_entry(tid)
    assert (edited.triple.relation, edited.triple.variant, edited.review_status) == (
        "decreases", "CYP2C19 poor metabolizer", "accepted")
    audit = store.audit_log(tid)[0]
    assert audit["before"] == {"relation": "influences", "variant": "poor metabolizer"}
    assert audit["after"] == {"relation": "decreases", "variant": "CYP2C19 poor metabolizer"}
    assert triple_identity(edited.triple) != key_before

    # the extractor still says "influences": the row is recognised by what was extracted, the edit stays
    _extract(store, [_triple("poor metabolizer", 0.95, relation="influences")], extractor="rules-2")
    total, entries = store.triple_entries(limit=None, latest_only=False)
    assert total == 1
    assert (entries[0].id, entries[0].triple.relation, entries[0].triple.confidence) == (tid, "decreases", 0.95)


def test_uncurated_triples_are_replaced(store: Store) -> None:
    _extract(store, [_triple("*2"), _triple("*3")])
    _extract(store, [_triple("*2")], extractor="rules-2")
    assert set(_ids(store)) == {"*2"}


def test_review_refuses_unknown_ids_and_actions(store: Store) -> None:
    _extract(store, [_triple("*2")])
    with pytest.raises(KeyError):
        store.review([999], "accept", "Ann")
    with pytest.raises(ValueError):
        store.review([_ids(store)["*2"]], "approve", "Ann")
    with pytest.raises(ValueError):
        store.review([_ids(store)["*2"]], "edit", "Ann", "x", {"sentence": "forged"})


def test_edits_are_normalised_through_the_lexicons() -> None:
    assert normalise_changes({"drug": "Plavix", "gene": "cyp2c19"}) == {
        "drug_id": "PA449053", "drug": "clopidogrel", "gene_id": "HGNC:2621", "gene": "CYP2C19"}
    assert normalise_changes({"gene": ""}) == {"gene": None, "gene_id": None}
    assert normalise_changes({"effect": "Toxicity", "negated": "on"}) == {"effect": "toxicity", "negated": True}
    for bad in ({"drug": "notadrug"}, {"gene": "NOTAGENE1"}, {"relation": "cures"}, {"effect": "good"},
                {"sentence": "x"}, {"hedged": "maybe"}):
        with pytest.raises(ReviewError):
            normalise_changes(bad)


def test_rejections_and_edits_need_a_reason() -> None:
    assert check_action("accept", "") == ""
    assert check_action("reject", "  not  PGx ") == "not PGx"
    for action in ("reject", "edit"):
        with pytest.raises(ReviewError):
            check_action(action, " ")
    with pytest.raises(ReviewError):
        check_action("delete", "why")


def test_identity_ignores_offsets_and_confidence_but_not_facts() -> None:
    a = _triple("*2")
    assert triple_identity(a) == triple_identity(replace(a, confidence=0.1, evidence=replace(a.evidence, start=5)))
    assert triple_identity(a) != triple_identity(replace(a, negated=True))


def test_rejected_triples_can_be_left_out(store: Store) -> None:
    _extract(store, [_triple("*2"), _triple("*3")])
    store.review([_ids(store)["*3"]], "reject", "Ann", "not in the sentence")
    assert {t.variant for t in store.triples(latest_only=False)} == {"*2", "*3"}
    assert {t.variant for t in store.triples(latest_only=False, exclude_rejected=True)} == {"*2"}


def test_origin_is_kept_and_older_stores_gain_the_column(tmp_path) -> None:
    """A tumour biomarker read as somatic stays somatic in the store; a store made before origins were
    kept gets the column on open and reads its old rows as unknown."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = Store(url)
    _extract(old, [replace(_triple("poor metabolizer"), origin="germline"), replace(_triple("*2"), origin="somatic")])
    old.close()
    with sqlite3.connect(tmp_path / "old.sqlite") as db:  # what a store made by an older pgxlit looks like
        db.execute("ALTER TABLE triples DROP COLUMN origin")
    reopened = Store(url)
    _total, entries = reopened.triple_entries(limit=None, latest_only=False)
    assert {e.triple.origin for e in entries} == {"unknown"}
    _extract(reopened, [replace(_triple("poor metabolizer"), origin="germline"), replace(_triple("*2"), origin="somatic")],
             extractor="rules-2")
    _total, entries = reopened.triple_entries(limit=None, latest_only=False)
    assert {e.triple.variant: e.triple.origin for e in entries} == {"poor metabolizer": "germline", "*2": "somatic"}
