"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

import typer


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this stage's commands to `app` (and its measurements to `eval_app`)."""
