"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `pgxlit mcp` (the web app itself is `pgxlit serve`, registered by the check stage)."""

    @app.command("mcp")
    def mcp_command() -> None:
        """Serve ask, triples and check to AI assistants over MCP (JSON-RPC on stdin/stdout)."""
        from pgxlit.config import get_settings
        from pgxlit.web.mcp import run_stdio

        run_stdio(get_settings())
