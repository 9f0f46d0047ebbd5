"""`pgxlit eval check`'s drug-summary section: genes and testing levels against PharmGKB's label list.

The figures are checked on real rows of ../shared's drugLabels.tsv (DEV part) for a few drugs,
scored against gene lines whose answers are worked out by hand. Then a small real store (the
latest labels of three drugs from the bundled snapshot, extracted with the real pipeline) shows
that the evaluation measures exactly what `pgxlit drug` and /drug/{name} show: if the summary
and the evaluation ever read the claims differently, `test_the_evaluation_measures_what_the_summary_shows`
fails.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pgxlit.check.evaluate import NOT_SHOWN, NOT_STATED, evaluate_summaries, listed_levels, read_label_list
from pgxlit.config import Settings, get_settings
from pgxlit.knowledge.summary import GeneLine
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
LABEL_LIST = REPO.parent / "shared" / "gold" / "pharmgkb_drug_labels" / "drugLabels.tsv"
SNAPSHOT = REPO / "corpora" / "snapshot"
SLICE = ("abacavir", "codeine", "carbamazepine", "warfarin")  # drugs of the real list the pure tests read
STORE_DRUGS = ("codeine", "carbamazepine", "siponimod")  # siponimod: not on the 2016 DEV list


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str, str]]:
    if not LABEL_LIST.is_file():
        pytest.skip(f"PharmGKB's label list is not at {LABEL_LIST} (../shared is absent)")
    return read_label_list(LABEL_LIST)


def _slice(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [r for r in rows if r[0] in SLICE]


def test_the_list_levels_map_to_the_summary_levels(rows: list[tuple[str, str, str]]) -> None:
    listed = listed_levels(_slice(rows))
    assert listed["abacavir"] == {"HLA-B": "required"}
    assert listed["codeine"] == {"CYP2D6": "actionable"}
    assert listed["carbamazepine"] == {"HLA-A": "actionable"}  # HLA-B's row is in the held-out part
    assert listed["warfarin"] == dict.fromkeys(("CYP2C9", "PROC", "PROS1", "VKORC1"), "actionable")
    # a pair listed twice keeps its strongest level; a row without a level leaves None
    assert listed_levels([("x", "G", "Informative PGx"), ("x", "G", "Genetic testing required"),
                          ("x", "H", "")]) == {"x": {"G": "required", "H": None}}


def test_gene_and_level_figures_for_known_cases(rows: list[tuple[str, str, str]]) -> None:
    summaries = {
        # listed HLA-B shown with the list's level: a hit and an exact level
        "abacavir": (GeneLine("HLA-B", "label", "required", 3, 0, "critical"),),
        # listed CYP2D6 shown one step down; ABCB1 from abstracts only: a false gene, no level shown
        "codeine": (GeneLine("CYP2D6", "label", "recommended", 9, 0, "critical"),
                    GeneLine("ABCB1", "literature_only", "informative", 1, 1, "info")),
        # listed HLA-A not shown (a miss); HLA-B shown but not on the DEV list (false); a gene linked
        # without any claim is not shown, so it is neither
        "carbamazepine": (GeneLine("HLA-B", "label", "actionable", 4, 0, "critical"),
                          GeneLine("EPHX1", "literature_only", None, 0, 1, None)),
        # CYP2C9 and VKORC1 shown, CYP2C9 literature-only (shown, no level); PROC and PROS1 missed
        "warfarin": (GeneLine("VKORC1", "label", "actionable", 5, 0, "warning"),
                     GeneLine("CYP2C9", "literature_only", "informative", 2, 2, "info")),
        # not on the list at all: its gene is extra
        "siponimod": (GeneLine("CYP2C9", "label", "required", 2, 0, "critical"),),
    }
    result = evaluate_summaries(_slice(rows), summaries)
    assert (result["drugs"], result["drugs_covered"], result["drugs_not_on_list"]) == (5, 4, 1)
    genes = result["genes"]
    assert (genes["tp"], genes["fp"], genes["fn"]) == (4, 3, 3)  # fp: ABCB1, carbamazepine HLA-B, siponimod CYP2C9
    assert genes["precision"] == pytest.approx(4 / 7) and genes["recall"] == pytest.approx(4 / 7)
    assert genes["f1"] == pytest.approx(4 / 7)
    covered = result["lenient"]["covered_drugs_only"]
    assert (covered["tp"], covered["fp"], covered["fn"]) == (4, 2, 3)
    label = result["lenient"]["label_linked_genes_only"]
    assert (label["tp"], label["fp"], label["fn"]) == (3, 2, 4)  # warfarin CYP2C9 is literature-only
    assert result["extra_genes"] == ["siponimod–CYP2C9 (label, critical)"]
    assert result["missed_pairs"] == ["carbamazepine–HLA-A (actionable)", "warfarin–PROC (actionable)",
                                      "warfarin–PROS1 (actionable)"]
    assert result["false_genes"] == ["carbamazepine–HLA-B (label, critical)", "codeine–ABCB1 (literature only, info)"]

    levels = result["testing_level"]
    assert levels["pairs"] == 7 and levels["exact"] == 2  # abacavir HLA-B, warfarin VKORC1
    assert levels["agreement"] == pytest.approx(2 / 7)
    assert levels["pairs_with_a_level_shown"] == 3 and levels["agreement_where_a_level_is_shown"] == pytest.approx(2 / 3)
    confusion = levels["confusion"]
    assert confusion["required"]["required"] == 1
    assert confusion["actionable"] == {"required": 0, "recommended": 1, "actionable": 1, "informative": 0,
                                       NOT_STATED: 1, NOT_SHOWN: 3}
    assert sum(confusion["informative"].values()) == 0
    assert result["level_mismatches"] == ["codeine–CYP2D6: list actionable, summary recommended",
                                          f"warfarin–CYP2C9: list actionable, summary {NOT_STATED}"]


# ---- the real summary and the evaluation, on one small real store --------------------------------------
@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The latest labels of STORE_DRUGS and a few abstracts naming them (literature-only genes), extracted."""
    from pgxlit.extract.run import run_extraction
    from pgxlit.ingest.load import Loader
    from pgxlit.records import Abstract

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    home = tmp_path_factory.mktemp("eval_summary")
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}")
    full = Store(f"sqlite:///{home / 'full.sqlite'}")
    assert Loader(full, settings).load([SNAPSHOT]).files_failed == 0
    latest: dict[str, Any] = {}
    for lv in full.label_versions():
        names = " ".join(lv.generic_names).lower()
        if any(d in names for d in STORE_DRUGS) and lv.version >= getattr(latest.get(lv.set_id), "version", -1):
            latest[lv.set_id] = lv
    abstracts = [record for _key, _sha, record in full.documents_for_extraction() if isinstance(record, Abstract)
                 and any(d in (record.title + record.abstract_text).lower() for d in STORE_DRUGS)][:6]
    full.close()
    store = Store(settings.resolved_db_url)
    with store.transaction() as session:
        for lv in latest.values():
            store.save_label_version(session, lv, None, SaveCounts())
        for a in abstracts:
            store.save_abstract(session, a, None, SaveCounts())
    run_extraction(store)
    store.close()
    return settings


