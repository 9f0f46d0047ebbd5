"""The section vocabulary, the action reader, extraction's public API and the knowledge layer's claims."""

from __future__ import annotations

import pytest

from pgxlit import sections
from pgxlit.extract import actions
from pgxlit.records import Section


# ---- one section vocabulary -------------------------------------------------------------------------
def test_every_section_code_and_loinc_agree_with_the_shipped_spl_table() -> None:
    from pgxlit.ingest.spl_sections import field_for_loinc, loinc_for_field

    for s in sections.SECTIONS:
        assert loinc_for_field(s.code) == s.loinc, s.code
        assert field_for_loinc(s.loinc) == s.code, s.loinc


def test_source_strength_orders_boxed_warning_down_to_literature() -> None:
    order = ["boxed_warning", "contraindications", "dosage_and_administration", "pharmacogenomics",
             "warnings_and_cautions", "adverse_reactions"]
    strengths = [sections.source_strength("fda_label", code) for code in order]
    assert strengths == sorted(strengths, reverse=True) and len(set(strengths)) == len(strengths)
    assert sections.source_strength("fda_label", "clinical_pharmacology") == sections.Strength.PHARMACOGENOMICS
    assert sections.source_strength("fda_label", "boxed_warning_table") == sections.Strength.BOXED_WARNING
    assert sections.source_strength("pubmed", None) == sections.Strength.LITERATURE < sections.Strength.LABEL
    assert sections.source_strength("fda_label", "storage_and_handling") == sections.Strength.LABEL


def test_each_consumer_reads_its_own_numbers_from_the_vocabulary() -> None:
    from pgxlit.extract.relations import effect_of
    from pgxlit.index.search import PUBMED_PRIOR, SECTION_PRIOR
    from pgxlit.ingest.crawl_openfda import build_label_query

    assert SECTION_PRIOR["boxed_warning"] == 1.3 and SECTION_PRIOR["adverse_reactions"] == 0.9 and PUBMED_PRIOR == 0.95
    assert sections.ANSWER_WEIGHT["indications_and_usage"] == 0.3 and sections.ANSWER_WEIGHT_DEFAULT == 0.2
    assert effect_of("Patients with CYP2D6 variants.", "dosage_and_administration") == "dosage"
    assert effect_of("Patients with CYP2D6 variants.", "description") == "other"
    query = build_label_query(pgx=True)
    assert query.index("boxed_warning:") < query.index("clinical_pharmacology:") < query.index("use_in_specific_populations:")
    assert "warnings:" not in query.replace("warnings_and_cautions:", "")


@pytest.mark.parametrize(("field", "loinc", "title", "tier"), [
    ("boxed_warning", None, None, 0),
    ("boxed_warning_table", None, None, 0),
    (None, "34070-3", "whatever", 1),
    ("adverse_reactions", None, "5 WARNINGS AND PRECAUTIONS", 3),  # a listed field below tier 5 falls to its heading
    (None, None, "12.5 Pharmacogenomics", 4),
    ("spl_unclassified_section", None, "Storage", 5),
])
def test_digest_tiers(field: str | None, loinc: str | None, title: str | None, tier: int) -> None:
    from pgxlit.digest.classify import section_tier

    assert section_tier(Section(order=0, field=field, loinc=loinc, title=title, text="x")) == tier


def test_section_titles_never_none() -> None:
    assert sections.section_title("dosage_and_administration") == "Dosage and Administration"
    assert sections.section_title("storage_and_handling") == "Storage And Handling"
    assert sections.section_title(None) == "label"


# ---- one action reader -------------------------------------------------------------------------------
@pytest.mark.parametrize(("sentence", "section", "action", "severity"), [
    ("Codeine is contraindicated in CYP2D6 ultra-rapid metabolizers.", "contraindications", "avoid", "critical"),
    ("Consider use of another platelet P2Y12 inhibitor in patients identified as CYP2C19 poor metabolizers.",
     "boxed_warning", "alternative", "critical"),
    ("Reduce the dose in patients with one no-function DPYD allele.", "dosage_and_administration", "dose change", "warning"),
    ("Siponimod is contraindicated in CYP2C9*3/*3 patients taking a strong CYP3A4 inhibitor.", "contraindications",
     "monitor", "warning"),
    ("No dose adjustment is necessary for CYP2C9 intermediate metabolizers.", "clinical_pharmacology", "no action", "info"),
])
def test_verdict_reading(sentence: str, section: str, action: str, severity: str) -> None:
    reading = actions.read_action(sentence, section, "other", "fda_label")
    assert (reading.action, reading.severity) == (action, severity)
    assert actions.read_action(sentence, None, "other", "pubmed").severity == "info"  # literature alone never alarms


def test_table_reading_differs_for_a_recommendation_and_a_quote() -> None:
    grid = "VKORC1 GG 5-7 mg 5-7 mg 3-4 mg 3-4 mg AG 5-7 mg"
    caption = "Table 1: Three Ranges of Expected Maintenance Daily Doses Based on CYP2C9 and VKORC1 Genotypes."
    alleles = "Cl/F is 2.5, 1.9, 1.6 L/h in subjects with the CYP2C9*2/*2, CYP2C9*1/*3 and CYP2C9*2/*3 genotypes."
    assert actions.looks_like_table(grid)
    assert not actions.looks_like_table(caption) and actions.looks_like_table(caption, quote=True)
    assert not actions.looks_like_table(alleles) and actions.looks_like_table(alleles, quote=True)


# ---- extraction's public API -----------------------------------------------------------------------------
def test_extract_api_names_pharmacogenes_and_finds_label_triples() -> None:
    from pgxlit.extract.api import is_pharmacogene, label_text_pgx_triples, last_pharmacogene, names_genetic_factor
    from pgxlit.records import LabelVersion

    assert is_pharmacogene("CYP2D6") and is_pharmacogene("HLA-B") and not is_pharmacogene("ALB")
    assert last_pharmacogene("CYP2C9 and then CYP2D6 activity")[0] == "CYP2D6"
    assert names_genetic_factor("in CYP2D6 poor metabolizers") and not names_genetic_factor("Store at 25 C.")
    label = LabelVersion(set_id="s", version=1, effective_time=None, spl_id=None, title="CODEINE", generic_names=("codeine",), sections=())
    found = label_text_pgx_triples(
        [("CYP2D6 genotype matters.", "Ultra-rapid metabolizers may have life-threatening respiratory depression."),
         ("", "Store at 25 C.")], label, "warnings_and_cautions")
    assert [t.gene for t in found[0]] == ["CYP2D6"] and found[1] == []
