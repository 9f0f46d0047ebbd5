"""`pgxlit crawl …`, `load`, `labels` and `snapshot`: the ingest stage's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pgxlit.cli_common import JsonOpt, fail, guard, open_store, out, print_report, progress
from pgxlit.config import get_settings


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the crawl group, `load`, `labels` and `snapshot` to `app`."""
    crawl_app = typer.Typer(help="Fetch from the public APIs into the store (incremental, resumable).",
                            no_args_is_help=True)
    crawl_app.command("labels")(crawl_labels)
    crawl_app.command("history")(crawl_history)
    crawl_app.command("pubmed")(crawl_pubmed)
    app.add_typer(crawl_app, name="crawl")
    app.command("load")(load)
    app.command("labels")(labels)
    app.command("snapshot")(snapshot)


def crawl_labels(
    drug: Annotated[list[str], typer.Option("--drug", help="Generic or brand name; repeat for more.")] = [],
    application_number: Annotated[list[str], typer.Option("--application-number", help="e.g. NDA020896")] = [],
    set_id: Annotated[list[str], typer.Option("--set-id", help="SPL set id")] = [],
    pgx: Annotated[bool, typer.Option("--pgx", help="All labels with pharmacogenomic content.")] = False,
    every_label: Annotated[bool, typer.Option("--all", help="Every label the API has (large: use an API key).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch FDA labels from the openFDA drug-label API."""
    from pgxlit.ingest.crawl_openfda import OpenFdaCrawler, build_label_query
    from pgxlit.ingest.http import HttpFetcher

    settings = get_settings()
    with guard():
        search = build_label_query(drug, application_number, set_id, pgx, every_label)
        store = open_store(settings)
        with HttpFetcher(settings) as fetcher, progress("openFDA labels", None, as_json) as advance:
            report = OpenFdaCrawler(store, fetcher, settings).crawl(search, progress=advance)
        print_report("openFDA crawl", report.as_dict(), as_json)


def crawl_history(
    set_id: Annotated[list[str], typer.Option("--set-id", help="SPL set id; default: every set in the store.")] = [],
    as_json: JsonOpt = False,
) -> None:
    """Fetch every published version of labels from DailyMed (history, then SPL XML)."""
    from pgxlit.ingest.crawl_dailymed import DailyMedCrawler
    from pgxlit.ingest.http import HttpFetcher

    settings = get_settings()
    with guard():
        store = open_store(settings)
        ids = set_id or sorted({lv.set_id for lv in store.label_versions()})
        if not ids:
            fail("no set ids given and none in the store: run `pgxlit crawl labels` first or pass --set-id")
        with HttpFetcher(settings) as fetcher, progress("DailyMed versions", None, as_json) as advance:
            report = DailyMedCrawler(store, fetcher, settings).crawl(ids, progress=advance)
        print_report("DailyMed history crawl", report.as_dict(), as_json)


def crawl_pubmed(
    query: Annotated[str, typer.Option("--query", "-q", help='PubMed query, e.g. "CYP2C19 AND clopidogrel"')],
    max_records: Annotated[int | None, typer.Option("--max", help="Stop after this many records.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch PubMed abstracts through NCBI E-utilities (esearch + efetch)."""
    from pgxlit.ingest.crawl_pubmed import PubMedCrawler
    from pgxlit.ingest.http import HttpFetcher

    settings = get_settings()
    with guard():
        store = open_store(settings)
        with HttpFetcher(settings) as fetcher, progress("PubMed records", max_records, as_json) as advance:
            report = PubMedCrawler(store, fetcher, settings).crawl(query, max_records, progress=advance)
        print_report("PubMed crawl", report.as_dict(), as_json)


def load(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: openFDA JSON, SPL XML/zip, DailyMed history JSON, PubMed XML (.gz too).")],
    workers: Annotated[int | None, typer.Option(help="Processes that parse PubMed XML ahead of the writer (default: PGXLIT_LOAD_WORKERS).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load files into the store without the network; unknown files are skipped and counted.

    A damaged file is named with the reason and nothing of it is stored; the other files still
    load, and the exit code is 1 when any file failed or nothing loadable was found."""
    from rich.markup import escape

    from pgxlit.cli_common import err
    from pgxlit.ingest.load import Loader

    settings = get_settings()
    if workers:
        settings = settings.replace(load_workers=workers)
    with guard():
        store = open_store(settings)
        with progress("files", None, as_json) as advance:
            report = Loader(store, settings).load(paths, progress=lambda _p: advance(1, None))
        data = report.as_dict()
        if as_json:
            print_report("load", data, True)
        else:
            print_report("load", {k: v for k, v in data.items() if k not in ("errors", "failures", "note")}, False)
            for failure in report.failures:
                err.print(f"[bold red]failed:[/] {escape(failure['file'])}: {escape(failure['reason'])}")
            if report.note:
                err.print(f"[bold red]error:[/] {escape(report.note)}")
        if report.files_failed or report.note:
            raise typer.Exit(1)


def labels(
    drug: Annotated[str | None, typer.Option(help="Only labels whose generic or brand name contains this.")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Every stored version, not only the latest.")] = False,
    pgx: Annotated[bool, typer.Option("--pgx", help="Only labels with pharmacogenomic text.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List stored FDA labels: set id, version, date, and which sections carry PGx text."""
    from pgxlit.ingest.pgx_terms import pgx_fields

    settings = get_settings()
    with guard():
        versions = open_store(settings).label_versions()
    latest: dict[str, Any] = {}
    for lv in versions:
        if all_versions or lv.version >= getattr(latest.get(lv.set_id), "version", -1):
            latest[lv.set_id if not all_versions else f"{lv.set_id}:{lv.version}"] = lv
    rows = []
    for lv in latest.values():
        names = [*lv.generic_names, *lv.brand_names]
        if drug and not any(drug.lower() in n.lower() for n in names):
            continue
        fields = pgx_fields(lv)
        if pgx and not fields:
            continue
        rows.append({
            "drug": (lv.generic_names or lv.brand_names or (lv.title or "?",))[0],
            "set_id": lv.set_id, "version": lv.version, "effective_time": lv.effective_time,
            "sections": len(lv.sections), "pgx_sections": fields,
        })
    rows.sort(key=lambda r: (r["drug"].lower(), r["set_id"], r["version"]))
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} label{'s' if len(rows) != 1 else ''}", expand=True)
    table.add_column("drug", ratio=2)
    table.add_column("set id", no_wrap=True)
    table.add_column("v", justify="right")
    table.add_column("effective", no_wrap=True)
    table.add_column("PGx text in", ratio=4)
    for r in rows:
        table.add_row(r["drug"].title(), r["set_id"][:8], str(r["version"]), r["effective_time"] or "",
                      ", ".join(f.replace("_", " ") for f in r["pgx_sections"]))
    out.print(table)


def snapshot(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the snapshot into.")] = Path("corpora/snapshot"),
    as_json: JsonOpt = False,
) -> None:
    """Write the raw responses in the store as gzipped files plus a manifest (the demo bundle)."""
    from pgxlit.ingest.snapshot import write_snapshot

    settings = get_settings()
    with guard():
        report = write_snapshot(open_store(settings), out_dir)
        print_report("snapshot", report, as_json)
