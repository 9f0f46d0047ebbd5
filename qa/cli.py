"""`pgxlit ask` and `pgxlit eval qa`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from pgxlit.cli_common import JsonOpt, err, fail, guard, open_store, out
from pgxlit.config import get_settings


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("ask")(ask)
    eval_app.command("qa")(eval_qa)


def ask(
    question: Annotated[str | None, typer.Argument(help='e.g. "What should I check before prescribing abacavir?"')] = None,
    batch: Annotated[Path | None, typer.Option("--batch", help='One question a line, or JSON lines {"id", "question"}; "-" reads stdin.')] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages retrieved per question.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only fda_label or pubmed evidence.")] = None,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Let superseded label versions be cited too.")] = False,
    answerer: Annotated[str | None, typer.Option(help="extractive (offline default) or llm (PGXLIT_LLM_BASE_URL).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with citations to label sections and PubMed abstracts, or say there is no evidence."""
    from pgxlit.index.search import SearchFilters
    from pgxlit.qa.answer import Answerer
    from pgxlit.qa.llm import make_answerer

    if (question is None) == (batch is None):
        fail('give one QUESTION, or --batch FILE')
    settings = get_settings()
    if answerer:
        settings = settings.replace(qa_answerer=answerer)
    with guard():
        filters = SearchFilters(source=source, latest_only=not all_versions)
        qa = make_answerer(Answerer(open_store(settings), settings), settings)
        if question is not None:
            result = qa.ask(question, top_k, filters)
            if as_json:
                out.print_json(json.dumps(result.to_json()))
            else:
                print_answer(result)
            return
        for item in _read_batch(batch):
            answer = qa.ask(item["question"], top_k, filters)
            if as_json:
                sys.stdout.write(json.dumps({"id": item["id"], **answer.to_json()}) + "\n")
                sys.stdout.flush()
            else:
                out.rule(f"[bold]{item['id']}. {item['question']}[/]")
                print_answer(answer)


def _read_batch(path: Path) -> list[dict[str, Any]]:
    lines = (sys.stdin if str(path) == "-" else path.open(encoding="utf-8")).read().splitlines()
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {n}: not valid JSON ({exc.msg})") from exc
            if "question" not in obj:
                raise ValueError(f'{path} line {n}: a JSON line needs a "question"')
            items.append({"id": obj.get("id", n), "question": str(obj["question"])})
        else:
            items.append({"id": n, "question": line.strip()})
    return items


def print_answer(result: Any) -> None:
    """The bottom line, then the quotes and their sources; only the requested items when the question
    asked for a format ("reply with only the gene symbols separated by ;"; --json keeps the citations)."""
    formatted = getattr(result, "formatted", None)
    if formatted is not None and not result.refused:
        out.print(formatted, highlight=False, markup=False, soft_wrap=True)
        return
    if result.refused:
        out.print(f"[yellow]{escape(result.answer)}[/]", highlight=False)
        return
    bottom_line = getattr(result, "bottom_line", "")
    if bottom_line and bottom_line != result.answer:
        out.print(bottom_line, style="bold", highlight=False, markup=False)
        out.print("")
    out.print(result.answer, highlight=False, markup=False)
    out.print("")
    for c in result.citations:
        p = c.passage
        where = (f"FDA label {p.title or ''} — set_id {p.set_id}, version {p.version}, {p.section_title or p.section}"
                 + (f", effective {p.effective_time}" if p.effective_time else "")
                 if p.source == "fda_label" else f"PubMed {p.pmid}" + (f" ({p.year})" if p.year else "") + f": {p.title}")
        out.print(f"[bold][{c.key}][/] {where}", highlight=False)
        out.print(f"    [dim]{p.url}[/]", highlight=False)
        for a in getattr(c, "also_in", ()):  # the same sentence in other set ids, versions or generics
            also = (f"{a.title or ''} — set_id {a.set_id}, version {a.version}, {a.section_title or a.section}"
                    if a.source == "fda_label" else f"PubMed {a.pmid}")
            out.print(f"    [dim]also in: {escape(also)}[/]", highlight=False)
    for note in result.notes:
        err.print(f"[dim]note: {note}[/]")


def eval_qa(
    shared: Annotated[Path, typer.Option(help="The shared folder with gold/ (PharmGKB label and variant annotations).")] = Path("../shared"),
    limit: Annotated[int | None, typer.Option(help="At most this many questions of each kind.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure answers and retrieval on questions built from PharmGKB annotations and absent drugs."""
    from pgxlit.qa.evaluate import evaluate_qa, expected_figures

    settings = get_settings()
    with guard():
        report = evaluate_qa(open_store(settings), settings, shared, limit=limit)
    if as_json:
        out.print_json(json.dumps(report))
        return
    from rich.table import Table

    expected = expected_figures()
    natural = report.get("natural_language", {})
    scored = natural.get("scored_by_kind", {})
    table = Table(title=f"QA evaluation ({report['questions']} built questions; {sum(scored.values())} of "
                        f"{natural.get('questions_in_file', 0)} natural-language questions in scope: "
                        + ", ".join(f"{k} {v}" for k, v in sorted(scored.items())) + ")")
    for col in ("metric", "value", "expected"):
        table.add_column(col)
    for key, value in report["metrics"].items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value),
                      str(expected.get("metrics", {}).get(key, "")))
    out.print(table)
    for title, rows in (("retrieval by ranking mode", report["retrieval_modes"]),
                        ("retrieval by question kind (hybrid + boost)", report["retrieval_by_kind"])):
        figures = Table(title=title)
        for col in ("", "recall@10", "nDCG@10"):
            figures.add_column(col)
        for name, values in rows.items():
            figures.add_row(name, f"{values['recall@10']:.3f}", f"{values['ndcg@10']:.3f}")
        out.print(figures)
