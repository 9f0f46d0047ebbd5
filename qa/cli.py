"""`pgxlit ask` and `pgxlit eval qa`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
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
    local: Annotated[bool, typer.Option("--local", help="Answer in this process even when a `pgxlit serve` "
                                        "of the same store is running (web.server_url).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with citations to label sections and PubMed abstracts, or say there is no evidence.

    When a `pgxlit serve` of the same store is running at web.server_url, it answers (it has the index
    and model loaded); otherwise, or with --local, this process does."""
    if (question is None) == (batch is None):
        fail('give one QUESTION, or --batch FILE')
    settings = get_settings()
    if answerer:
        settings = settings.replace(qa_answerer=answerer)
    with guard():
        answer_one = _answerer(settings, top_k, source, all_versions, local or answerer is not None)
        if question is not None:
            result = answer_one(question)
            if as_json:
                out.print_json(json.dumps(result))
            else:
                print_answer(result)
            return
        for item in _read_batch(batch):
            result = answer_one(item["question"])
            if as_json:
                sys.stdout.write(json.dumps({"id": item["id"], **result}) + "\n")
                sys.stdout.flush()
            else:
                out.rule(f"[bold]{item['id']}. {item['question']}[/]")
                print_answer(result)


def _answerer(settings: Any, top_k: int | None, source: str | None, all_versions: bool,
              local: bool) -> Callable[[str], dict[str, Any]]:
    """question -> answer JSON: through a running server of the same store when there is one (and not
    `local`), else in this process, which loads the index and model on its first question. A server that
    stops answering half-way (busy, restarting) hands over to the local answerer."""
    from pgxlit.qa.remote import ServerUnavailable, find_server

    server = None if local else find_server(settings)
    here: list[Any] = []

    def answer_here(question: str) -> dict[str, Any]:
        from pgxlit.index.search import SearchFilters
        from pgxlit.qa.answer import Answerer
        from pgxlit.qa.llm import make_answerer

        if not here:
            here.append(make_answerer(Answerer(open_store(settings), settings), settings))
        return here[0].ask(question, top_k, SearchFilters(source=source, latest_only=not all_versions)).to_json()

    def answer(question: str) -> dict[str, Any]:
        nonlocal server
        if server is not None:
            try:
                result = server.ask(question, top_k, source, all_versions)
                err.print(f"[dim]note: answered by the pgxlit server at {escape(server.url)} (--local answers "
                          "here)[/]")
                return result
            except ServerUnavailable as exc:
                err.print(f"[dim]note: {escape(str(exc))}; answering here[/]")
                server = None
        return answer_here(question)

    return answer


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


def print_answer(result: dict[str, Any]) -> None:
    """The bottom line, then the quotes and their sources, from the answer's JSON (a local answer's or the
    server's, so both read the same); only the requested items when the question asked for a format
    ("reply with only the gene symbols separated by ;"; --json keeps the citations)."""
    formatted = result.get("formatted")
    if formatted is not None and not result["refused"]:
        out.print(formatted, highlight=False, markup=False, soft_wrap=True)
        return
    if result["refused"]:
        out.print(f"[yellow]{escape(result['answer'])}[/]", highlight=False)
        return
    bottom_line = result.get("bottom_line") or ""
    if bottom_line and bottom_line != result["answer"]:
        out.print(bottom_line, style="bold", highlight=False, markup=False)
        out.print("")
    out.print(result["answer"], highlight=False, markup=False)
    out.print("")
    for c in result["citations"]:
        where = (f"FDA label {c.get('title') or ''} — set_id {c['set_id']}, version {c['version']}, "
                 f"{c.get('section_title') or c['section']}"
                 + (f", effective {c['effective_time']}" if c.get("effective_time") else "")
                 if c["source"] == "fda_label" else
                 f"PubMed {c['pmid']}" + (f" ({c['year']})" if c.get("year") else "") + f": {c.get('title')}")
        out.print(f"[bold][{c['key']}][/] {escape(where)}", highlight=False)
        out.print(f"    [dim]{escape(str(c.get('url')))}[/]", highlight=False)
        for a in c.get("also_in") or ():  # the same sentence in other set ids, versions or generics
            also = (f"{a.get('title') or ''} — set_id {a['set_id']}, version {a['version']}, "
                    f"{a.get('section_title') or a['section']}" if a["source"] == "fda_label" else f"PubMed {a['pmid']}")
            out.print(f"    [dim]also in: {escape(also)}[/]", highlight=False)
    for note in result.get("notes") or ():
        err.print(f"[dim]note: {escape(str(note))}[/]")


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
