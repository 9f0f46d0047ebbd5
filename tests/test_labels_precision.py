"""Issue 17: every PGx triple right on the labels, one test per failure class.

Each sentence is copied from a recorded label in ../shared/corpora/fda/openfda/labels (file and
section named beside it); the label around it is rebuilt with the label's own openFDA names, so
the test runs the same `label_triples` a stored label goes through.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pgxlit.extract.conditions import find_conditions
from pgxlit.extract.lexicons import DictionaryMatcher, load_lexicons, normalise_gene
from pgxlit.extract.triples import biomarker_triples, is_table_soup, label_subject, label_triples
from pgxlit.records import LabelVersion, Section, Triple


def _label(generic: str, brand: str, *sections: tuple[str, str]) -> LabelVersion:
    return LabelVersion(
        set_id="test", version=1, effective_time=None, spl_id=None, title=None,
        generic_names=(generic,), brand_names=(brand,),
        sections=tuple(Section(order=i, field=field, text=text) for i, (field, text) in enumerate(sections)),
    )


def _pgx_pairs(label: LabelVersion) -> set[tuple[str, str]]:
    return {(t.drug, t.gene) for t in label_triples(label) if t.pgx and t.gene}


def _triples(label: LabelVersion) -> list[Triple]:
    return [t for t in label_triples(label) if t.gene]


# ---- drugs that are drugs ---------------------------------------------------------------------
def test_lab_tests_are_not_the_amino_acids_they_start_with() -> None:
    matcher = DictionaryMatcher()
    found = matcher.find("Elevations of alanine aminotransferase (ALT) and aspartate aminotransferase were seen.")
    assert not [m for m in found if m.label == "DRUG"]


def test_an_analyte_is_not_the_subject_of_the_label_gene() -> None:
    # Tasigna (NDA022068), clinical_pharmacology 12.5: bilirubin is measured, nilotinib is the drug.
    label = _label("NILOTINIB", "Tasigna", ("clinical_pharmacology",
                   "However, the largest increases in bilirubin were observed in the (TA)7/(TA)7 genotype "
                   "(UGT1A1*28) patients [see Warnings and Precautions (5.6)] ."))
    assert _pgx_pairs(label) == {("nilotinib", "UGT1A1")}
    assert load_lexicons().is_not_a_drug("bilirubin") and not load_lexicons().is_not_a_drug("nilotinib")


# ---- tables -----------------------------------------------------------------------------------
BOSULIF_LAB_TABLE = (
    "Graded using CTCAE v 4.03 Hematology Parameters Platelet Count decreased 68 14 60 6 Absolute Neutrophil Count "
    "decreased 42 9 65 20 Hemoglobin decreased 89 9 90 7 White Blood Cell Count decreased 50 6 70 8 Lymphocyte Count "
    "decreased 84 12 82 14 Biochemistry Parameters SGPT/ALT increased 68 26 28 3 SGOT/AST increased 56 13 29 3.4 "
    "Lipase increased 53 19 35 8 Phosphorus decreased 54 9 69 21 Amylase increased 32 3.4 18 2.3 Alkaline "
    "Phosphatase increased 41 0 43 0.4 Calcium decreased 55 1.5 57 1.1 Glucose increased 57 3 65 3.4 Creatine "
    "Kinase increased 36 3 65 5 Creatinine increased 94 1.1 98 0.8 Adverse Reactions in Adult Patients With "
    "Imatinib-Resistant or -Intolerant Ph+ CP, AP, and BP CML The single-arm clinical trial enrolled patients with "
    "Ph+ CP, AP, or BP CML and with resistance or intolerance to prior therapy [see Clinical Studies (14.2) ] ."
)


def test_a_flattened_table_is_not_read_as_a_sentence() -> None:
    # BOSULIF (NDA203341), adverse_reactions: a laboratory table run into one "sentence".
    assert is_table_soup(BOSULIF_LAB_TABLE)
    assert not _triples(_label("BOSUTINIB", "BOSULIF", ("adverse_reactions", BOSULIF_LAB_TABLE)))
    # Prose of the same length class stays prose (Plavix boxed warning).
    assert not is_table_soup("Effectiveness of Plavix depends on conversion to an active metabolite by the "
                             "cytochrome P450 (CYP) system, principally CYP2C19.")


# ---- brand and substance names ------------------------------------------------------------------
def test_a_brand_named_label_takes_its_active_ingredient() -> None:
    # PURIXAN (NDA205919): openFDA's generic_name is the brand; the label's description names the substance.
    label = _label("PURIXAN", "PURIXAN",
                   ("description", "11 DESCRIPTION Mercaptopurine, a nucleoside metabolic inhibitor."),
                   ("dosage_and_administration",
                    "Consider testing for TPMT and NUDT15 deficiency in patients who experience severe "
                    "myelosuppression or repeated episodes of myelosuppression."))
    subject = label_subject(label)
    assert subject is not None and subject.name == "mercaptopurine"
    assert _pgx_pairs(label) == {("mercaptopurine", "TPMT"), ("mercaptopurine", "NUDT15")}


# ---- genes by any name ------------------------------------------------------------------------
def test_genes_written_as_enzymes_take_their_symbols() -> None:
    for term, symbol in [("glucose-6-phosphate dehydrogenase", "G6PD"), ("G-6-PD", "G6PD"),
                         ("dihydropyrimidine dehydrogenase", "DPYD"), ("DPD", "DPYD"),
                         ("cytochrome P450 2D6", "CYP2D6"), ("P450IID6", "CYP2D6"),
                         ("debrisoquin hydroxylase", "CYP2D6"), ("pseudocholinesterase", "BCHE"),
                         ("plasma cholinesterase", "BCHE"), ("Factor V Leiden", "F5"),
                         ("antithrombin III", "SERPINC1"), ("ryanodine receptor", "RYR1")]:
        found = normalise_gene(term)
        assert found is not None and found[1] == symbol, term
    # TRODELVY (BLA761115), warnings_and_cautions 5.4: the enzyme's name is no "uridine".
    label = _label("SACITUZUMAB GOVITECAN", "TRODELVY", ("warnings_and_cautions",
                   "Individuals who are homozygous for the uridine diphosphate-glucuronosyl transferase 1A1 "
                   "(UGT1A1)*28 allele are at increased risk for neutropenia, febrile neutropenia, and anemia "
                   "following initiation of TRODELVY treatment."))
    assert {g for _, g in _pgx_pairs(label)} == {"UGT1A1"}
    assert {d for d, _ in _pgx_pairs(label)} == {"sacituzumab govitecan"}


# ---- subjects ---------------------------------------------------------------------------------
def test_a_metabolite_stands_for_the_label_drug() -> None:
    # Codeine sulfate (NDA022402), warnings_and_cautions.
    label = _label("CODEINE SULFATE", "Codeine sulfate", ("warnings_and_cautions",
                   "Codeine is subject to variability in metabolism based upon CYP2D6 genotype (described below), "
                   "which can lead to an increased exposure to the active metabolite morphine."))
    assert _pgx_pairs(label) == {("codeine", "CYP2D6")}
    # SOLTAMOX (NDA021807), clinical_pharmacology: endoxifen is tamoxifen's metabolite.
    label = _label("TAMOXIFEN CITRATE", "SOLTAMOX", ("clinical_pharmacology",
                   "The polymorphic enzyme CYP2D6 is involved in the formation of endoxifen and 4-hydroxytamoxifen. "
                   "Endoxifen concentrations may differ among patients because of various CYP2D6 genotypes."))
    assert _pgx_pairs(label) == {("tamoxifen", "CYP2D6")}


def test_probe_drugs_and_interaction_partners_are_not_subjects() -> None:
    # ULTRAM (NDA020281), clinical_pharmacology: debrisoquine is the probe that defines the phenotype.
    label = _label("TRAMADOL HYDROCHLORIDE", "ULTRAM", ("clinical_pharmacology",
                   "These individuals are \"poor metabolizers\" of debrisoquine, dextromethorphan, tricyclic "
                   "antidepressants, among other drugs."))
    assert all(d == "tramadol" for d, _ in _pgx_pairs(label))
    # PROVIGIL (NDA020717), clinical_pharmacology: the bare status is of the CYP2D6 named beside it,
    # not of the CYP2C19 the rest of the sentence (and label) is about; debrisoquine is the probe.
    label = _label("MODAFINIL", "PROVIGIL", ("clinical_pharmacology",
                   "In tricyclic-treated patients deficient in CYP2D6 (i.e., those who are poor metabolizers of "
                   "debrisoquine; 7-10% of the Caucasian population; similar or lower in other populations), the "
                   "amount of metabolism by CYP2C19 may be substantially increased."))
    assert _pgx_pairs(label) == {("modafinil", "CYP2D6")}
    # MAYZENT (NDA209884), clinical_pharmacology: rifampin is the interacting drug.
    label = _label("SIPONIMOD", "MAYZENT", ("clinical_pharmacology",
                   "The coadministration of siponimod 2 mg daily in the presence of 600 mg daily doses of rifampin "
                   "(strong CYP3A4 and moderate CYP2C9 dual inducer) decreased siponimod AUC tau,ss and C max,ss by "
                   "57% and 45%, respectively, in CYP2C9*1/*1 subjects."))
    assert {d for d, _ in _pgx_pairs(label)} == {"siponimod"}
    # Celexa (NDA020822), warnings_and_cautions: cimetidine is a CYP2C19 inhibitor, not a PGx subject.
    label = _label("CITALOPRAM", "Celexa", ("warnings_and_cautions",
                   "The maximum dose should be limited to 20 mg once daily in patients who are CYP2C19 poor "
                   "metabolizers or those patients receiving concomitant cimetidine or another CYP2C19 inhibitor, "
                   "since higher citalopram exposures would be expected."))
    assert _pgx_pairs(label) == {("citalopram", "CYP2C19")}


# ---- germline vs somatic ----------------------------------------------------------------------
def test_tumour_biomarkers_are_somatic_and_not_pgx() -> None:
    # Herceptin (BLA103792), indications 1.3: HER2 is the tumour's, cisplatin a regimen partner.
    label = _label("TRASTUZUMAB", "Herceptin", ("indications_and_usage",
                   "Herceptin is indicated, in combination with cisplatin and capecitabine or 5-fluorouracil, for "
                   "the treatment of patients with HER2-overexpressing metastatic gastric or gastroesophageal "
                   "junction adenocarcinoma who have not received prior treatment for metastatic disease."))
    found = _triples(label)
    assert found and {(t.drug, t.gene, t.origin) for t in found} == {("trastuzumab", "ERBB2", "somatic")}
    assert not any(t.pgx for t in found)
    # Read back from a store that keeps no origin, `--biomarker` still finds it.
    stored = [replace(t, origin="unknown") for t in found]
    assert [t.origin for t in biomarker_triples(stored)] == ["somatic"] * len(found)
    # Xeloda (NDA020896), warnings 5.1: a gene of the patient in a cancer label stays germline PGx.
    label = _label("CAPECITABINE", "Xeloda", ("warnings_and_cautions",
                   "Patients with certain homozygous or compound heterozygous variants in the DPYD gene known to "
                   "result in complete or near complete absence of DPD activity are at increased risk for acute "
                   "early-onset toxicity and serious, including fatal, adverse reactions due to XELODA."))
    assert {(t.gene, t.origin, t.pgx) for t in _triples(label)} == {("DPYD", "germline", True)}


# ---- genes named, not inferred ----------------------------------------------------------------
def test_a_condition_that_names_no_gene_product_never_gives_a_gene() -> None:
    # Lipitor (NDA020702), patient insert: "inherited" says genetic, not which gene.
    label = _label("ATORVASTATIN CALCIUM", "Lipitor", ("spl_patient_package_insert",
                   "along with diet for the treatment of adults with: o primary dysbetalipoproteinemia (an "
                   "inherited condition that causes high levels of cholesterol and fat)."))
    assert not _triples(label)
    # CRESTOR (NDA021366), clinical_studies 14: the condition gives nothing even beside a genotype; the
    # gene comes from what names it, its protein ("apo E mutation") and its alleles ("є2/є2").
    text = ("32 adult patients (27 with є2/є2 and 4 with apo E mutation [Arg145Cys] with primary "
            "dysbetalipoproteinemia entered a 6-week dietary lead-in period")
    assert not find_conditions(text)
    crestor = _label("ROSUVASTATIN CALCIUM", "CRESTOR", ("clinical_studies", text))
    assert {(t.gene, t.variant) for t in _triples(crestor) if t.pgx} >= {("APOE", "APOE ε2/ε2")}


# ---- drug–drug interactions -------------------------------------------------------------------
def test_inhibitors_of_a_gene_are_an_interaction_not_pgx() -> None:
    # ZURAMPIC (NDA207988), drug_interactions: the inhibitors are examples; the PM status is PGx.
    label = _label("LESINURAD", "Zurampic", ("drug_interactions",
                   "ZURAMPIC should be used with caution in patients taking moderate inhibitors of CYP2C9 (e.g., "
                   "fluconazole, amiodarone), and in CYP2C9 poor metabolizers [see Clinical Pharmacology (12.3) ]."))
    assert _pgx_pairs(label) == {("lesinurad", "CYP2C9")}
    # Plavix (NDA020839), warnings 5.1: an inducer statement without a genotype.
    label = _label("CLOPIDOGREL", "Plavix", ("warnings_and_cautions",
                   "As a precaution, avoid concomitant use of strong CYP2C19 inducers [see Drug Interactions (7.1) "
                   "and Clinical Pharmacology (12.3) ] ."))
    assert not _pgx_pairs(label)


# ---- interaction studies, assays and undetermined genotypes are not PGx ------------------------
def test_a_transporter_allele_in_an_inhibition_list_is_an_interaction() -> None:
    # Qelbree (NDA211964), clinical_pharmacology: OATP1B1*1a names the transporter tested in vitro.
    label = _label("VILOXAZINE HYDROCHLORIDE", "Qelbree", ("clinical_pharmacology",
                   "Viloxazine is not an inhibitor of P-gp, BCRP, MATE2-K, OATP1B1*1a, and OATP1B3 transporters. "
                   "Viloxazine is not a substrate of either OATP1B1*1a or OATP1B3 transporters. At steady state, "
                   "viloxazine geometric means for C max and AUC 0-24 were 21% and 26%, respectively, higher in "
                   "CYP2D6 PMs compared to EMs."))
    assert _pgx_pairs(label) == {("viloxazine", "CYP2D6")}


def test_an_antibody_assay_is_not_a_genotype() -> None:
    # BRILINTA (NDA022433), warnings_and_cautions: PF4 is the antigen of a HIT assay.
    label = _label("TICAGRELOR", "BRILINTA", ("warnings_and_cautions",
                   "BRILINTA is not expected to impact PF4 antibody testing for HIT."))
    assert not _pgx_pairs(label)


def test_a_genotype_not_determined_is_no_pgx_statement() -> None:
    # DEXILANT (NDA022287), clinical_pharmacology: the study did not genotype CYP1A2.
    label = _label("DEXLANSOPRAZOLE", "DEXILANT", ("clinical_pharmacology",
                   "The subjects' CYP1A2 genotypes in the drug-drug interaction study with theophylline were "
                   "not determined. Systemic exposure of dexlansoprazole is generally higher in intermediate "
                   "and poor metabolizers of CYP2C19."))
    assert _pgx_pairs(label) == {("dexlansoprazole", "CYP2C19")}


def test_the_drug_advised_on_is_the_subject_not_the_drug_naming_the_condition() -> None:
    # REGLAN (NDA017854), use_in_specific_populations 8.8: methylene blue is what is not recommended;
    # metoclopramide only names the methemoglobinemia.
    label = _label("METOCLOPRAMIDE HYDROCHLORIDE", "REGLAN", ("use_in_specific_populations",
                   "For patients with glucose-6-phosphate dehydrogenase (G6PD) deficiency with "
                   "metoclopramide-induced methemoglobinemia, methylene blue treatment is not recommended."))
    assert _pgx_pairs(label) == {("methylene blue", "G6PD")}
    # A metoclopramide-treated patient is still metoclopramide's subject (same label, 8.8).
    treated = _label("METOCLOPRAMIDE HYDROCHLORIDE", "REGLAN", ("use_in_specific_populations",
                     "Metoclopramide-treated patients with NADH-cytochrome b5 reductase deficiency are at an "
                     "increased risk of developing methemoglobinemia and/or sulfhemoglobinemia."))
    assert {d for d, _ in _pgx_pairs(treated)} <= {"metoclopramide"}


def test_the_tumour_marker_of_the_indication_is_somatic_throughout_the_label() -> None:
    # IRESSA (NDA206995): the indication names EGFR as the tumour's marker, so the clinical
    # pharmacology sentence, which gives no origin of its own, is about the tumour too.
    iressa = _label("GEFITINIB", "IRESSA",
                    ("indications_and_usage",
                     "1 INDICATIONS AND USAGE IRESSA is indicated for the first-line treatment of patients with "
                     "metastatic non-small cell lung cancer (NSCLC) whose tumors have epidermal growth factor "
                     "receptor (EGFR) exon 19 deletions or exon 21 (L858R) substitution mutations as detected by an "
                     "FDA-approved test [see Clinical Studies (14) ] ."),
                    ("clinical_pharmacology",
                     "Gefitinib binding affinity for EGFR exon 19 deletion or exon 21 point mutation L858R mutations "
                     "is higher than its affinity for the wild-type EGFR. CYP2D6 Poor metabolizer : CYP2D6 metabolizes "
                     "gefitinib to O-desmethyl gefitinib in vitro . In healthy CYP2D6 poor metabolizers, O-desmethyl "
                     "gefitinib concentration was not measurable and the mean exposure to gefitinib was 2-fold higher "
                     "as compared to the extensive metabolizers."))
    assert _pgx_pairs(iressa) == {("gefitinib", "CYP2D6")}
    assert {t.gene for t in biomarker_triples(label_triples(iressa))} == {"EGFR"}
    # Herceptin (BLA103792): "Perform HER2 testing" is the tumour's HER2 status.
    herceptin = _label("TRASTUZUMAB", "Herceptin",
                       ("indications_and_usage", "1 INDICATIONS AND USAGE Herceptin is a HER2/neu receptor antagonist "
                        "indicated for: The treatment of HER2-overexpressing breast cancer."),
                       ("dosage_and_administration",
                        "Perform HER2 testing using FDA-approved tests by laboratories with demonstrated proficiency."))
    assert not _pgx_pairs(herceptin)


def test_a_condition_only_implies_genes_for_the_evaluation_to_report() -> None:
    # Depakene (NDA018081), warnings_and_cautions: "urea cycle disorders" with no stated genetic cause
    # gives no gene to extraction, but the evaluation reports the genes it implies as such.
    from pgxlit.extract.conditions import condition_genes

    text = ("Hyperammonemic encephalopathy, sometimes fatal, has been reported following initiation of valproate "
            "therapy in patients with urea cycle disorders, a group of uncommon genetic abnormalities, particularly "
            "ornithine transcarbamylase deficiency.")
    assert {m.norm.split("|")[1] for m in find_conditions(text)} == {"OTC"}
    assert condition_genes(text) == {"CPS1", "OTC", "ASS1", "ASL", "NAGS", "ARG1"}


def test_a_tumour_status_beside_the_gene_is_somatic_even_beside_a_germline_word() -> None:
    # LYNPARZA (NDA208558) indication, as the FDA label words it (not among the recorded labels):
    # "germline" is BRCA's; HER2-negative is the tumour's.
    label = _label("OLAPARIB", "LYNPARZA", ("indications_and_usage",
                   "LYNPARZA is indicated for the treatment of adult patients with deleterious or suspected "
                   "deleterious germline BRCA-mutated (gBRCAm), HER2-negative metastatic breast cancer who have been "
                   "treated with chemotherapy in the neoadjuvant, adjuvant, or metastatic setting."))
    assert ("olaparib", "ERBB2") not in _pgx_pairs(label)
    assert "ERBB2" in {t.gene for t in biomarker_triples(label_triples(label))}


def test_a_roman_numeral_is_not_a_gene() -> None:
    # ADVATE (BLA125063) indication, as the FDA label words it (not among the recorded labels):
    # "factor VIII" is no alias of COX8A.
    text = ("ADVATE is a human antihemophilic factor indicated for use in children and adults with hemophilia A "
            "(congenital factor VIII deficiency) for: Control and prevention of bleeding episodes.")
    assert not [m for m in DictionaryMatcher().find(text) if m.label == "GENE"]
    assert not _triples(_label("ANTIHEMOPHILIC FACTOR (RECOMBINANT)", "ADVATE", ("indications_and_usage", text)))


# ---- a negation denies a pair only within its scope (extract/negation.py) ---------------------
# (negated?, generic, brand, field, sentence, gene). The sentences that name a PGx effect have a "no" or "not" that
# describes the enzyme, the patients or a failed effect: the curator export had printed "is not associated with"
# for them. The others deny the pair and stay negated.
NEGATION_CASES = [
    # Glynase (NDA020051), precautions: the patients described, the hemolysis warning is about G6PD.
    (False, "GLYBURIDE", "Glynase", "precautions",
     "In post marketing reports, hemolytic anemia has also been reported in patients who did not have known "
     "G6PD deficiency.", "G6PD"),
    # IMURAN (NDA016324), clinical_pharmacology: "little or no TPMT activity" is the poor metabolizer.
    (False, "AZATHIOPRINE", "IMURAN", "clinical_pharmacology",
     "Approximately 0.3% (1:300) of patients of European or African ancestry have two loss-of-function alleles "
     "of the TPMT gene and have little or no TPMT activity (homozygous deficient or poor metabolizers).", "TPMT"),
    # PROVAYBLUE (NDA204630), warnings_and_cautions: a failed effect is the risk.
    (False, "METHYLENE BLUE", "PROVAYBLUE", "warnings_and_cautions",
     "PROVAYBLUE ® may not be effective in patients with glucose-6-phosphate dehydrogenase (G6PD) deficiency.",
     "G6PD"),
    # XELODA (NDA020896), warnings_and_cautions: "no dose proven safe" is the risk itself.
    (False, "CAPECITABINE", "XELODA", "warnings_and_cautions",
     "No XELODA dose has been proven safe for patients with complete DPD deficiency.", "DPYD"),
    # Toviaz (NDA022030), drug_interactions: "not taking ketoconazole" says who was compared.
    (False, "FESOTERODINE FUMARATE", "Toviaz", "drug_interactions",
     "Compared with CYP2D6 extensive metabolizers not taking ketoconazole, further increases in the exposure to "
     "5-HMT were observed in subjects who were CYP2D6 poor metabolizers taking ketoconazole.", "CYP2D6"),
    # Effient (NDA022307), use_in_specific_populations 8.9: a denial.
    (True, "PRASUGREL HYDROCHLORIDE", "Effient", "use_in_specific_populations",
     "In healthy subjects, patients with stable atherosclerosis, and patients with ACS receiving prasugrel, there "
     "was no relevant effect of genetic variation in CYP2B6, CYP2C9, CYP2C19, or CYP3A5 on the pharmacokinetics "
     "of prasugrel's active metabolite or its inhibition of platelet aggregation.", "CYP2C19"),
    # Celexa (NDA020822), clinical_pharmacology: a denial.
    (True, "CITALOPRAM", "Celexa", "clinical_pharmacology",
     "Citalopram steady state levels were not significantly different in poor metabolizers and extensive "
     "metabolizers of CYP2D6.", "CYP2D6"),
]


@pytest.mark.parametrize("negated, generic, brand, field, sentence, gene", NEGATION_CASES)
def test_a_negation_denies_the_pair_only_when_it_denies_it(
        negated: bool, generic: str, brand: str, field: str, sentence: str, gene: str) -> None:
    found = [t for t in _triples(_label(generic, brand, (field, sentence))) if t.gene == gene]
    assert found and all(t.negated == negated for t in found), sentence
