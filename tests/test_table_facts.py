"""PGx facts from label table cells, read from real recorded openFDA labels: warfarin's dose-by-genotype
grid (CYP2C9 columns x VKORC1 rows), one-dimensional phenotype tables (eliglustat's dose by CYP2D6
status, clopidogrel's exposure by CYP2C19 status), and tables that state no PGx fact (interactions,
clinical studies, adverse reactions, laboratory values) giving nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxlit.extract.table_facts import header_factors, label_table_triples, section_table_triples
from pgxlit.extract.triples import SKIP_SECTIONS, label_subject, label_triples
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.records import LabelVersion, Section, Table, Triple

WARFARIN = "openfda/labels/NDA009218.json"
ELIGLUSTAT = "openfda/labels/NDA205494.json"
CLOPIDOGREL = "openfda/labels/NDA020839.json"
CAPECITABINE = "openfda/labels/NDA020896.json"


def _label(shared: Path, path: str) -> LabelVersion:
    file = shared / "corpora/fda" / path
    if not file.is_file():
        pytest.skip(f"needs the recorded label {file}")
    labels, _ = parse_openfda_response(file.read_bytes(), path)
    return labels[0]


def _tables(label: LabelVersion) -> list[Triple]:
    return label_table_triples(label, label_subject(label), SKIP_SECTIONS)


def _one_table(label: LabelVersion, caption_start: str) -> tuple[Section, Table]:
    for section in label.sections:
        for table in section.tables:
            if (table.caption or "").startswith(caption_start):
                return section, table
    raise AssertionError(f"no table {caption_start!r} in {label.title}")


# ---- a two-dimensional dose table ----------------------------------------------------------------
def test_warfarin_dose_grid_gives_both_genotypes_of_each_cell_with_the_row_cited(shared: Path) -> None:
    label = _label(shared, WARFARIN)
    triples = _tables(label)
    assert triples, "warfarin's CYP2C9 x VKORC1 dose table gave no triple"
    assert {t.drug for t in triples} == {"warfarin"}
    assert {t.gene for t in triples} == {"CYP2C9", "VKORC1"}
    # 6 CYP2C9 columns x 3 VKORC1 rows, each cell one triple per gene
    assert len(triples) == 36
    cell = [t for t in triples if t.gene == "CYP2C9" and t.variant == "CYP2C9*1/*3" and "row VKORC1 AA" in t.evidence.sentence]
    assert len(cell) == 1
    t = cell[0]
    assert t.evidence.sentence.startswith("Table 1 (Three Ranges of Expected Maintenance COUMADIN Daily Doses")
    assert "row VKORC1 AA, column CYP2C9 *1/*3: 0.5-2 mg [Table 1, row 3]" in t.evidence.sentence
    assert (t.effect, t.origin, t.pgx, t.relation) == ("dosage", "germline", True, "influences")
    # cited in the prose section that writes the table out (where the index and the answerer read)
    assert t.evidence.section == "dosage_and_administration" and t.evidence.source == "fda_label"
    assert t.extractor.endswith("+table")
    # the VKORC1 side of the same cell: the genotype under the gene, tied to the rs id the table's note names
    partner = [x for x in triples if x.gene == "VKORC1" and x.evidence.sentence == t.evidence.sentence]
    assert [x.variant for x in partner] == ["rs9923231 AA"]
    # the evidence offsets point at the cell's row as the section text writes it
    section = next(s for s in label.sections if s.field == "dosage_and_administration")
    assert " ".join(section.text[t.evidence.start:t.evidence.end].split()) == \
        "AA 3-4 mg 3-4 mg 0.5-2 mg 0.5-2 mg 0.5-2 mg 0.5-2 mg"


def test_the_dose_table_reads_as_a_dose_change_through_the_one_action_reader(shared: Path) -> None:
    from pgxlit.extract.actions import read_action

    t = next(t for t in _tables(_label(shared, WARFARIN)) if t.variant == "CYP2C9*3/*3")
    assert read_action(t.evidence.sentence, t.evidence.section, t.effect, t.evidence.source).action == "dose change"


def test_label_extraction_includes_the_table_triples_once(shared: Path) -> None:
    label = _label(shared, WARFARIN)
    triples = label_triples(label)
    table = [t for t in triples if t.extractor.endswith("+table")]
    assert len(table) == 36
    assert len({(t.gene, t.variant, t.evidence.sentence) for t in table}) == 36


# ---- one-dimensional phenotype tables ------------------------------------------------------------
def test_eliglustat_dose_by_cyp2d6_status_gives_one_triple_per_status(shared: Path) -> None:
    label = _label(shared, ELIGLUSTAT)
    section, table = _one_table(label, "Table 1: Recommended Dosage Regimen by CYP2D6")
    subject = label_subject(label)
    assert subject is not None
    triples = section_table_triples(label, replace_tables(section, table), subject.name, subject.drug_id, subject.aliases)
    by_status = {t.variant: t for t in triples}
    assert set(by_status) == {"Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer"}
    pm = by_status["Poor Metabolizer"]
    assert pm.gene == "CYP2D6" and pm.pgx and pm.effect == "dosage"
    assert pm.evidence.sentence.endswith(
        "row CYP2D6 Metabolizer Status PMs, column CERDELGA Dosage: 84 mg once daily [Table 1, row 3]")


def test_bare_status_words_in_a_status_table_are_statuses_of_the_table_gene(shared: Path) -> None:
    label = _label(shared, CLOPIDOGREL)
    _, table = _one_table(label, "Table 3: Active Metabolite Pharmacokinetics")
    gene = ("CYP2C19", "HGNC:2621")
    assert [f.variant for f in header_factors("Poor (n=10)", table, gene, status_table=True)] == ["Poor Metabolizer"]
    assert [f.variant for f in header_factors("Ultrarapid (n=10)", table, gene, status_table=True)] == [
        "Ultrarapid Metabolizer"]
    assert header_factors("Poor (n=10)", table, gene, status_table=False) == []


def test_a_groups_own_pk_means_are_no_fact_but_exposure_changes_are(shared: Path) -> None:
    """Clopidogrel's Cmax and IPA means per CYP2C19 status are measurements that say nothing until
    compared (and their "Dose 300 mg" rows read like a dose change); eliglustat's "↑ 4.3-fold" by
    CYP2D6 status is a change in exposure."""
    clopidogrel = _label(shared, CLOPIDOGREL)
    section, table = _one_table(clopidogrel, "Table 3: Active Metabolite Pharmacokinetics")
    subject = label_subject(clopidogrel)
    assert subject is not None
    assert section_table_triples(clopidogrel, replace_tables(section, table), subject.name, subject.drug_id) == []
    eliglustat = _tables(_label(shared, ELIGLUSTAT))
    fold = [t for t in eliglustat if t.effect == "metabolism" and "fold" in t.evidence.sentence]
    assert {t.variant for t in fold} >= {"Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer"}
    assert not any(t.pgx for t in fold)  # every one of them is with an inhibitor or inducer


def test_an_interaction_conditioned_cell_is_kept_but_not_pgx(shared: Path) -> None:
    label = _label(shared, ELIGLUSTAT)
    triples = _tables(label)
    interaction = [t for t in triples if "Ketoconazole" in t.evidence.sentence]
    assert interaction and not any(t.pgx for t in interaction)


# ---- tables that state no PGx fact ---------------------------------------------------------------
def test_interaction_study_and_adverse_reaction_tables_give_nothing(shared: Path) -> None:
    warfarin = _tables(_label(shared, WARFARIN))
    assert {t.evidence.sentence.split(" (", 1)[0] for t in warfarin} == {"Table 1"}  # not Table 2 (CYP450 inhibitors)
    capecitabine = _label(shared, CAPECITABINE)
    assert any(s.tables for s in capecitabine.sections if (s.field or "").startswith("adverse_reactions"))
    assert _tables(capecitabine) == []


def test_a_gene_alone_in_a_header_is_no_factor() -> None:
    table = Table(caption="Table 2: Examples of CYP450 Interactions", header=(("Enzyme", "Inhibitors"),),
                  rows=(("CYP2C9", "fluconazole"),))
    assert header_factors("CYP2C9", table, None) == []
    assert [f.variant for f in header_factors("VKORC1 / AA", table, None)] == ["VKORC1 AA"]
    assert [(f.gene, f.variant) for f in header_factors("HLA-B*5801 positive", table, None)] == [("HLA-B", "HLA-B*58:01")]


def replace_tables(section: Section, table: Table) -> Section:
    """The section with only the table under test."""
    from dataclasses import replace

    return replace(section, tables=(table,))


def test_a_table_triple_has_a_passage_to_be_indexed_and_cited_from(shared: Path) -> None:
    """The index makes each PGx triple an entry beside the passage holding its offsets; the answerer
    finds a claim's citation in that entry, so a table row can be cited like a sentence."""
    from pgxlit.index.passages import evidence_passage, label_passages, triple_entry

    label = _label(shared, WARFARIN)
    t = next(t for t in _tables(label) if t.variant == "CYP2C9*1/*3" and "row VKORC1 AA" in t.evidence.sentence)
    holder = evidence_passage(t, label_passages(label))
    assert holder is not None and holder.section == "dosage_and_administration"
    assert "[Table 1, row 3]" in triple_entry(t, holder).text
