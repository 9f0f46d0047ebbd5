"""Stage layering: core imports no stage, and stage imports flow one way.

Every product module is parsed (not imported) and every import is collected, including the
lazy ones inside functions and under TYPE_CHECKING, since a lazy import is still a dependency.
Each import is mapped to the stage that owns its target, and the stage graph must respect

    core < ingest < extract < knowledge < index < qa < {check, digest} < web < cli

(a stage imports only stages to its left; check and digest do not import each other).
`replay/` is a test double beside ingest: it may import ingest and core, and only cli imports it.
Run with `pytest -s` to see the graph.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Folder in the repo -> stage name; each installs as pgxlit.<stage> (core is the `pgxlit` package itself).
FOLDERS = {"pgxlit": "core", "ingest": "ingest", "extract": "extract", "knowledge": "knowledge", "index": "index",
           "qa": "qa", "check": "check", "digest": "digest", "web": "web", "cli": "cli", "replay": "replay"}
RANK = {"core": 0, "ingest": 1, "extract": 2, "knowledge": 3, "index": 4, "qa": 5, "check": 6, "digest": 6,
        "web": 7, "cli": 8}
# Stages outside the pipeline order: what each may import, besides itself.
SIDE = {"replay": {"core", "ingest"}}
# Only these stages may import the key stage.
ONLY_IMPORTED_BY = {"web": {"cli"}, "replay": {"cli"}}

Edge = tuple[str, str, int]  # (importing module, imported module, line)


def module_name(path: Path) -> str:
    """pgxlit/store/x.py -> pgxlit.store.x; extract/run.py -> pgxlit.extract.run; cli/__init__.py -> pgxlit.cli."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts if parts[0] == "pgxlit" else ["pgxlit", *parts])


def stage_of(module: str) -> str | None:
    """The stage a dotted name belongs to; None for anything outside pgxlit."""
    parts = module.split(".")
    if parts[0] != "pgxlit":
        return None
    if len(parts) > 1 and parts[1] in FOLDERS and parts[1] != "pgxlit":
        return FOLDERS[parts[1]]
    return "core"  # pgxlit, pgxlit.config, pgxlit.store.schema, pgxlit.corpora (data) ...


