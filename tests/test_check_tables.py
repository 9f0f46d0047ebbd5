"""Variant genotypes as claim groups, read from the real recorded warfarin label: its CYP2C9 x VKORC1
dose table compiles into "genotype:" claims, a patient's rs9923231 result (either strand, rsID or
HGVS position) is matched to them exactly, and a two-gene patient's alert cites the row for both."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.check.engine import DrugRef, check, names_result
from pgxlit.check.knowledge import CpicReader, Knowledge, build_knowledge
from pgxlit.check.profile import profile_from_args
from pgxlit.extract.triples import label_triples
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.knowledge.applies import applies
from pgxlit.knowledge.compile import compile_drug
from pgxlit.knowledge.facts import TripleFact
from pgxlit.knowledge.genotype import GenotypeError, load_table
from pgxlit.knowledge.groups import group_keys, variant_genotype

TABLE = load_table()
WARFARIN = "openfda/labels/NDA009218.json"


def _facts(shared: Path) -> list[TripleFact]:
    file = shared / "corpora/fda" / WARFARIN
    if not file.is_file():
        pytest.skip(f"needs the recorded label {file}")
    label = parse_openfda_response(file.read_bytes(), WARFARIN)[0][0]
    return [TripleFact(drug=t.drug, gene=t.gene, variant=t.variant, relation=t.relation, effect=t.effect,
                       negated=t.negated, confidence=t.confidence, source="fda_label", sentence=t.evidence.sentence,
                       set_id=label.set_id, version=label.version, section=t.evidence.section)
            for t in label_triples(label) if t.pgx and t.drug == "warfarin"]


@pytest.fixture(scope="module")
def warfarin(shared: Path) -> Knowledge:
    built = build_knowledge(_facts(shared), TABLE, min_label=0.3, min_pubmed=0.7)
    return Knowledge(drugs=built["drugs"], fingerprint="test", min_label=0.3, min_pubmed=0.7, base=built["kb"])


def _profile(*diplotypes: str):
    return profile_from_args(list(diplotypes), [], [], TABLE)


def test_a_variant_genotype_is_a_group_in_one_spelling() -> None:
    reader = CpicReader(TABLE)
    assert group_keys("VKORC1", "rs9923231 GA", "", reader) == [("genotype:rs9923231 AG", {})]
    # an HGVS name the tables know is its rsID; without the tables it is kept as written
    assert group_keys("VKORC1", "-1639G>A AA", "", reader) == [("genotype:rs9923231 AA", {})]
    assert variant_genotype("VKORC1", "-1639G>A AA") == "-1639G>A AA"
    assert variant_genotype("ABCG2", "ABCG2:rs2231142 T/G") == "rs2231142 GT"
    # a carrier mention and an allele are no genotype
    assert group_keys("VKORC1", "rs9923231", "", reader) == [("variant:rs9923231", {})]
    assert variant_genotype("CYP2C9", "*1/*3") is None


def test_a_patient_genotype_is_read_on_either_strand_and_lists_each_spelling() -> None:
    plus = TABLE.genotype("rs9923231", "TT")
    gene_strand = TABLE.genotype("rs9923231", "AA")  # VKORC1 is read on the minus strand: -1639 A is T
    hgvs = TABLE.read("VKORC1", "-1639G>A AA").calls[0]
    for call in (plus, gene_strand, hgvs):
        assert call.phenotype == "-1639 AA"
        assert {"rs9923231 TT", "rs9923231 AA", "-1639 AA", "-1639G>A AA"} <= set(call.genotypes)
    het = TABLE.genotype("rs9923231", "CT")
    assert "rs9923231 AG" in het.genotypes and "rs9923231 AA" not in het.genotypes
    # a gene read on its own strand lists the plus strand only: ABCG2's rs2231142
    assert TABLE.genotype("rs2231142", "GT").genotypes == ("rs2231142 GT",)
    with pytest.raises(GenotypeError, match="plus strand"):
        TABLE.genotype("rs9923231", "AC")


def test_the_vkorc1_table_rows_compile_into_genotype_claims_matched_exactly(shared: Path) -> None:
    claims = compile_drug("warfarin", _facts(shared), CpicReader(TABLE))
    groups = {c.group for c in claims if c.gene == "VKORC1"}
    assert {"genotype:rs9923231 AA", "genotype:rs9923231 AG", "genotype:rs9923231 GG"} <= groups
    aa = next(c for c in claims if c.group == "genotype:rs9923231 AA" and c.action == "dose_change")
    assert aa.phenotype == "VKORC1 rs9923231 AA"
    assert all("row VKORC1 AA" in c.text for c in aa.citations)
    patient_aa, patient_ag = TABLE.genotype("rs9923231", "TT"), TABLE.genotype("rs9923231", "CT")
    assert applies(aa, patient_aa) == "exact genotype"
    assert applies(aa, patient_ag) is None


def test_a_vkorc1_genotype_alone_gets_the_dose_table_alert(warfarin: Knowledge) -> None:
    result = check(DrugRef("warfarin"), _profile("rs9923231 AA"), warfarin)
    alert = next(a for a in result.alerts if a["gene"] == "VKORC1")
    assert alert["action"] == "dose change" and alert["basis"] == "exact genotype"
    assert all("row VKORC1 AA" in c["text"] for c in alert["citations"] if c["text"].startswith("Table 1"))


@pytest.mark.parametrize(("cyp2c9", "vkorc1", "row"), [
    ("CYP2C9 *1/*3", "rs9923231 AA", "row VKORC1 AA, column CYP2C9 *1/*3: 0.5-2 mg"),
    ("CYP2C9 *3/*1", "rs9923231 CT", "row VKORC1 AG, column CYP2C9 *1/*3: 3-4 mg"),
    ("CYP2C9 *1/*2", "VKORC1 -1639 GG", "row VKORC1 GG, column CYP2C9 *1/*2: 5-7 mg"),
])
def test_a_two_gene_patient_is_cited_the_row_for_both_results_first(warfarin: Knowledge, cyp2c9: str, vkorc1: str,
                                                                      row: str) -> None:
    result = check(DrugRef("warfarin"), _profile(cyp2c9, vkorc1), warfarin)
    alerts = {a["gene"]: a for a in result.alerts}
    for gene in alerts:  # each gene's alert leads with the cell of the patient's two results
        assert row in alerts[gene]["citations"][0]["text"], (gene, alerts[gene]["citations"][0]["text"])
        assert row in alerts[gene]["recommendation"]
    assert "CYP2C9" in alerts


def test_a_result_is_named_only_under_its_own_gene() -> None:
    cyp2c9 = TABLE.translate("CYP2C9", "*1/*3")
    assert names_result("row VKORC1 AA, column CYP2C9 *3/*1: 0.5-2 mg", cyp2c9)
    assert not names_result("row VKORC1 AA, column CYP2C9 *1/*33: 0.5-2 mg", cyp2c9)
    assert not names_result("row CYP2D6 *1/*3, column VKORC1 AA", cyp2c9)
    vkorc1 = TABLE.genotype("rs9923231", "TT")
    assert names_result("row VKORC1 AA, column CYP2C9 *1/*3", vkorc1)
    assert not names_result("row VKORC1 AG, column CYP2C9 *1/*3", vkorc1)
