"""Curators edit a claim itself: the edit is stored with its history, laid over the compiled claims, and
read by ask's bottom line, the check's alerts and the drug summary; revert takes it off again.

The pure overlay and the validation run on claims compiled here; the store tests on an empty store
(and on one made before the claim_edits table existed); the consumers on the bundled snapshot's
codeine, capecitabine and simvastatin labels and abstracts, extracted with the real pipeline.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pg import pg_server, pg_url  # noqa: F401  (fixtures)
from snapshot_world import extracted_snapshot

from pgxlit.config import Settings
from pgxlit.store import Store

UM = "phenotype:Ultrarapid Metabolizer"


# ---- the overlay and its validation (pure) ------------------------------------------------------------------------
def _fact(sentence: str, *, drug: str = "codeine", gene: str = "CYP2D6", variant: str | None = None,
          section: str = "contraindications", triple_id: int = 1):
    from pgxlit.knowledge.facts import TripleFact

    return TripleFact(drug=drug, gene=gene, variant=variant, relation="influences", effect="toxicity", negated=False,
                      confidence=0.8, source="fda_label", sentence=sentence, set_id="s1", version=1, section=section,
                      pmid=None, triple_id=triple_id)


def _claims():
    from pgxlit.knowledge.compile import compile_drug

    return compile_drug("codeine", [
        _fact("Codeine is contraindicated in CYP2D6 ultra-rapid metabolizers.", variant="CYP2D6 Ultrarapid Metabolizer"),
        _fact("CYP2D6 poor metabolizers may have reduced analgesia.", variant="CYP2D6 Poor Metabolizer",
              section="clinical_pharmacology", triple_id=2),
    ])


def _edit(changes: dict[str, Any], *, group: str = UM, action: str = "avoid", edit_id: int = 1, note: str = ""):
    from datetime import UTC, datetime

    from pgxlit.store import ClaimEdit

    return ClaimEdit(edit_id, "codeine", "CYP2D6", group, action, changes, {}, note, False, "Ann Curator", "CPIC",
                     datetime(2026, 1, 2, tzinfo=UTC))


def test_an_edit_is_laid_over_its_claim_only_and_marks_it_curated() -> None:
    from pgxlit.knowledge.edits import apply_edits

    claims = _claims()
    um = next(c for c in claims if c.group == UM)
    assert (um.action, um.severity) == ("avoid", "critical")
    before = {"codeine": claims}
    after, touched = apply_edits(before, [_edit({"action": "alternative", "severity": "warning"}, note="use an NSAID")])
    assert touched == {"codeine"} and before["codeine"] is claims  # the input is left as it was
    edited = next(c for c in after["codeine"] if c.group == UM)
    assert (edited.action, edited.severity, edited.review_status) == ("alternative", "warning", "accepted")
    assert edited.rank == 4 and edited.extra["curated"] is True
    edit = edited.extra["edit"]
    assert edit["by"] == "Ann Curator" and edit["note"] == "use an NSAID" and edit["reason"] == "CPIC"
    assert edit["changed"] == {"action": ["avoid", "alternative"], "severity": ["critical", "warning"]}
    published = edited.to_json()  # what ask --json, check --json and the drug page's JSON carry
    assert published["curated"] is True and published["edited_by"] == "Ann Curator" and published["edit"]["note"]
    assert um.to_json()["curated"] is False and um.to_json()["edited_by"] is None
    assert edited.citations == um.citations and edited.recommendation == um.recommendation  # the evidence's own words
    others = [c for c in after["codeine"] if c.group != UM]
    assert others == [c for c in claims if c.group != UM] and not any(c.extra.get("curated") for c in others)
    # an edit of another action of the group, or of a claim nothing compiles, changes nothing
    assert apply_edits(before, [_edit({"action": "monitor"}, action="informative")])[1] == set()
    assert apply_edits(before, [_edit({"action": "monitor"}, group="phenotype:Poor Metabolizer", action="avoid")])[1] \
        == set()


def test_claims_an_edit_makes_identical_become_one_citing_each_sentence_once() -> None:
    from pgxlit.knowledge.edits import apply_edits

    claims = _claims()
    pm = next(c for c in claims if c.group == "phenotype:Poor Metabolizer")
    after, _ = apply_edits({"codeine": claims}, [
        _edit({"group": UM}, group=pm.group, action=pm.action, edit_id=2),
        _edit({"action": pm.action}, edit_id=3),
    ])
    um = [c for c in after["codeine"] if c.group == UM]
    assert len(um) == 1 and len(um[0].citations) == 2
    assert len({c.sentence for c in um[0].citations}) == 2


def test_edit_values_come_from_the_claim_vocabularies() -> None:
    from pgxlit.knowledge.edits import EditError, normalise_changes, normalise_group

    um = next(c for c in _claims() if c.group == UM)
    assert normalise_changes({"action": "Dose change"}, um) == {"action": "dose_change", "severity": "warning"}
    assert normalise_changes({"action": "alternative", "severity": "info"}, um) == {"action": "alternative",
                                                                                  "severity": "info"}
    assert normalise_changes({"testing_level": "Required", "dose": " 50% "}, um) == {"testing_level": "required",
                                                                                   "dose": "50%"}
    assert normalise_changes({"group": "phenotype:poor metabolizers"}, um) == {
        "group": "phenotype:Poor Metabolizer", "phenotype": "Poor Metabolizer"}
    assert normalise_changes({"severity": ""}, um) == {"severity": None}  # takes that field's edit off
    assert normalise_group("hla: hla-b*57:01") == "hla:HLA-B*57:01" and normalise_group("GENE") == "gene"
    for bad, says in (({"action": "stop"}, "action 'stop' is one of avoid"),
                      ({"severity": "huge"}, "severity 'huge' is one of critical, warning, info"),
                      ({"testing_level": "maybe"}, "testing level 'maybe' is one of required"),
                      ({"group": "metabolizer"}, "KIND:VALUE"),
                      ({"group": "function:Weird"}, "function is one of"),
                      ({"recommendation": "x"}, "cannot edit recommendation"),
                      ({"dose": "x" * 400}, "at most 300 characters")):
        with pytest.raises(EditError, match=re.escape(says)):
            normalise_changes(bad, um)


# ---- the store: history, newest wins, revert, migration -------------------------------------------------------------
def _store_cases(store: Store) -> None:
    first = store.edit_claim("Codeine", "CYP2D6", UM, {"action": "alternative", "severity": "warning"}, "ann", "CPIC",
                             "see CPIC", {"action": "avoid"}, claim_action="avoid")
    stamp = store.triples_stamp()
    assert store.claim_edits_stamp() == (1, first.id) and ("claim_edits", 1, first.id) in stamp[3]
    second = store.edit_claim("codeine", "CYP2D6", UM, {"severity": "critical", "dose": None}, "bob", "too mild",
                              claim_action="avoid")
    assert store.triples_stamp() != stamp  # every cache of compiled knowledge sees an edit
    assert second.changes == {"action": "alternative", "severity": "critical"} and second.note == "see CPIC"
    assert [e.id for e in store.current_claim_edits()] == [second.id]
    assert store.claim_edit("codeine", "CYP2D6", UM, "avoid") == second
    assert store.claim_edit("codeine", "CYP2D6", UM, "informative") is None
    with pytest.raises(ValueError, match="at least one field or a note"):
        store.edit_claim("codeine", "CYP2D6", "gene", {}, "ann", "nothing")
    reverted = store.revert_claim_edit("codeine", "CYP2D6", UM, "ann", "wrong claim", "avoid")
    assert reverted.reverted and reverted.before == second.changes
    assert store.current_claim_edits() == [] and store.claim_edit("codeine", "CYP2D6", UM, "avoid") is None
    with pytest.raises(KeyError, match="no curator edit to revert"):
        store.revert_claim_edit("codeine", "CYP2D6", UM, "ann", "again", "avoid")
    log = store.claim_edit_log("codeine", "CYP2D6", UM)
    assert [e.id for e in log] == [reverted.id, second.id, first.id]  # newest first, nothing lost
    assert [(e.actor, e.reason) for e in log] == [("ann", "wrong claim"), ("bob", "too mild"), ("ann", "CPIC")]
    assert first.before == {"action": "avoid"} and log[-1].to_json()["claim_action"] == "avoid"
    last, drugs = store.claim_edited_drugs_since(first.id)
    assert (last, drugs) == (reverted.id, {"codeine"}) and store.claim_edited_drugs_since(last) == (last, set())
    assert store.claim_edits_stamp() == (3, reverted.id)


def test_claim_edits_keep_their_history_and_newest_wins(store: Store) -> None:
    _store_cases(store)


@pytest.mark.slow  # starts a PostgreSQL server
def test_claim_edits_on_postgres(pg_url: str) -> None:  # noqa: F811
    store = Store(pg_url)
    try:
        assert store.engine.dialect.name == "postgresql"
        _store_cases(store)
    finally:
        store.close()


def test_a_store_made_before_claim_edits_gets_the_table_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE claim_edits")
        db.execute("INSERT INTO crawl_state (key, cursor, status, updated_at) VALUES ('k', '{}', 'done', "
                   "'2024-01-01 00:00:00')")
    store = Store(f"sqlite:///{path}")
    try:
        assert store.current_claim_edits() == [] and store.claim_edits_stamp() == (0, None)
        store.edit_claim("simvastatin", "SLCO1B1", "gene", {"action": "dose_change"}, "ann", "CPIC",
                         claim_action="informative")
        assert [e.drug for e in store.current_claim_edits()] == ["simvastatin"]
        assert store.crawl_state("k") is not None  # what the old store held is still there
    finally:
        store.close()


def test_a_claim_edits_table_made_without_claim_action_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "early.sqlite"
    Store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:  # the table as the first version of this change made it
        db.execute("DROP TABLE claim_edits")
        db.execute("CREATE TABLE claim_edits (id INTEGER PRIMARY KEY, drug VARCHAR(200) NOT NULL, gene VARCHAR(64) "
                   "NOT NULL, group_key VARCHAR(200) NOT NULL, changes JSON NOT NULL, \"before\" JSON NOT NULL, "
                   "note TEXT NOT NULL, reverted BOOLEAN NOT NULL, actor VARCHAR(100) NOT NULL, reason TEXT NOT NULL, "
                   "at DATETIME NOT NULL)")
    store = Store(f"sqlite:///{path}")
    try:
        store.edit_claim("codeine", "CYP2D6", UM, {"action": "alternative"}, "ann", "CPIC", claim_action="avoid")
        assert store.claim_edit("codeine", "CYP2D6", UM, "avoid").changes == {"action": "alternative"}
    finally:
        store.close()


# ---- every consumer reads the edit: on the snapshot -----------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The snapshot's three drugs' latest labels and the abstracts naming them, extracted with the real pipeline,
    with passages stored (no embedding) so the bottom line can cite the claims' sentences."""
    settings, store = extracted_snapshot(tmp_path_factory.mktemp("claim-edits"), passages=True)
    yield {"store": store, "settings": settings}
    store.close()


