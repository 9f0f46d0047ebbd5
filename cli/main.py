"""The `pgxlit` command line: the root app, the cross-cutting commands, and every stage's commands.

This is the one module that imports every stage: each stage keeps its commands beside its code
(`<stage>/cli.py`, with `register(app, eval_app)`) and is added here, in pipeline order.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Annotated, Any

import typer

from pgxlit import __version__
from pgxlit.check import cli as check_cli
from pgxlit.cli_common import JsonOpt, guard, open_store, out, print_report
from pgxlit.config import config_file_path, get_settings, settings_table
from pgxlit.digest import cli as digest_cli
from pgxlit.extract import cli as extract_cli
from pgxlit.index import cli as index_cli
from pgxlit.ingest import cli as ingest_cli
from pgxlit.qa import cli as qa_cli
from pgxlit.web import cli as web_cli
from pgxlit.web import review_cli

# Pipeline order; each stage module is light (its commands import their work when they run).
STAGES = (ingest_cli, extract_cli, index_cli, qa_cli, digest_cli, check_cli, web_cli, review_cli)

app = typer.Typer(
    help="pgxlit: pharmacogenomics from FDA labels and PubMed, with citations.",
    no_args_is_help=True,
    add_completion=False,
)
eval_app = typer.Typer(help="Measure quality against gold data.", no_args_is_help=True)


def stats(as_json: JsonOpt = False) -> None:
    """What the store holds."""
    settings = get_settings()
    with guard():
        print_report("pgxlit store", open_store(settings).stats(), as_json)


def doctor(
    offline: Annotated[bool, typer.Option("--offline", help="Skip the reachability checks.")] = False,
    list_settings: Annotated[bool, typer.Option("--settings", help="List every setting: its environment variable, "
                                                "TOML place, value in effect and what it does.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check configuration, store, API reachability and versions."""
    import httpx

    settings = get_settings()
    if list_settings:
        rows = settings_table(settings)
        if as_json:
            out.print_json(data=rows)
        else:
            for row in rows:
                out.print(f"{row['env']}  [{row['toml']}] = {row['value']}\n    {row['description']}",
                          markup=False, highlight=False)
        return
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
            "openfda": (settings.ingest.openfda_url.rstrip("/") + "/drug/label.json", {"limit": 1}),
            "dailymed": (settings.ingest.dailymed_url.rstrip("/") + "/spls.xml", {"page": 1}),
            "eutils": (settings.ingest.eutils_url.rstrip("/") + "/einfo.fcgi", {"db": "pubmed"}),
        }
        for name, (url, params) in probes.items():
            try:
                status = httpx.get(url, params=params, timeout=10).status_code
                checks[name] = f"{url} -> HTTP {status}"
                ok &= status < 500
            except httpx.HTTPError as exc:
                checks[name] = f"{url} -> unreachable ({type(exc).__name__})"
                ok = False
    checks["openfda_api_key"] = "set" if settings.ingest.openfda_api_key else "not set (1,000 requests/day)"
    checks["ncbi_api_key"] = "set" if settings.ingest.ncbi_api_key else "not set (3 requests/s)"
    checks["ncbi_email"] = settings.ingest.ncbi_email or "not set (NCBI asks for one)"
    print_report("pgxlit doctor", checks, as_json)
    if not ok:
        raise typer.Exit(1)


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
    from pgxlit.replay.server import serve_forever

    with guard():
        serve_forever(
            corpora, port, fail_rate=fail_rate, status_429_every=status_429_every,
            latency_ms=latency_ms, truncate_rate=truncate_rate, seed=seed,
        )


app.add_typer(eval_app, name="eval")


@app.callback()
def _read_settings_first() -> None:
    # A settings file or variable pgxlit cannot use stops every command with one line naming it.
    with guard():
        get_settings()


for _stage in STAGES:
    _stage.register(app, eval_app)
app.command("stats")(stats)
app.command("doctor")(doctor)
app.command("replay")(replay)
