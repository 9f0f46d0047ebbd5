"""Regression tests for what a hostile client or a careless operator could do to `pgxlit serve`
(issue 16): sessions that outlive logout, unthrottled guessing, 64-bit overflows, non-ASCII
cookies, deep JSON, huge bodies, formula cells in exports, text injected through `?msg=`,
digests rebuilt on demand, and missing security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_web_world import TOKEN, build_world

from pgxlit.web.export import _cell
from pgxlit.web.hardening import json_depth
from pgxlit.web.security import Auth, Throttle, weak_token_reason
from pgxlit.web.server import create_app

WRITE = {"Authorization": f"Bearer {TOKEN}", "X-Curator": "Ann Curator"}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


_OPEN: list[TestClient] = []


def _client(world: dict[str, Any], **overrides: Any) -> TestClient:
    settings = world["settings"].replace(**overrides)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    _OPEN.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    """Each test's app stops the worker processes it started; left running, they load their models
    beside the next tests and slow them down."""
    yield
    while _OPEN:
        _OPEN.pop().app.state.services.close()


@pytest.fixture()
def client(world: dict[str, Any]) -> TestClient:
    """A fresh app per test: throttling and revocations must not leak between tests."""
    return _client(world)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page carries no CSRF field"
    return found.group(1)


def _sign_in(client: TestClient) -> str:
    csrf = _csrf(client.get("/review").text)
    reply = client.post("/login", data={"token": TOKEN, "name": "Ann Curator", "csrf": csrf, "back": "/review"},
                        follow_redirects=False)
    assert reply.status_code == 303
    return _csrf(client.get("/review").text)


def _pending_id(client: TestClient) -> int:
    return client.get("/api/triples", params={"status": "pending", "limit": 1}).json()["items"][0]["id"]


# ---- 4. logout and token rotation end sessions on the server ----------------------------------------
def test_logout_revokes_the_session_cookie_and_its_csrf_token(client: TestClient) -> None:
    csrf = _sign_in(client)
    cookie = client.cookies.get("pgxlit_session")
    assert cookie
    headers = {"X-CSRF-Token": csrf}
    tid = _pending_id(client)
    assert client.post(f"/api/triples/{tid}/review", json={"action": "reset", "reason": "check"},
                       headers=headers).status_code == 200
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    # an attacker who kept the old cookie and CSRF token can no longer write
    client.cookies.set("pgxlit_session", cookie)
    replay = client.post(f"/api/triples/{tid}/review", json={"action": "reset", "reason": "again"}, headers=headers)
    assert replay.status_code == 401


def test_rotating_a_curator_token_ends_that_curators_sessions() -> None:
    old = Auth("shared-token-0123456789", {"ann": "ann-token-abcdefghij"})
    cookie = old.session_cookie("ann")
    assert old.read_session(cookie) == "ann"
    rotated = Auth("shared-token-0123456789", {"ann": "ann-new-token-klmnopq"}, secret=old.secret)
    assert rotated.read_session(cookie) is None
    shared_cookie = old.session_cookie("Bob")
    assert rotated.read_session(shared_cookie) == "Bob"  # the shared token did not change
    assert Auth("another-shared-token-xyz", {}, secret=old.secret).read_session(shared_cookie) is None


# ---- 5. throttling and token strength -------------------------------------------------------------------
def test_wrong_bearer_tokens_are_throttled_with_429(client: TestClient) -> None:
    tid = _pending_id(client)
    codes = [client.post(f"/api/triples/{tid}/review", json={"action": "reset", "reason": "x"},
                         headers={"Authorization": f"Bearer wrong-{i}", "X-Curator": "Eve"}).status_code
             for i in range(15)]
    assert codes[:10] == [403] * 10 and set(codes[10:]) == {429}
    reply = client.post(f"/api/triples/{tid}/review", json={"action": "reset", "reason": "x"}, headers=WRITE)
    assert reply.status_code == 429 and int(reply.headers["retry-after"]) >= 1


def test_wrong_sign_ins_are_throttled(client: TestClient) -> None:
    csrf = _csrf(client.get("/review").text)
    codes = [client.post("/login", data={"token": f"guess-{i}", "name": "Eve", "csrf": csrf},
                         follow_redirects=False).status_code for i in range(12)]
    assert codes[:10] == [303] * 10 and set(codes[10:]) == {429}


def test_throttle_window_forgets_old_failures() -> None:
    throttle = Throttle(limit=2, window_s=0.05)
    throttle.failed("a")
    throttle.failed("a")
    with pytest.raises(Exception, match="too many"):
        throttle.check("a")
    import time

    time.sleep(0.06)
    throttle.check("a")


def test_weak_configured_tokens_are_refused(world: dict[str, Any]) -> None:
    assert weak_token_reason("short") and weak_token_reason("aaaaaaaaaaaaaaaaaaaa")
    assert weak_token_reason(TOKEN) is None
    with pytest.raises(ValueError, match="PGXLIT_WEB_TOKEN"):
        create_app(world["settings"].replace(web_token="secret"))
    with pytest.raises(ValueError, match="ann"):
        create_app(world["settings"].replace(web_user_tokens={"ann": "1234"}))


# ---- 8. no 500 for oversized integers, odd cookies, deep JSON ----------------------------------------
@pytest.mark.parametrize("path", [
    "/api/triples/99999999999999999999999",
    "/api/triples?offset=9223372036854775808",
    "/api/evidence/99999999999999999999999",
    "/review/triple/99999999999999999999999",
    "/evidence/18446744073709551616",
    "/review?page=99999999999999999999999",
    "/api/review/audit?triple_id=99999999999999999999999",
])
def test_integers_beyond_64_bits_are_422_not_500(client: TestClient, path: str) -> None:
    assert client.get(path).status_code in (404, 422), path


def test_form_and_body_ids_beyond_64_bits_are_refused(client: TestClient) -> None:
    reply = client.post("/api/review", json={"ids": [2**70], "action": "accept"}, headers=WRITE)
    assert reply.status_code == 422


@pytest.mark.parametrize("cookie", ["abc.é", "x" * 20 + "." + "é" * 64, "not-a-session"])
def test_non_ascii_session_cookies_do_not_break_pages(world: dict[str, Any], cookie: str) -> None:
    client = _client(world)
    raw = f"pgxlit_session={cookie}".encode()  # sent as raw bytes, as a hostile client would
    for path in ("/review", "/ask", "/api/stats"):
        assert client.get(path, headers={"Cookie": raw}).status_code == 200, path
    assert client.get("/review", headers={"Cookie": raw, "Accept": "text/html"}).status_code == 200
    reply = client.post("/api/review", json={"ids": [1], "action": "accept"},
                        headers={"Cookie": raw, "X-CSRF-Token": "é".encode()})
    assert reply.status_code in (401, 403)


def test_json_nested_thousands_deep_is_400(client: TestClient) -> None:
    deep = "[" * 5000 + "]" * 5000
    for path in ("/api/check", "/api/ask", "/cds-services/pgxlit-order-select"):
        reply = client.post(path, content=deep, headers={"Content-Type": "application/json"})
        assert reply.status_code == 400, (path, reply.status_code)
    assert json_depth(b'{"a": "[[[[[[", "b": [1, [2]]}') == 3


# ---- 10. limits and headers --------------------------------------------------------------------------
def test_request_bodies_over_the_limit_are_413(client: TestClient) -> None:
    big = b'{"question": "' + b"a" * 2_000_000 + b'"}'
    assert client.post("/api/ask", content=big, headers={"Content-Type": "application/json"}).status_code == 413


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    for path in ("/review", "/api/stats", "/static/app.css"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"].split("script-src")[1].split(";")[0]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_secure_cookies_setting_marks_session_cookies(world: dict[str, Any]) -> None:
    client = _client(world, web_secure_cookies=True)
    client.base_url = "https://testserver"  # type: ignore[assignment]
    csrf = _csrf(client.get("/review").text)
    reply = client.post("/login", data={"token": TOKEN, "name": "Ann", "csrf": csrf}, follow_redirects=False)
    cookies = reply.headers.get_list("set-cookie")
    assert any(c.startswith("pgxlit_session=") and "secure" in c.lower() for c in cookies)


def test_msg_in_the_url_prints_nothing(client: TestClient) -> None:
    page = client.get("/review", params={"msg": "Your account is locked: call +1 555 0100"}).text
    assert "call +1 555 0100" not in page
    # the server's own messages still reach the next page
    csrf = _csrf(client.get("/review").text)
    client.post("/login", data={"token": "wrong-token-123456", "name": "Ann", "csrf": csrf}, follow_redirects=False)
    assert "that token is not valid" in client.get("/review").text
    assert "that token is not valid" not in client.get("/review").text  # shown once


# ---- 9. formula injection in exports ------------------------------------------------------------------
def test_tsv_cells_that_spreadsheets_would_run_are_neutralised() -> None:
    assert _cell('=HYPERLINK("http://evil","x")') == "'=HYPERLINK(\"http://evil\",\"x\")"
    for text in ("+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)"):
        assert _cell(text).startswith("'")
    assert _cell("-0.5") == "-0.5" and _cell("CYP2C19*2") == "CYP2C19*2"


def test_exported_tsv_has_no_live_formula(client: TestClient) -> None:
    tid = _pending_id(client)
    reply = client.post(f"/api/triples/{tid}/review", headers=WRITE,
                        json={"action": "edit", "reason": "=HYPERLINK(\"http://evil\",\"x\")",
                              "changes": {"variant": "=HYPERLINK(\"http://evil\",\"x\")"}})
    assert reply.status_code == 200, reply.text
    client.post(f"/api/triples/{tid}/review", headers=WRITE, json={"action": "accept", "reason": "ok"})
    tsv = client.get("/api/export/accepted.tsv").text
    cells = [c for line in tsv.splitlines()[1:] for c in line.split("\t")]
    assert any("HYPERLINK" in c for c in cells)
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


# ---- 6. the digest cannot be made to rebuild by query parameters ------------------------------------
def test_digest_filters_reuse_one_build(world: dict[str, Any]) -> None:
    client = _client(world)
    services = client.app.state.services  # type: ignore[attr-defined]
    full = client.get("/api/digest").json()
    built = services._digests[()].value[0]
    for since in ("2001-01-01", "2015-06-30", "2020-01-02", "2024-12-31"):
        assert client.get("/api/digest", params={"since": since}).status_code == 200
    plavix = client.get("/api/digest", params={"drug": "clopidogrel"}).json()
    pgx = client.get("/api/digest", params={"pgx_only": True, "drug": "clopidogrel"}).json()
    other = client.get("/api/digest", params={"drug": "abacavir"}).json()
    assert list(services._digests) == [()] and services._digests[()].value[0] is built  # no rebuild
    assert full["summary"]["label_pairs"] == plavix["summary"]["label_pairs"] == 1
    assert other["summary"]["label_pairs"] == 0
    assert all(c["pgx_relevant"] for c in pgx["changes"])
    assert len(pgx["changes"]) == sum(c["pgx_relevant"] for c in full["changes"])
    late = client.get("/api/digest", params={"since": "2099-01-01"}).json()
    assert late["summary"]["label_pairs"] == 0