def _check(world: dict[str, Any], drug: str, phenotype: str) -> dict[str, Any]:
    from pgxlit.check.profile import profile_from_args
    from pgxlit.check.service import CheckService

    service = CheckService(world["settings"], store=world["store"])
    result = service.run(drug, profile_from_args([], [phenotype], [], service.table))
    [alert] = result.alerts
    return alert


def _bottom_line(world: dict[str, Any], question: str) -> str:
    """Ask's bottom line, built as the answerer builds it: the question read against the stored drugs, the
    compiled claims selected for it, their sentences found among the stored passages, cited in order."""
    from pgxlit.knowledge import compile_claims
    from pgxlit.qa.bottom_line import bottom_line
    from pgxlit.qa.claims import CitationFinder, claim_views, select_claims
    from pgxlit.qa.drugs import DrugCatalogue
    from pgxlit.qa.question import read_question

    store = world["store"]
    catalogue = DrugCatalogue.from_store(store)
    q = read_question(question, catalogue)
    views = [v for v in claim_views(select_claims(q, compile_claims(store, world["settings"]), catalogue.has_label),
                                    CitationFinder(store)) if v.evidence]
    keys: dict[Any, int] = {}

    def cite(view: Any) -> list[int]:
        return [keys.setdefault(e, len(keys) + 1) for e in view.evidence]

    return bottom_line(q, views, cite)


