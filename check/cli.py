"""Commands of this stage, added to the main `pgxlit` app by `register`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pgxlit.cli_common import JsonOpt, err, fail, guard, out

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def outcome_lines(drug: str, outcomes: list[dict]) -> list[str]:
    """One line per gene that raised no alert, so "nothing stored" is never read as "safe": green
    only for a normal result, grey for not covered, plain for no interaction stated."""
    from rich.markup import escape

    lines = []
    for o in outcomes:
        gene, phenotype = escape(str(o["gene"])), escape(str(o.get("phenotype") or ""))
        if o["outcome"] == "normal":
            lines.append(f"[green]NORMAL[/] {gene} {phenotype}: standard use of {escape(drug)} applies")
        elif o["outcome"] == "no_interaction":
            lines.append(f"[bold]NO INTERACTION STATED[/] {gene} {phenotype}: the evidence on {escape(drug)} "
                         f"and {gene} states no change for this result")
        elif o["outcome"] == "not_covered":
            lines.append(f"[dim]NOT COVERED[/] {gene}: nothing stored links {gene} to {escape(drug)} "
                         "(no evidence of safety either)")
    if not outcomes:
        lines.append(f"[dim]NOT COVERED[/] no result given could be checked against {escape(drug)}")
    return lines


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this stage's commands to `app` (and its measurements to `eval_app`)."""

    @app.command("check")
    def check_command(
        drug: Annotated[str, typer.Option("--drug", help="The ordered drug: generic, brand or salt name.")],
        profile: Annotated[list[Path], typer.Option("--profile", help="Patient profile JSON (see docs/check.md).")] = [],
        diplotype: Annotated[list[str], typer.Option("--diplotype", help='e.g. "CYP2C19 *2/*2", "rs9923231 CT" or "VKORC1 -1639 AA" (either strand where unambiguous); repeat it for each gene.')] = [],
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
        from rich.markup import escape

        for line in outcome_lines(result.drug, result.outcomes):
            out.print(line, highlight=False)

        for unread in patient.unread:  # never let "no alert" stand for a result that was not read
            out.print(f"[bold yellow]NOT CHECKED[/] {escape(unread.message)}", highlight=False)
        for call in (c for c in patient.calls if c.phenotype == "Indeterminate"):
            why = "; ".join(call.notes) or call.derivation
            out.print(f"[bold yellow]NOT CHECKED[/] {escape(f'{call.gene} {call.diplotype or call.entry} is Indeterminate ({why}); no PGx check was done for this gene')}",
                      highlight=False)
        for alert in result.alerts:
            style = _SEVERITY_STYLE[alert["severity"]]
            out.print(f"\n[{style}]{alert['severity'].upper()}[/] [bold]{alert['summary']}[/]", highlight=False)
            out.print(f"  {alert['recommendation']}", markup=False, highlight=False)
            places = [f"FDA label {c['set_id']} v{c['version']}, {c['section_title']}" if c["source"] == "fda_label"
                      else f"PubMed {c['pmid']}" for c in alert["citations"]]
            counted = {p: places.count(p) for p in dict.fromkeys(places)}  # each place once, with its sentence count
            for where, n in list(counted.items())[:4]:
                out.print(f"  [dim]{where}" + (f" ({n} sentences)" if n > 1 else "") + "[/]", highlight=False)
            if len(counted) > 4:
                out.print(f"  [dim]and {len(counted) - 4} more (--json lists every citation)[/]", highlight=False)
        out.print("")
        for line in result.explanation:
            out.print(f"[dim]· {line}[/]", highlight=False)

    @app.command("genotype")
    def genotype_command(
        gene: Annotated[str, typer.Argument(help="HGNC symbol, e.g. CYP2D6, DPYD, G6PD, HLA-B.")],
        diplotype: Annotated[str, typer.Argument(help='As the lab reports it: "*4/*41x2", "c.1905+1G>A/Reference", '
                                                      '"m.1555A>G", "*57:01 positive".')],
        as_json: JsonOpt = False,
    ) -> None:
        """CPIC's phenotype for one gene's result: activity score, each allele's function, the CPIC table rows."""
        from pgxlit.check.genotype import GenotypeError, load_table

        try:
            reading = load_table().read(gene, diplotype)
        except GenotypeError as exc:
            fail(str(exc), code=2)
        if as_json:
            out.print_json(json.dumps(reading.to_json(), ensure_ascii=False))
            return
        from rich.markup import escape

        out.print(f"[bold]{escape(reading.gene)} {escape(reading.diplotype)}[/]: {escape(reading.phenotype)}",
                  highlight=False)
        if reading.activity_score is not None:
            out.print(f"  activity score {reading.activity_score}", highlight=False)
        for allele in reading.alleles:
            value = f", activity value {allele.activity_value}" if allele.activity_value is not None else ""
            function = "present" if reading.gene.startswith("HLA-") else allele.function or "no CPIC function"
            out.print(f"  {escape(allele.name)}: {function}{value}"
                      f"{f'  [dim]({allele.row})[/]' if allele.row else ''}", highlight=False)
        for row in (r for r in reading.rows if r.startswith("gene_result_lookup")):
            out.print(f"  [dim]lookup: {row}[/]", highlight=False)
        for message in reading.messages:
            err.print(f"[yellow]note:[/] {escape(message)}", highlight=False)

    @eval_app.command("check")
    def eval_check_command(
        path: Annotated[Path, typer.Option(help="PharmGKB drugLabels.tsv (../shared/gold/pharmgkb_drug_labels/drugLabels.tsv).")],
        as_json: JsonOpt = False,
    ) -> None:
        """Agreement of alerts and drug summaries with the FDA label biomarker list: hits, misses, false
        alarms; each summary's genes (precision, recall, F1) and testing levels (agreement, confusion)."""
        from pgxlit.check.evaluate import evaluate_against_labels, report_table, summary_table
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
        out.print(summary_table(result["drug_summaries"]))
