"""A genotype in a question is the patient group of the claims, read as the check reads a result
(CPIC's tables: diplotype -> phenotype/activity score -> the matching claims), on the real recorded
labels compiled as ask compiles them (text reader, no genotype table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.extract.triples import label_triples
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.knowledge.base import KnowledgeBase, compile_facts
from pgxlit.knowledge.facts import TripleFact
from pgxlit.qa.claims import asked_groups, read_genotype, select_claims
from pgxlit.qa.question import read_question

WARFARIN = "openfda/labels/NDA009218.json"
CAMPTOSAR = "openfda/labels/NDA020571.json"


def _kb(shared: Path, path: str) -> KnowledgeBase:
    file = shared / "corpora/fda" / path
    if not file.is_file():
        pytest.skip(f"needs the recorded label {file}")
    label = parse_openfda_response(file.read_bytes(), path)[0][0]
    facts = [TripleFact(drug=t.drug, gene=t.gene, variant=t.variant, relation=t.relation, effect=t.effect,
                        negated=t.negated, confidence=t.confidence, source="fda_label", sentence=t.evidence.sentence,
                        set_id=label.set_id, version=label.version, section=t.evidence.section)
             for t in label_triples(label) if t.pgx]
    return compile_facts(facts)[0]  # as ask compiles: no genotype table


def _applying(question: str, kb: KnowledgeBase) -> list:
    q = read_question(question)
    return [c for c, applies in select_claims(q, kb, lambda _drug: True) if applies]


@pytest.mark.parametrize(("text", "gene", "phenotype"), [
    ("What warfarin dose for a CYP2C9*1/*3 patient?", "CYP2C9", "Intermediate Metabolizer"),
    ("Can I give codeine to a CYP2D6 *4/*4 patient?", "CYP2D6", "Poor Metabolizer"),
    ("What warfarin dose for rs9923231 AA?", "VKORC1", "-1639 AA"),
    ("Warfarin dose for VKORC1 -1639 AA?", "VKORC1", "-1639 AA"),
    ("Is irinotecan dose reduced in UGT1A1*28 homozygous patients?", "UGT1A1", "Poor Metabolizer"),
])
def test_a_genotype_in_a_question_is_read_as_the_check_reads_a_result(text: str, gene: str, phenotype: str) -> None:
    groups = asked_groups(read_question(text))
    called = [g for g in groups if g.call is not None]
    assert len(called) == 1, groups
    assert (called[0].gene, called[0].phenotype) == (gene, phenotype)


def test_an_hla_status_and_a_phenotype_stay_as_they_were() -> None:
    groups = asked_groups(read_question("Is allopurinol safe for a HLA-B*58:01 positive patient?"))
    assert [(g.hla, g.call) for g in groups] == [("HLA-B*58:01", None)]
    assert read_genotype("CYP2D6 poor metabolizer") is None
    assert read_genotype("UGT1A1*28") is None  # a carrier may be heterozygous: no diplotype guessed


def test_a_cyp2c9_diplotype_question_gets_the_dose_table_claims_for_that_diplotype(shared: Path) -> None:
    kb = _kb(shared, WARFARIN)
    claims = _applying("What warfarin dose for a CYP2C9*1/*3 patient?", kb)
    assert any(c.group == "diplotype:*1/*3" and c.action == "dose_change" for c in claims)
    assert not any(c.group.startswith("diplotype:") and c.group != "diplotype:*1/*3" for c in claims)
    cited = " ".join(cit.text for c in claims for cit in c.citations)
    assert "column CYP2C9 *1/*3" in cited and "column CYP2C9 *1/*1" not in cited


def test_an_rsid_genotype_question_gets_that_genotype_claims_only(shared: Path) -> None:
    kb = _kb(shared, WARFARIN)
    claims = _applying("What warfarin dose for rs9923231 AA?", kb)
    assert {c.group for c in claims if c.gene == "VKORC1" and c.group.startswith("genotype:")} == {
        "genotype:rs9923231 AA"}


@pytest.mark.parametrize("question", [
    "Should irinotecan dose be reduced in UGT1A1 poor metabolizers?",
    "Should irinotecan dose be reduced in UGT1A1 *28/*28 patients?",
])
def test_irinotecan_poor_metabolizers_get_the_labels_reduced_starting_dose(shared: Path, question: str) -> None:
    """The label's 'consider a reduction in the starting dose' for *28/*28 homozygotes is a dose change
    that applies to UGT1A1 poor metabolizers: with the text reader a diplotype or homozygous-allele
    claim has no phenotype of its own, so the question's phenotype is matched through CPIC's tables."""
    kb = _kb(shared, CAMPTOSAR)
    claims = _applying(question, kb)
    doses = [c for c in claims if c.action == "dose_change" and c.gene == "UGT1A1"]
    assert doses, [(c.group, c.action) for c in claims]
    assert any("reduction in the CAMPTOSAR starting dose" in cit.text for c in doses for cit in c.citations)


def test_a_two_gene_table_row_is_cited_through_the_claims_own_gene(shared: Path, store) -> None:
    """Warfarin's CYP2C9 x VKORC1 cell is indexed once per gene (one triple entry each, the same row
    text); a CYP2C9 claim cites the CYP2C9 entry, so the citation is about the drug and the claim's
    gene (before, the first entry holding the row was taken, often the VKORC1 one)."""
    from pgxlit.index.passages import evidence_passage, label_passages, triple_entry
    from pgxlit.qa.claims import CitationFinder

    file = shared / "corpora/fda" / WARFARIN
    if not file.is_file():
        pytest.skip(f"needs the recorded label {file}")
    label = parse_openfda_response(file.read_bytes(), WARFARIN)[0][0]
    passages = label_passages(label)
    table_rows = [t for t in label_triples(label) if t.pgx and t.extractor.endswith("+table")]
    entries = [triple_entry(t, p) for t in sorted(table_rows, key=lambda t: t.gene != "VKORC1")
               if (p := evidence_passage(t, passages)) is not None]
    assert {e.genes for e in entries} == {("CYP2C9",), ("VKORC1",)}
    with store.transaction() as session:
        store.add_passages(session, "warfarin-test", [*passages, *entries])
    kb = _kb(shared, WARFARIN)
    finder = CitationFinder(store)
    for claim in kb.claims_for("warfarin"):
        if claim.group.startswith(("diplotype:", "genotype:")):
            for citation in claim.citations[:3]:
                found = finder.find(citation, claim.gene)
                assert found is not None and claim.gene in found[0].genes, (claim.group, citation.text)
                assert found[1] == " ".join(citation.sentence.split())  # the label's row, not our facts before it