def _summary_rows(world: dict[str, Any], drug: str) -> list[dict[str, Any]]:
    from pgxlit.web.drug_summary import drug_summary

    return [r for r in drug_summary(world["store"], world["settings"], drug).to_json()["claims"]]


@pytest.mark.slow  # the snapshot store, extracted
def test_an_edit_changes_ask_check_and_drug_summary_and_revert_restores_them(world: dict[str, Any]) -> None:
    from pgxlit.web.review import ReviewError, apply_claim_edit, revert_claim

    store, settings = world["store"], world["settings"]
    question = "Can I give codeine to a CYP2D6 ultrarapid metabolizer?"
    assert re.match(r"No: avoid codeine in CYP2D6 ultrarapid metabolizers \[\d+", _bottom_line(world, question))
    assert _check(world, "codeine", "CYP2D6 ultrarapid metabolizer")["action"] == "avoid"
    um_rows = [r for r in _summary_rows(world, "codeine") if r["gene"] == "CYP2D6" and r["group"] == UM]
    assert "avoid" in {r["action"] for r in um_rows}

    with pytest.raises(ReviewError, match="name the one you edit"):
        apply_claim_edit(store, settings, "codeine", "CYP2D6", UM, {"action": "alternative"}, None, "CPIC", "ann")
    with pytest.raises(ReviewError, match="say why"):
        apply_claim_edit(store, settings, "codeine", "CYP2D6", UM, {"action": "alternative"}, None, "", "ann", "avoid")
    with pytest.raises(KeyError, match="no claim codeine – CYP2D6 – phenotype:Poor Function"):
        apply_claim_edit(store, settings, "codeine", "CYP2D6", "phenotype:Poor Function", {"action": "avoid"}, None,
                         "x", "ann")
    done = apply_claim_edit(store, settings, "codeine", "CYP2D6", UM, {"action": "alternative"},
                            "CPIC: use a non-opioid or a non-CYP2D6 opioid", "CPIC guideline wording", "Ann Curator",
                            "avoid")
    assert done["edit"]["changes"] == {"action": "alternative", "severity": "critical"}
    assert done["edit"]["before"]["action"] == "avoid" and done["edit"]["actor"] == "Ann Curator"
    [claim] = done["claims"]
    assert claim["action"] == "alternative" and claim["curated"] is True and claim["edited_by"] == "Ann Curator"

    line = _bottom_line(world, question)
    assert re.match(r"Not as first choice: consider an alternative to codeine in CYP2D6 ultrarapid metabolizers "
                    r"\[\d+", line), line
    alert = _check(world, "codeine", "CYP2D6 ultrarapid metabolizer")
    assert alert["action"] == "alternative" and alert["severity"] == "critical"
    assert any(c["action"] == "alternative" and c["review_status"] == "accepted" for c in alert["claims"])
    rows = [r for r in _summary_rows(world, "codeine") if r["gene"] == "CYP2D6" and r["group"] == UM]
    assert "alternative" in {r["action"] for r in rows} and "avoid" not in {r["action"] for r in rows}

    [row] = store.claim_edit_log("codeine", "CYP2D6", UM)
    assert (row.actor, row.reason, row.note) == ("Ann Curator", "CPIC guideline wording",
                                                 "CPIC: use a non-opioid or a non-CYP2D6 opioid")
    revert_claim(store, settings, "codeine", "CYP2D6", UM, "back to the label's own words", "Bob")
    assert re.match(r"No: avoid codeine", _bottom_line(world, question))
    assert _check(world, "codeine", "CYP2D6 ultrarapid metabolizer")["action"] == "avoid"
    assert [e.reverted for e in store.claim_edit_log("codeine", "CYP2D6", UM)] == [True, False]


