"""The web app in real Chromium, as a pharmacist and a curator use it.

A uvicorn server on 127.0.0.1 serves the small real store of test_web_world; Playwright drives
Debian's chromium (/usr/bin/chromium). Screenshots go to $PGXLIT_SCREENSHOTS (docs/img to refresh
the docs), else to a temporary folder.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web_world import PLAVIX_SET, TOKEN, build_world

CHROMIUM = Path(os.environ.get("PGXLIT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """The small real store of test_web_world (built once per test process)."""
    return build_world()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(world: dict[str, Any]) -> Iterator[str]:
    import uvicorn

    from pgxlit.web.server import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(world["settings"]), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start in 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("PGXLIT_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_ask_and_open_a_citation(server: str, page: Any, shots: Path) -> None:
    page.goto(f"{server}/ask")
    page.fill("input[name=q]", "What should I check before prescribing abacavir?")
    page.click("form.ask button[type=submit]")
    page.wait_for_selector("ol.claims li")
    first = page.locator("ol.claims a.cite").first
    key = first.get_attribute("data-key")
    cited = page.locator(f"#source-{key}").inner_text()
    first.click()
    mark = page.locator("#evidence mark")
    mark.wait_for()
    assert page.url.startswith(f"{server}/ask?")  # opened in place, not by leaving the page
    assert len(mark.inner_text()) > 20
    meta = page.locator("#evidence .meta").inner_text()
    assert "version" in meta and "effective" in meta and "open on DailyMed" in meta
    version = page.locator("#evidence .evidence").get_attribute("data-version")
    assert version and f"version {version}" in meta and f"version {version}" in cited
    assert "FDA label" in cited
    assert page.locator("#evidence a", has_text="open on DailyMed").get_attribute("href").startswith(
        "https://dailymed.nlm.nih.gov/")
    page.screenshot(path=str(shots / "web-ask.png"), full_page=True)


def _export_ids(page: Any, server: str) -> set[str]:
    body = page.request.get(f"{server}/api/export/accepted.tsv").text()
    return {line.split("\t")[0] for line in body.splitlines()[1:]}


def test_accept_and_reject_and_see_the_export_change(server: str, page: Any, shots: Path) -> None:
    """The queue by claim: select claims, accept-and-next from the keyboard, reject one from its row."""
    page.goto(f"{server}/review?drug=clopidogrel&gene=CYP2C19&status=pending")
    assert page.locator("button[value=accept]").first.is_disabled()  # reading only until signed in
    page.fill("form.signin input[name=name]", "Cleo Curator")
    page.fill("form.signin input[name=token]", TOKEN)
    page.click("form.signin button[type=submit]")
    page.wait_for_selector("text=signed in as")
    rows = page.locator("table.claims-q tbody tr.claim")
    tokens = [rows.nth(i).get_attribute("data-claim") for i in range(2)]
    ids = [[int(x) for x in t.split(",")] for t in tokens]
    before = _export_ids(page, server)
    for token in tokens:
        page.check(f"input[name=claims][value='{token}']")
    page.once("dialog", lambda d: d.accept())  # "Accept selected: 2 claims?"
    page.click("button[name=action][value=accept]")
    n = len(ids[0]) + len(ids[1])
    page.wait_for_selector(f"text=2 claims: {n} triple{'s' if n != 1 else ''} accepted")
    after_accept = _export_ids(page, server)
    assert after_accept == before | {f"pgxlit:{i}" for group in ids for i in group}

    # accept and next from the keyboard: the focused claim leaves the pending queue, the next is focused
    rows = page.locator("table.claims-q tbody tr.claim")
    first, second = rows.nth(0).get_attribute("data-claim"), rows.nth(1).get_attribute("data-claim")
    assert page.evaluate("document.activeElement.dataset.claim") == first
    page.keyboard.press("a")
    page.wait_for_selector("text=1 claim:")
    assert page.locator("table.claims-q tbody tr.claim").nth(0).get_attribute("data-claim") == second
    assert page.evaluate("document.activeElement.dataset.claim") == second
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.claim") != second
    after_keys = _export_ids(page, server)
    assert after_keys == after_accept | {f"pgxlit:{i}" for i in first.split(",")}

    # reject one claim from its row; the reason is asked for when none is typed
    page.goto(f"{server}/review?drug=clopidogrel&gene=CYP2C19&status=accepted")
    page.once("dialog", lambda d: d.accept("the sentence is about another drug"))
    page.click(f"button[name=single][value='reject:{tokens[1]}']")
    page.wait_for_selector("text=1 claim:")
    assert _export_ids(page, server) == after_keys - {f"pgxlit:{i}" for i in ids[1]}
    page.goto(f"{server}/review?drug=clopidogrel&status=")
    page.screenshot(path=str(shots / "web-review.png"), full_page=False)

    page.goto(f"{server}/review/triple/{ids[1][0]}")
    history = page.locator("table.audit tbody tr")
    assert history.count() >= 2
    assert "Cleo Curator" in history.first.inner_text() and "another drug" in history.first.inner_text()
    page.screenshot(path=str(shots / "web-triple.png"), full_page=True)
    page.goto(f"{server}/review/audit")
    page.screenshot(path=str(shots / "web-audit.png"), full_page=False)


def test_script_in_source_text_renders_as_text(server: str, page: Any) -> None:
    page.goto(f"{server}/review?source=pubmed&drug=abacavir&status=")
    cell = page.locator("td.ev", has_text="window.__pgxlit_xss").first
    assert "<script>window.__pgxlit_xss = 1</script>" in cell.inner_text()
    assert page.evaluate("typeof window.__pgxlit_xss") == "undefined"


def test_view_the_digest(server: str, page: Any, shots: Path) -> None:
    page.goto(f"{server}/digest")
    page.wait_for_selector("section.pair")
    assert "Plavix" in page.locator("section.pair h2").first.inner_text()
    old, new = page.locator(".side.old h3").first.inner_text(), page.locator(".side.new h3").first.inner_text()
    assert old.upper().startswith("OLD · V33") and new.upper().startswith("NEW · V34")
    assert page.locator(f"section.pair a[href*='{PLAVIX_SET}']").count() >= 1
    page.screenshot(path=str(shots / "web-digest.png"), full_page=False)


def test_check_a_prescription(server: str, page: Any, shots: Path) -> None:
    page.goto(f"{server}/check")
    page.fill("input[name=drug]", "Plavix")
    page.fill("textarea[name=results]", "CYP2C19 *2/*2")
    page.click("form.checkform button[type=submit]")
    alert = page.locator(".alert.critical").first
    alert.wait_for()
    assert "CYP2C19" in alert.inner_text() and "Poor Metabolizer" in alert.inner_text()
    page.screenshot(path=str(shots / "web-check.png"), full_page=True)
