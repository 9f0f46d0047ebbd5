"""The HTTP API and pages through FastAPI's TestClient, on the small real store of test_web_world.

Reads are open; writes need the curator token (API) or a signed-in session plus CSRF token (forms);
bad input is a 4xx that says what to change; label and abstract text is always escaped.
"""

from __future__ import annotations

import re
import time
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from test_web_world import PLAVIX_SET, SCRIPT_PMID, TOKEN, build_world

from pgxlit.web.server import create_app

WRITE = {"Authorization": f"Bearer {TOKEN}", "X-Curator": "Ann Curator"}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """The small real store of test_web_world (built once per test process)."""
    return build_world()


@pytest.fixture(scope="module")
def client(world: dict[str, Any]) -> TestClient:
    return TestClient(create_app(world["settings"]), raise_server_exceptions=False)


def _pending_ids(client: TestClient, n: int, **filters: Any) -> list[int]:
    data = client.get("/api/triples", params={"status": "pending", "limit": n, **filters}).json()
    assert len(data["items"]) == n, data
    return [t["id"] for t in data["items"]]


def _export_ids(client: TestClient) -> set[int]:
    tsv = client.get("/api/export/accepted.tsv").text.splitlines()
    assert tsv[0].startswith("Variant Annotation ID\tVariant/Haplotypes\tGene\tDrug(s)\tPMID\tPhenotype Category")
    return {int(line.split("\t")[0].removeprefix("pgxlit:")) for line in tsv[1:]}


# ---- reads --------------------------------------------------------------------------------------
def test_health_stats_and_openapi(client: TestClient) -> None:
    assert client.get("/api/health").json()["index"] is True
    assert client.get("/health").json()["status"] == "ok"
    stats = client.get("/api/stats").json()
    assert stats["label_versions"] == 3 and stats["triples"] > 0
    assert sum(stats["review"].values()) == stats["triples"]
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/ask", "/api/triples", "/api/check", "/api/digest", "/api/labels/{set_id}/diff",
                 "/api/export/accepted.{fmt}", "/api/review", "/cds-services"):
        assert path in paths, path
    assert "/review" not in paths  # pages are not API
    assert client.get("/docs").status_code == 200
    assert client.get("/cds-services").status_code == 200


def test_ask_cites_and_each_citation_opens_its_evidence(client: TestClient, world: dict[str, Any]) -> None:
    answer = client.post("/api/ask", json={"question": "What should I check before prescribing abacavir?"}).json()
    assert not answer["refused"], answer["reason"]
    assert answer["citations"] and all(re.search(r"\[\d+(, \d+)*\]$", line) for line in answer["answer"].splitlines())
    for c in answer["citations"]:
        view = client.get(c["evidence_url"], params={"sentence": c["text"]}).json()
        assert view["found"] and view["mark"] == c["text"]
        assert view["version"] == c["version"] and view["url"] == c["url"]
        if c["source"] == "fda_label":
            assert view["set_id"] == world["abacavir"].set_id and view["date"] and view["url"].startswith(
                "https://dailymed.nlm.nih.gov/")
            assert len(view["before"] + view["mark"] + view["after"]) > len(c["text"])  # the section around it
    page = client.get("/ask", params={"q": "What should I check before prescribing abacavir?"}).text
    assert 'class="cite"' in page and "/evidence/" in page and "DailyMed" in page
    assert answer["bottom_line"] and "Bottom line:" in page  # the answer opens with its cited bottom line
    assert re.search(r"\[\d+(, \d+)*\]", answer["bottom_line"])


def test_ask_refuses_and_rejects_bad_input(client: TestClient) -> None:
    refused = client.post("/api/ask", json={"question": "What should I check before prescribing zorblatinib?"}).json()
    assert refused["refused"] and "does not know a drug" in refused["reason"]
    for body, status in (({"question": ""}, 422), ({}, 422), ({"question": "x" * 600}, 422),
                         ({"question": "abacavir?", "source": "twitter"}, 422), ({"question": "a", "top_k": 0}, 422)):
        r = client.post("/api/ask", json=body)
        assert r.status_code == status, body
        assert "Traceback" not in r.text and r.json()["detail"]
    assert client.get("/api/evidence/987654321").status_code == 404


