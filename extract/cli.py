"""`pgxlit extract`, `triples`, `annotate`, `eval extraction` and `eval labels`: the extraction stage's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pgxlit.cli_common import EngineOpt, JsonOpt, WorkersOpt, err, fail, guard, open_store, out, print_report, progress
from pgxlit.config import get_settings


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add extraction and its measurements to `app` and `eval_app`."""
    app.command("extract")(extract)
    app.command("triples")(triples)
    app.command("annotate")(annotate)
    eval_app.command("extraction")(eval_extraction)
    eval_app.command("labels")(eval_labels)


def extract(
    redo_all: Annotated[bool, typer.Option("--all", help="Re-extract every document, not only new or changed ones.")] = False,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    pgx_prefilter: Annotated[bool | None, typer.Option("--pgx-prefilter/--no-pgx-prefilter", help="Only abstracts naming a drug and a gene, variant or metabolizer status (or with a PGx MeSH heading) reach the models (default: PGXLIT_EXTRACT_PGX_PREFILTER).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Extract drug–gene–effect triples with evidence from every stored label and abstract."""
    from pgxlit.engine import get_engine
    from pgxlit.extract.pipeline import handover_folder
    from pgxlit.extract.run import run_extraction
    from pgxlit.extract.shards import run_extraction_on

    settings = get_settings()
    with guard():
        store = open_store(settings)
        runner = get_engine(engine or settings.engine.kind, workers, settings)
        try:
            with progress("documents", store.count_documents(), as_json) as advance:
                prefilter = settings.extract.pgx_prefilter if pgx_prefilter is None else pgx_prefilter
                # `pgxlit index` cuts passages from the label sections extraction annotates: it reads them here
                handover = handover_folder(settings.home) if runner.name == "local" else None
                if runner.name == "local" and runner.workers == 1 and not prefilter:
                    report = run_extraction(store, force=redo_all, progress=lambda step, _t: advance(step),
                                            handover=handover)
                else:
                    report = run_extraction_on(runner, store, force=redo_all, shard_size=settings.engine.shard_size,
                                               prefilter=prefilter, progress=lambda step, _t: advance(step),
                                               handover=handover)
        finally:
            runner.close()
        print_report("extraction", report, as_json)


TRIPLE_COLUMNS = (
    "drug", "drug_id", "gene", "gene_id", "variant", "relation", "effect", "negated", "hedged", "confidence",
    "pgx", "origin", "source", "set_id", "version", "section", "pmid", "sentence",
)


def triples(
    drug: Annotated[str | None, typer.Option(help="Drug name (any form the lexicon knows: brand, salt, generic).")] = None,
    gene: Annotated[str | None, typer.Option(help="HGNC symbol, e.g. CYP2C19.")] = None,
    source: Annotated[str | None, typer.Option(help="fda_label or pubmed.")] = None,
    pgx: Annotated[bool, typer.Option("--pgx", help="Only germline pharmacogenomic triples (an inherited variant, allele or phenotype changes the effect).")] = False,
    biomarker: Annotated[bool, typer.Option("--biomarker", help="Only tumour (somatic) biomarker triples, e.g. HER2-positive cancer.")] = False,
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
    if pgx and biomarker:
        fail("--pgx (germline) and --biomarker (tumour) select different triples: give one")
    settings = get_settings()
    with guard():
        name = drug
        if drug:
            found = normalise_drug(drug)
            name = found[1] if found else drug
        rows = open_store(settings).triples(
            drug=name, gene=gene, source=source, pgx=True if pgx else (False if biomarker else None),
            min_confidence=min_confidence, limit=None if biomarker else limit, latest_only=not all_versions,
        )
        if biomarker:
            from pgxlit.extract.triples import biomarker_triples

            rows = biomarker_triples(rows)[:limit]
    if drug and not rows:
        err.print(f"no triples for {drug!r}" + ("" if name != drug or not drug else " (a drug pgxlit does not know)"))
    from pgxlit.extract.quote import tidy

    if as_json:  # evidence.sentence is the stored sentence (offsets point into it); evidence.quote is what is printed
        out.print_json(json.dumps([triple_json(t.to_json()) for t in rows]))
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
        out.print(f"  “{tidy(e.sentence)}”", highlight=False, markup=False)  # the quote answers show
        out.print(f"  [dim]{where}[/]")


def triple_json(triple: dict) -> dict:
    """A triple's JSON with the evidence as quoted (`evidence.quote`) beside the stored sentence."""
    from pgxlit.extract.quote import tidy

    return {**triple, "evidence": {**triple["evidence"], "quote": tidy(triple["evidence"]["sentence"])}}


def annotate(
    path: Annotated[str, typer.Argument(help='JSON lines {"id", "text"}; "-" reads standard input.')] = "-",
    scheme: Annotated[str, typer.Option(help="pgxlit, pgxcorpus or biored entity labels (pgxcorpus, biored: the "
                                        "corpus's own types and span edges, by the model PGXLIT_EXTRACT_SCHEME_NER "
                                        "picks).")] = "pgxlit",
) -> None:
    """Annotate texts: entities (with normalised ids) and relations, as JSON lines."""
    from pgxlit.extract.annotate import annotate_lines

    if scheme not in ("pgxlit", "pgxcorpus", "biored"):
        fail("--scheme is pgxlit, pgxcorpus or biored")
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
        if gold in ("pgxcorpus", "biored"):  # which model wrote the gold's own types (extract.scheme_ner)
            from pgxlit.extract.pgxcorpus_types import describe_typer, shipped_typer

            result["scheme_ner"] = describe_typer(shipped_typer(gold), gold)
            table = f"{gold}'s own entity types by {result['scheme_ner']}\n{table}"
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


def eval_labels(
    path: Annotated[Path, typer.Option(help="PharmGKB drugLabels.tsv (../shared/gold/pharmgkb_drug_labels/drugLabels.tsv).")],
    as_json: JsonOpt = False,
) -> None:
    """Are each stored label's PGx biomarkers found as drug–gene pairs? (latest openFDA version of each label)

    Raw figures score against PharmGKB's 2016 list as it is; the adjudicated row also counts the
    extra pairs judged right by reading the current labels (extract/expected/labels_adjudication.yaml).
    """
    from pgxlit.extract.label_eval import (
        evaluate_labels,
        evaluate_raw,
        format_raw,
        read_adjudication,
        read_fda_label_gold,
    )

    settings = get_settings()
    with guard():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        labels = open_store(settings).label_versions()
        gold = read_fda_label_gold(path)
        cache: dict = {}
        raw = evaluate_raw(labels, gold, cache)
        scores = evaluate_labels(labels, gold, cache=cache)
        verdicts = read_adjudication()
    judged = {t: s.adjudicated(verdicts) for t, s in scores.items()}
    if as_json:
        data = {str(t): s.as_dict() | {"adjudicated": judged[t].as_dict()} for t, s in scores.items()}
        data["raw_all_labels"] = raw.as_dict() | raw.details()
        data["raw_all_labels_adjudicated"] = raw.adjudicated(verdicts).as_dict()
        out.print_json(json.dumps(data))
        return
    out.print(format_raw(raw, verdicts), markup=False, highlight=False)
    table = Table(title="label's own drug only (60-drug list), raw and author-adjudicated")
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
