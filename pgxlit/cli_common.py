"""What every `pgxlit` command shares: consoles, one-line errors, progress bars, reports.

Stage modules (digest, check, qa, …) register their own commands on the main app with these,
so `cli/main.py` stays a thin list of commands and nothing imports heavy code at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pgxlit.config import Settings
from pgxlit.records import ApiError, ParseError, RemoteError
if TYPE_CHECKING:  # the store (SQLAlchemy) loads only when a command opens it: a forwarded ask never does
    from pgxlit.store import Store



class CliConsole(Console):
    """A rich console that wraps text to the terminal, but never in pipes, files and logs.

    Off a terminal rich assumes 80 columns and breaks long lines (a path in an error, a cited
    sentence) in two, which breaks `grep` and scripts. Whether the stream is a terminal is asked
    at each print, so a redirected or captured stream is seen as such.
    """

    @property  # type: ignore[override]
    def soft_wrap(self) -> bool:
        return self._soft_wrap or not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._soft_wrap = value


err = CliConsole(stderr=True)
out = CliConsole()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
EngineOpt = Annotated[str | None, typer.Option(help="Where the work runs: local or ray (default: PGXLIT_ENGINE, else local).")]
WorkersOpt = Annotated[int | None, typer.Option(help="Worker processes (default: PGXLIT_ENGINE_WORKERS; 1 local, 2 ray).")]


def fail(message: str, code: int = 1) -> None:
    """Print one error line and exit; the message is shown as is (a `[` in a path is not markup)."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def guard() -> Iterator[None]:
    """Turn expected failures into one clear line instead of a traceback."""
    try:
        yield
    except (RemoteError, ParseError, ApiError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; what was committed is kept and the next run resumes", 130)


def open_store(settings: Settings) -> Store:
    from pgxlit.store import Store

    return Store(settings.resolved_db_url)


@contextmanager
def progress(description: str, total: int | None, quiet: bool) -> Iterator[Callable[[int, int | None], None]]:
    if quiet or not err.is_terminal:
        yield lambda advance, total=None: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(step: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, total=new_total)
            bar.advance(task, step)

        yield advance


def print_report(title: str, data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(data, default=str))
        return
    table = Table(title=title, show_header=False)
    for key, value in data.items():
        if isinstance(value, list):
            if not value:
                continue
            value = "\n".join(str(v) for v in value[:10]) + (f"\n… {len(value) - 10} more" if len(value) > 10 else "")
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)