def test_triples_search_normalises_names_and_validates(client: TestClient) -> None:
    data = client.get("/api/triples", params={"drug": "Plavix", "gene": "cyp2c19", "pgx": True}).json()
    assert data["total"] > 0
    assert all(t["drug"] == "clopidogrel" and t["gene"] == "CYP2C19" and t["pgx"] for t in data["items"])
    assert all(t["evidence"]["version"] == 34 for t in data["items"] if t["evidence"]["source"] == "fda_label")
    older = client.get("/api/triples", params={"drug": "clopidogrel", "all_versions": True, "limit": 1000}).json()
    assert {t["evidence"]["version"] for t in older["items"] if t["evidence"]["source"] == "fda_label"} >= {33, 34}
    for params in ({"since": "last week"}, {"source": "web"}, {"min_confidence": 2}, {"limit": 0}):
        r = client.get("/api/triples", params=params)
        assert r.status_code == 422, params
    assert client.get("/api/triples/0").status_code == 404


# ---- writes -------------------------------------------------------------------------------------
def test_api_writes_need_the_token(client: TestClient) -> None:
    tid = _pending_ids(client, 1, drug="abacavir")[0]
    body = {"action": "accept"}
    assert client.post(f"/api/triples/{tid}/review", json=body).status_code == 401
    wrong = client.post(f"/api/triples/{tid}/review", json=body, headers={**WRITE, "Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    no_name = client.post(f"/api/triples/{tid}/review", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert no_name.status_code == 422 and "name" in no_name.json()["detail"]
    assert client.get(f"/api/triples/{tid}").json()["review_status"] == "pending"


def test_accept_reject_edit_with_audit_and_exports(client: TestClient) -> None:
    a, b = _pending_ids(client, 2, drug="clopidogrel", gene="CYP2C19")
    before = _export_ids(client)
    r = client.post("/api/review", json={"ids": [a, b], "action": "accept", "reason": "label says so"}, headers=WRITE)
    assert r.status_code == 200 and r.json()["updated"] == 2
    assert _export_ids(client) == before | {a, b}
    rej = client.post(f"/api/triples/{b}/review", json={"action": "reject"}, headers=WRITE)
    assert rej.status_code == 422 and "why" in rej.json()["detail"]
    client.post(f"/api/triples/{b}/review", json={"action": "reject", "reason": "not about dosing"}, headers=WRITE)
    assert _export_ids(client) == before | {a}

    bad = client.post(f"/api/triples/{a}/review", headers=WRITE,
                      json={"action": "edit", "reason": "x", "changes": {"gene": "NOTAGENE9"}})
    assert bad.status_code == 422 and "NOTAGENE9" in bad.json()["detail"]
    edited = client.post(f"/api/triples/{a}/review", headers=WRITE, json={
        "action": "edit", "reason": "the phenotype is named", "changes": {"drug": "Plavix", "variant": "poor  metabolizer"}})
    assert edited.status_code == 200
    assert (edited.json()["drug"], edited.json()["variant"], edited.json()["review_status"]) == (
        "clopidogrel", "poor metabolizer", "accepted")
    history = client.get(f"/api/triples/{a}").json()["history"]
    assert [h["action"] for h in history][:2] == ["edit", "accept"]
    assert history[0]["actor"] == "Ann Curator" and history[0]["after"]["variant"] == "poor metabolizer"
    assert client.get("/api/audit", params={"triple_id": b}).json()[0]["reason"] == "not about dosing"

    as_json = client.get("/api/export/accepted.json").json()
    assert a in {t["id"] for t in as_json} and b not in {t["id"] for t in as_json}
    bioc = ET.fromstring(client.get("/api/export/accepted.xml").content)
    relations = {r.find("infon[@key='pgxlit_id']").text for r in bioc.iter("relation")}
    assert str(a) in relations and str(b) not in relations
    for passage in bioc.iter("passage"):
        text, offset = passage.findtext("text"), int(passage.findtext("offset"))
        for ann in passage.iter("annotation"):
            loc = ann.find("location")
            if loc is not None:
                start = int(loc.get("offset")) - offset
                assert text[start : start + int(loc.get("length"))] == ann.findtext("text")
    assert client.get("/api/export/accepted.csv").status_code == 404


def test_review_survives_re_extraction(client: TestClient, world: dict[str, Any]) -> None:
    from pgxlit.extract.run import run_extraction

    tid = _pending_ids(client, 1, drug="abacavir", gene="HLA-B")[0]
    client.post(f"/api/triples/{tid}/review", json={"action": "accept", "reason": "boxed warning"}, headers=WRITE)
    total = client.get("/api/stats").json()["triples"]
    run_extraction(world["store"], force=True)
    assert client.get("/api/stats").json()["triples"] == total  # no duplicates of reviewed triples
    after = client.get(f"/api/triples/{tid}").json()
    assert after["review_status"] == "accepted"
    assert [h["action"] for h in after["history"]][:2] == ["carried_over", "accept"]
    assert tid in _export_ids(client)


def test_refresh_is_a_write_and_runs_in_the_background(client: TestClient) -> None:
    assert client.post("/api/refresh").status_code == 401
    started = client.post("/api/refresh", headers=WRITE)
    assert started.status_code == 202 and started.json()["started_by"] == "Ann Curator"
    deadline = time.monotonic() + 600
    while (state := client.get("/api/refresh").json())["status"] == "running":
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state["status"] == "done", state
    assert state["extraction"]["extracted"] == 0 and state["extraction"]["already_current"] == 7
    assert client.post("/api/ask", json={"question": "What should I check before prescribing abacavir?"}).json()[
        "citations"]


def test_forms_need_a_session_and_csrf(client: TestClient) -> None:
    page = client.get("/review")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    tid = _pending_ids(client, 1, source="pubmed")[0]
    # not signed in
    assert client.post("/review/bulk", data={"csrf": csrf, "action": "accept", "ids": [tid]},
                       follow_redirects=False).status_code == 401
    bad = client.post("/login", data={"csrf": csrf, "name": "Bo", "token": "wrong"}, follow_redirects=False)
    assert bad.status_code == 303 and "session" not in bad.headers.get("set-cookie", "")
    assert client.post("/login", data={"csrf": "forged", "name": "Bo", "token": TOKEN}).status_code == 403
    ok = client.post("/login", data={"csrf": csrf, "name": "Bo Curator", "token": TOKEN}, follow_redirects=False)
    assert ok.status_code == 303 and "pgxlit_session" in ok.headers["set-cookie"]
    assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=strict" in ok.headers["set-cookie"].lower()
    page = client.get("/review", params={"source": "pubmed"})
    assert "signed in as" in page.text
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert session_csrf != csrf
    # a cross-site post carries the cookie but not the token
    assert client.post("/review/bulk", data={"action": "accept", "ids": [tid]}).status_code == 403
    assert client.post("/review/bulk", data={"csrf": csrf, "action": "accept", "ids": [tid]}).status_code == 403
    done = client.post("/review/bulk", data={"csrf": session_csrf, "action": "accept", "ids": [tid], "back": "/review"},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review"
    assert "1 triple accepted" in client.get("/review").text  # the message travels in a signed cookie
    assert client.get(f"/api/triples/{tid}").json()["history"][0]["actor"] == "Bo Curator"
    # the same session may also write through the API with the CSRF header
    assert client.post(f"/api/triples/{tid}/review", json={"action": "reset"},
                       headers={"X-CSRF-Token": session_csrf}).status_code == 200
    offsite = client.post("/review/bulk", data={"csrf": session_csrf, "single": f"accept:{tid}",
                                                "back": "https://evil.example/"}, follow_redirects=False)
    assert offsite.headers["location"].startswith("/review")
    client.post("/logout", data={"csrf": session_csrf})
    client.cookies.clear()


def test_label_and_abstract_text_is_escaped(client: TestClient) -> None:
    items = client.get("/api/triples", params={"source": "pubmed", "limit": 1000, "drug": "abacavir"}).json()["items"]
    scripted = [t for t in items if t["evidence"]["pmid"] == SCRIPT_PMID]
    assert scripted, "the abstract with a <script> tag was extracted"
    assert "<script>" in scripted[0]["evidence"]["sentence"]  # JSON keeps the text as it is
    page = client.get("/review", params={"source": "pubmed", "drug": "abacavir", "status": ""}).text
    assert "&lt;script&gt;window.__pgxlit_xss" in page
    assert "<script>window" not in page
    triple_page = client.get(f"/review/triple/{scripted[0]['id']}").text
    assert "&lt;script&gt;" in triple_page and "<script>window" not in triple_page
    answer = client.get("/ask", params={"q": "Is abacavir hypersensitivity associated with HLA-B*57:01?",
                                        "source": "pubmed"}).text
    assert "<script>window" not in answer and "<b>bold</b>" not in answer


# ---- check, digest, labels ------------------------------------------------------------------------
def test_check_api_and_page(client: TestClient) -> None:
    result = client.post("/api/check", json={"drug": "Plavix", "results": "CYP2C19 *2/*2"}).json()
    alert = result["alerts"][0]
    assert result["drug"] == "clopidogrel" and alert["gene"] == "CYP2C19" and alert["severity"] == "critical"
    assert alert["citations"] and alert["citations"][0]["set_id"] == PLAVIX_SET
    by_json = client.post("/api/check", json={"drug": "clopidogrel",
                                              "profile": [{"gene": "CYP2C19", "diplotype": "*2/*2"}]}).json()
    assert by_json["alerts"][0]["phenotype"] == alert["phenotype"]
    assert client.post("/api/check", json={"drug": "zorblatinib", "results": "CYP2C19 *2/*2"}).status_code == 422
    assert client.post("/api/check", json={"drug": "clopidogrel"}).status_code == 422
    page = client.get("/check", params={"drug": "clopidogrel", "results": "CYP2C19 *2/*2"}).text
    assert "CRITICAL" in page and "CYP2C19" in page
    assert "is not a drug pgxlit knows" in client.get("/check", params={"drug": "zzz", "results": "CYP2C19 *1/*1"}).text


def test_digest_labels_and_diff(client: TestClient, world: dict[str, Any]) -> None:
    digest = client.get("/api/digest").json()
    assert digest["summary"]["label_pairs"] == 1 and digest["changes"]
    first = digest["changes"][0]
    assert (first["set_id"], first["old_version"], first["new_version"]) == (PLAVIX_SET, 33, 34)
    pgx = client.get("/api/digest", params={"pgx_only": True}).json()
    assert all(c["pgx_relevant"] for c in pgx["changes"])
    assert client.get("/api/digest", params={"since": "2021-13-01"}).status_code == 422
    page = client.get("/digest").text
    assert "Old · v33" in page and "New · v34" in page
    labels = client.get("/api/labels", params={"drug": "clopidogrel"}).json()
    assert labels[0]["set_id"] == PLAVIX_SET and labels[0]["versions"] == [33, 34]
    versions = client.get(f"/api/labels/{PLAVIX_SET}/versions").json()
    assert [v["version"] for v in versions] == [33, 34]
    diff = client.get(f"/api/labels/{PLAVIX_SET}/diff").json()
    assert diff["old"]["version"] == 33 and diff["new"]["version"] == 34 and diff["changes"]
    assert [c["rank"] for c in diff["changes"]] == list(range(1, len(diff["changes"]) + 1))
    assert client.get(f"/api/labels/{PLAVIX_SET}/diff", params={"old": 34, "new": 33}).status_code == 404
    assert client.get("/api/labels/not-a-set/versions").status_code == 404


def test_failures_are_clean(world: dict[str, Any], tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    broken = world["settings"].replace(db_url=f"sqlite:///{blocker / 'pgxlit.sqlite'}")
    client = TestClient(create_app(broken), raise_server_exceptions=False)
    r = client.get("/api/stats")
    assert r.status_code == 500 and r.json() == {"detail": "internal error; the server log has the details"}
    html = client.get("/review", headers={"Accept": "text/html"})
    assert html.status_code == 500 and "Traceback" not in html.text and "<html" in html.text
    slow = TestClient(create_app(world["settings"].replace(web_timeout_s=0.001, web_digest_timeout_s=0.001)))
    r = slow.get("/api/digest")
    assert r.status_code == 504 and "gave up" in r.json()["detail"]
    assert client.get("/api/nothing-here").status_code == 404
