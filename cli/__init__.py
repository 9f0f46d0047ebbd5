"""The `pgxlit` command line (installed as `pgxlit.cli`): `from pgxlit.cli import app` gives the root Typer app."""

from pgxlit.cli.main import app

__all__ = ["app"]
