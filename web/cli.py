"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

from typing import Annotated

import typer

from pgxlit.cli_common import JsonOpt, err, fail, guard, open_store, out


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `pgxlit serve` (web app, JSON API, CDS Hooks), `pgxlit drug` and `pgxlit mcp`."""

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
            from pgxlit.web.drug_summary import knowledge_base

            # drug pages read the compiled claims: compile (or read the cache) before the first page asks
            threading.Thread(target=knowledge_base, args=(app.state.services.store, app.state.settings), daemon=True,
                             name="warm-claims").start()
            if not app.state.settings.web.token:
                err.print(f"curator token for this run: [bold]{app.state.web_token}[/] "
                          "(set PGXLIT_WEB_TOKEN to keep one)", highlight=False)
            uvicorn.run(app, host=host, port=port, log_level="info")

    @app.command("drug")
    def drug_command(
        drug: Annotated[str, typer.Argument(help="A drug's generic or brand name, e.g. warfarin or Plavix.")],
        every: Annotated[bool, typer.Option("--all", help="List every literature-only claim too.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """What the stored evidence says for one drug: genes, patients affected, action, severity, testing.

        Compiled from the store's triples: label-stated claims first, then literature-only ones by gene.
        A stored drug with nothing pharmacogenomic says what was searched; an unknown name gets
        "did you mean ...?".
        """
        import json

        from pgxlit.config import get_settings
        from pgxlit.web.drug_summary import UnknownDrug, drug_summary, summaries_text

        with guard():
            settings = get_settings()
            store = open_store(settings)
            try:
                summary = drug_summary(store, settings, drug)
            except UnknownDrug as exc:
                fail(str(exc))
            finally:
                store.close()
            if as_json:
                out.print_json(json.dumps(summary.to_json(), ensure_ascii=False))
                return
            for line in summaries_text(summary, every):
                out.print(line, highlight=False, markup=False)

    @app.command("mcp")
    def mcp_command() -> None:
        """Serve ask, triples and check to AI assistants over MCP (JSON-RPC on stdin/stdout)."""
        from pgxlit.config import get_settings
        from pgxlit.web.mcp import run_stdio

        run_stdio(get_settings())
