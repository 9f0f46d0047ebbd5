"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pgxlit.cli_common import JsonOpt, err, fail, guard, out

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this stage's commands to `app` (and its measurements to `eval_app`)."""

    @app.command("check")
    def check_command(
        drug: Annotated[str, typer.Option("--drug", help="The ordered drug: generic, brand or salt name.")],
        profile: Annotated[list[Path], typer.Option("--profile", help="Patient profile JSON (see docs/check.md).")] = [],
        diplotype: Annotated[list[str], typer.Option("--diplotype", help='e.g. "CYP2C19 *2/*2" or "rs9923231 CT".')] = [],
        phenotype: Annotated[list[str], typer.Option("--phenotype", help='e.g. "CYP2D6 ultrarapid metabolizer".')] = [],
        hla: Annotated[list[str], typer.Option("--hla", help='e.g. "HLA-B*57:01 positive".')] = [],
        rebuild: Annotated[bool, typer.Option("--rebuild", help="Recompile the knowledge from the triples first.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Check an ordered drug against a patient's pharmacogenomic results: cited alerts, or none."""
        from pgxlit.check.profile import Profile, profile_from_args, read_profile_file
        from pgxlit.check.service import CheckService, UnknownDrug

        from pgxlit.config import get_settings

        if not (profile or diplotype or phenotype or hla):
            fail("give the patient's results: --profile FILE, --diplotype, --phenotype or --hla (repeatable)")
        with guard():
            service = CheckService(get_settings())
            patient = Profile(())
            for path in profile:
                patient = patient.merged(read_profile_file(path, service.table))
            patient = patient.merged(profile_from_args(diplotype, phenotype, hla, service.table))
            if rebuild:
                service.rebuild()
            try:
                result = service.run(drug, patient)
            except UnknownDrug as exc:
                fail(str(exc))
        if as_json:
            out.print_json(json.dumps(result.to_json(), ensure_ascii=False))
            return
        for message in result.messages:
            err.print(f"[yellow]profile:[/] {message}", highlight=False, markup=True)
        if not result.alerts:
            out.print(f"[bold green]No PGx alert[/] for {result.drug}. Genes considered: "
                      f"{', '.join(result.genes_considered) or 'none'}.")
        for alert in result.alerts:
            style = _SEVERITY_STYLE[alert["severity"]]
            out.print(f"\n[{style}]{alert['severity'].upper()}[/] [bold]{alert['summary']}[/]", highlight=False)
            out.print(f"  {alert['recommendation']}", markup=False, highlight=False)
            for c in alert["citations"][:4]:
                where = (f"FDA label {c['set_id']} v{c['version']}, {c['section_title']}" if c["source"] == "fda_label"
                         else f"PubMed {c['pmid']}")
                out.print(f"  [dim]{where}[/]", highlight=False)
        out.print("")
        for line in result.explanation:
            out.print(f"[dim]· {line}[/]", highlight=False)

    @app.command("serve")
    def serve_command(
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port.")] = 8000,
    ) -> None:
        """Serve the web app (Ask, Review, Digest, Check), the JSON API (/api, docs at /docs) and CDS Hooks."""
        import uvicorn

        from pgxlit.config import get_settings
        from pgxlit.server import create_app

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
            if not app.state.settings.web_token:
                err.print(f"curator token for this run: [bold]{app.state.web_token}[/] "
                          "(set PGXLIT_WEB_TOKEN to keep one)", highlight=False)
            uvicorn.run(app, host=host, port=port, log_level="info")

    @eval_app.command("check")
    def eval_check_command(
        path: Annotated[Path, typer.Option(help="PharmGKB drugLabels.tsv (../shared/gold/pharmgkb_drug_labels/drugLabels.tsv).")],
        as_json: JsonOpt = False,
    ) -> None:
        """Agreement of alerts with the FDA label biomarker list: hits, misses and false alarms."""
        from pgxlit.check.evaluate import evaluate_against_labels, report_table
        from pgxlit.check.service import CheckService

        from pgxlit.config import get_settings

        with guard():
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            result = evaluate_against_labels(CheckService(get_settings()), path)
        if as_json:
            out.print_json(json.dumps(result, default=str))
            return
        out.print(report_table(result))
