"""/docs (Swagger UI), /redoc and /favicon.ico served from files shipped in web/static, never a CDN.

FastAPI's built-in docs pages load Swagger UI and ReDoc from a CDN, so they are blank offline
(on a hospital network, say). The app factory creates FastAPI with `docs_url=None,
redoc_url=None` and calls `mount_api_docs`. The pages carry no inline script, so they work under
a strict Content-Security-Policy too; web/static/APIDOCS.md says where the bundles come from.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parent / "static"
ASSETS_PATH = "/docs/assets"
# Only these files are served under ASSETS_PATH: name -> media type.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-init.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
CACHE = "public, max-age=86400"

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – API (Swagger UI)</title>
<link rel="icon" type="image/svg+xml" href="{root}/favicon.ico">
<link rel="stylesheet" href="{root}{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}{openapi}"></div>
<script src="{root}{assets}/swagger-ui-bundle.js"></script>
<script src="{root}{assets}/swagger-init.js"></script>
</body>
</html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – API (ReDoc)</title>
<link rel="icon" type="image/svg+xml" href="{root}/favicon.ico">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<redoc spec-url="{root}{openapi}"></redoc>
<script src="{root}{assets}/redoc.standalone.js"></script>
</body>
</html>
"""


def _page(template: str, app: FastAPI, request: Request) -> HTMLResponse:
    root = escape(request.scope.get("root_path", "").rstrip("/"))
    return HTMLResponse(template.format(title=escape(app.title), root=root, assets=ASSETS_PATH,
                                        openapi=escape(app.openapi_url or "")))


def mount_api_docs(app: FastAPI) -> None:
    """Serve /docs, /redoc, their assets and /favicon.ico from local files (create FastAPI with docs_url=None)."""
    if app.docs_url or app.redoc_url:
        raise ValueError("create FastAPI(docs_url=None, redoc_url=None) before mount_api_docs: FastAPI's own "
                         "/docs and /redoc load Swagger UI and ReDoc from a CDN")
    missing = [name for name in ASSETS if not (STATIC / name).is_file()]
    if missing:
        raise FileNotFoundError(f"API docs assets missing from {STATIC}: {', '.join(missing)}; "
                                "reinstall pgxlit (see web/static/APIDOCS.md)")

    if app.openapi_url:
        @app.get("/docs", include_in_schema=False)
        def swagger_ui(request: Request) -> HTMLResponse:
            return _page(SWAGGER_PAGE, app, request)

        @app.get("/redoc", include_in_schema=False)
        def redoc(request: Request) -> HTMLResponse:
            return _page(REDOC_PAGE, app, request)

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, f"no API docs asset {name!r}")
        return FileResponse(STATIC / name, media_type=media_type, headers={"Cache-Control": CACHE})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": CACHE})
