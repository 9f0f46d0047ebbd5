"""Drug summary (CLI, page, JSON), review by claim, and the digest ranking claim changes first.

On the small real store of test_web_world (abacavir's label, Plavix's last two versions,
clopidogrel abstracts), extracted with the real pipeline. Tests that write (reviews) work on a
copy of that store, so the other web tests see it as built. The digest ranking is checked on a
label pair made here, compiled with the knowledge layer's own compiler.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_web_world import PLAVIX_SET, TOKEN, build_world
from typer.testing import CliRunner

from pgxlit.config import Settings, get_settings
from pgxlit.records import Evidence, LabelVersion, Section, Triple
from pgxlit.store import SaveCounts, Store
from pgxlit.web.server import create_app

pytestmark = pytest.mark.slow  # builds a real store (extraction and an index)

CLAIM_FIELDS = {"drug", "gene", "phenotype", "action", "severity", "testing_level", "status", "applies", "citations"}
WRITE = {"Authorization": f"Bearer {TOKEN}", "X-Curator": "Ann Curator"}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


@pytest.fixture(scope="module")
def client(world: dict[str, Any]) -> TestClient:
    return TestClient(create_app(world["settings"]), raise_server_exceptions=False)


@pytest.fixture()
def copy(world: dict[str, Any], tmp_path: Path) -> Settings:
    """Settings for a copy of the world's store: review tests change it."""
    src = world["settings"].resolved_db_url.removeprefix("sqlite:///")
    home = tmp_path / "home"
    home.mkdir()
    with sqlite3.connect(src) as a, sqlite3.connect(home / "pgxlit.sqlite") as b:
        a.backup(b)
    return Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}", web_token=TOKEN)


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    from pgxlit.cli import app

    monkeypatch.setenv("PGXLIT_HOME", str(settings.home))
    monkeypatch.setenv("PGXLIT_DB_URL", settings.resolved_db_url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page carries no CSRF field"
    return found.group(1)


# ---- drug summary -------------------------------------------------------------------------------
def test_cli_prints_the_grid_and_json_gives_the_claims(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(world["settings"], monkeypatch, "drug", "Plavix")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "claims for clopidogrel" in lines[0] and "searched the label" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.startswith("gene "))
    rows = [line for line in lines[header + 1 :] if line.startswith("CYP2C19 ")]
    poor = next(line for line in rows if "Poor Metabolizer" in line)
    assert "critical" in poor and "label" in poor and "Boxed Warning" in poor

    data = json.loads(_cli(world["settings"], monkeypatch, "drug", "clopidogrel", "--json").output)
    assert data["drug"] == "clopidogrel" and data["outcome"] == "claims"
    assert [lab["set_id"] for lab in data["searched"]["labels"]] == [PLAVIX_SET]
    assert data["searched"]["labels"][0]["version"] == 34  # the newest stored version is what was searched
    assert data["claims"] and all(CLAIM_FIELDS <= set(c) for c in data["claims"])
    lead = data["claims"][0]
    assert (lead["gene"], lead["phenotype"], lead["severity"], lead["status"]) == (
        "CYP2C19", "Poor Metabolizer", "critical", "label")
    assert lead["action"] in ("avoid", "alternative") and lead["testing_level"] in (
        "required", "recommended", "actionable", "informative")
    assert {c["status"] for c in data["claims"]} <= {"label", "literature_only"}
    for claim in data["claims"]:
        texts = [c["text"] for c in claim["citations"]]
        assert len(texts) == len(set(texts)), "a sentence is cited once per claim, whatever repeats it"
        for cit in claim["citations"]:
            shown = [link["text"] for link in cit["links"]]
            assert len(shown) == len(set(shown)), "each source once"
    label_links = [link for c in lead["citations"] for link in c["links"] if link["source"] == "fda_label"]
    assert label_links and all(link["url"].startswith(
        f"https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid={PLAVIX_SET}") for link in label_links)
    assert any(link["evidence_url"] for link in label_links)
    literature = [c for c in data["claims"] if c["status"] == "literature_only"]
    assert all(c["literature_count"] >= 1 for c in literature)


def test_cli_unknown_drug_suggests_a_stored_name(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(world["settings"], monkeypatch, "drug", "clopidogrl")
    assert result.exit_code == 1
    assert "did you mean clopidogrel?" in result.output


def test_drug_page_grid_links_and_json(client: TestClient) -> None:
    page = client.get("/drug/Plavix")
    assert page.status_code == 200
    html = page.text
    assert "<h1>clopidogrel" in html and "CYP2C19" in html and "Poor Metabolizer" in html
    assert 'class="light critical"' in html and "critical</td>" in html  # colour plus its word
    assert f"drugInfo.cfm?setid={PLAVIX_SET}" in html
    evidence = re.search(r'href="(/evidence/\d+\?sentence=[^"]+)"', html)
    assert evidence, "a label citation opens in our evidence view"
    opened = client.get(evidence.group(1).replace("&amp;", "&"))
    assert opened.status_code == 200 and "<mark>" in opened.text
    assert client.get("/drug", params={"name": "Plavix"}, follow_redirects=False).headers["location"] == "/drug/Plavix"
    assert "/drug/clopidogrel" in client.get("/drug").text
    api = client.get("/api/drugs/plavix").json()
    assert api["drug"] == "clopidogrel" and CLAIM_FIELDS <= set(api["claims"][0])


def test_unknown_drug_is_404_with_did_you_mean(client: TestClient) -> None:
    page = client.get("/drug/clopidogrl")
    assert page.status_code == 404
    assert "Did you mean" in page.text and 'href="/drug/clopidogrel"' in page.text
    api = client.get("/api/drugs/clopidogrl")
    assert api.status_code == 404 and api.json()["suggestions"] == ["clopidogrel"]
    nothing = client.get("/api/drugs/zorblatinib")
    assert nothing.status_code == 404 and nothing.json()["suggestions"] == []


def test_answers_alerts_and_review_link_the_drug_page(client: TestClient) -> None:
    check = client.get("/check", params={"drug": "Plavix", "results": "CYP2C19 *2/*2"}).text
    assert 'href="/drug/clopidogrel"' in check
    review = client.get("/review", params={"drug": "clopidogrel", "status": ""}).text
    assert 'href="/drug/clopidogrel"' in review
    answer = client.get("/ask", params={"q": "Does CYP2C19 status change clopidogrel dosing?"}).text
    assert 'href="/drug/clopidogrel"' in answer


def test_a_stored_drug_without_claims_says_what_was_searched(tmp_path: Path) -> None:
    from pgxlit.extract.run import run_extraction
    from pgxlit.web.drug_summary import drug_summary

    home = tmp_path / "home"
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}", web_token=TOKEN)
    store = Store(settings.resolved_db_url)
    label = LabelVersion(
        "0f1e2d3c-0000-4000-8000-000000000001", 3, "20240102", None, "METFORMIN HYDROCHLORIDE tablets",
        generic_names=("METFORMIN HYDROCHLORIDE",), sections=(
            Section(0, "Take metformin with meals to reduce gastrointestinal side effects.", "dosage_and_administration",
                    "34068-7", "Dosage and Administration"),
            Section(1, "Metformin is contraindicated in patients with severe renal impairment.", "contraindications",
                    "34070-3", "Contraindications")))
    with store.transaction() as session:
        store.save_label_version(session, label, None, SaveCounts())
    run_extraction(store)
    summary = drug_summary(store, settings, "Metformin")
    assert summary.drug == "metformin" and summary.outcome == "no_pgx_effect_stated" and not summary.rows
    assert [(lab.set_id, lab.version) for lab in summary.labels] == [(label.set_id, 3)]
    message = summary.message()
    assert message.startswith("No pharmacogenomic effect is stated for metformin") and "version 3" in message
    assert "0 abstracts naming metformin" in message
    page = TestClient(create_app(settings)).get("/drug/metformin")
    assert page.status_code == 200
    assert "No pharmacogenomic effect is stated" in page.text and "version 3" in page.text
    assert 'class="light info"' not in page.text and 'class="ok"' not in page.text  # never a green page
    store.close()


# ---- review by claim ---------------------------------------------------------------------------
def test_review_groups_sentences_by_claim(copy: Settings) -> None:
    from pgxlit.knowledge.facts import same_sentence_key
    from pgxlit.web.review import group_by_claim

    store = Store(copy.resolved_db_url)
    total, entries = store.triple_entries(drug="clopidogrel", limit=None)
    groups = group_by_claim(entries)
    assert sum(len(g.ids) for g in groups) == total  # every triple in exactly one claim
    assert len({i for g in groups for i in g.ids}) == total
    assert len({g.key for g in groups}) == len(groups) < total
    for g in groups:
        keys = [same_sentence_key(s.sentence) for s in g.sentences]
        assert len(keys) == len(set(keys)), f"a sentence listed twice in {g.key}"
    client = TestClient(create_app(copy))
    html = client.get("/review", params={"drug": "clopidogrel", "status": "", "pgx": ""}).text
    assert html.count('<tr class="claim') == min(len(groups), 25)
    assert '<mark class="ent gene" title="gene">CYP2C19</mark>' in html
    assert re.search(r'<mark class="ent drug" title="drug">(?i:clopidogrel|plavix)</mark>', html)
    store.close()


def test_a_claim_decision_reviews_every_triple_with_one_audit_row_each(copy: Settings) -> None:
    from pgxlit.web.review import claim_queue

    store = Store(copy.resolved_db_url)
    client = TestClient(create_app(copy))
    csrf = _csrf(client.get("/review").text)
    client.post("/login", data={"token": TOKEN, "name": "Cleo Curator", "csrf": csrf, "back": "/review"})
    page = client.get("/review", params={"drug": "clopidogrel", "status": "pending"}).text
    csrf = _csrf(page)
    claim = next(c for c in claim_queue(store, drug="clopidogrel", status="pending") if len(c.ids) > 1)
    assert f'value="accept:{claim.token}"' in page
    done = client.post("/review/bulk", data={"csrf": csrf, "single": f"accept:{claim.token}", "reason": "label says so",
                                             "back": "/review?drug=clopidogrel&status=pending"}, follow_redirects=False)
    assert done.status_code == 303
    assert f"1 claim: {len(claim.ids)} triples accepted" in client.get(done.headers["location"]).text
    for tid in claim.ids:
        assert store.triple_entry(tid).review_status == "accepted"
        [row] = [h for h in store.audit_log(tid) if h["action"] == "accept"]
        assert (row["actor"], row["reason"], row["old_status"]) == ("Cleo Curator", "label says so", "pending")
    # accept-and-next: the accepted claim left the pending queue; the next one is first
    after = client.get("/review", params={"drug": "clopidogrel", "status": "pending"}).text
    assert f'data-claim="{claim.token}"' not in after

    # the API decides a claim by its key, and a rejection needs a reason
    other = next(c for c in claim_queue(store, drug="clopidogrel", status="pending") if c.gene)
    body = {"drug": "Plavix", "gene": other.gene, "group": other.group, "action": "reject", "status": "pending"}
    assert client.post("/api/review/claim", json=body, headers=WRITE).status_code == 422
    reply = client.post("/api/review/claim", json={**body, "reason": "another drug's text"}, headers=WRITE).json()
    assert reply["updated"] == len(other.ids) and sorted(reply["triple_ids"]) == sorted(other.ids)
    assert all(store.triple_entry(t).review_status == "rejected" for t in other.ids)
    assert all(store.audit_log(t)[0]["reason"] == "another drug's text" for t in other.ids)
    missing = client.post("/api/review/claim", json={**body, "group": "phenotype:Nobody", "reason": "x"}, headers=WRITE)
    assert missing.status_code == 404
    listed = client.get("/api/review/claims", params={"drug": "clopidogrel", "status": "rejected"}).json()
    assert any(sorted(c["triple_ids"]) == sorted(other.ids) for c in listed["items"])
    store.close()


# ---- digest --------------------------------------------------------------------------------------
def _label(version: int, sections: list[tuple[str, str]]) -> LabelVersion:
    return LabelVersion("aaaaaaaa-0000-4000-8000-00000000000a", version, f"202{version}0101", None, "PLAVIX",
                        generic_names=("CLOPIDOGREL BISULFATE",), brand_names=("Plavix",),
                        sections=tuple(Section(i, text, fld, None, fld.replace("_", " ").title())
                                       for i, (fld, text) in enumerate(sections)))


def _triple(label: LabelVersion, section: str, sentence: str, drug: str, variant: str | None) -> Triple:
    e = Evidence("fda_label", sentence, 0, len(sentence), label.set_id, label.version, section, label.effective_time)
    return Triple(drug, None, "CYP2C19", "HGNC:2621", variant, "influences", "efficacy", False, False, 0.9, True, e)


def test_digest_ranks_a_change_that_adds_a_claim_first() -> None:
    from pgxlit.digest.build import digest_pair, rank_changes

    keep = "Plavix is a P2Y12 platelet inhibitor."
    warning = "Omeprazole reduces the exposure of other CYP2C19 substrates."
    claim = "Avoid use of Plavix in CYP2C19 poor metabolizers."
    old = _label(1, [("warnings_and_cautions", keep), ("use_in_specific_populations", keep)])
    new = _label(2, [("warnings_and_cautions", f"{keep} {warning}"), ("use_in_specific_populations", f"{keep} {claim}")])
    new_triples = [_triple(new, "warnings_and_cautions", warning, "omeprazole", None),  # another drug's text
                   _triple(new, "use_in_specific_populations", claim, "clopidogrel", "Poor Metabolizer")]
    pair = digest_pair(old, new, extractor=None, old_triples=[], new_triples=new_triples)
    ranked = rank_changes(pair.changes)
    assert [c.pgx_relevant for c in ranked] == [True, True]
    first, second = ranked
    assert claim in first.new_text and first.section_field == "use_in_specific_populations"
    assert any(r.startswith("claim added: CYP2C19 Poor Metabolizer: avoid") for r in first.pgx_reasons)
    # the other PGx change sits in a more important section, yet changes no claim
    assert warning in second.new_text and second.tier < first.tier
    assert not any(r.startswith("claim ") for r in second.pgx_reasons)


def test_digest_names_a_claim_as_a_curator_corrected_it() -> None:
    from pgxlit.digest.build import digest_pair
    from pgxlit.store.claim_edits import ClaimEdit

    keep = "Plavix is a P2Y12 platelet inhibitor."
    claim = "Avoid use of Plavix in CYP2C19 poor metabolizers."
    old = _label(1, [("use_in_specific_populations", keep)])
    new = _label(2, [("use_in_specific_populations", f"{keep} {claim}")])
    new_triples = [_triple(new, "use_in_specific_populations", claim, "clopidogrel", "Poor Metabolizer")]
    edit = ClaimEdit(1, "clopidogrel", "CYP2C19", "phenotype:Poor Metabolizer", "avoid",
                     {"action": "monitor", "severity": "warning"}, {}, "", False, "curator", "label overstates", None)
    plain = digest_pair(old, new, extractor=None, old_triples=[], new_triples=new_triples)
    curated = digest_pair(old, new, extractor=None, old_triples=[], new_triples=new_triples, claim_edits=[edit])
    assert any(r.startswith("claim added: CYP2C19 Poor Metabolizer: avoid") for c in plain.changes for r in c.pgx_reasons)
    reasons = [r for c in curated.changes for r in c.pgx_reasons if r.startswith("claim ")]
    assert reasons and all("monitor" in r and ": avoid" not in r for r in reasons)