def imports_of(path: Path) -> list[Edge]:
    """Every pgxlit import in the file."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool) -> list[Edge]:
    """Every pgxlit import in a module's source, at any depth, with relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Edge] = []
    for node in ast.walk(ast.parse(source, filename=module)):
        if isinstance(node, ast.Import):
            found += [(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pgxlit import ingest` imports the stage ingest, `from pgxlit import config` core.
            found += [(module, f"{base}.{alias.name}" if stage_of(f"{base}.{alias.name}") != stage_of(base) else base,
                       node.lineno) for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((module, node.args[0].value, node.lineno))
    return [e for e in dict.fromkeys(found) if stage_of(e[1]) is not None]  # one per (module, target, line)


def product_files() -> list[Path]:
    return sorted(p for folder in FOLDERS if (REPO / folder).is_dir() for p in (REPO / folder).rglob("*.py"))


def stage_graph() -> dict[tuple[str, str], list[Edge]]:
    """(from stage, to stage) -> the imports that make the edge; a stage's imports of itself are left out."""
    graph: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for path in product_files():
        for edge in imports_of(path):
            source, target = stage_of(edge[0]), stage_of(edge[1])
            if source != target:
                graph[(source, target)].append(edge)  # type: ignore[index]
    return dict(graph)


def describe(graph: dict[tuple[str, str], list[Edge]]) -> str:
    lines = ["stage import graph (from -> to: imports, first example):"]
    for (source, target), edges in sorted(graph.items(), key=lambda kv: (RANK.get(kv[0][0], 9), kv[0])):
        module, imported, line = edges[0]
        lines.append(f"  {source:9} -> {target:9} {len(edges):3}  e.g. {module}:{line} imports {imported}")
    return "\n".join(lines)


def find_cycle(graph: dict[tuple[str, str], list[Edge]]) -> list[str] | None:
    """One cycle of stages, if any (depth-first search)."""
    after: dict[str, set[str]] = defaultdict(set)
    for source, target in graph:
        after[source].add(target)
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(after[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [*path, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(after):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def broken_rules(graph: dict[tuple[str, str], list[Edge]]) -> list[str]:
    """Each stage edge the layering forbids, with the imports that make it."""
    problems = []
    for (source, target), edges in sorted(graph.items()):
        if source == "core":
            why = "core imports no stage"
        elif target in ONLY_IMPORTED_BY and source not in ONLY_IMPORTED_BY[target]:
            why = f"only {', '.join(sorted(ONLY_IMPORTED_BY[target]))} may import {target}"
        elif source in SIDE:
            if target in SIDE[source]:
                continue
            why = f"{source} may import only {', '.join(sorted(SIDE[source]))}"
        elif target in SIDE or RANK[target] < RANK[source]:  # a side stage's importers are checked just above
            continue
        else:
            why = f"{source} may import only stages left of it in core < ingest < extract < knowledge < index < qa " \
                  f"< {{check, digest}} < web < cli"
        where = "; ".join(f"{m}:{line} imports {i}" for m, i, line in edges[:5])
        problems.append(f"{source} -> {target} ({why}): {where}")
    return problems


@pytest.fixture(scope="module")
def graph() -> dict[tuple[str, str], list[Edge]]:
    found = stage_graph()
    print("\n" + describe(found))
    return found


def test_every_product_folder_is_a_known_stage() -> None:
    """A new top-level package must be placed in the layering before it can hide from this test."""
    import tomllib

    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    folders = {folder for name, folder in package_dir.items() if folder != "corpora"}
    assert folders <= set(FOLDERS), f"add {sorted(folders - set(FOLDERS))} to FOLDERS and RANK in this test"
    assert len(product_files()) > 50


def test_imports_are_collected_from_function_bodies_and_relative_forms() -> None:
    """The collector sees lazy imports, `from pgxlit import <stage>` and relative imports."""
    assert stage_of("pgxlit.store.schema") == "core" and stage_of("pgxlit.web.server") == "web"
    assert stage_of("fastapi") is None
    # A real lazy import in a command body (cli/main.py replay -> pgxlit.replay.server).
    assert any(i == "pgxlit.replay.server" for _, i, _ in imports_of(REPO / "cli" / "main.py"))
    code = ("from . import search\nfrom .search import Searcher\nfrom pgxlit import qa, config\n"
            "def f():\n    import pgxlit.web.server\n    importlib.import_module('pgxlit.replay.server')\n")
    targets = {i for _, i, _ in imports_in(code, "pgxlit.index.probe", is_package=False)}
    assert targets == {"pgxlit.index", "pgxlit.index.search", "pgxlit.qa", "pgxlit", "pgxlit.web.server",
                       "pgxlit.replay.server"}, targets


def test_stage_graph_is_acyclic(graph: dict[tuple[str, str], list[Edge]]) -> None:
    cycle = find_cycle(graph)
    assert cycle is None, f"stage cycle {' -> '.join(cycle or [])}\n{describe(graph)}"


def test_stage_imports_flow_one_way(graph: dict[tuple[str, str], list[Edge]]) -> None:
    problems = broken_rules(graph)
    assert not problems, "\n".join(problems) + "\n" + describe(graph)


def test_the_rules_catch_the_imports_this_layering_removed() -> None:
    """The imports the stage split removed (issue 18) are each reported; cli importing everything is not."""
    def edge(source: str, target: str) -> dict[tuple[str, str], list[Edge]]:
        return {(stage_of(source), stage_of(target)): [(source, target, 1)]}  # type: ignore[dict-item]

    for source, target in (("pgxlit.server", "pgxlit.web.api"), ("pgxlit.cli_common", "pgxlit.ingest.http"),
                           ("pgxlit.engine", "pgxlit.extract.triples"), ("pgxlit.index.retriever", "pgxlit.qa.question"),
                           ("pgxlit.check.cli", "pgxlit.digest.build"), ("pgxlit.digest.x", "pgxlit.check.service"),
                           ("pgxlit.knowledge.x", "pgxlit.index.search"), ("pgxlit.check.x", "pgxlit.web.services"),
                           ("pgxlit.ingest.x", "pgxlit.replay.server"), ("pgxlit.replay.x", "pgxlit.extract.run")):
        assert broken_rules(edge(source, target)), (source, target)
    for source, target in (("pgxlit.cli.main", "pgxlit.web.cli"), ("pgxlit.cli.main", "pgxlit.replay.server"),
                           ("pgxlit.replay.x", "pgxlit.ingest.pubmed_xml"), ("pgxlit.knowledge.x", "pgxlit.extract.run"),
                           ("pgxlit.web.server", "pgxlit.check.cds_hooks"), ("pgxlit.qa.retriever", "pgxlit.index.search")):
        assert not broken_rules(edge(source, target)), (source, target)
    cyclic = {("index", "qa"): [("pgxlit.index.r", "pgxlit.qa.q", 1)], ("qa", "index"): [("pgxlit.qa.a", "pgxlit.index.s", 1)]}
    assert find_cycle(cyclic) in (["index", "qa", "index"], ["qa", "index", "qa"])


MAX_MODULE_LINES = 1000


def test_no_product_module_is_over_a_thousand_lines() -> None:
    """A module that outgrows this holds more than one job: split it by job, as store/ and replay/ were."""
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in product_files()}
    too_big = {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"


def test_only_the_store_touches_its_tables() -> None:
    """Every stage goes through Store methods (`from pgxlit.store import Store`): the table classes
    in pgxlit/store/schema.py and the other store modules stay inside pgxlit/store/."""
    outside = [f"{module_name(p)}:{line} imports {target}" for p in product_files()
               if not module_name(p).startswith("pgxlit.store")
               for _src, target, line in imports_of(p) if target.startswith("pgxlit.store.")]
    assert not outside, "\n".join(outside)
