"""The section vocabulary, the action reader, extraction's public API and the knowledge layer's claims."""

from __future__ import annotations

import pytest

from snapshot_world import extracted_snapshot

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


# ---- claims (pure) ---------------------------------------------------------------------------------------------
def _fact(sentence: str, *, drug: str = "capecitabine", gene: str = "DPYD", variant: str | None = "DPYD Deficiency",
          section: str = "warnings_and_cautions", source: str = "fda_label", version: int = 1, set_id: str = "s1",
          pmid: str | None = None, confidence: float = 0.6, triple_id: int = 1):
    from pgxlit.knowledge.facts import TripleFact

    return TripleFact(drug=drug, gene=gene, variant=variant, relation="influences", effect="toxicity", negated=False,
                      confidence=confidence, source=source, sentence=sentence, set_id=set_id if source == "fda_label" else None,
                      version=version if source == "fda_label" else None, section=section if source == "fda_label" else None,
                      pmid=pmid, triple_id=triple_id)


COMPLETE = ("XELODA is not recommended for use in patients known to have certain homozygous or compound heterozygous "
            "DPYD variants that result in complete DPD deficiency.")
PARTIAL = "There are insufficient data to recommend a specific dose in patients with partial DPD deficiency."


def test_deficiency_is_read_with_its_qualifier() -> None:
    from pgxlit.knowledge.groups import group_keys

    assert group_keys("DPYD", "DPYD Deficiency", COMPLETE) == [("deficiency:complete", {})]
    assert group_keys("DPYD", "DPYD Deficiency", PARTIAL) == [("deficiency:partial", {})]
    assert group_keys("DPYD", "DPYD Deficiency", "Patients with DPD deficiency are at risk.") == [("function:No", {})]
    # a gene-level sentence that qualifies the deficiency itself is about that group
    assert group_keys("DPYD", None, "Not recommended in patients with complete absence of DPD activity.") == [
        ("deficiency:complete", {})]


def test_one_claim_cites_a_sentence_once_across_versions_and_set_ids() -> None:
    from pgxlit.knowledge.compile import compile_drug

    facts = [_fact(COMPLETE, version=v, set_id=s, triple_id=i)
             for i, (s, v) in enumerate([("s1", 1), ("s1", 2), ("s2", 7), ("s2", 7)])]
    facts.append(_fact(COMPLETE.replace(".", " [see Warnings (5.2)]."), set_id="s3", triple_id=9))
    [claim] = compile_drug("capecitabine", facts)
    assert (claim.group, claim.action, claim.severity, claim.status) == ("deficiency:complete", "avoid", "critical", "label")
    assert claim.strength == "warnings" and claim.phenotype == "complete DPYD deficiency"
    [citation] = claim.citations
    assert len(citation.places) == 4  # s1 v1, s1 v2, s2 v7, s3 v1: each place once, the sentence once
    shape = claim.to_json(applies=True)
    assert set(shape) >= {"drug", "gene", "phenotype", "action", "severity", "testing_level", "status", "applies",
                          "citations"}
    assert shape["applies"] is True and shape["citations"][0]["places"][0]["url"].startswith("https://dailymed")


def test_claims_apply_allele_exact() -> None:
    from pgxlit.check.genotype import load_table
    from pgxlit.knowledge.applies import applies
    from pgxlit.knowledge.compile import compile_drug

    claims = compile_drug("capecitabine", [_fact(COMPLETE, triple_id=1), _fact(PARTIAL, triple_id=2)])
    table = load_table()
    heterozygous = table.translate("DPYD", "c.1905+1G>A (*2A)/Reference")
    homozygous = table.translate("DPYD", "*2A/*13")
    assert [c.group for c in claims if applies(c, heterozygous)] == ["deficiency:partial"]
    assert [c.group for c in claims if applies(c, homozygous)] == ["deficiency:complete"]


def test_dose_text_testing_level_and_literature_count() -> None:
    from pgxlit.knowledge.compile import compile_drug

    facts = [
        _fact("Reduce the starting dose by 50% in patients with one no function DPYD allele.", variant="DPYD No Function",
              section="dosage_and_administration", triple_id=1),
        _fact("Consider testing for genetic variants of DPYD prior to initiating XELODA.", variant=None, triple_id=2),
        _fact("DPYD*2A carriers had severe toxicity with capecitabine.", variant=None, source="pubmed", pmid="1",
              confidence=0.8, triple_id=3),
        _fact("DPYD variants predicted toxicity of capecitabine.", variant=None, source="pubmed", pmid="2",
              confidence=0.8, triple_id=4),
    ]
    claims = compile_drug("capecitabine", facts)
    dose = next(c for c in claims if c.action == "dose_change")
    assert dose.dose == "50%" and dose.group == "function:No" and dose.copies == 1
    assert {c.testing_level for c in claims} == {"recommended"}
    literature = [c for c in claims if c.status == "literature_only"]
    assert literature and sum(c.literature_count for c in literature) == 2
    assert any(c.action == "test" for c in claims)