@pytest.mark.slow  # the snapshot store, extracted
def test_a_running_check_service_picks_up_an_edit_without_recompiling(world: dict[str, Any]) -> None:
    from pgxlit.check.profile import profile_from_args
    from pgxlit.check.service import CheckService
    from pgxlit.web.review import apply_claim_edit, revert_claim

    store, settings = world["store"], world["settings"]
    service = CheckService(settings.model_copy(update={"check": settings.check.model_copy(
        update={"refresh_seconds": 0})}), store=store)
    profile = profile_from_args([], ["CYP2D6 ultrarapid metabolizer"], [], service.table)
    assert service.run("codeine", profile).alerts[0]["action"] == "avoid"
    apply_claim_edit(store, settings, "codeine", "CYP2D6", UM, {"action": "monitor", "severity": "warning"}, None,
                     "a test of the refresh", "ann", "avoid")
    try:
        service.knowledge  # noqa: B018 - starts the background refresh
        assert service.wait_for_refresh(60)
        fresh = service.knowledge
        assert "codeine" in fresh.base.recompiled and fresh.base.edited.get("codeine")
        assert service.run("codeine", profile).alerts[0]["action"] == "monitor"
    finally:
        revert_claim(store, settings, "codeine", "CYP2D6", UM, "end of test", "ann", "avoid")


