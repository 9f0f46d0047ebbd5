"""Evidence sentences as quoted, on the real recorded clopidogrel label: a boxed-warning heading and a
"see full prescribing information" pointer are no evidence (neither a claim's citation nor an
answer's quote), and `pgxlit triples` prints the quote answers print, the stored sentence in --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgxlit.extract.quote import tidy
from pgxlit.extract.triples import label_triples
from pgxlit.index.passages import label_passages
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.knowledge.compile import compile_drug
from pgxlit.knowledge.facts import TripleFact, is_heading_or_pointer
from pgxlit.qa.evidence import candidates
from pgxlit.qa.question import read_question
from pgxlit.records import Hit, LabelVersion

CLOPIDOGREL = "openfda/labels/NDA020839.json"
DEBRIS = re.compile(r"^\s*(?:[\d.]+\s*,?\s*)+\)|^\s*•")


def _label(shared: Path) -> tuple[Path, LabelVersion]:
    file = shared / "corpora/fda" / CLOPIDOGREL
    if not file.is_file():
        pytest.skip(f"needs the recorded label {file}")
    return file, parse_openfda_response(file.read_bytes(), CLOPIDOGREL)[0][0]


def test_headings_and_pointers_are_told_from_statements() -> None:
    assert is_heading_or_pointer("WARNING: DIMINISHED ANTIPLATELET EFFECT IN PATIENTS WITH TWO LOSS-OF-FUNCTION "
                                 "ALLELES OF THE CYP2C19 GENE See full prescribing information for complete boxed warning.")
    assert is_heading_or_pointer("5.1 Diminished Antiplatelet Activity in Patients with Two Loss-of-Function Alleles")
    assert is_heading_or_pointer("See the Full Prescribing Information for dosing recommendations in patients "
                                 "receiving CYP2D6 and/or CYP3A inhibitors. (")
    # statements stay: an old all-capitals boxed warning sentence, a table cell rendered as evidence
    assert not is_heading_or_pointer("CARBAMAZEPINE SHOULD NOT BE USED IN PATIENTS POSITIVE FOR HLA-B*1502 UNLESS "
                                     "THE BENEFIT CLEARLY OUTWEIGHS THE RISK.")
    assert not is_heading_or_pointer("Table 1 (Three Ranges of Expected Maintenance COUMADIN Daily Doses Based on "
                                     "CYP2C9 and VKORC1 Genotypes), row VKORC1 AA, column CYP2C9 *1/*3: 0.5-2 mg "
                                     "[Table 1, row 3]")
    assert not is_heading_or_pointer("Consider use of another platelet P2Y12 inhibitor in patients identified as "
                                     "CYP2C19 poor metabolizers [see Warnings and Precautions (5.1)].")


def test_the_boxed_warning_heading_is_no_citation_of_a_claim(shared: Path) -> None:
    _, label = _label(shared)
    triples = [t for t in label_triples(label) if t.pgx]
    assert any(t.evidence.sentence.startswith("WARNING: DIMINISHED") for t in triples)  # extracted, then not cited
    facts = [TripleFact(drug=t.drug, gene=t.gene, variant=t.variant, relation=t.relation, effect=t.effect,
                        negated=t.negated, confidence=t.confidence, source="fda_label", sentence=t.evidence.sentence,
                        set_id=label.set_id, version=label.version, section=t.evidence.section) for t in triples]
    claims = compile_drug("clopidogrel", facts)
    cited = [c.sentence for claim in claims for c in claim.citations]
    assert cited and not [s for s in cited if is_heading_or_pointer(s)]
    assert any(c.action == "alternative" and c.gene == "CYP2C19" for c in claims)


def test_the_boxed_warning_heading_is_no_quote_of_an_answer(shared: Path) -> None:
    _, label = _label(shared)
    hits = [Hit(p, 1.0) for p in label_passages(label) if p.section == "boxed_warning"]
    assert hits and any("See full prescribing information" in h.passage.text for h in hits)
    quoted = [c.sentence for c in candidates(read_question("Is clopidogrel affected by CYP2C19?"), hits)]
    assert quoted, "the boxed warning's statements are still quoted"
    assert not [s for s in quoted if s.lstrip().startswith("WARNING:") or "full prescribing information" in s]


def test_triples_prints_the_quote_answers_print(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pgxlit.cli import app
    from pgxlit.config import get_settings

    file, _ = _label(shared)
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["load", str(file)]).exit_code == 0
        assert runner.invoke(app, ["extract"]).exit_code == 0
        rows = json.loads(runner.invoke(app, ["triples", "--drug", "clopidogrel", "--pgx", "--json"]).output)
        raw = [r["evidence"]["sentence"] for r in rows]
        assert any(DEBRIS.match(s) for s in raw), "the label's layout debris is in the stored sentences"
        assert all(r["evidence"]["quote"] == tidy(r["evidence"]["sentence"]) for r in rows)
        printed = runner.invoke(app, ["triples", "--drug", "clopidogrel", "--pgx"]).output
        quotes = re.findall(r"“(.*?)”", printed, re.S)
        assert len(quotes) == len(rows)
        assert not [q for q in quotes if DEBRIS.match(q)]
    finally:
        get_settings.cache_clear()
