"""The check service under reviews: it answers from the knowledge it has while the next one is built in
the background, recompiles only the reviewed drugs, and writes the claims cache after the swap."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import orjson
import pytest

from pgxlit.check.knowledge import knowledge_path, load_knowledge
from pgxlit.check.profile import profile_from_args
from pgxlit.check.service import CheckService
from pgxlit.config import Settings
from pgxlit.records import Evidence, Triple
from pgxlit.store import Store

WAIT_SECONDS = 60.0  # bounded wait for the background refresh; no timing is asserted

SENTENCES = {
    "codeine": ("CYP2D6", "CYP2D6 ultrarapid metabolizer",
                "Codeine should be avoided in CYP2D6 ultrarapid metabolizers because of life-threatening toxicity."),
    "clopidogrel": ("CYP2C19", "CYP2C19 poor metabolizer",
                    "Clopidogrel should be avoided in CYP2C19 poor metabolizers; use another antiplatelet agent."),
}


def _abstract_triple(drug: str, pmid: str) -> Triple:
    gene, variant, sentence = SENTENCES[drug]
    return Triple(drug=drug, drug_id=None, gene=gene, gene_id=None, variant=variant, relation="associated",
                  effect="toxicity", negated=False, hedged=False, confidence=0.9, pgx=True,
                  evidence=Evidence(source="pubmed", sentence=sentence, start=0, end=len(sentence), pmid=pmid, year=2020))


def _store_abstract(store: Store, drug: str, pmid: str) -> None:
    with store.transaction() as session:
        store.replace_triples(session, f"pubmed:{pmid}", f"sha-{pmid}", "test", [_abstract_triple(drug, pmid)])


@pytest.fixture()
def service(tmp_path: Path):
    settings = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'pgxlit.sqlite'}")
    settings.check.refresh_seconds = 0.0  # look for changes on every check
    store = Store(settings.resolved_db_url)
    _store_abstract(store, "codeine", "111")
    _store_abstract(store, "clopidogrel", "222")
    svc = CheckService(settings, store=store)
    yield svc
    svc.wait_for_refresh(WAIT_SECONDS)
    store.close()


def _wait_for_swap(svc: CheckService, old_fingerprint: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        k = svc.knowledge
        if k.fingerprint != old_fingerprint:
            return k
        svc.wait_for_refresh(1.0)
    pytest.fail(f"the check's knowledge was not refreshed within {WAIT_SECONDS} s")


def _codeine_alerts(svc: CheckService) -> list[dict]:
    profile = profile_from_args([], ["CYP2D6 ultrarapid metabolizer"], [], svc.table)
    return [a for a in svc.run("codeine", profile).alerts if a["gene"] == "CYP2D6"]


def test_a_review_is_served_from_the_previous_knowledge_until_the_rebuild_swaps_in(service: CheckService) -> None:
    before = service.knowledge
    assert before.base is not None and before.base.claims_for("codeine") and before.base.claims_for("clopidogrel")
    [alert] = _codeine_alerts(service)
    assert alert["action"] == "avoid" and alert["citations"][0]["pmid"] == "111"
    service.wait_for_refresh(WAIT_SECONDS)
    [entry] = service.store.triple_entries_in_order(pgx=True, drugs=["Codeine"])
    assert entry.triple.drug == "codeine"

    service.store.review([entry.id], "reject", "Ann", "not this patient group")
    served = service.knowledge  # starts the background refresh, answers at once
    assert served is before and served.base.claims_for("codeine")

    after = _wait_for_swap(service, before.fingerprint)
    assert after.base.recompiled == ("codeine",)  # only the reviewed drug was compiled again
    assert after.base.claims_for("codeine") == [] and "codeine" not in after.drugs
    assert after.base.claims_for("clopidogrel")[0] is before.base.claims_for("clopidogrel")[0]
    assert _codeine_alerts(service) == []  # the check reflects the rejection once swapped in

    # the cache written after the swap is the new knowledge: a fresh process serves it unread
    assert service.wait_for_refresh(WAIT_SECONDS)
    cached = orjson.loads(gzip.decompress(knowledge_path(service.settings).read_bytes()))
    assert cached["store"] == after.fingerprint
    reloaded = load_knowledge(service.store, service.settings, service.table)
    assert reloaded.base.recompiled == () and reloaded.base.claims == after.base.claims


def test_new_triples_are_compiled_from_the_store_in_the_background(service: CheckService) -> None:
    before = service.knowledge
    service.wait_for_refresh(WAIT_SECONDS)
    _store_abstract(service.store, "codeine", "333")  # a new abstract, not a review
    assert service.knowledge is before
    after = _wait_for_swap(service, before.fingerprint)
    [claim] = [c for c in after.base.claims_for("codeine") if c.gene == "CYP2D6"]
    assert claim.literature_count == 2
    assert after.base.claims_for("clopidogrel") == before.base.claims_for("clopidogrel")


def test_triples_of_some_drugs_are_read_back_alone(service: CheckService) -> None:
    store = service.store
    assert [e.triple.drug for e in store.triple_entries_in_order(pgx=True)] == ["codeine", "clopidogrel"]
    assert [e.triple.drug for e in store.triple_entries_in_order(pgx=True, drugs=["CLOPIDOGREL"])] == ["clopidogrel"]
    assert store.triple_entries_in_order(pgx=True, drugs=[]) == []
    last, drugs = store.reviewed_drugs_since(None)
    assert (last, drugs) == (None, set())
    [entry] = store.triple_entries_in_order(drugs=["codeine"])
    store.review([entry.id], "edit", "Ann", "wrong drug", {"drug": "morphine"})
    last, drugs = store.reviewed_drugs_since(None)
    assert last is not None and drugs == {"codeine", "morphine"}
    assert store.reviewed_drugs_since(last) == (last, set())


def test_known_drugs_resolve_from_the_knowledge_alone(service: CheckService) -> None:
    """The web server answers a check on its event loop only for a drug the loaded knowledge knows by its cached
    aliases (never loading the lexicon there); any other name is still resolved through the lexicon."""
    assert not service.ready
    service.knowledge  # noqa: B018 - the first load
    assert service.ready
    assert service.known("Clopidogrel 75 mg oral tablet").name == "clopidogrel"
    assert service.known("lisinopril") is None  # no knowledge about it: not a fast-path drug
    assert service.resolve("lisinopril") is not None  # but a drug the lexicon knows
