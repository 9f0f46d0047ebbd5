"""`pgxlit index` and `pgxlit search`: build the hybrid index and query it directly."""

from __future__ import annotations

from typing import Annotated

import typer

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
from pgxlit.config import get_settings

SourceOpt = Annotated[str | None, typer.Option("--source", help="fda_label or pubmed.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)


def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build a new index beside the live one and swap it in (a killed rebuild resumes).")] = False,
    engine: EngineOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Index new label versions and abstracts for search (incremental; superseded label versions are flagged)."""
    from pgxlit.engine import get_engine
    from pgxlit.index.shards import run_index_on

    settings = get_settings()
    with guard():
        store = open_store(settings)
        runner = get_engine(engine or settings.engine.kind, workers, settings)
        try:
            with progress("indexing documents", store.count_documents(), as_json) as advance:
                report = run_index_on(runner, store, settings, rebuild=rebuild,
                                      progress=lambda step, total: advance(step, total))
        finally:
            runner.close()
        print_report("index", report, as_json)


def search(
    query: Annotated[str, typer.Argument(help="Words, a drug, a gene or an allele such as CYP2C19*2.")],
    k: Annotated[int, typer.Option("--top-k", "-k", help="How many passages.")] = 10,
    source: SourceOpt = None,
    drug: Annotated[str | None, typer.Option(help="Only passages naming this drug.")] = None,
    gene: Annotated[str | None, typer.Option(help="Only passages naming this gene (HGNC symbol).")] = None,
    section: Annotated[str | None, typer.Option(help="Only this label section, e.g. boxed_warning.")] = None,
    since: Annotated[str | None, typer.Option(help="Label effective date or abstract year from, e.g. 2020-01-01.")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Include superseded label versions.")] = False,
    mode: Annotated[str, typer.Option(help="hybrid, dense or lexical.")] = "hybrid",
    as_json: JsonOpt = False,
) -> None:
    """Search passages of labels and abstracts (hybrid dense + BM25), with filters."""
    import json

    from pgxlit.extract.lexicons import normalise_drug, normalise_gene
    from pgxlit.index.search import Searcher, SearchFilters

    if mode not in ("hybrid", "dense", "lexical"):
        fail("--mode is hybrid, dense or lexical")
    settings = get_settings()
    with guard():
        drug_name = (normalise_drug(drug) or (None, drug.lower()))[1] if drug else None
        gene_name = (normalise_gene(gene) or (None, gene.upper()))[1] if gene else None
        filters = SearchFilters(source=source, drug=drug_name, gene=gene_name, section=section, since=since,
                                latest_only=not all_versions)
        timings: dict[str, float] = {}
        hits = Searcher(open_store(settings), settings).search(query, k, filters, mode=mode, timings=timings)  # type: ignore[arg-type]
    if as_json:
        out.print_json(json.dumps({"query": query, "timings_ms": timings, "hits": [
            {"score": h.score, "dense_rank": h.dense_rank, "lexical_rank": h.lexical_rank, "via_triple": h.via_triple,
             "passage_id": h.passage.id, "source": h.passage.source, "set_id": h.passage.set_id,
             "version": h.passage.version, "section": h.passage.section, "pmid": h.passage.pmid,
             "title": h.passage.title, "text": h.passage.text, "url": h.passage.url,
             "drugs": h.passage.drugs, "genes": h.passage.genes} for h in hits]}))
        return
    if not hits:
        err.print("no passages match")
    for rank, h in enumerate(hits, start=1):
        p = h.passage
        where = (f"label {p.set_id} v{p.version} · {p.section}" if p.source == "fda_label" else f"PMID {p.pmid}")
        out.print(f"[bold]{rank}.[/] [dim]{where} · {h.score:.4f}[/]")
        out.print(f"   {p.text[:400]}", markup=False, highlight=False)