def test_the_evaluation_measures_what_the_summary_shows(small_store: Settings, rows: list[tuple[str, str, str]]) -> None:
    from fastapi.testclient import TestClient

    from pgxlit.check.evaluate import summary_gene_lines
    from pgxlit.web.drug_summary import drug_summary
    from pgxlit.web.server import create_app

    store = Store(small_store.resolved_db_url)
    lines = summary_gene_lines(store, small_store)
    assert {"codeine", "carbamazepine", "siponimod"} <= set(lines)
    result = evaluate_summaries(rows, lines)
    client = TestClient(create_app(small_store))
    for drug, judged in result["per_drug"].items():
        summary = drug_summary(store, small_store, drug).to_json()
        shown = {g["gene"]: (g["testing_level"] if g["status"] == "label" else None)
                 for g in summary["genes"] if g["claims"]}
        assert judged["shown"] == shown, f"{drug}: the evaluation and `pgxlit drug --json` list different genes"
        assert {c["gene"] for c in summary["claims"]} == set(shown), f"{drug}: a claim's gene is not in the gene list"
        page = html.unescape(client.get(f"/drug/{drug}").text)
        on_page = dict(re.findall(r"<li><strong>([^<]+)</strong> · [^<]*?(?:testing: (\w+))?(?: · \d+ abstracts?)?</li>",
                                  page))
        assert {g: (lvl or None) for g, lvl in on_page.items()} == shown, f"{drug}: the page lists other genes"
    assert result["per_drug"]["siponimod"]["listed"] is None  # not on the DEV list: its genes are extra
    statuses = {line.status for drug_lines in lines.values() for line in drug_lines if line.shown}
    assert statuses == {"label", "literature_only"}, "the slice should show both kinds of gene"
    assert result["drugs_covered"] >= 2 and result["genes"]["tp"] >= 2
    store.close()


def test_eval_check_json_carries_the_summary_section(small_store: Settings, rows: list[tuple[str, str, str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pgxlit.check.evaluate import summary_gene_lines
    from pgxlit.cli import app

    monkeypatch.setenv("PGXLIT_HOME", str(small_store.home))
    monkeypatch.setenv("PGXLIT_DB_URL", small_store.resolved_db_url)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["eval", "check", "--path", str(LABEL_LIST), "--json"])
        text = CliRunner().invoke(app, ["eval", "check", "--path", str(LABEL_LIST)])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    store = Store(small_store.resolved_db_url)
    assert data["drug_summaries"] == json.loads(json.dumps(evaluate_summaries(rows, summary_gene_lines(store, small_store))))
    store.close()
    assert "risk_cases" in data  # the alert figures are still there
    assert text.exit_code == 0 and "drug summaries vs PharmGKB" in text.output and "testing level" in text.output

