"""The pgxlit HTTP application: CDS Hooks, the JSON API (/api) and the web pages.

`create_app` builds everything lazily: the check's knowledge is compiled (or read from its
cache) on the first request that needs it, and the search index and embedding model are
loaded on the first question, so `pgxlit serve` starts at once.

Asks and triple listings run in a pool of worker processes (web/heavy.py), each with its own
index and model, started when the server starts (or on the first ask); this process keeps
checks, review writes and HTTP, so a check never waits for the GIL behind an ask. When the pool
is full, heavy requests are refused with 503 and Retry-After instead of queueing without bound.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from pgxlit import __version__
from pgxlit.config import Settings, get_settings

log = logging.getLogger("pgxlit.web.server")


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api", "/cds-services")) and \
        "text/html" in request.headers.get("accept", "")


def default_workers() -> int:
    """Worker processes for asks: two per core, at most four (each holds the model, ~0.3 GB). An ask also
    waits on the store and on the server process, so two per core keep the cores busy (docs/speed.md)."""
    return max(1, min(4, 2 * (os.cpu_count() or 1)))


def create_app(settings: Settings | None = None, workers: int | None = None, queue: int | None = None,
               answer_cache: int | None = None) -> FastAPI:
    """A FastAPI app with /health, the CDS Hooks services (/cds-services), /api and the pages.

    Unless given here, from `settings.web`: `workers`, processes answering asks and listings (unset:
    `default_workers()`; 0: in this process); `queue`, heavy requests that may wait for a worker before
    more are refused with 503; `answer_cache`, answers kept until the next write to the store or index
    (0: none)."""
    from pgxlit.check.cds_hooks import create_router
    from pgxlit.web.api import create_api
    from pgxlit.web.jobs import Refresh
    from pgxlit.web.pages import create_pages, error_page, mount_static
    from pgxlit.web.apidocs import mount_api_docs
    from pgxlit.web.hardening import RequestLimits
    from pgxlit.web.heavy import Busy, HeavyPool, pin_cpus
    from pgxlit.web.security import Auth, RevokedSessions, weak_token_reason
    from pgxlit.web.services import CheckAnswers, Services

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A check's threads take the GIL from a knowledge refresh (seconds of Python after reviews) sooner;
        # set when serving, not when an app is only built (tests, the MCP server).
        sys.setswitchinterval(settings.web.switch_interval_ms / 1000)
        if app.state.services.heavy is not None:  # the server on its CPU, the workers on the others
            pin_cpus(app.state.services.heavy.server_cpus)
        if app.state.services.heavy is not None:
            app.state.services.heavy.start()  # workers load the index and model while the server starts
        yield
        app.state.services.close()

    # A configured token that is easy to guess is refused before anything listens.
    for who, token in (("PGXLIT_WEB_TOKEN", settings.web.token), *(
            (f"the personal token of {name!r} (PGXLIT_WEB_USER_TOKENS)", t) for name, t in settings.web.user_tokens.items())):
        if token is not None and (reason := weak_token_reason(token)):
            raise ValueError(f"{who} {reason}: make one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`")

    app = FastAPI(title="pgxlit", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Pharmacogenomics from FDA labels and PubMed, with citations. Reads are open; "
                              "review writes need `Authorization: Bearer <curator token>` and `X-Curator: <name>`.")
    # CDS clients (EHRs, the CDS Hooks sandbox) call from browsers on other origins.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"])
    # Outermost: body size and JSON depth are checked before anything parses the body.
    app.add_middleware(RequestLimits, max_body_bytes=settings.web.max_body_bytes,
                       max_json_depth=settings.web.max_json_depth)
    app.state.secure_cookies = settings.web.secure_cookies
    app.state.settings = settings
    app.state.check_service = None
    lock = threading.Lock()

    def check_service() -> Any:
        with lock:
            if app.state.check_service is None:
                from pgxlit.check.service import CheckService

                app.state.check_service = CheckService(settings)
            return app.state.check_service

    app.state.get_check_service = check_service
    app.include_router(create_router(check_service))

    # A token is always set: a configured one, or a fresh one per run that `pgxlit serve` prints.
    app.state.web_token = settings.web.token or secrets.token_urlsafe(18)
    # With a configured secret, sessions outlive a restart, so logouts are kept beside the store.
    revoked = RevokedSessions(settings.home / "web_logouts.json" if settings.web.secret else None)
    app.state.auth = Auth(app.state.web_token, dict(settings.web.user_tokens),
                          settings.web.secret.encode() if settings.web.secret else secrets.token_bytes(32), revoked)
    workers = settings.web.workers if workers is None else workers
    workers = default_workers() if workers is None else workers
    queue = settings.web.queue if queue is None else queue
    answer_cache = settings.web.answer_cache if answer_cache is None else answer_cache
    heavy = HeavyPool(settings, workers, queue) if workers > 0 else None
    app.state.services = Services(settings, check_service, heavy=heavy, answer_cache=answer_cache)
    app.state.check_answers = CheckAnswers(settings.web.check_cache)
    app.state.refresh = Refresh(lambda: app.state.services.store, settings)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Up, plus what a load test reports: the answer cache's hits and the worker processes."""
        svc = app.state.services
        pool = svc.heavy
        return {"status": "ok", "version": __version__, "answer_cache": svc.answers.stats(),
                "check_cache": app.state.check_answers.stats(),
                "workers": {"processes": pool.workers, "queue": pool.queue, "in_flight": pool.in_flight,
                            "pids": pool.pids(), "digest_pids": pool.digest_pids()} if pool is not None else None}

    app.include_router(create_api())
    app.include_router(create_pages())
    mount_static(app)
    mount_api_docs(app)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_html(request):
            return error_page(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        if _wants_html(request):
            response = error_page(request, 503, str(exc))
            response.headers.update(headers)
            return response
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
                    for e in exc.errors()]
        if _wants_html(request):
            return error_page(request, 422, "; ".join(problems))
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # The traceback goes to the server log, never to the client.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "internal error; the server log has the details"
        if _wants_html(request):
            return error_page(request, 500, message)
        return JSONResponse({"detail": message}, status_code=500)

    return app
