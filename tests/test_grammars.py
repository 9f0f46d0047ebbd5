"""extract.grammars: VARIANT / ALLELE / PHENOTYPE pattern finders.

The positive and negative sentences are quoted verbatim from the recorded
corpora (the source file is named above each one) so the tests run without
../shared; a few marked "constructed" are not from a corpus. Spans are checked
exactly: every expected mention is located by searching its literal text in the
sentence from left to right.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from pgxlit.extract import grammars as G
from pgxlit.extract.grammars import (
    GENE_ALLELE_GENES,
    find_all,
    find_alleles,
    find_gene_variations,
    find_phenotypes,
    find_variants,
    resolve_overlaps,
)
from pgxlit.records import ENTITY_LABELS, Mention


def expect(text: str, *items: tuple[str, str, str, str]) -> list[tuple[int, int, str, str, str, str]]:
    """(mention text, label, kind, norm) in reading order -> with offsets found left to right."""
    out, cursor = [], 0
    for surface, label, kind, norm in items:
        start = text.index(surface, cursor)
        out.append((start, start + len(surface), surface, label, kind, norm))
        cursor = start + len(surface)
    return out


def got(mentions: list[Mention], labels: tuple[str, ...] = ("VARIANT", "ALLELE", "PHENOTYPE")):
    return [(m.start, m.end, m.text, m.label, m.kind, m.norm) for m in mentions if m.label in labels]


def check_invariants(text: str, mentions: list[Mention]) -> None:
    last_end = -1
    for m in mentions:
        assert text[m.start:m.end] == m.text
        assert m.label in ENTITY_LABELS and m.label in ("VARIANT", "ALLELE", "PHENOTYPE")
        assert m.source == "grammar"
        assert m.norm and m.kind
        assert m.start >= last_end, f"overlap or disorder at {m}"
        last_end = m.end


# ---------------------------------------------------------------------------
# FDA labels (shared/corpora/fda/openfda/labels/<file>)

FDA_CASES = [
    # NDA020977.json (abacavir); "HLA ‑ B" with a non-breaking hyphen (U+2011) between spaces
    (
        "Patients who carry the HLA \u2011 B*5701 allele are at a higher risk of a hypersensitivity reaction to "
        "abacavir; although, hypersensitivity reactions have occurred in patients who do not carry the "
        "HLA \u2011 B*5701 allele [see Warnings and Precautions ( 5.1 )] .",
        [("HLA \u2011 B*5701", "ALLELE", "hla", "HLA-B*57:01"), ("HLA \u2011 B*5701", "ALLELE", "hla", "HLA-B*57:01")],
    ),
    # NDA020977.json (abacavir)
    (
        "( 5.1 ) \u2022 Patients who carry the HLA-B*5701 allele are at a higher risk of experiencing a "
        "hypersensitivity reaction to abacavir.",
        [("HLA-B*5701", "ALLELE", "hla", "HLA-B*57:01")],
    ),
    # NDA016608.json (carbamazepine)
    (
        "SJS/TEN and HLA -B*1502 Allele Retrospective case-control studies have found that in patients of Chinese "
        "ancestry there is a strong association between the risk of developing SJS/TEN with carbamazepine treatment "
        "and the presence of an inherited variant of the HLA-B gene, HLA-B*1502.",
        [("HLA -B*1502", "ALLELE", "hla", "HLA-B*15:02"), ("HLA-B*1502", "ALLELE", "hla", "HLA-B*15:02")],
    ),
    # NDA202810.json (oxcarbazepine): bare locus after an HLA context
    (
        "Human Leukocyte Antigen (HLA) allele B*1502 increases the risk for developing SJS/TEN in patients treated "
        "with carbamazepine.",
        [("B*1502", "ALLELE", "hla", "HLA-B*15:02")],
    ),
    # NDA020839.json (clopidogrel)
    (
        "Tests are available to identify patients who are CYP2C19 poor metabolizers [see Clinical Pharmacology "
        "(12.5) ] .",
        [("poor metabolizers", "PHENOTYPE", "metabolizer", "CYP2C19 Poor Metabolizer")],
    ),
    # NDA020896.json (capecitabine)
    (
        "Four DPYD variants have been associated with impaired DPD activity in White populations, especially when "
        "present as homozygous or compound heterozygous variants: c.1905+1G>A ( DPYD *2A), c.1679T>G ( DPYD *13), "
        "c.2846A>T, and c.1129-5923C>G (Haplotype B3).",
        [
            ("impaired DPD activity", "PHENOTYPE", "function", "DPYD Decreased Function"),
            ("c.1905+1G>A", "VARIANT", "hgvs_c", "c.1905+1G>A"),
            ("DPYD *2A", "ALLELE", "star_allele", "DPYD*2A"),
            ("c.1679T>G", "VARIANT", "hgvs_c", "c.1679T>G"),
            ("DPYD *13", "ALLELE", "star_allele", "DPYD*13"),
            ("c.2846A>T", "VARIANT", "hgvs_c", "c.2846A>T"),
            ("c.1129-5923C>G", "VARIANT", "hgvs_c", "c.1129-5923C>G"),
        ],
    ),
    # NDA009218.json (warfarin); the en dash glued to the gene is the minus sign of the promoter position
    (
        "VKORC1\u20131639G>A (rs9923231) variant is used in this table.",
        [
            ("\u20131639G>A", "VARIANT", "nucleotide_change", "VKORC1:-1639G>A"),
            ("rs9923231", "VARIANT", "rsid", "rs9923231"),
        ],
    ),
    # NDA009218.json (warfarin)
    (
        "The variant alleles, CYP2C9*2 and CYP2C9*3, result in decreased in vitro CYP2C9 enzymatic "
        "7-hydroxylation of S-warfarin.",
        [("CYP2C9*2", "ALLELE", "star_allele", "CYP2C9*2"), ("CYP2C9*3", "ALLELE", "star_allele", "CYP2C9*3")],
    ),
    # NDA009218.json (warfarin): stand-alone stars take the gene named earlier in the sentence
    (
        "Other CYP2C9 alleles associated with reduced enzymatic activity occur at lower frequencies, including *5, "
        "*6, and *11 alleles in populations of African ancestry and *5, *9, and *11 alleles in Caucasians.",
        [
            ("reduced enzymatic activity", "PHENOTYPE", "function", "Decreased Function"),
            ("*5", "ALLELE", "star_allele", "CYP2C9*5"),
            ("*6", "ALLELE", "star_allele", "CYP2C9*6"),
            ("*11", "ALLELE", "star_allele", "CYP2C9*11"),
            ("*5", "ALLELE", "star_allele", "CYP2C9*5"),
            ("*9", "ALLELE", "star_allele", "CYP2C9*9"),
            ("*11", "ALLELE", "star_allele", "CYP2C9*11"),
        ],
    ),
    # NDA209884.json (siponimod)
    (
        "Patients with a CYP2C9*3/*3 genotype.",
        [("CYP2C9*3/*3", "ALLELE", "diplotype", "CYP2C9*3/*3")],
    ),
    # NDA022402.json (codeine)
    (
        "CYP2D6 Genetic Variability: Ultra-Rapid Metabolizers: Some individuals may be ultra-rapid metabolizers "
        "because of a specific CYP2D6 genotype (e.g., gene duplications denoted as *1/*1xN or *1/*2xN).",
        [
            ("Ultra-Rapid Metabolizers", "PHENOTYPE", "metabolizer", "Ultrarapid Metabolizer"),
            ("ultra-rapid metabolizers", "PHENOTYPE", "metabolizer", "Ultrarapid Metabolizer"),
            ("*1/*1xN", "ALLELE", "diplotype", "CYP2D6*1/*1xN"),
            ("*1/*2xN", "ALLELE", "diplotype", "CYP2D6*1/*2xN"),
        ],
    ),
    # NDA020571.json (irinotecan)
    (
        "Published studies have shown that individuals who are homozygous for either the UGT1A1*28 or *6 alleles "
        "(*28/*28, *6/*6) or who are compound or double heterozygous for the UGT1A1*28 and *6 alleles (*6/*28) are "
        "at increased risk for severe or life-threatening neutropenia during treatment with CAMPTOSAR.",
        [
            ("UGT1A1*28", "ALLELE", "star_allele", "UGT1A1*28"),
            ("*6", "ALLELE", "star_allele", "UGT1A1*6"),
            ("*28/*28", "ALLELE", "diplotype", "UGT1A1*28/*28"),
            ("*6/*6", "ALLELE", "diplotype", "UGT1A1*6/*6"),
            ("UGT1A1*28", "ALLELE", "star_allele", "UGT1A1*28"),
            ("*6", "ALLELE", "star_allele", "UGT1A1*6"),
            ("*6/*28", "ALLELE", "diplotype", "UGT1A1*6/*28"),
        ],
    ),
    # NDA017854.json (metoclopramide): a coordination shares the gene and the head noun
    (
        "The elimination of metoclopramide may be slowed in patients who are CYP2D6 poor metabolizers (compared to "
        "patients who are CYP2D6 intermediate, extensive, or ultra-rapid metabolizers); possibly increasing the risk "
        "of dystonic and other adverse reactions to Reglan [see Clinical Pharmacology (12.3)].",
        [
            ("poor metabolizers", "PHENOTYPE", "metabolizer", "CYP2D6 Poor Metabolizer"),
            ("intermediate", "PHENOTYPE", "metabolizer", "CYP2D6 Intermediate Metabolizer"),
            ("extensive", "PHENOTYPE", "metabolizer", "CYP2D6 Normal Metabolizer"),
            ("ultra-rapid metabolizers", "PHENOTYPE", "metabolizer", "CYP2D6 Ultrarapid Metabolizer"),
        ],
    ),
    # NDA205494.json (eliglustat): abbreviations defined in parentheses
    (
        "CERDELGA is a glucosylceramide synthase inhibitor indicated for the long-term treatment of adult patients "
        "with Gaucher disease type 1 who are CYP2D6 extensive metabolizers (EMs), intermediate metabolizers (IMs), "
        "or poor metabolizers (PMs) as detected by an FDA-cleared test.",
        [
            ("extensive metabolizers", "PHENOTYPE", "metabolizer", "CYP2D6 Normal Metabolizer"),
            ("EMs", "PHENOTYPE", "metabolizer", "CYP2D6 Normal Metabolizer"),
            ("intermediate metabolizers", "PHENOTYPE", "metabolizer", "CYP2D6 Intermediate Metabolizer"),
            ("IMs", "PHENOTYPE", "metabolizer", "CYP2D6 Intermediate Metabolizer"),
            ("poor metabolizers", "PHENOTYPE", "metabolizer", "CYP2D6 Poor Metabolizer"),
            ("PMs", "PHENOTYPE", "metabolizer", "CYP2D6 Poor Metabolizer"),
        ],
    ),
    # NDA008762.json (phenytoin): "metabolizers of CYP2C9" puts the gene after the phrase
    (
        "8.7 Use in Patients with Decreased CYP2C9 Function Patients who are intermediate or poor metabolizers of "
        "CYP2C9 substrates (e.g., *1/*3, *2/*2, *3/*3) may exhibit increased phenytoin serum concentrations compared "
        "to patients who are normal metabolizers (e.g., *1/*1).",
        [
            ("Decreased CYP2C9 Function", "PHENOTYPE", "function", "CYP2C9 Decreased Function"),
            ("intermediate", "PHENOTYPE", "metabolizer", "CYP2C9 Intermediate Metabolizer"),
            ("poor metabolizers", "PHENOTYPE", "metabolizer", "CYP2C9 Poor Metabolizer"),
            ("*1/*3", "ALLELE", "diplotype", "CYP2C9*1/*3"),
            ("*2/*2", "ALLELE", "diplotype", "CYP2C9*2/*2"),
            ("*3/*3", "ALLELE", "diplotype", "CYP2C9*3/*3"),
            ("normal metabolizers", "PHENOTYPE", "metabolizer", "Normal Metabolizer"),
            ("*1/*1", "ALLELE", "diplotype", "CYP2C9*1/*1"),
        ],
    ),
    # NDA012429.json (mercaptopurine)
    (
        "The TPMT*2, TPMT*3A, and TPMT*3C alleles account for about 95% of individuals with reduced levels of TPMT "
        "activity.",
        [
            ("TPMT*2", "ALLELE", "star_allele", "TPMT*2"),
            ("TPMT*3A", "ALLELE", "star_allele", "TPMT*3A"),
            ("TPMT*3C", "ALLELE", "star_allele", "TPMT*3C"),
            ("reduced levels of TPMT activity", "PHENOTYPE", "function", "TPMT Decreased Function"),
        ],
    ),
    # NDA012429.json (mercaptopurine)
    (
        "The p.R139C variant of NUDT15 (present on the *2 and *3 alleles) is the most commonly observed, but other "
        "less common loss-of-function NUDT15 alleles have been observed.",
        [
            ("p.R139C", "VARIANT", "hgvs_p", "p.Arg139Cys"),
            ("*2", "ALLELE", "star_allele", "NUDT15*2"),
            ("*3", "ALLELE", "star_allele", "NUDT15*3"),
            ("loss-of-function", "PHENOTYPE", "function", "No Function"),
        ],
    ),
    # NDA012429.json (mercaptopurine)
    (
        "NUDT15 deficiency is detected in <1% of patients of European or African ancestry.",
        [("NUDT15 deficiency", "PHENOTYPE", "deficiency", "NUDT15 Deficiency")],
    ),
    # BLA103946.json (rasburicase)
    (
        "Screen patients at higher risk for G6PD deficiency (e.g., patients of African or Mediterranean ancestry) "
        "prior to starting Elitek therapy ( 4 , 5.2 ).",
        [("G6PD deficiency", "PHENOTYPE", "deficiency", "G6PD Deficiency")],
    ),
]


@pytest.mark.parametrize("text,items", FDA_CASES, ids=[f"fda{i}" for i in range(len(FDA_CASES))])
def test_fda_label_sentences(text, items):
    mentions = find_all(text)
    check_invariants(text, mentions)
    assert got(mentions) == expect(text, *items)


def test_exact_offsets_written_out():
    # NDA020896.json (capecitabine), offsets counted by hand
    text = "c.1905+1G>A ( DPYD *2A), c.1679T>G ( DPYD *13), c.2846A>T"
    assert got(find_all(text)) == [
        (0, 11, "c.1905+1G>A", "VARIANT", "hgvs_c", "c.1905+1G>A"),
        (14, 22, "DPYD *2A", "ALLELE", "star_allele", "DPYD*2A"),
        (25, 34, "c.1679T>G", "VARIANT", "hgvs_c", "c.1679T>G"),
        (37, 45, "DPYD *13", "ALLELE", "star_allele", "DPYD*13"),
        (48, 57, "c.2846A>T", "VARIANT", "hgvs_c", "c.2846A>T"),
    ]


# ---------------------------------------------------------------------------
# PubMed abstracts (shared/corpora/pubmed/efetch/pharmgkb_vda_2018/<file>, PMID)

PUBMED_CASES = [
    # efetch_batch_007.xml, PMID 28049362: "VKORC1-1639" glued with a hyphen is the promoter position -1639
    (
        "Five variables, that is, VKORC1-1639 G>A, CYP2C9*2, CYP2C9*3, age, and diet, were found to be significantly "
        "associated with warfarin response in univariate analysis.",
        [
            ("-1639 G>A", "VARIANT", "nucleotide_change", "VKORC1:-1639G>A"),
            ("CYP2C9*2", "ALLELE", "star_allele", "CYP2C9*2"),
            ("CYP2C9*3", "ALLELE", "star_allele", "CYP2C9*3"),
        ],
    ),
    # efetch_batch_005.xml, PMID 22266406
    (
        "We confirm the association between high-frequency SNPs, VKORC1 c.-1639G>A and CYP2C9 *2/*3 and warfarin "
        "sensitivity, and contribute additional evidence that the VKORC1 p.Asp36Tyr variant is recurrent and "
        "independently associated with warfarin resistance in our population.",
        [
            ("c.-1639G>A", "VARIANT", "hgvs_c", "VKORC1:c.-1639G>A"),
            ("CYP2C9 *2/*3", "ALLELE", "diplotype", "CYP2C9*2/*3"),
            ("p.Asp36Tyr", "VARIANT", "hgvs_p", "VKORC1:p.Asp36Tyr"),
        ],
    ),
    # efetch_batch_004.xml, PMID 24577123: "rs 6265" with a space
    (
        "The allele types for the SNPs rs 6265 (P < 0.001), rs 2973049 (P = 0.005), and rs 2216711 (P = 0.006) "
        "demonstrated significant associations with paroxetine treatment remission at week 6.",
        [
            ("rs 6265", "VARIANT", "rsid", "rs6265"),
            ("rs 2973049", "VARIANT", "rsid", "rs2973049"),
            ("rs 2216711", "VARIANT", "rsid", "rs2216711"),
        ],
    ),
    # efetch_batch_002.xml, PMID 24383873
    (
        "Patients were genotyped for ABCB1 (C1236T, G2677T/A, and C3435T) and CYP3A5 (G6986A), while ABCB1 mRNA "
        "transcript copy number was determined by absolute quantification (real-time PCR) in 46 patients.",
        [
            ("C1236T", "VARIANT", "nucleotide_change", "ABCB1:1236C>T"),
            ("G2677T/A", "VARIANT", "nucleotide_change", "2677G>T/A"),
            ("C3435T", "VARIANT", "nucleotide_change", "3435C>T"),
            ("G6986A", "VARIANT", "nucleotide_change", "CYP3A5:6986G>A"),
        ],
    ),
    # efetch_batch_001.xml, PMID 25048416
    (
        "The Met allele of the COMT Val158Met variant may identify SGA-treated children at risk for elevated BP and "
        "fasting blood glucose concentrations.",
        [("Val158Met", "VARIANT", "protein_change", "COMT:p.Val158Met")],
    ),
    # efetch_batch_006.xml, PMID 28947035: HGVS and short form of one change
    (
        "Information about the efficacy of ivacaftor in patients carrying the rare p.Ser549Arg (S549R) CFTR mutation "
        "is sparse.",
        [
            ("p.Ser549Arg", "VARIANT", "hgvs_p", "p.Ser549Arg"),
            ("S549R", "VARIANT", "protein_change", "p.Ser549Arg"),
        ],
    ),
    # efetch_batch_017.xml, PMID 18600527
    (
        "Administration of test doses of 5FU to eight patients heterozygous for the IVS14+1G > A mutation and five "
        "control patients showed that the AUC and clearance were weak parameters with respect to the identification "
        "of patients with a DPD deficiency.",
        [
            ("IVS14+1G > A", "VARIANT", "ivs", "IVS14+1G>A"),
            ("DPD deficiency", "PHENOTYPE", "deficiency", "DPYD Deficiency"),
        ],
    ),
    # efetch_batch_006.xml, PMID 17178267
    (
        "CYP2D6 ultrarapid metabolizers presented lower trough (R,S)-methadone plasma levels compared with the "
        "extensive or intermediate metabolizers (2.4 and 3.3 ng/mL x mg, respectively; P = .04), whereas CYP2D6 poor "
        "metabolizer status showed no influence.",
        [
            ("ultrarapid metabolizers", "PHENOTYPE", "metabolizer", "CYP2D6 Ultrarapid Metabolizer"),
            ("extensive", "PHENOTYPE", "metabolizer", "Normal Metabolizer"),
            ("intermediate metabolizers", "PHENOTYPE", "metabolizer", "Intermediate Metabolizer"),
            ("poor metabolizer", "PHENOTYPE", "metabolizer", "CYP2D6 Poor Metabolizer"),
        ],
    ),
    # efetch_batch_000.xml, PMID 18070221: "* Reduced ..." is a bullet, not an allele
    (
        "The variant allele CYP2D6*4 is the main polymorphism resulting in reduced enzyme activity in Caucasians. "
        "* Reduced enzyme activity potentially leads to increased toxicity of antidepressants, but the relevance of "
        "genotyping for clinical practice is unclear.",
        [
            ("CYP2D6*4", "ALLELE", "star_allele", "CYP2D6*4"),
            ("reduced enzyme activity", "PHENOTYPE", "function", "Decreased Function"),
            ("Reduced enzyme activity", "PHENOTYPE", "function", "Decreased Function"),
        ],
    ),
    # efetch_batch_000.xml, PMID 26367500
    (
        "CYP2D6*5 and CYP2D6*14 were found to be associated with a higher area under the curve (AUC) for "
        "simvastatin, whereas the AUC of simvastatin acid was significantly increased in patients with the SLCO1B1 "
        "rs4149056, ABCG2 rs2231142, and CYP2D6*41 allele variants.",
        [
            ("CYP2D6*5", "ALLELE", "star_allele", "CYP2D6*5"),
            ("CYP2D6*14", "ALLELE", "star_allele", "CYP2D6*14"),
            ("rs4149056", "VARIANT", "rsid", "rs4149056"),
            ("rs2231142", "VARIANT", "rsid", "rs2231142"),
            ("CYP2D6*41", "ALLELE", "star_allele", "CYP2D6*41"),
        ],
    ),
    # efetch_batch_012.xml, PMID 26265346
    (
        "Translating DPYD genotype into DPD phenotype: using the DPYD gene activity score.",
        [("activity score", "PHENOTYPE", "function", "Activity Score")],
    ),
]


@pytest.mark.parametrize("text,items", PUBMED_CASES, ids=[f"pubmed{i}" for i in range(len(PUBMED_CASES))])
def test_pubmed_sentences(text, items):
    mentions = find_all(text)
    check_invariants(text, mentions)
    assert got(mentions) == expect(text, *items)


# PGxCorpus-style tokenised text (shared/gold/pgxcorpus/brat/*.txt puts spaces around punctuation)
@pytest.mark.parametrize(
    "text,items",
    [
        # 16419387_1.txt
        (
            "Pharmacogenomics as molecular autopsy for forensic toxicology : genotyping cytochrome P450 3A4 * 1B and "
            "3A5 * 3 for 25 fentanyl cases .",
            [
                ("cytochrome P450 3A4 * 1B", "ALLELE", "star_allele", "CYP3A4*1B"),
                ("3A5 * 3", "ALLELE", "star_allele", "CYP3A5*3"),
            ],
        ),
        # a PGxCorpus sentence on tacrolimus (brat/*.txt); "CYP3A5 * 1 / * 1" is one diplotype
        (
            "At 1-month post- transplantation , tacrolimus daily dose was higher for patients with CYP3A5 * 1 / * 1 "
            "genotype compared to CYP3A5 * 3 / * 3 genotype ( 0.26 + / - 0.03 versus 0.16 + / - 0.01 mg/kg/day , "
            "respectively , P < 0.0001 ) .",
            [
                ("CYP3A5 * 1 / * 1", "ALLELE", "diplotype", "CYP3A5*1/*1"),
                ("CYP3A5 * 3 / * 3", "ALLELE", "diplotype", "CYP3A5*3/*3"),
            ],
        ),
    ],
)
def test_tokenised_corpus_text(text, items):
    mentions = find_all(text)
    check_invariants(text, mentions)
    assert got(mentions) == expect(text, *items)


# ---------------------------------------------------------------------------
# negatives: no VARIANT/ALLELE/PHENOTYPE in these

NEGATIVES = [
    # efetch_batch_008.xml, PMID 27859023 (T2D)
    "Therapeutic response to metformin, a first-line drug for type 2 diabetes (T2D), is highly variable, in part "
    "likely due to genetic factors.",
    # efetch_batch_047.xml, PMID 22369694 (CYP450)
    "This study does not support a critical role of the CYP450 or ABCB1 single nucleotide polymorphisms in the "
    "occurrence of toxicity or acute rejection in renal transplant recipients treated with tacrolimus.",
    # efetch_batch_004.xml, PMID 21919605 (5-FU)
    "The purpose of this study was to investigate whether specific combinations of polymorphisms in "
    "5-fluorouracil (5-FU) metabolism-related genes were associated with outcome in 5-FU-based adjuvant treatment "
    "of colorectal cancer.",
    # fda NDA017854.json (H2O in a molecular formula)
    "The molecular formula is C14H22ClN3O2\u2022HCl\u2022H2O.",
    # fda BLA761115.json (COVID-19)
    "Fatal adverse reactions occurred in 2% of patients who received TRODELVY including arrhythmia, COVID-19, "
    "nervous system disorder, pulmonary embolism, and septic shock (each 0.4%).",
    # efetch_batch_003.xml, PMID 28139755 (IL-6, IL-1β; "high activity of" cytokines is not an enzyme phenotype
    # here only by luck of context, so keep the assertion to VARIANT/ALLELE below)
    "Serum IL-6 levels were significantly higher in patients with the GC or CC genotypes (P=0.04).",
    # efetch_batch_046.xml, PMID 17519421 (A1C, n = 579)
    "A1C pretreatment was available in a subset of patients (sulfonylurea n = 579; metformin n = 755).",
    # efetch_batch_000.xml, PMID 26367500 (P450)
    "The effects of various polymorphisms in cytochrome P450 (CYP) enzyme and transporter genes on the "
    "pharmacokinetics (PK) of simvastatin were evaluated in healthy Korean men.",
    # fda NDA020987.json (pH 7.4)
    "Pantoprazole sodium sesquihydrate is freely soluble in water, very slightly soluble in phosphate buffer at "
    "pH 7.4, and practically insoluble in n-hexane.",
    # efetch_batch_000.xml, PMID 15073101 (n = 113)
    "Sixty-eight polymorphic loci in 26 genes were examined in a subset of 187 patients (imatinib-treated "
    "patients, n = 113; IFN + 1-beta-D-arabinofuranosylcytosine-treated patients, n = 74).",
    # fda NDA008762.json (footnote cross-reference)
    "DILANTIN should normally be gradually withdrawn to reduce the potential for increased seizure frequency and "
    "status epilepticus [see Warnings and Precautions (5.1) ] .",
    # fda NDA209884.json (S1P)
    "MAYZENT is a sphingosine 1-phosphate (S1P) receptor modulator indicated for the treatment of relapsing forms "
    "of multiple sclerosis (MS), to include clinically isolated syndrome, relapsing-remitting disease, and active "
    "secondary progressive disease, in adults.",
    # efetch_batch_000.xml, PMID 26004431 (HbA1c, P<0.05)
    "Then taking GG genotype as the referent, the association between AA genotype and change of HbA1c still "
    "existed after adjusted for age, sex, BMI, baseline HbA1c and diabetes duration (P<0.05).",
    # efetch_batch_011.xml, PMID 12759288 ("disease activity score" is not the PGx activity score)
    "123 patients with active RA were treated with etanercept and response rates were determined after three "
    "months using American College of Rheumatology (ACR)20 and disease activity score (DAS)28 response criteria.",
    # constructed: table footnote markers and statistics
    "*P < 0.05 versus placebo; **P < 0.01; \u2020 n = 120; values are mean \u00b1 SD (Table 2*).",
    # constructed: cell lines and proteins that look like protein changes; figure panels
    "T47D and S100B cells, CYP450 3A, P450 2D6 and H2O2 were used (see Figure S12A and Table 3B).",
    # constructed: a 2 PM appointment and an IM injection, with no metabolizer phrase around
    "The dose was given IM at 2 PM on day 3.",
]


@pytest.mark.parametrize("text", NEGATIVES, ids=[f"neg{i}" for i in range(len(NEGATIVES))])
def test_negatives(text):
    mentions = find_all(text)
    check_invariants(text, mentions)
    assert got(mentions) == []


# ---------------------------------------------------------------------------
# single finders and norms (constructed snippets)


@pytest.mark.parametrize(
    "text,norm,kind",
    [
        ("rs9923231", "rs9923231", "rsid"),
        ("rs 1065852", "rs1065852", "rsid"),
        ("c.-1639G>A", "c.-1639G>A", "hgvs_c"),
        ("g.12345A>G", "g.12345A>G", "hgvs_g"),
        ("c.295_298delTCAT", "c.295_298delTCAT", "hgvs_c"),
        ("NM_000106.6:c.100C>T", "NM_000106.6:c.100C>T", "hgvs_c"),
        ("p.Val433Met", "p.Val433Met", "hgvs_p"),
        ("p.V433M", "p.Val433Met", "hgvs_p"),
        ("p.(Arg144Cys)", "p.Arg144Cys", "hgvs_p"),
        ("p.Arg144*", "p.Arg144Ter", "hgvs_p"),
        ("IVS14+1G>A", "IVS14+1G>A", "ivs"),
        ("V433M", "p.Val433Met", "protein_change"),
        ("R144C", "p.Arg144Cys", "protein_change"),
        ("Arg144Cys", "p.Arg144Cys", "protein_change"),
        ("F508del", "p.Phe508del", "protein_change"),
        ("Val ( 158/108 ) Met", "p.Val158Met", "protein_change"),
        ("1236C>T", "1236C>T", "nucleotide_change"),
        ("3435C>T", "3435C>T", "nucleotide_change"),
        ("C3435T", "3435C>T", "nucleotide_change"),
        ("-1639G>A", "-1639G>A", "nucleotide_change"),
        ("G-1639A", "-1639G>A", "nucleotide_change"),
        ("677C-->T", "677C>T", "nucleotide_change"),
        ("250G/A", "250G>A", "nucleotide_change"),
        ("1173C>T", "1173C>T", "nucleotide_change"),
    ],
)
def test_variant_forms(text, norm, kind):
    ms = find_variants(f"the {text} variant")
    assert [(m.text, m.norm, m.kind) for m in ms] == [(text, norm, kind)]


def test_variant_norm_takes_the_preceding_gene():
    text = "VKORC1 -1639G>A, ABCB1 C3435T and BRAF V600E"
    assert [(m.text, m.norm) for m in find_variants(text)] == [
        ("-1639G>A", "VKORC1:-1639G>A"),
        ("C3435T", "ABCB1:3435C>T"),
        ("V600E", "BRAF:p.Val600Glu"),
    ]


@pytest.mark.parametrize(
    "text,norm,kind",
    [
        ("CYP2D6*4", "CYP2D6*4", "star_allele"),
        ("CYP2C9 *2", "CYP2C9*2", "star_allele"),
        ("CYP2D6*1xN", "CYP2D6*1xN", "star_allele"),
        ("CYP2D6*1\u00d7N", "CYP2D6*1xN", "star_allele"),
        ("SLCO1B1*5", "SLCO1B1*5", "star_allele"),
        ("CYP3A5*3", "CYP3A5*3", "star_allele"),
        ("TPMT*3A", "TPMT*3A", "star_allele"),
        ("SLCO1B1*45.001", "SLCO1B1*45.001", "star_allele"),
        ("CYP2C19*2/*17", "CYP2C19*2/*17", "diplotype"),
        ("CYP3A5*3*3", "CYP3A5*3/*3", "diplotype"),
        ("HLA-B*57:01", "HLA-B*57:01", "hla"),
        ("HLA-B*5701", "HLA-B*57:01", "hla"),
        ("HLA-A*31:01", "HLA-A*31:01", "hla"),
        ("HLA-B*15:02", "HLA-B*15:02", "hla"),
        ("HLA-DRB1*07:01", "HLA-DRB1*07:01", "hla"),
        ("HLA-B 5701", "HLA-B*57:01", "hla"),
        ("HLA-G010403", "HLA-G*01:04:03", "hla"),
    ],
)
def test_allele_forms(text, norm, kind):
    ms = find_alleles(f"carriers of {text} were")
    assert [(m.text, m.norm, m.kind) for m in ms] == [(text, norm, kind)]


def test_bare_star_needs_a_gene_and_bare_diplotype_does_not():
    assert find_alleles("allele *28 was frequent") == []
    assert [(m.text, m.norm) for m in find_alleles("the UGT1A1 gene: *28 was frequent")] == [("*28", "UGT1A1*28")]
    assert [(m.text, m.norm) for m in find_alleles("genotype *1/*2 was frequent")] == [("*1/*2", "*1/*2")]


def test_hla_continuation_and_diplotype():
    text = "HLA-B*57:01 and *58:01, and HLA-E*01:01/01:03"
    assert [(m.text, m.norm, m.kind) for m in find_alleles(text)] == [
        ("HLA-B*57:01", "HLA-B*57:01", "hla"),
        ("*58:01", "HLA-B*58:01", "hla"),
        ("HLA-E*01:01/01:03", "HLA-E*01:01/*01:03", "diplotype"),
    ]


@pytest.mark.parametrize(
    "text,norm",
    [
        ("poor metabolizers", "Poor Metabolizer"),
        ("poor metabolisers", "Poor Metabolizer"),
        ("intermediate metabolizer", "Intermediate Metabolizer"),
        ("extensive metabolizers", "Normal Metabolizer"),
        ("normal metabolizers", "Normal Metabolizer"),
        ("rapid metabolizers", "Rapid Metabolizer"),
        ("ultrarapid metabolizers", "Ultrarapid Metabolizer"),
        ("ultra-rapid metabolisers", "Ultrarapid Metabolizer"),
        ("slow acetylators", "Poor Metabolizer"),
    ],
)
def test_metabolizer_vocabulary(text, norm):
    ms = find_phenotypes(f"Among the {text} of the study")
    assert [(m.text, m.norm, m.kind) for m in ms] == [(text, norm, "metabolizer")]


def test_function_and_deficiency_phrases():
    text = (
        "CYP2C9*2 is a decreased function allele, DPYD*2A a no function allele; "
        "TPMT deficiency and glucose-6-phosphate dehydrogenase deficiency; CYP2D6 activity score of 1.5."
    )
    assert [(m.text, m.norm, m.kind) for m in find_phenotypes(text)] == [
        ("decreased function", "Decreased Function", "function"),
        ("no function", "No Function", "function"),
        ("TPMT deficiency", "TPMT Deficiency", "deficiency"),
        ("glucose-6-phosphate dehydrogenase deficiency", "G6PD Deficiency", "deficiency"),
        ("activity score of 1.5", "Activity Score 1.5", "function"),
    ]


def test_function_phrase_needs_pgx_context():
    assert find_phenotypes("Patients with decreased function of the kidney were excluded.") == []
    assert find_phenotypes("Patients with normal renal function were included.") == []


def test_find_all_resolves_overlaps():
    # one diplotype, not three star alleles; an HLA allele is not also a VARIANT
    ms = find_all("CYP2C19*2/*17 and HLA-B*57:01 and c.1905+1G>A")
    assert [(m.text, m.label, m.kind) for m in ms] == [
        ("CYP2C19*2/*17", "ALLELE", "diplotype"),
        ("HLA-B*57:01", "ALLELE", "hla"),
        ("c.1905+1G>A", "VARIANT", "hgvs_c"),
    ]


def test_resolve_overlaps_prefers_longest_then_allele():
    a = Mention(0, 8, "ALLELE", "CYP2D6*4", "CYP2D6*4", "star_allele", "grammar")
    v = Mention(0, 8, "VARIANT", "CYP2D6*4", "x", "protein_change", "grammar")
    longer = Mention(0, 12, "VARIANT", "CYP2D6*4 abc", "x", "gene_variation", "grammar")
    inner = Mention(2, 5, "VARIANT", "P2D", "x", "protein_change", "grammar")
    after = Mention(8, 10, "PHENOTYPE", "ab", "x", "metabolizer", "grammar")
    assert resolve_overlaps([v, a]) == [a]
    assert resolve_overlaps([inner, a, after]) == [a, after]
    assert resolve_overlaps([a, longer]) == [longer]


def test_gene_level_variation_is_opt_in():
    # PGxCorpus brat: "CONCLUSIONS : EGFR mutations did not affect response to conventional chemotherapeutic ..."
    text = "CONCLUSIONS : EGFR mutations did not affect response to conventional chemotherapeutic agents"
    assert find_all(text) == []
    ms = find_all(text, generic=True)
    assert [(m.text, m.norm, m.kind) for m in ms] == [("EGFR mutations", "EGFR:mutation", "gene_variation")]
    assert [(m.text, m.norm) for m in find_gene_variations("polymorphisms in the CYP3A5 gene, mutant KRAS")] == [
        ("polymorphisms in the CYP3A5 gene", "CYP3A5:polymorphism"),
        ("mutant KRAS", "KRAS:mutation"),
    ]
    # a variant notation is not a gene: the variant grammar keeps it
    assert [m.kind for m in find_all("the C3435T polymorphism", generic=True)] == ["nucleotide_change"]


# ---------------------------------------------------------------------------
# gene list

PHARMCAT_GENES = {
    "ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4", "CYP3A5", "CYP4F2", "DPYD",
    "G6PD", "IFNL3", "NAT2", "NUDT15", "RYR1", "SLCO1B1", "TPMT", "UGT1A1", "VKORC1",
}


def test_gene_allele_genes():
    assert set(GENE_ALLELE_GENES) == PHARMCAT_GENES


@pytest.mark.shared
def test_gene_allele_genes_match_pharmcat_files(shared: Path):
    folder = shared / "vocab" / "pharmcat_allele_definitions"
    if not folder.is_dir():
        pytest.skip(f"no {folder}")
    names = {p.name.removesuffix("_translation.json") for p in folder.glob("*_translation.json")}
    assert set(GENE_ALLELE_GENES) == names


def test_every_pharmcat_gene_takes_a_star_allele():
    for gene in sorted(GENE_ALLELE_GENES):
        ms = find_alleles(f"carriers of {gene}*2 were")
        assert [(m.text, m.norm) for m in ms] == [(f"{gene}*2", f"{gene}*2")], gene


# ---------------------------------------------------------------------------
# robustness and speed


def _quick(fn, text: str, budget: float = 2.0) -> list[Mention]:
    t0 = time.perf_counter()
    out = fn(text)
    elapsed = time.perf_counter() - t0
    assert elapsed < budget, f"{fn.__name__} took {elapsed:.2f}s on {len(text)} chars"
    check_invariants(text, out) if fn is not find_variants else None
    return out


@pytest.mark.parametrize("fn", [find_all, find_variants, find_alleles, find_phenotypes])
def test_empty_and_whitespace(fn):
    assert fn("") == []
    assert fn("   \n\t ") == []


def test_random_bytes_and_long_tokens_are_fast():
    rng = random.Random(20240501)
    noise = bytes(rng.randrange(256) for _ in range(100_000)).decode("utf-8", errors="replace")
    printable = "".join(rng.choice("ACGTacgt0123456789*/>-+._: ()rsCYPHLAc.p.") for _ in range(100_000))
    cases = [
        noise,
        printable,
        "A" * 100_000,
        "1" * 100_000,
        "*" * 100_000,
        "rs" + "1" * 100_000,
        "c." + "1" * 100_000 + "G>A",
        "CYP2D6" * 20_000,
        "CYP2D6*1/" * 10_000,
        "*1 " * 30_000 + "CYP2D6",
        "HLA-B*" + "5" * 100_000,
        "poor " * 20_000 + "metabolizers",
        ("poor, " * 10_000) + "metabolizers",
        "Val" * 30_000 + "158Met",
        "-" * 50_000 + "1639G>A",
        " ".join(["CYP2D6*4 and *10"] * 5_000),
    ]
    for text in cases:
        for fn in (find_all, find_variants, find_alleles, find_phenotypes):
            _quick(fn, text)


def test_many_mentions_scale_linearly():
    # 20,000 mentions: overlap resolution must not be quadratic
    text = " ".join(f"rs{i} CYP2D6*{i % 100} *{i % 50}" for i in range(7_000))
    t0 = time.perf_counter()
    ms = find_all(text)
    assert time.perf_counter() - t0 < 5.0
    assert len(ms) >= 20_000
    check_invariants(text, ms)


def test_module_is_pure():
    source = Path(G.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(("spacy" not in line and "open(" not in line) for line in imports)
    assert {line.split()[1] for line in imports} <= {"__future__", "bisect", "re", "collections.abc", "pgxlit.records"}


def test_old_phenotype_names_and_cyp_deficiency() -> None:
    # Thioridazine label: "slow ... hydroxylators of debrisoquin" are CYP2D6 poor metabolizers;
    # Provigil label: "individuals deficient in the CYP2D6 enzyme".
    found = find_phenotypes("a 4.5-fold higher AUC for thioridazine in the slow hydroxylators compared to rapid "
                            "hydroxylators")
    assert [m.norm for m in found] == ["Poor Metabolizer", "Rapid Metabolizer"]
    [m] = find_phenotypes("In individuals deficient in the CYP2D6 enzyme, the levels of CYP2D6 substrates")
    assert m.norm == "CYP2D6 Deficiency" and m.text == "deficient in the CYP2D6"