# ---- the API and the review page -------------------------------------------------------------------------------
TOKEN = "claim-edits-test-token-0123456789abcdef"
WRITE = {"Authorization": f"Bearer {TOKEN}", "X-Curator": "Ann Curator"}


@pytest.fixture()
def client(world: dict[str, Any]):
    from fastapi.testclient import TestClient

    from pgxlit.web.server import create_app

    home = world["settings"].home
    settings = Settings(home=home, db_url=world["settings"].resolved_db_url, web_token=TOKEN)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.mark.slow  # the snapshot store, extracted
def test_the_api_edits_reverts_and_lists_claim_edits_with_clear_errors(client: Any) -> None:
    body = {"drug": "Zocor", "gene": "slco1b1", "group": "gene", "claim_action": "informative",
            "changes": {"action": "dose_change", "testing_level": "recommended"}, "note": "CPIC: lower dose",
            "reason": "CPIC simvastatin guideline"}
    assert client.post("/api/review/claim/edit", json=body).status_code == 401  # writes need a curator
    assert client.post("/api/review/claim/edit", json=body,
                       headers={"Authorization": "Bearer wrong", "X-Curator": "x"}).status_code == 403
    bad = client.post("/api/review/claim/edit", json={**body, "changes": {"severity": "huge"}}, headers=WRITE)
    assert bad.status_code == 422 and "severity 'huge' is one of critical, warning, info" in bad.json()["detail"]
    why = client.post("/api/review/claim/edit", json={**body, "reason": " "}, headers=WRITE)
    assert why.status_code == 422 and "say why" in why.json()["detail"]
    unknown = client.post("/api/review/claim/edit", json={**body, "group": "hla:HLA-B*57:01"}, headers=WRITE)
    assert unknown.status_code == 404 and "pgxlit drug simvastatin" in unknown.json()["detail"]
    assert client.post("/api/review/claim/edit", json={**body, "claim_action": "stop"}, headers=WRITE).status_code == 422

    done = client.post("/api/review/claim/edit", json=body, headers=WRITE)
    assert done.status_code == 200, done.text
    edit = done.json()["edit"]
    assert (edit["drug"], edit["gene"], edit["actor"]) == ("simvastatin", "SLCO1B1", "Ann Curator")
    assert edit["changes"] == {"action": "dose_change", "severity": "warning", "testing_level": "recommended"}
    assert edit["before"]["action"] == "informative" and edit["note"] == "CPIC: lower dose"
    assert all(c["curated"] and c["action"] == "dose_change" for c in done.json()["claims"])
    summary = client.get("/api/drugs/simvastatin").json()
    assert any(r["gene"] == "SLCO1B1" and r["group"] == "gene" and r["action"] == "dose_change"
               for r in summary["claims"])
    assert any(r["gene"] == "SLCO1B1" and r.get("edited_by") == "Ann Curator" for r in summary["claims"])
    assert "edited by Ann Curator" in client.get("/drug/simvastatin").text  # the page shows who changed it

    queue = client.get("/api/review/claims", params={"drug": "simvastatin", "gene": "SLCO1B1",
                                                     "limit": 1000}).json()["items"]
    [row] = [r for r in queue if r["group"] == "gene"]
    assert row["claim"]["curated"] is True and row["claim"]["edited_by"] == "Ann Curator"
    assert (row["claim"]["claim_action"], row["claim"]["note"]) == ("informative", "CPIC: lower dose")
    log = client.get("/api/review/claim/edits", params={"drug": "simvastatin"}).json()
    assert [e["id"] for e in log] == [edit["id"]]
    back = client.post("/api/review/claim/revert", json={"drug": "simvastatin", "gene": "SLCO1B1", "group": "gene",
                                                         "reason": "the label does not say so"}, headers=WRITE)
    assert back.status_code == 200 and back.json()["edit"]["reverted"] is True
    again = client.post("/api/review/claim/revert", json={"drug": "simvastatin", "gene": "SLCO1B1", "group": "gene",
                                                          "reason": "twice"}, headers=WRITE)
    assert again.status_code == 404 and "no curator edit to revert" in again.json()["detail"]
    summary = client.get("/api/drugs/simvastatin").json()
    assert not any(r["gene"] == "SLCO1B1" and r["group"] == "gene" and r["action"] == "dose_change"
                   for r in summary["claims"])


