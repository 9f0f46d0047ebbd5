"""The pgxlit HTTP application: CDS Hooks today, the web app mounts here later.

`create_app` builds everything lazily: the check's knowledge is compiled (or read from its
cache) on the first request that needs it, so `pgxlit serve` starts at once.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pgxlit import __version__
from pgxlit.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """A FastAPI app with /health and the CDS Hooks services (/cds-services)."""
    from pgxlit.check.cds_hooks import create_router

    settings = settings or get_settings()
    app = FastAPI(title="pgxlit", version=__version__,
                  description="Pharmacogenomics from FDA labels and PubMed, with citations.")
    # CDS clients (EHRs, the CDS Hooks sandbox) call from browsers on other origins.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"])
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

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app
