"""`pgxlit watch`: crawl -> extract -> index -> digest on a schedule, one log line per run.

A plain loop (no scheduler daemon): each run does every step, writes the digest of what is new
since the previous run (the `--last-run` mark), logs one line, then sleeps until the next run.
A failed run is logged and the loop goes on; `--once` runs once and exits with its status.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pgxlit.config import Settings
from pgxlit.store import Store

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_every(text: str) -> float:
    """"1d", "12h", "30m", "90s" or plain seconds -> seconds."""
    m = _DURATION.match(text.lower())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"--every {text!r}: use a positive duration such as 1d, 12h, 30m or 3600")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


@dataclass(frozen=True, slots=True)
class WatchOptions:
    drugs: tuple[str, ...] = ()
    history: bool = True  # also fetch every DailyMed version of the stored labels
    crawl: bool = True
    fmt: str = "md"
    out: str = "digest-{date}.md"  # "{date}" and "{time}" are filled in per run
    pgx_only: bool = False


@dataclass
class RunResult:
    ok: bool
    line: str
    details: dict[str, Any] = field(default_factory=dict)


def crawl_step(store: Store, settings: Settings, options: WatchOptions) -> dict[str, Any]:
    """New label versions from openFDA (the --drug list, else every PGx label), then DailyMed histories."""
    from pgxlit.ingest.crawl_dailymed import DailyMedCrawler
    from pgxlit.ingest.crawl_openfda import OpenFdaCrawler, build_label_query
    from pgxlit.ingest.http import HttpFetcher

    search = build_label_query(list(options.drugs), [], [], not options.drugs, False)
    with HttpFetcher(settings) as fetcher:
        labels = OpenFdaCrawler(store, fetcher, settings).crawl(search).as_dict()
        history: dict[str, Any] = {}
        if options.history:
            ids = sorted({m.set_id for m in _stored_sets(store)})
            if ids:
                history = DailyMedCrawler(store, fetcher, settings).crawl(ids).as_dict()
    return {"labels": labels, "history": history}


def _stored_sets(store: Store):
    from pgxlit.digest.source import version_index

    return version_index(store)


def extract_step(store: Store, settings: Settings, options: WatchOptions) -> dict[str, Any]:
    from pgxlit.extract.run import run_extraction

    return run_extraction(store)


def index_step(store: Store, settings: Settings, options: WatchOptions) -> dict[str, Any] | None:
    """The incremental index update: new label versions become searchable, superseded ones are flagged."""
    from pgxlit.index.build import update_index

    return update_index(store, settings)


def output_path(template: str, now: datetime) -> Path:
    return Path(template.format(date=now.strftime("%Y-%m-%d"), time=now.strftime("%H%M%S")))


def digest_step(store: Store, settings: Settings, options: WatchOptions, now: datetime) -> dict[str, Any]:
    """The digest of everything stored since the last run, written to the run's file; then the mark moves."""
    from pgxlit.digest.build import BuildReport, Selection, build_digest
    from pgxlit.digest.render import render
    from pgxlit.digest.source import last_run, last_run_key, mark_run

    key = last_run_key((), options.pgx_only)
    mark = last_run(store, key)
    report = BuildReport()
    selection = Selection(after_row_id=(mark or {}).get("max_row_id"), pgx_only=options.pgx_only)
    digest = build_digest(store, selection, report=report)
    path = output_path(options.out, now)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(digest, options.fmt), encoding="utf-8")
    mark_run(store, report.max_row_id, key)
    summary = digest.to_json()["summary"]
    return {"path": str(path), **summary, "errors_list": list(digest.errors)}


Step = Callable[[Store, Settings, WatchOptions], Any]


def run_once(store: Store, settings: Settings, options: WatchOptions, run_number: int = 1,
             crawl: Step = crawl_step, extract: Step = extract_step, index: Step = index_step) -> RunResult:
    """One scheduled run; never raises, so the loop survives a failed crawl or a full disk."""
    start = time.perf_counter()
    now = datetime.now(UTC)
    details: dict[str, Any] = {}
    step = "crawl"
    try:
        if options.crawl:
            details["crawl"] = crawl(store, settings, options)
        step = "extract"
        details["extract"] = extract(store, settings, options)
        step = "index"
        details["index"] = index(store, settings, options)
        step = "digest"
        details["digest"] = digest_step(store, settings, options, now)
    except Exception as exc:  # a run that fails is reported in its log line; the next run retries
        took = time.perf_counter() - start
        return RunResult(False, f"watch run {run_number} FAILED at {step} after {took:.1f} s: "
                                f"{type(exc).__name__}: {exc}", details)
    took = time.perf_counter() - start
    crawl_part = "crawl skipped"
    if "crawl" in details:
        added = details["crawl"]["labels"].get("label_versions_added", 0) + \
            details["crawl"].get("history", {}).get("label_versions_added", 0)
        crawl_part = f"crawl +{added} label versions"
    ex = details["extract"] or {}
    d = details["digest"]
    ix = details["index"]
    index_part = ("index: not available" if ix is None
                  else f"indexed {ix.get('documents_indexed', 0)} documents (+{ix.get('passages_added', 0)} passages)")
    line = (f"watch run {run_number} ok in {took:.1f} s: {crawl_part}; extracted {ex.get('extracted', 0)} documents; "
            f"{index_part}; digest {d['label_pairs']} label updates, {d['changes']} changes "
            f"({d['pgx_changes']} PGx) -> {d['path']}" + (f"; {d['errors']} unreadable versions" if d["errors"] else ""))
    return RunResult(True, line, details)


def watch(store: Store, settings: Settings, options: WatchOptions, every_s: float, once: bool,
          log: Callable[[str], None], sleep: Callable[[float], None] = time.sleep) -> int:
    """Run now, then every `every_s` seconds (measured from each run's start) until interrupted."""
    run_number = 0
    while True:
        run_number += 1
        started = time.monotonic()
        result = run_once(store, settings, options, run_number)
        log(result.line)
        if once:
            return 0 if result.ok else 1
        wait = max(0.0, every_s - (time.monotonic() - started))
        log(f"next run at {(datetime.now(UTC) + timedelta(seconds=wait)).replace(microsecond=0).isoformat()}")
        sleep(wait)