def test_recompiling_touches_only_the_drugs_whose_triples_changed() -> None:
    from pgxlit.knowledge.base import compile_facts

    facts = [_fact(COMPLETE, triple_id=1), _fact("Codeine is contraindicated in CYP2D6 ultra-rapid metabolizers.",
                                                  drug="codeine", gene="CYP2D6", variant="CYP2D6 Ultrarapid Metabolizer",
                                                  section="contraindications", triple_id=2)]
    first, cache = compile_facts(facts)
    assert set(first.recompiled) == {"capecitabine", "codeine"}
    again, cache = compile_facts(facts, cached=cache)
    assert again.recompiled == () and again.claims_for("codeine") == first.claims_for("codeine")
    new_version = _fact(COMPLETE, version=2, triple_id=3)
    after, _ = compile_facts([*facts, new_version], cached=cache)
    assert after.recompiled == ("capecitabine",)
    assert len(after.claims_for("capecitabine")[0].citations[0].places) == 2
    assert after.coverage("codeine", "CYP2D6") == "label" and after.coverage("codeine", "SLCO1B1") == "not_covered"
    assert [c.drug for c in after.claims_for_gene("CYP2D6")] == ["codeine"]


# ---- the check on the bundled snapshot: each outcome ----------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot_service(tmp_path_factory: pytest.TempPathFactory):
    """The snapshot loaded into a temporary store; the three drugs' latest labels and the abstracts naming
    them extracted with the real pipeline."""
    from pgxlit.check.service import CheckService

    settings, store = extracted_snapshot(tmp_path_factory.mktemp("knowledge"))
    return CheckService(settings, store=store)


def _run(service, drug: str, *, diplotypes=(), phenotypes=()):
    from pgxlit.check.profile import profile_from_args

    return service.run(drug, profile_from_args(list(diplotypes), list(phenotypes), [], service.table))


def _once(alert: dict) -> None:
    texts = [" ".join(c["text"].lower().split()) for c in alert["citations"]]
    assert len(texts) == len(set(texts)), "a source sentence is cited twice"
    for claim in alert["claims"]:
        assert claim["applies"] is True
        claim_texts = [c["text"] for c in claim["citations"]]
        assert len(claim_texts) == len(set(claim_texts))


def test_snapshot_codeine_ultrarapid_is_an_avoid_alert_cited_to_the_label(snapshot_service) -> None:
    result = _run(snapshot_service, "codeine", phenotypes=("CYP2D6 ultrarapid metabolizer",))
    [alert] = result.alerts
    assert (alert["action"], alert["severity"], alert["status"]) == ("avoid", "critical", "label")
    assert "ultra-rapid metabolizers should not use" in alert["recommendation"]
    assert result.outcomes[0]["outcome"] == "alert" and alert["claims"][0]["action"] == "avoid"
    _once(alert)


def test_snapshot_heterozygous_dpyd_gets_the_partial_deficiency_text(snapshot_service) -> None:
    het = _run(snapshot_service, "capecitabine", diplotypes=("DPYD c.1905+1G>A/Reference",)).alerts
    [alert] = [a for a in het if a["gene"] == "DPYD"]
    assert alert["action"] != "avoid" and "partial" in alert["recommendation"].lower()
    assert not any("complete" in c["phenotype"] for c in alert["claims"])
    assert all("complete dpd deficiency" not in c["text"].lower() or "partial" in c["text"].lower()
               for c in alert["citations"])
    _once(alert)
    [hom] = [a for a in _run(snapshot_service, "capecitabine", diplotypes=("DPYD *2A/*13",)).alerts if a["gene"] == "DPYD"]
    assert hom["action"] == "avoid" and "complete" in hom["recommendation"]


def test_snapshot_simvastatin_slco1b1_is_a_literature_caution_not_green(snapshot_service) -> None:
    result = _run(snapshot_service, "simvastatin", diplotypes=("SLCO1B1 *5/*5",))
    [alert] = result.alerts
    assert alert["severity"] == "info" and alert["status"] == "literature_only"
    assert alert["citations"] and all(c["source"] == "pubmed" and c["pmid"] for c in alert["citations"])
    assert result.outcomes[0]["outcome"] == "alert" and result.outcomes[0]["coverage"] == "literature_only"
    _once(alert)


def test_snapshot_not_covered_is_said_and_never_read_as_safe(snapshot_service) -> None:
    result = _run(snapshot_service, "codeine", diplotypes=("SLCO1B1 *5/*5",))
    assert result.alerts == [] and result.outcomes[0]["outcome"] == "not_covered"
    assert any("not covered" in line and "no evidence of safety" in line for line in result.explanation)


def test_snapshot_no_interaction_stated_for_a_result_the_label_does_not_act_on(snapshot_service) -> None:
    result = _run(snapshot_service, "codeine", phenotypes=("CYP2D6 intermediate metabolizer",))
    assert result.alerts == [] and result.outcomes[0]["outcome"] == "no_interaction"
    assert result.outcomes[0]["coverage"] == "label"
