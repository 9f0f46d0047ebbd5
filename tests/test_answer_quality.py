"""Answers and claims right on real label text (issue 14): every source once, clean quotes,
"not recommended" read as avoid, copies read only from words that count copies, activity-score
groups allele-exact.

Every sentence here is read from the bundled snapshot (corpora/snapshot/openfda), parsed and split
into passages by the real pipeline, so a layout or wording change in the snapshot shows up here.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

import pytest

from pgxlit.extract.actions import read_action, states_avoid
from pgxlit.knowledge.compile import Thresholds, compile_drug
from pgxlit.knowledge.facts import TripleFact, clean_sentence
from pgxlit.knowledge.groups import group_keys
from pgxlit.qa.answer import Composition, compose_extractive
from pgxlit.qa.evidence import Candidate, tidy
from pgxlit.records import LabelVersion, Passage

SNAPSHOT = Path(__file__).resolve().parents[1] / "corpora" / "snapshot" / "openfda"


@lru_cache(maxsize=1)
def _labels() -> tuple[LabelVersion, ...]:
    from pgxlit.ingest.openfda_json import parse_openfda_response

    if not SNAPSHOT.is_dir():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    out: list[LabelVersion] = []
    for path in sorted(SNAPSHOT.glob("*.json.gz")):
        out += parse_openfda_response(gzip.decompress(path.read_bytes()), str(path))[0]
    return tuple(out)


def _newest_per_set(generic: str) -> list[LabelVersion]:
    newest: dict[str, LabelVersion] = {}
    for lv in _labels():
        if any(generic in g.lower() for g in lv.generic_names):
            if lv.set_id not in newest or lv.version > newest[lv.set_id].version:
                newest[lv.set_id] = lv
    return sorted(newest.values(), key=lambda lv: lv.set_id)


@lru_cache(maxsize=8)
def _passages(generic: str) -> tuple[Passage, ...]:
    from pgxlit.index.passages import label_passages

    out: list[Passage] = []
    for n, lv in enumerate(_newest_per_set(generic)):
        for m, p in enumerate(label_passages(lv)):
            out.append(Passage(**{**{f: getattr(p, f) for f in p.__dataclass_fields__}, "id": n * 10_000 + m}))
    return tuple(out)


def _sentences(generic: str, pattern: str) -> list[tuple[Passage, str]]:
    return [(p, s) for p in _passages(generic) for _o, s in p.sentences() if re.search(pattern, s)]


def _section_sentence(generic: str, field: str, pattern: str) -> str:
    for lv in _newest_per_set(generic):
        for section in lv.sections:
            if section.field == field and (m := re.search(rf"[^.]*{pattern}[^.]*\.", section.text)):
                return " ".join(m.group(0).split())
    raise AssertionError(f"{pattern!r} not in the {generic} labels' {field}")


# ---- every source once ---------------------------------------------------------------------------------
def test_the_plavix_boxed_warning_sentence_is_one_number_with_its_other_set_ids_under_it() -> None:
    found = _sentences("clopidogrel", r"another platelet P2Y")
    boxed = [(p, s) for p, s in found if p.section == "boxed_warning"]
    set_ids = {p.set_id for p, _ in boxed}
    assert len(set_ids) >= 3, "the snapshot holds the boxed warning of three clopidogrel set ids"
    first, *others = boxed
    comp = compose_extractive([[Candidate(first[1], first[0], 0, 1.0, "alternative", True)]])
    # the bottom line cites the same sentence from other set ids (and other spacing): no new number
    keys = {comp.cite(p, s) for p, s in others}
    assert keys == {1} and len(comp.citations) == 1
    cited = comp.citations[0]
    assert {p.set_id for p in cited.also_in} | {cited.passage.set_id} == set_ids
    assert all((p.set_id, p.version, p.section) != (cited.passage.set_id, cited.passage.version, cited.passage.section)
               for p in cited.also_in)
    as_json = cited.to_json()
    assert {a["set_id"] for a in as_json["also_in"]} == set_ids - {cited.passage.set_id}
    # a different sentence of the same warning is a new number
    tests = _sentences("clopidogrel", r"Tests are available to identify")[0]
    assert comp.cite(*tests) == 2


def test_case_spacing_and_punctuation_do_not_make_a_new_source() -> None:
    p, s = _sentences("clopidogrel", r"another platelet P2Y")[0]
    comp = Composition()
    assert comp.cite(p, s) == comp.cite(p, s.upper().replace("P2Y 12", "P2Y12").rstrip(".")) == 1
    assert comp.key_of(s.lower()) == 1 and comp.key_of("Another sentence entirely.") is None


# ---- clean quotes ---------------------------------------------------------------------------------------
def test_no_quote_of_the_snapshot_starts_with_layout_debris_or_a_repeated_heading() -> None:
    debris = re.compile(r"^(?:\(?\s*\d+(?:\.\d+)*\s*[),]|[•·▪]|\d{1,2}(?:\.\d{1,2})*\s+[A-Z])")
    repeated = re.compile(r"^([^\sa-z][^a-z]{11,240}?)\s+\1(?=\s|$)")
    seen = 0
    for generic in ("clopidogrel", "codeine", "rasburicase", "allopurinol"):
        for p in _passages(generic):
            for _o, s in p.sentences():
                quote = tidy(s)
                seen += 1
                assert not debris.match(quote), (p.set_id, s[:120])
                assert not repeated.match(quote), (p.set_id, s[:120])
    assert seen > 1000


def test_the_boxed_heading_appears_once_in_its_quote() -> None:
    heading = "WARNING: DIMINISHED ANTIPLATELET EFFECT"
    doubled = [(p, s) for p, s in _sentences("clopidogrel", re.escape(heading)) if s.count(heading) == 2]
    assert doubled, "the snapshot's Plavix highlights repeat the boxed heading"
    for _p, s in doubled:
        assert tidy(s).count(heading) == 1
        assert clean_sentence(s).count(heading) == 1


def test_section_numbers_and_cross_reference_residue_are_stripped_from_the_start() -> None:
    numbered = [s for p in _passages("codeine") for _o, s in p.sentences() if re.match(r"\d+\.\d+ [A-Z]", s)]
    assert numbered
    for s in numbered:
        assert not re.match(r"\d", tidy(s)), s[:80]
    assert tidy("5.1 ) • Consider use of another platelet P2Y 12 inhibitor.") == \
        "Consider use of another platelet P2Y 12 inhibitor."
    assert tidy("( 5.1 , 12.3 ) Tests are available.") == "Tests are available."
    assert tidy("2 DOSAGE AND ADMINISTRATION •Use the lowest effective dosage.") == "Use the lowest effective dosage."
    assert tidy("2 mg of drug were given.") == "2 mg of drug were given."  # a dose is no section number


# ---- "not recommended" reads as avoid ------------------------------------------------------------------------
def _fact(drug: str, gene: str, variant: str | None, sentence: str, confidence: float, negated: bool = False,
          section: str = "warnings_and_cautions") -> TripleFact:
    return TripleFact(drug=drug, gene=gene, variant=variant, relation="influences", effect="toxicity", negated=negated,
                      confidence=confidence, source="fda_label", sentence=sentence, set_id="s", version=1,
                      section=section)


def test_aloprim_not_recommended_in_hla_b_58_01_is_an_avoid_claim() -> None:
    stated = _section_sentence("allopurinol", "warnings_and_cautions", r"not recommended in HLA-B\*58:01")
    screening = _section_sentence("allopurinol", "warnings_and_cautions", r"Screening is generally not recommended")
    assert read_action(stated, "warnings_and_cautions", "toxicity", "fda_label").action == "avoid"
    assert read_action(screening, "warnings_and_cautions", "toxicity", "fda_label").action != "avoid"
    # as stored on the demo store: the pairing model read "not" as negation and gave 0.28
    facts = [_fact("allopurinol", "HLA-B", "HLA-B*58:01", stated, 0.28, negated=True),
             _fact("allopurinol", "HLA-B", "HLA-B*58:01", screening, 0.31, negated=True)]
    claims = compile_drug("allopurinol", facts)
    avoid = [c for c in claims if c.action == "avoid"]
    assert [(c.group, c.status) for c in avoid] == [("hla:HLA-B*58:01", "label")]
    assert "not recommended in HLA-B*58:01 positive patients" in avoid[0].recommendation
    # the label threshold still decides: raised, the unsure sentence no longer counts
    assert not [c for c in compile_drug("allopurinol", facts, thresholds=Thresholds(min_label=0.5)) if c.action == "avoid"]


@pytest.mark.parametrize(("sentence", "avoid"), [
    ("Use in CYP2D6 poor metabolizers is not recommended.", True),
    ("Tramadol should not be used in ultra-rapid metabolizers.", True),
    ("Avoid use of codeine in CYP2D6 ultra-rapid metabolizers.", True),
    ("Dose adjustment is not recommended for CYP2D6 poor metabolizers.", False),
    ("Genotyping is not recommended before starting.", False),
    ("The drug is not contraindicated in poor metabolizers.", False),
])
def test_not_recommended_is_avoid_unless_it_is_a_test_or_dose_change_not_recommended(sentence: str, avoid: bool) -> None:
    assert states_avoid(sentence) is avoid


# ---- copies are counted only by words that count copies ---------------------------------------------------
def test_one_of_the_by_products_is_no_heterozygote() -> None:
    s = _section_sentence("rasburicase", "warnings_and_cautions", r"one of the major by-products")
    assert [k for k, _ in group_keys("G6PD", "G6PD Deficiency", s)] == ["function:No"]
    both = _section_sentence("thioguanine", "dosage_and_administration", r"heterozygous for both TPMT")
    assert [k for k, _ in group_keys("NUDT15", "NUDT15 Deficiency", both)] == ["deficiency:partial"]


# ---- activity-score groups -------------------------------------------------------------------------------
# No stored label in the snapshot states an activity score, so these sentences are written in the
# wording of current labels (siponimod, capecitabine); the recogniser's factor ("Activity Score 1")
# is the one the real pipeline gives them.
SIPONIMOD_AS = "In patients with a CYP2C9 activity score of 1, the recommended maintenance dosage is 1 mg."
DPYD_AS = "Reduce the starting dose by 50% in patients with a DPYD activity score 0.5/1."


def test_activity_scores_form_allele_exact_groups() -> None:
    from pgxlit.extract.pipeline import PgxEntityRecognizer

    factor = next(m.norm for m in PgxEntityRecognizer().find(SIPONIMOD_AS) if m.label == "PHENOTYPE")
    assert factor == "Activity Score 1"
    assert [k for k, _ in group_keys("CYP2C9", factor, SIPONIMOD_AS)] == ["activity:1"]
    assert [k for k, _ in group_keys("DPYD", "Activity Score 0.5", DPYD_AS)] == ["activity:0.5", "activity:1"]
    assert group_keys("CYP2D6", "Activity Score", "CYP2D6 activity scores correlated with concentrations.") == []
    claims = compile_drug("siponimod", [_fact("siponimod", "CYP2C9", factor, SIPONIMOD_AS, 0.8,
                                              section="dosage_and_administration")])
    assert [(c.group, c.action, c.phenotype) for c in claims] == [("activity:1", "dose_change", "CYP2C9 activity score 1")]


def test_an_activity_score_claim_applies_to_the_genotypes_cpic_scores_the_same() -> None:
    from pgxlit.check.genotype import GeneCall, load_table
    from pgxlit.knowledge.applies import applies, applies_to_phenotype

    table = load_table()
    claim = compile_drug("siponimod", [_fact("siponimod", "CYP2C9", "Activity Score 1", SIPONIMOD_AS, 0.8,
                                             section="dosage_and_administration")])[0]
    assert applies(claim, table.translate("CYP2C9", "*1/*3")) == "activity score"  # AS 1.0
    assert applies(claim, table.translate("CYP2C9", "*1/*2")) is None  # AS 1.5: also intermediate, not this score
    assert applies(claim, table.translate("CYP2C9", "*3/*3")) is None
    stated = GeneCall(gene="CYP2C9", phenotype="Intermediate Metabolizer", source="phenotype", entry="CYP2C9 IM")
    assert applies(claim, stated) == "phenotype of the activity score"
    assert applies_to_phenotype(claim, "Intermediate Metabolizer")
    assert not applies_to_phenotype(claim, "Poor Metabolizer")
    dpyd = compile_drug("capecitabine", [_fact("capecitabine", "DPYD", "Activity Score 0.5", DPYD_AS, 0.8,
                                               section="dosage_and_administration")])
    one = next(c for c in dpyd if c.group == "activity:1")
    assert applies(one, table.translate("DPYD", "c.1905+1G>A/Reference")) == "activity score"  # AS 1.0
    assert applies(one, table.translate("DPYD", "c.2846A>T/Reference")) is None  # AS 1.5


def test_a_question_asking_an_activity_score_is_answered_by_that_scores_claims() -> None:
    from pgxlit.qa.claims import applies_to, asked_groups
    from pgxlit.qa.question import read_question

    q = read_question("Can I give siponimod to a patient with a CYP2C9 activity score of 1?")
    groups = asked_groups(q)
    assert [(g.gene, g.phenotype, g.score) for g in groups] == [("CYP2C9", "Intermediate Metabolizer", "1")]
    fact = _fact("siponimod", "CYP2C9", "Activity Score 1", SIPONIMOD_AS, 0.8, section="dosage_and_administration")
    claim = compile_drug("siponimod", [fact])[0]
    other = compile_drug("siponimod", [fact.__class__(**{**{f: getattr(fact, f) for f in fact.__dataclass_fields__},
                                                         "variant": "Activity Score 1.5",
                                                         "sentence": SIPONIMOD_AS.replace("of 1,", "of 1.5,")})])[0]
    assert applies_to(claim, groups) is True
    assert applies_to(other, groups) is False


def test_a_list_ending_among_other_drugs_is_no_alternative() -> None:
    from pgxlit.extract.actions import action_of

    listed = _sentences("tramadol", r"among other drugs")
    assert listed, "the snapshot's tramadol labels say who poor metabolizers are"
    assert all(action_of(tidy(s))[0] != "alternative" for _p, s in listed)
    advice = _sentences("clopidogrel", r"another platelet P2Y")[0][1]
    assert action_of(tidy(advice))[0] == "alternative"


# ---- an abstract's dose amount is no dose change ------------------------------------------------------------
def _abstract_sentence(pattern: str) -> str:
    import html

    for path in sorted((SNAPSHOT.parent / "pubmed").glob("*.xml.gz")):
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
        if m := re.search(rf"[^.>]*{pattern}[^<]*?\.(?=\s|<)", text):
            return " ".join(html.unescape(m.group(0)).split())
    raise AssertionError(f"{pattern!r} not in the snapshot's abstracts")


def test_a_study_arms_dose_is_no_dose_change_but_a_required_reduction_is() -> None:
    arm = _abstract_sentence(r"40 mg simvastatin daily")
    assert read_action(arm, None, "dosage", "pubmed").action != "dose change"
    assert read_action(arm, "dosage_and_administration", "dosage", "fda_label").action == "dose change"  # a label's dose is
    required = _abstract_sentence(r"required substantial reduction")
    assert read_action(required, None, "dosage", "pubmed").action == "dose change"


def test_an_abstracts_own_genotyping_is_no_test_claim_but_its_advice_to_screen_is() -> None:
    from pgxlit.extract.actions import recommends_testing
    from pgxlit.knowledge.compile import claim_action

    def pubmed(sentence: str) -> TripleFact:
        return TripleFact(drug="simvastatin", gene="SLCO1B1", variant=None, relation="influences", effect="other",
                          negated=False, confidence=0.9, source="pubmed", sentence=sentence, pmid="1")

    study = _abstract_sentence(r"healthy volunteers screened for their SLCO1B1")
    advice = _abstract_sentence(r"screening for UGT1A1\*28 polymorphism may identify")
    assert not recommends_testing(study) and recommends_testing(advice)
    assert [c.action for c in compile_drug("simvastatin", [pubmed(study)])] == ["informative"]
    reading = read_action(advice, None, "other", "pubmed")
    assert claim_action(reading, advice, "pubmed")[0] == "test"
    assert claim_action(read_action(study, None, "other", "fda_label"), study, "fda_label")[0] == "test"  # a label's is


# ---- bottom lines -------------------------------------------------------------------------------------------
def test_a_bottom_line_from_abstracts_alone_says_so_and_alike_clauses_merge() -> None:
    from pgxlit.qa.bottom_line import ClaimView, bottom_line
    from pgxlit.qa.question import read_question

    q = read_question("Is there a PGx issue with simvastatin?")
    numbers = {"a": [4], "b": [6, 7], "c": [5]}
    claims = [ClaimView("simvastatin", "ABCB1", None, "informative", "literature_only", evidence=("a",)),
              ClaimView("simvastatin", "ABCB1", None, "informative", "literature_only", evidence=("b",)),
              ClaimView("simvastatin", "SLCO1B1", None, "informative", "literature_only", evidence=("c",))]
    line = bottom_line(q, claims, lambda c: [k for e in c.evidence for k in numbers[e]])
    assert line.startswith("Only abstracts, not the label, link ABCB1 and SLCO1B1 to simvastatin: ")
    assert line.count("ABCB1 affects simvastatin") == 1 and "[4, 6, 7]" in line
    labelled = [ClaimView("simvastatin", "SLCO1B1", "SLCO1B1 poor function", "dose_change", "label", evidence=("c",))]
    assert bottom_line(q, labelled + claims, lambda c: [k for e in c.evidence for k in numbers[e]]).startswith("Yes, ")