@pytest.mark.slow  # the snapshot store, extracted
def test_the_review_page_edits_a_claim_row_and_the_audit_page_shows_it(client: Any) -> None:
    page = client.get("/review", params={"drug": "codeine", "gene": "CYP2D6", "status": ""})
    assert page.status_code == 200 and "edit claim" in page.text and 'action="/review/claim/edit"' in page.text
    csrf = _csrf(page.text)
    client.post("/login", data={"token": TOKEN, "name": "Cleo Curator", "csrf": csrf, "back": "/review"})
    page = client.get("/review", params={"drug": "codeine", "gene": "CYP2D6", "status": ""})
    csrf = _csrf(page.text)
    form = {"csrf": csrf, "drug": "codeine", "gene": "CYP2D6", "group": UM, "claim_action": "avoid", "op": "edit",
            "action": "alternative", "severity": "critical", "testing_level": "actionable",
            "phenotype": "Ultrarapid Metabolizer", "dose": "", "note": "CPIC: non-CYP2D6 opioid", "reason": "CPIC",
            "back": "/review?drug=codeine&status="}
    assert client.post("/review/claim/edit", data={**form, "csrf": "forged"}).status_code == 403
    earlier = client.get("/api/review/claim/edits", params={"drug": "codeine"}).json()
    saved = client.post("/review/claim/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/review?drug=codeine")
    edit, *rest = client.get("/api/review/claim/edits", params={"drug": "codeine"}).json()
    assert rest == earlier  # one row added, the history kept
    assert edit["changes"] == {"action": "alternative", "severity": "critical"}  # only what the curator changed
    assert (edit["actor"], edit["note"]) == ("Cleo Curator", "CPIC: non-CYP2D6 opioid")
    page = client.get("/review", params={"drug": "codeine", "gene": "CYP2D6", "status": ""})
    assert "edited by Cleo Curator" in page.text and "Revert to compiled" in page.text
    audit = client.get("/review/audit")
    assert "Claim edits" in audit.text and "CPIC: non-CYP2D6 opioid" in audit.text
    assert re.search(r"action: <del>avoid</del> → <ins>alternative</ins>", audit.text)
    reverted = client.post("/review/claim/edit", data={**form, "op": "revert", "reason": "test over"},
                           follow_redirects=False)
    assert reverted.status_code == 303
    assert client.get("/api/review/claim/edits", params={"drug": "codeine"}).json()[0]["reverted"] is True


@pytest.mark.slow  # the snapshot store, extracted
def test_a_long_lived_reader_sees_an_edit_after_the_refresh_interval(world: dict[str, Any]) -> None:
    from pgxlit.knowledge.base import LiveKnowledge
    from pgxlit.web.review import apply_claim_edit, revert_claim

    store = world["store"]
    live = LiveKnowledge(store, world["settings"].replace(check_refresh_seconds=0.0))
    first = live.current()
    assert "avoid" in {c.action for c in first.claims["codeine"] if c.group == UM}
    apply_claim_edit(store, world["settings"], "codeine", "CYP2D6", UM, {"action": "monitor"}, None,
                     "a reader test", "Ann Curator", "avoid")
    try:
        assert live.current() is first  # answered at once from what it holds; a background refresh starts
        assert live.wait_for_refresh(60)
        after = live.current()  # what the web app's answerer reads on its next question
        assert after is not first and after.recompiled
        um = [c for c in after.claims["codeine"] if c.group == UM and c.extra.get("curated")]
        assert um and um[0].action == "monitor"
        assert live.current() is after  # nothing changed since: the same knowledge, nothing recompiled
    finally:
        revert_claim(store, world["settings"], "codeine", "CYP2D6", UM, "undo the test", "Ann Curator", "avoid")
