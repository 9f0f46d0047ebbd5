"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from pgxlit.cli_common import err, fail, guard, open_store, progress

FORMAT_HELP = "md (email, chat), html (self-contained page), atom (feed readers) or json (scripts)."


def parse_date(text: str) -> str:
    """YYYY-MM-DD or YYYYMMDD -> YYYYMMDD, as label effective times are stored."""
    digits = text.strip().replace("-", "")
    if not re.fullmatch(r"\d{8}", digits) or not (1 <= int(digits[4:6]) <= 12 and 1 <= int(digits[6:]) <= 31):
        raise ValueError(f"--since {text!r}: give a date as YYYY-MM-DD, e.g. 2022-01-01")
    return digits


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this stage's commands to `app` (and its measurements to `eval_app`)."""

    @app.command("digest")
    def digest(
        since: Annotated[str | None, typer.Option(help="Only label versions that took effect on or after this date (YYYY-MM-DD).")] = None,
        last_run: Annotated[bool, typer.Option("--last-run", help="Only what was stored since the previous --last-run digest (for cron: each change once).")] = False,
        drug: Annotated[list[str], typer.Option("--drug", help="Generic or brand name; repeat for more.")] = [],
        pgx_only: Annotated[bool, typer.Option("--pgx-only", help="Only pharmacogenomic changes.")] = False,
        fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "md",
        out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")] = None,
        same_set_only: Annotated[bool, typer.Option("--same-set-only", help="Do not follow a label into the set id that replaced it.")] = False,
    ) -> None:
        """What changed between FDA label versions, pharmacogenomic changes first."""
        from pgxlit.config import get_settings
        from pgxlit.digest.build import BuildReport, Selection, build_digest
        from pgxlit.digest.render import FORMATS, render
        from pgxlit.digest.source import last_run as read_last_run
        from pgxlit.digest.source import last_run_key, mark_run

        if fmt not in FORMATS:
            fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
        if since and last_run:
            fail("--since and --last-run exclude each other: pick one")
        with guard():
            since_day = parse_date(since) if since else None
            store = open_store(get_settings())
            state_key = last_run_key(tuple(drug), pgx_only)
            mark = read_last_run(store, state_key) if last_run else None
            if last_run and mark is None:
                err.print("first --last-run digest: every stored version pair is included")
            selection = Selection(since=since_day, after_row_id=(mark or {}).get("max_row_id"), drugs=tuple(drug),
                                  pgx_only=pgx_only, cross_set=not same_set_only)
            report = BuildReport()
            with progress("label versions", None, False) as advance:
                result = build_digest(store, selection, progress=advance, report=report)
            text = render(result, fmt)
            if out_file is not None:
                out_file.parent.mkdir(parents=True, exist_ok=True)
                out_file.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
            if last_run:
                mark_run(store, report.max_row_id, state_key)
        summary = result.to_json()["summary"]
        if drug and not result.pairs and not result.labels_with_one_version:
            err.print(f"no stored label matches {', '.join(drug)}: crawl it first (`pgxlit crawl labels --drug …`)")
        err.print(f"digest: {summary['label_pairs']} label updates, {summary['changes']} changes "
                  f"({summary['pgx_changes']} PGx), {summary['editorial_folded']} editorial edits folded"
                  + (f" -> {out_file}" if out_file else ""), highlight=False, soft_wrap=True)
        for line in result.errors:
            err.print(f"[bold red]error:[/] {line}", highlight=False)
        if result.errors:
            raise typer.Exit(1)

    @app.command("watch")
    def watch(
        every: Annotated[str, typer.Option(help="How often: 1d, 12h, 30m or seconds.")] = "1d",
        once: Annotated[bool, typer.Option("--once", help="One run, then exit (status 1 if it failed).")] = False,
        drug: Annotated[list[str], typer.Option("--drug", help="Labels to crawl; default: every label with PGx content.")] = [],
        history: Annotated[bool, typer.Option("--history/--no-history", help="Also fetch every DailyMed version of stored labels.")] = True,
        crawl: Annotated[bool, typer.Option("--crawl/--no-crawl", help="Skip the crawl (digest what others load).")] = True,
        pgx_only: Annotated[bool, typer.Option("--pgx-only", help="Only pharmacogenomic changes in the digest.")] = False,
        fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "md",
        out_file: Annotated[str | None, typer.Option("--out", help='Digest file per run; "{date}" and "{time}" are filled in. Default: digest-{date}.<format>')] = None,
    ) -> None:
        """Crawl -> extract -> index -> digest on a schedule, with one log line per run."""
        from pgxlit.config import get_settings
        from pgxlit.digest.render import FORMATS
        from pgxlit.digest.watch import WatchOptions, parse_every
        from pgxlit.digest.watch import watch as run_watch

        if fmt not in FORMATS:
            fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
        with guard():
            every_s = parse_every(every)
            settings = get_settings()
            store = open_store(settings)
            options = WatchOptions(drugs=tuple(drug), history=history, crawl=crawl, fmt=fmt,
                                   out=out_file or f"digest-{{date}}.{fmt}", pgx_only=pgx_only)
            code = run_watch(store, settings, options, every_s, once,
                             log=lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True))
        raise typer.Exit(code)
