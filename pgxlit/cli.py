"""The `pgxlit` command line. Thin: it parses options, calls a stage, prints."""

from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pgxlit import __version__
from pgxlit.cli_common import (
    EngineOpt,
    JsonOpt,
    WorkersOpt,
    err,
    fail,
    guard,
    open_store,
    out,
    print_report,
    progress,
)
from pgxlit.config import config_file_path, get_settings

app = typer.Typer(
    help="pgxlit: pharmacogenomics from FDA labels and PubMed, with citations.",
    no_args_is_help=True,
    add_completion=False,
)
crawl_app = typer.Typer(help="Fetch from the public APIs into the store (incremental, resumable).", no_args_is_help=True)
app.add_typer(crawl_app, name="crawl")
eval_app = typer.Typer(help="Measure quality against gold data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

# ---- crawl ---------------------------------------------------------------
@crawl_app.command("labels")
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


@crawl_app.command("history")
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


@crawl_app.command("pubmed")
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


# ---- load, stats, doctor -------------------------------------------------
@app.command("load")
def load(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: openFDA JSON, SPL XML/zip, DailyMed history JSON, PubMed XML (.gz too).")],
    workers: Annotated[int | None, typer.Option(help="Processes that parse PubMed XML ahead of the writer (default: PGXLIT_LOAD_WORKERS).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load files into the store without the network; unknown files are skipped and counted."""
    from pgxlit.ingest.load import Loader

    settings = get_settings()
    if workers:
        settings = settings.model_copy(update={"load_workers": workers})
    with guard():
        store = open_store(settings)
        with progress("files", None, as_json) as advance:
            report = Loader(store, settings).load(paths, progress=lambda _p: advance(1, None))
        print_report("load", report.as_dict(), as_json)
        if report.files_failed:
            raise typer.Exit(1)


@app.command("stats")
def stats(as_json: JsonOpt = False) -> None:
    """What the store holds."""
    settings = get_settings()
    with guard():
        print_report("pgxlit store", open_store(settings).stats(), as_json)


@app.command("labels")
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


# ---- extraction ------------------------------------------------------------
@app.command("extract")
def extract(
    redo_all: Annotated[bool, typer.Option("--all", help="Re-extract every document, not only new or changed ones.")] = False,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    pgx_prefilter: Annotated[bool | None, typer.Option("--pgx-prefilter/--no-pgx-prefilter", help="Only abstracts naming a drug and a gene, variant or metabolizer status (or with a PGx MeSH heading) reach the models (default: PGXLIT_EXTRACT_PGX_PREFILTER).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Extract drug–gene–effect triples with evidence from every stored label and abstract."""
    from pgxlit.engine import get_engine, run_extraction_on
    from pgxlit.extract.run import run_extraction

    settings = get_settings()
    with guard():
        store = open_store(settings)
        runner = get_engine(engine or settings.engine, workers, settings)
        try:
            with progress("documents", store.count_documents(), as_json) as advance:
                prefilter = settings.extract_pgx_prefilter if pgx_prefilter is None else pgx_prefilter
                if runner.name == "local" and runner.workers == 1 and not prefilter:
                    report = run_extraction(store, force=redo_all, progress=lambda step, _t: advance(step))
                else:
                    report = run_extraction_on(runner, store, force=redo_all, shard_size=settings.engine_shard_size,
                                               prefilter=prefilter, progress=lambda step, _t: advance(step))
        finally:
            runner.close()
        print_report("extraction", report, as_json)


TRIPLE_COLUMNS = (
    "drug", "drug_id", "gene", "gene_id", "variant", "relation", "effect", "negated", "hedged", "confidence",
    "pgx", "source", "set_id", "version", "section", "pmid", "sentence",
)


@app.command("triples")
def triples(
    drug: Annotated[str | None, typer.Option(help="Drug name (any form the lexicon knows: brand, salt, generic).")] = None,
    gene: Annotated[str | None, typer.Option(help="HGNC symbol, e.g. CYP2C19.")] = None,
    source: Annotated[str | None, typer.Option(help="fda_label or pubmed.")] = None,
    pgx: Annotated[bool, typer.Option("--pgx", help="Only pharmacogenomic triples (a variant, allele or phenotype changes the effect).")] = False,
    min_confidence: Annotated[float, typer.Option(help="Drop triples below this confidence.")] = 0.0,
    limit: Annotated[int | None, typer.Option(help="At most this many, most confident first.")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Include triples from superseded label versions.")] = False,
    as_json: JsonOpt = False,
    as_tsv: Annotated[bool, typer.Option("--tsv", help="Tab-separated, one triple a line.")] = False,
) -> None:
    """List extracted triples with their evidence."""
    from pgxlit.extract.lexicons import normalise_drug

    if source and source not in ("fda_label", "pubmed"):
        fail("--source is fda_label or pubmed")
    settings = get_settings()
    with guard():
        name = drug
        if drug:
            found = normalise_drug(drug)
            name = found[1] if found else drug
        rows = open_store(settings).triples(
            drug=name, gene=gene, source=source, pgx=True if pgx else None, min_confidence=min_confidence, limit=limit,
            latest_only=not all_versions,
        )
    if drug and not rows:
        err.print(f"no triples for {drug!r}" + ("" if name != drug or not drug else " (a drug pgxlit does not know)"))
    if as_json:
        out.print_json(json.dumps([t.to_json() for t in rows]))
        return
    if as_tsv:
        sys.stdout.write("\t".join(TRIPLE_COLUMNS) + "\n")
        for t in rows:
            d = t.to_json()
            flat = {**d, **d["evidence"]}
            sys.stdout.write("\t".join("" if flat[c] is None else str(flat[c]).replace("\t", " ") for c in TRIPLE_COLUMNS) + "\n")
        return
    out.print(f"[bold]{len(rows)} triple{'s' if len(rows) != 1 else ''}[/]")
    for t in rows:
        e = t.evidence
        where = (f"FDA label {e.set_id} v{e.version}, {e.section}" if e.source == "fda_label"
                 else f"PubMed {e.pmid}" + (f" ({e.year})" if e.year else ""))
        flags = (" [red]negated[/]" if t.negated else "") + (" [yellow]hedged[/]" if t.hedged else "")
        factor = " ".join(x for x in (t.gene, t.variant) if x)
        out.print(f"\n[bold]{t.drug}[/] — [bold]{factor}[/]  {t.relation} · {t.effect} · {t.confidence:.2f}{flags}"
                  + ("" if t.pgx else " [dim](not PGx)[/]"))
        out.print(f"  “{e.sentence}”", highlight=False, markup=False)
        out.print(f"  [dim]{where}[/]")


@app.command("annotate")
def annotate(
    path: Annotated[str, typer.Argument(help='JSON lines {"id", "text"}; "-" reads standard input.')] = "-",
    scheme: Annotated[str, typer.Option(help="pgxlit or pgxcorpus entity labels.")] = "pgxlit",
) -> None:
    """Annotate texts: entities (with normalised ids) and relations, as JSON lines."""
    from pgxlit.extract.annotate import annotate_lines

    if scheme not in ("pgxlit", "pgxcorpus"):
        fail("--scheme is pgxlit or pgxcorpus")
    stream = sys.stdin if path == "-" else None
    with guard():
        if stream is None:
            if not Path(path).is_file():
                raise FileNotFoundError(f"{path}: no such file")
            stream = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            for line in annotate_lines(stream, scheme):
                sys.stdout.write(line + "\n")
        finally:
            if stream is not sys.stdin:
                stream.close()


@eval_app.command("extraction")
def eval_extraction(
    gold: Annotated[str, typer.Option(help="pgxcorpus, biored or pgxmine.")],
    path: Annotated[Path, typer.Option(help="Folder (or file) of the gold corpus, e.g. ../shared/gold/pgxcorpus.")],
    fold: Annotated[str, typer.Option(help="test (report), train (development) or all.")] = "test",
    as_json: JsonOpt = False,
) -> None:
    """Precision, recall and F1 of extraction against gold data, with a check against expected figures."""
    from pgxlit.extract.benchmarks import EXPECTED_DIR, evaluate
    from pgxlit.extract.evaluate import compare_to_expected

    if fold not in ("test", "train", "all"):
        fail("--fold is test, train or all")
    with guard():
        result, table = evaluate(gold, path, fold)
    expected = EXPECTED_DIR / f"{gold}.{fold}.json"
    drift = compare_to_expected(result, expected) if expected.exists() else []
    if as_json:
        out.print_json(json.dumps({**result, "drift": drift}, default=str))
    else:
        out.print(table, markup=False, highlight=False)
        for line in drift:
            err.print(f"[yellow]drift:[/] {line}")
    if drift:
        raise typer.Exit(3)


@eval_app.command("labels")
def eval_labels(
    path: Annotated[Path, typer.Option(help="PharmGKB drugLabels.tsv (../shared/gold/pharmgkb_drug_labels/drugLabels.tsv).")],
    as_json: JsonOpt = False,
) -> None:
    """Are each stored label's PGx biomarkers found as drug–gene pairs? (latest openFDA version of each label)

    Raw figures score against PharmGKB's 2016 list as it is; the adjudicated row also counts the
    extra pairs judged right by reading the current labels (extract/expected/labels_adjudication.yaml).
    """
    from pgxlit.extract.label_eval import evaluate_labels, read_adjudication, read_fda_label_gold

    settings = get_settings()
    with guard():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        scores = evaluate_labels(open_store(settings).label_versions(), read_fda_label_gold(path))
        verdicts = read_adjudication()
    judged = {t: s.adjudicated(verdicts) for t, s in scores.items()}
    if as_json:
        data = {str(t): s.as_dict() | {"adjudicated": judged[t].as_dict()} for t, s in scores.items()}
        out.print_json(json.dumps(data))
        return
    table = Table(title="label drug–gene pairs vs PharmGKB FDA label list (DEV part, 2016)")
    for column in ("min confidence", "scored", "drugs judged", "tp", "fp", "fn", "precision", "recall"):
        table.add_column(column, justify="right")
    for t, s in scores.items():
        for name, row in (("raw", s), ("adjudicated", judged[t])):
            table.add_row(f"{t:.1f}", name, str(row.drugs), str(row.tp), str(row.fp), str(row.fn),
                          f"{row.precision:.3f}", f"{row.recall:.3f}")
    out.print(table)
    first = scores[min(scores)]
    out.print("missed: " + ", ".join(first.misses), highlight=False)
    out.print("not in the list: " + ", ".join(first.extras), highlight=False)
    unjudged = [e for e in first.extras if e not in verdicts]
    if unjudged:
        out.print("not adjudicated yet (counted wrong): " + ", ".join(unjudged), highlight=False)


@app.command("doctor")
def doctor(
    offline: Annotated[bool, typer.Option("--offline", help="Skip the reachability checks.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check configuration, store, API reachability and versions."""
    import httpx

    settings = get_settings()
    checks: dict[str, Any] = {
        "pgxlit": __version__,
        "python": platform.python_version(),
        "config_file": f"{config_file_path()} ({'found' if config_file_path().exists() else 'not present'})",
        "home": str(settings.home),
        "db_url": settings.resolved_db_url,
    }
    ok = True
    try:
        checks["store"] = open_store(settings).stats()
    except Exception as exc:  # a doctor reports every failure rather than stopping
        checks["store"] = f"FAILED: {exc}"
        ok = False
    if not offline:
        probes = {
            "openfda": (settings.openfda_url.rstrip("/") + "/drug/label.json", {"limit": 1}),
            "dailymed": (settings.dailymed_url.rstrip("/") + "/spls.xml", {"page": 1}),
            "eutils": (settings.eutils_url.rstrip("/") + "/einfo.fcgi", {"db": "pubmed"}),
        }
        for name, (url, params) in probes.items():
            try:
                status = httpx.get(url, params=params, timeout=10).status_code
                checks[name] = f"{url} -> HTTP {status}"
                ok &= status < 500
            except httpx.HTTPError as exc:
                checks[name] = f"{url} -> unreachable ({type(exc).__name__})"
                ok = False
    checks["openfda_api_key"] = "set" if settings.openfda_api_key else "not set (1,000 requests/day)"
    checks["ncbi_api_key"] = "set" if settings.ncbi_api_key else "not set (3 requests/s)"
    checks["ncbi_email"] = settings.ncbi_email or "not set (NCBI asks for one)"
    print_report("pgxlit doctor", checks, as_json)
    if not ok:
        raise typer.Exit(1)


# ---- replay and snapshot ---------------------------------------------------
@app.command("replay")
def replay(
    corpora: Annotated[Path, typer.Option(help="Folder of recorded responses (../shared/corpora).")] = Path("../shared/corpora"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
    fail_rate: Annotated[float, typer.Option(help="Fraction of requests answered 500/503.")] = 0.0,
    status_429_every: Annotated[int, typer.Option(help="Every Nth request gets 429 with Retry-After.")] = 0,
    latency_ms: Annotated[int, typer.Option(help="Delay before each answer.")] = 0,
    truncate_rate: Annotated[float, typer.Option(help="Fraction of bodies cut short.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for the injected faults.")] = 0,
) -> None:
    """Serve recorded real API responses on 127.0.0.1 for offline crawls and tests."""
    from pgxlit.ingest.replay import serve_forever

    with guard():
        serve_forever(
            corpora, port, fail_rate=fail_rate, status_429_every=status_429_every,
            latency_ms=latency_ms, truncate_rate=truncate_rate, seed=seed,
        )


@app.command("snapshot")
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


# Later stages keep their commands beside their code; each adds them to the app here.
for _stage in ("pgxlit.index.cli", "pgxlit.qa.cli", "pgxlit.digest.cli", "pgxlit.check.cli", "pgxlit.web.cli"):
    importlib.import_module(_stage).register(app, eval_app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
