"""Helpers shared by the check and CDS Hooks tests: a real store filled with real triples.

tests/fixtures/check/triples_min.json holds triples pgxlit extracted from the bundled snapshot
(FDA label and PubMed sentences with their evidence) and the label versions they cite, so the
check runs end to end against the real Store without ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

from pgxlit.records import Evidence, LabelVersion, Triple
from pgxlit.store import SaveCounts, Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"


def fixture_triples() -> dict:
    return json.loads((FIXTURES / "triples_min.json").read_text(encoding="utf-8"))


def triple_from_json(d: dict) -> Triple:
    e = d["evidence"]
    evidence = Evidence(source=e["source"], sentence=e["sentence"], start=e["start"], end=e["end"], set_id=e["set_id"],
                        version=e["version"], section=e["section"], effective_time=e["effective_time"], pmid=e["pmid"],
                        year=e["year"])
    return Triple(drug=d["drug"], drug_id=d["drug_id"], gene=d["gene"], gene_id=d["gene_id"], variant=d["variant"],
                  relation=d["relation"], effect=d["effect"], negated=d["negated"], hedged=d["hedged"],
                  confidence=d["confidence"], pgx=d["pgx"], evidence=evidence, extractor=d["extractor"])


def fill_store(store: Store, extra: list[dict] | None = None) -> None:
    """Label versions and triples of the fixture (plus `extra` triple dicts) into `store`."""
    data = fixture_triples()
    with store.transaction() as session:
        counts = SaveCounts()
        for lab in data["labels"]:
            store.save_label_version(session, LabelVersion(
                set_id=lab["set_id"], version=lab["version"], effective_time=lab["effective_time"], spl_id=None,
                title=lab["title"], generic_names=tuple(lab["generic_names"]), brand_names=tuple(lab["brand_names"]),
            ), None, counts)
    by_doc: dict[str, list[Triple]] = {}
    for d in data["triples"] + (extra or []):
        e = d["evidence"]
        key = f"label:{e['set_id']}:{e['version']}" if e["source"] == "fda_label" else f"pubmed:{e['pmid']}"
        by_doc.setdefault(key, []).append(triple_from_json(d))
    for key, triples in by_doc.items():
        with store.transaction() as session:
            store.replace_triples(session, key, "fixture", "fixture", triples)


def set_review_status(store: Store, sentence_start: str, status: str) -> int:
    """What a curator does: mark the triples of one sentence accepted or rejected (through Store.review)."""
    action = {"accepted": "accept", "rejected": "reject", "pending": "reset"}[status]
    _, entries = store.triple_entries(latest_only=False, limit=None)
    ids = [e.id for e in entries if e.triple.evidence.sentence.startswith(sentence_start)]
    if ids:
        store.review(ids, action, actor="test curator")
    return len(ids)
