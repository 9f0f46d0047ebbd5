"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

from typing import Annotated

import typer

from pgxlit.cli_common import err, guard


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `pgxlit serve` (web app, JSON API, CDS Hooks) and `pgxlit mcp`."""

    @app.command("serve")
    def serve_command(
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port.")] = 8000,
    ) -> None:
        """Serve the web app (Ask, Review, Digest, Check), the JSON API (/api, docs at /docs) and CDS Hooks."""
        import uvicorn

        from pgxlit.config import get_settings
        from pgxlit.web.server import create_app

        with guard():
            app = create_app(get_settings())
            service = app.state.get_check_service()
            err.print("compiling the check's knowledge from the store (once) ...")
            knowledge = service.knowledge  # so the first order does not wait for it
            from pgxlit.check.service import drug_by_rxnorm, resolve_drug

            resolve_drug("clopidogrel")  # loads the drug lexicon: orders for drugs without PGx evidence
            drug_by_rxnorm("0")  # builds the RxNorm index for FHIR codings
            err.print(f"{len(knowledge.drugs)} drugs with PGx evidence; CDS Hooks discovery at "
                      f"http://{host}:{port}/cds-services")
            err.print(f"web app at http://{host}:{port}/ask · API docs at http://{host}:{port}/docs")
            import threading

            # the digest of every stored label takes a while to build: start it now, pages read the cache
            threading.Thread(target=app.state.services.digest, args=(None, (), False), daemon=True,
                             name="warm-digest").start()
            if not app.state.settings.web.token:
                err.print(f"curator token for this run: [bold]{app.state.web_token}[/] "
                          "(set PGXLIT_WEB_TOKEN to keep one)", highlight=False)
            uvicorn.run(app, host=host, port=port, log_level="info")

    @app.command("mcp")
    def mcp_command() -> None:
        """Serve ask, triples and check to AI assistants over MCP (JSON-RPC on stdin/stdout)."""
        from pgxlit.config import get_settings
        from pgxlit.web.mcp import run_stdio

        run_stdio(get_settings())
