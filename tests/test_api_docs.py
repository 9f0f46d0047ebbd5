"""/docs, /redoc and /favicon.ico work offline: every script, stylesheet and icon comes from our own server."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pgxlit.config import Settings
from pgxlit.web.apidocs import ASSETS, STATIC, mount_api_docs

REFERENCE = re.compile(r'(?:src|href|spec-url|data-openapi-url)="([^"]*)"')


def _bare_app() -> FastAPI:
    app = FastAPI(title="pgx <lit>", docs_url=None, redoc_url=None)

    @app.get("/api/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    mount_api_docs(app)
    return app


def _check_page(client: TestClient, path: str, prefix: str = "") -> list[str]:
    """The page loads, references only our own server, and everything it references loads."""
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    refs = REFERENCE.findall(page.text)
    assert refs and all(r.startswith(prefix + "/") and not r.startswith("//") for r in refs), refs
    assert "http://" not in page.text and "https://" not in page.text and "<script>" not in page.text
    for ref in refs:
        got = client.get(ref[len(prefix):])
        assert got.status_code == 200, ref
        name = ref.rsplit("/", 1)[-1]
        if name in ASSETS:
            assert got.content == (STATIC / name).read_bytes()
            assert got.headers["content-type"].startswith(ASSETS[name])
        if ref.endswith("/openapi.json"):
            assert got.json()["info"]["title"]
    return refs


def test_swagger_ui_and_redoc_are_served_from_local_files() -> None:
    client = TestClient(_bare_app())
    swagger = _check_page(client, "/docs")
    assert "/docs/assets/swagger-ui-bundle.js" in swagger and "/docs/assets/swagger-init.js" in swagger
    assert "/docs/assets/swagger-ui.css" in swagger and "/openapi.json" in swagger
    redoc = _check_page(client, "/redoc")
    assert "/docs/assets/redoc.standalone.js" in redoc and "/openapi.json" in redoc
    assert "pgx &lt;lit&gt;" in client.get("/docs").text  # the title is escaped
    spec = client.get("/openapi.json").json()
    assert list(spec["paths"]) == ["/api/hello"]  # the docs routes stay out of the API description


def test_favicon_and_only_the_listed_assets() -> None:
    client = TestClient(_bare_app())
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg") and icon.headers["cache-control"].startswith("public")
    for name in ("app.js", "APIDOCS.md", "..%2F..%2Fpyproject.toml", "swagger-ui.LICENSE.txt"):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name


def test_links_follow_the_root_path_behind_a_proxy() -> None:
    client = TestClient(_bare_app(), root_path="/pgx")
    _check_page(client, "/docs", prefix="/pgx")
    _check_page(client, "/redoc", prefix="/pgx")


def test_refuses_an_app_that_still_has_the_cdn_pages() -> None:
    with pytest.raises(ValueError, match="docs_url=None"):
        mount_api_docs(FastAPI())


def test_the_vendored_bundles_are_the_ones_the_readme_names() -> None:
    readme = (STATIC / "APIDOCS.md").read_text()
    listed = dict((name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M))
    assert set(listed) == {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"}
    for name, digest in listed.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    for licence in ("swagger-ui.LICENSE.txt", "swagger-ui.NOTICE.txt", "redoc.LICENSE.txt"):
        assert (STATIC / licence).stat().st_size > 0


def test_the_pgxlit_app_serves_its_docs_offline(tmp_path: Path) -> None:
    try:
        from pgxlit.web.server import create_app
    except ImportError:
        from pgxlit.server import create_app  # type: ignore[no-redef]
    app = create_app(Settings(home=tmp_path))
    if app.docs_url is not None:
        pytest.skip("create_app still serves FastAPI's CDN /docs: it needs FastAPI(..., docs_url=None, "
                    "redoc_url=None) and a call to pgxlit.web.apidocs.mount_api_docs(app)")
    with TestClient(app) as client:
        _check_page(client, "/docs")
        _check_page(client, "/redoc")
        assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
def test_the_pages_render_in_a_browser_with_no_other_host_reachable() -> None:
    """Not blank: Swagger UI lists the operation and ReDoc renders it, with every request to another host aborted."""
    import socket
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_bare_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    outside: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page()

            def offline(route: object) -> None:
                url = route.request.url  # type: ignore[attr-defined]
                if url.startswith(base) or url.startswith(("blob:", "data:")):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    outside.append(url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", offline)
            page.goto(f"{base}/docs")
            page.wait_for_selector("#operations-default-hello_api_hello_get", timeout=30_000)
            page.goto(f"{base}/redoc")
            page.wait_for_selector('[data-section-id="operation/hello_api_hello_get"]', timeout=30_000)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    # The one request that left: ReDoc's "API docs by Redocly" footer logo, an <img> hidden when it fails.
    assert set(outside) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, outside
