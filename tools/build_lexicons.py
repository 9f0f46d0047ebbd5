"""Compile the gene and drug lexicons that pgxlit ships (corpora/lexicons).

    python tools/build_lexicons.py --shared ../shared --out corpora/lexicons

Inputs (all under --shared, see ../shared/vocab/README.md for their origin):
  vocab/hgnc/hgnc_complete_set.2019-01.txt.gz      HGNC genes (Approved rows)
  vocab/hgnc/hgnc_approved_symbols.2020.csv        newer HGNC symbols (no ids)
  vocab/pharmgkb/2020/chemicals.tsv                PharmGKB chemicals (~2020)
  vocab/pharmgkb/2016/drugs.tsv                    PharmGKB drugs (2016), for what 2020 lacks
  vocab/pharmgkb/2016/rsid.tsv, vocab/pharmcat_allele_definitions/phenotypes.tsv
                                                   which genes are PGx genes
  corpora/pubmed/efetch/pharmgkb_vda_2018/*.xml    2,037 PGx abstracts: common words and
  corpora/fda/openfda/labels/*.json                abbreviations defined in text, for filtering

Outputs: genes.tsv.gz, drugs.tsv.gz (gzip without a timestamp, so a rebuild is
byte-identical) and README.md with the counts. `--report FILE` writes every
dropped or demoted term with its reason, for review.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from pgxlit.extract.lexicons import (
    DRUG_COLUMNS,
    GENE_COLUMNS,
    NOT_DRUG_COLUMNS,
    NOT_DRUGS_FILE,
    SALT_WORDS,
    tokens,
)
from pgxlit.ingest.pubmed_xml import iter_pubmed_xml
from pgxlit.records import Abstract

REPO = Path(__file__).resolve().parents[1]

HGNC_FILE = "vocab/hgnc/hgnc_complete_set.2019-01.txt.gz"
HGNC_2020 = "vocab/hgnc/hgnc_approved_symbols.2020.csv"
CHEMICALS_2020 = "vocab/pharmgkb/2020/chemicals.tsv"
DRUGS_2016 = "vocab/pharmgkb/2016/drugs.tsv"
RSID_2016 = "vocab/pharmgkb/2016/rsid.tsv"
PHENOTYPES = "vocab/pharmcat_allele_definitions/phenotypes.tsv"
ABSTRACTS = "corpora/pubmed/efetch/pharmgkb_vda_2018"
LABELS = "corpora/fda/openfda/labels"

# ---------------------------------------------------------------------------
# Hand-made tables. Each is small, commented and the only place to edit by hand.
# ---------------------------------------------------------------------------

# Genes of the CPIC/DPWG/PharmCAT core plus other frequently studied PGx genes. An alias
# shared by several genes is kept for the one that is in this set (MDR1 -> ABCB1), and an
# alias that is also a word is kept (context required) for these genes only.
PGX_CORE_EXTRA = """
    CYP1A1 CYP1A2 CYP1B1 CYP2A6 CYP2B6 CYP2C8 CYP2C9 CYP2C19 CYP2D6 CYP2E1 CYP3A4 CYP3A5 CYP3A7
    CYP4F2 CYP2J2 POR NR1I2 NR1I3 NAT1 NAT2 TPMT NUDT15 ITPA DPYD TYMS MTHFR UGT1A1 UGT1A4
    UGT1A6 UGT1A9 UGT2B7 UGT2B15 UGT2B17 SULT1A1 GSTM1 GSTT1 GSTP1 COMT OPRM1 HTR2A HTR2C
    DRD2 DRD3 SLC6A4 SLC6A2 SLC6A3 ADRB1 ADRB2 ACE AGT F2 F5 VKORC1 GGCX CALU EPHX1 ABCB1
    ABCC2 ABCG2 ABCC4 SLCO1B1 SLCO1B3 SLC22A1 SLC22A2 SLC47A1 CES1 G6PD CYB5R3 IFNL3 IFNL4
    HLA-A HLA-B HLA-C HLA-DRB1 HLA-DQA1 HLA-DQB1 HLA-DPB1 RYR1 CACNA1S CFTR MT-RNR1 KCNH2
    KCNQ1 KCNJ11 ABCC8 PPARG TCF7L2 APOE LDLR PCSK9 HMGCR CETP EGFR KRAS BRAF ERBB2 ESR1 BCHE
    XRCC1 ERCC1 ERCC2 GNB3 ANKK1 BDNF FKBP5 GRIK4 IL28B
""".split()

# Loci outside locus_group "protein-coding gene" that PGx text names: UGT1A1..UGT1A10 are
# "complex locus constituent" (kept by locus_type below); MT-RNR1 is a non-coding RNA with a
# CPIC guideline (aminoglycosides).
EXTRA_LOCI = {"MT-RNR1"}
KEEP_LOCUS_TYPES = {"complex locus constituent"}

# Symbols/aliases that are English words or abbreviations of something else in clinical
# and PGx text, beyond those found from the corpora (see `common_words`, `abbreviations`).
# Aliases/previous symbols listed here are dropped; approved symbols are kept but need a
# gene word next to them (needs_context=1).
GENE_STOP = """
    PM IM EM UM NM RM AS ALL AIM CAR MAP REST TAP T2D SET MET CAT ACE IMPACT WAS MAX SHE SON
    CLOCK BID TID QID INS RHO MICE CAMP HR MS PC CP CAD TTR SRL AFP ADA DES PAH APP GC HP
    OR CI RR SD SE AUC BMI ADR ADRS SJS TEN DRESS INR ACS PCI MI AF DVT PE HIV HCV HBV TB CML
    AML CLL NSCLC CRC RA SLE PD AD ASD ADHD MDD GAD OCD ICU ED ER PR CR OS PFS DFS EFS RFS
    ORR DCR TTP QOL AE SAE ULN ALT AST GGT ALP LDH CK BUN GFR LDL HDL TC TG SBP DBP BP ECG QT
    EEG MRI CT PET IV SC PO QD PRN NA ND NS NR ID MAF HWE LD GWAS SNP CNV PCR DNA RNA WT MUT
    FDA EMA CPIC DPWG NIH WHO USA UK EU II III IV VI GO ON IN AT IT NO UP CO TO US BE MA ME
    MR MD PHD ART MDR HAART SVR RVR EVR CHC PEG IFN RBV CBZ PHT VPA LTG OXC MTX AZA TAC CSA
    FK CYC CNI PPI SSRI TCA NSAID NSAIDS COX ANOVA AIC HAM BAD MASS STAR LAMP TANK SAFE GAP
    ARC ARM BEST CAPS COIL DOCK FAT FOG GAS HOOK ICE KIT LUNG MUG NET OPEN PAL PIGS PIP RAGE
    RAN RING SAM SIN SKI SLY SMART SPIN SPOT STAT SUN TASK TOP TRAP WARS WISP ZIP DARE FAME
    GRASP LOX MAGE MARK PALM PEAK PREP RACK SCAN SOS SPARC STOP TACT TEST TIGER TRIP WEE
    INN USAN BAN NDA ANDA BLA IND OTC RX USP NF NOS
    DM1 ADAS ATAC JAMA CLCR S1P ESR OATP FEV THEMIS ECD MCC GAL ABR SPN DPT STH DTL
    VII VIII IX XI XII XIII
""".split()

def protein_name_variants(name: str, symbol: str) -> list[tuple[str, str, int]]:
    """Spellings of one protein or enzyme name as labels write it: words joined by a space or a
    hyphen ("LDL-receptor", "carbamoyl-phosphate synthetase"), two lower-case words run together
    ("carbamylphosphate synthetase"), and the plural ("LDL receptors"); matched in any case."""
    words = name.split()
    forms = {""}
    for i, word in enumerate(words):
        seps = [""] if i == 0 else [" ", "-"] + ([""] if i == 1 and words[0].isalpha() and words[0].islower()
                                                 and word.isalpha() and word.islower() else [])
        forms = {f + sep + word for f in forms for sep in seps}
    if words[-1].isalpha() and len(words[-1]) > 2:
        forms |= {f + "s" for f in forms}
    return [(form, symbol, 0) for form in sorted(forms)]


# Gene spellings that HGNC lacks but PGx text and labels use. case_sensitive=0 for names.
# CYP family variants ("CYP 2D6", "CYP-2D6", "cytochrome P450 2D6", "P450 2C19") are
# generated for every CYP symbol in `cyp_variants`.
GENE_EXTRA = [
    # term, symbol, case_sensitive
    ("thiopurine methyltransferase", "TPMT", 0),
    ("thiopurine S-methyltransferase", "TPMT", 0),
    ("thiopurine methyl transferase", "TPMT", 0),
    ("thiopurine S-methyl transferase", "TPMT", 0),
    ("thiopurine-S-methyltransferase", "TPMT", 0),
    ("dihydropyrimidine dehydrogenase", "DPYD", 0),
    # DPD is HGNC's alias of DPYD and kept without a context rule: in PGx text and labels it
    # means dihydropyrimidine dehydrogenase (every definition in the 2,037 abstracts does).
    ("DPD", "DPYD", 1),
    ("glucose-6-phosphate dehydrogenase", "G6PD", 0),
    ("glucose 6-phosphate dehydrogenase", "G6PD", 0),
    ("G-6-PD", "G6PD", 1),
    ("P-glycoprotein", "ABCB1", 0),
    ("P-gp", "ABCB1", 1),
    ("Pgp", "ABCB1", 1),
    ("P-GP", "ABCB1", 1),
    ("MDR1", "ABCB1", 1),
    ("MDR-1", "ABCB1", 1),
    ("multidrug resistance protein 1", "ABCB1", 0),
    ("OATP1B1", "SLCO1B1", 1),
    ("OATP-1B1", "SLCO1B1", 1),
    ("OATP1B3", "SLCO1B3", 1),
    ("organic anion transporting polypeptide 1B1", "SLCO1B1", 0),
    ("BCRP", "ABCG2", 1),
    ("breast cancer resistance protein", "ABCG2", 0),
    ("MRP2", "ABCC2", 1),
    ("vitamin K epoxide reductase complex subunit 1", "VKORC1", 0),
    ("vitamin K epoxide reductase", "VKORC1", 0),
    ("N-acetyltransferase 2", "NAT2", 0),
    ("catechol-O-methyltransferase", "COMT", 0),
    ("catechol O-methyltransferase", "COMT", 0),
    ("methylenetetrahydrofolate reductase", "MTHFR", 0),
    ("thymidylate synthase", "TYMS", 0),
    ("mu-opioid receptor", "OPRM1", 0),
    ("μ-opioid receptor", "OPRM1", 0),
    ("P450 oxidoreductase", "POR", 0),
    ("cytochrome P450 oxidoreductase", "POR", 0),
    ("pregnane X receptor", "NR1I2", 0),
    ("constitutive androstane receptor", "NR1I3", 0),
    ("angiotensin-converting enzyme", "ACE", 0),
    ("angiotensin converting enzyme", "ACE", 0),
    ("apolipoprotein E", "APOE", 0),
    ("dopamine transporter", "SLC6A3", 0),
    ("serotonin transporter", "SLC6A4", 0),
    ("norepinephrine transporter", "SLC6A2", 0),
    ("dopamine D2 receptor", "DRD2", 0),
    ("lipoprotein lipase", "LPL", 0),
    ("hepatic lipase", "LIPC", 0),
    ("epidermal growth factor receptor", "EGFR", 0),
    # "human epidermal growth factor receptor 2 (HER2)" is ERBB2, not EGFR with a stray "2".
    ("human epidermal growth factor receptor 2", "ERBB2", 0),
    ("human epidermal growth factor receptor-2", "ERBB2", 0),
    ("epidermal growth factor receptor 2", "ERBB2", 0),
    ("human epidermal growth factor receptor type 2", "ERBB2", 0),
    ("cyclooxygenase-2", "PTGS2", 0),
    ("COX-2", "PTGS2", 1),
    ("interleukin 28B", "IFNL3", 0),
    ("IL28B", "IFNL3", 1),
    ("IL-28B", "IFNL3", 1),
    ("UGT1A1", "UGT1A1", 1),
    ("HLA-B", "HLA-B", 1),
    # Enzyme and protein names labels use for a gene (issue 17: genes by any name). Each is the
    # gene's product as HGNC's name or the label's own wording states it.
    ("glucose 6 phosphate dehydrogenase", "G6PD", 0),
    ("glucose-6 phosphate dehydrogenase", "G6PD", 0),
    ("G6PD", "G6PD", 1),
    ("G-6PD", "G6PD", 1),
    ("debrisoquin hydroxylase", "CYP2D6", 0),
    ("debrisoquine hydroxylase", "CYP2D6", 0),
    ("debrisoquine 4-hydroxylase", "CYP2D6", 0),
    ("debrisoquine/sparteine hydroxylase", "CYP2D6", 0),
    ("sparteine/debrisoquine hydroxylase", "CYP2D6", 0),
    ("pseudocholinesterase", "BCHE", 0),
    ("plasma cholinesterase", "BCHE", 0),
    ("butyrylcholinesterase", "BCHE", 0),
    ("serum cholinesterase", "BCHE", 0),
    ("Factor V Leiden", "F5", 0),
    ("factor V Leiden mutation", "F5", 0),
    ("antithrombin III", "SERPINC1", 0),
    ("antithrombin-III", "SERPINC1", 0),
    ("ATIII", "SERPINC1", 1),
    ("AT-III", "SERPINC1", 1),
    ("prothrombin G20210A", "F2", 0),
    ("ryanodine receptor 1", "RYR1", 0),
    ("ryanodine receptor type 1", "RYR1", 0),
    ("ryanodine receptor", "RYR1", 0),
    ("NADH cytochrome b5 reductase", "CYB5R3", 0),
    ("NADH-cytochrome b5 reductase", "CYB5R3", 0),
    ("cytochrome b5 reductase", "CYB5R3", 0),
    ("NADH methemoglobin reductase", "CYB5R3", 0),
    ("uridine diphosphate glucuronosyltransferase 1A1", "UGT1A1", 0),
    ("uridine diphosphate-glucuronosyltransferase 1A1", "UGT1A1", 0),
    ("uridine diphosphate-glucuronosyl transferase 1A1", "UGT1A1", 0),
    ("uridine diphosphate glucuronosyl transferase 1A1", "UGT1A1", 0),
    ("UDP-glucuronosyltransferase 1A1", "UGT1A1", 0),
    ("UDP glucuronosyltransferase 1A1", "UGT1A1", 0),
    ("UDP-glucuronosyl transferase 1A1", "UGT1A1", 0),
    ("N-acetyltransferase gene 2", "NAT2", 0),
    ("arylamine N-acetyltransferase 2", "NAT2", 0),
    ("hypoxanthine-guanine phosphoribosyltransferase", "HPRT1", 0),
    ("hypoxanthine guanine phosphoribosyltransferase", "HPRT1", 0),
    ("nudix hydrolase 15", "NUDT15", 0),
    # A gene is named when its protein, enzyme or deficiency is (issue 17, lead's rule): receptor,
    # apolipoprotein and urea-cycle enzyme names as labels write them ("lack functional LDL
    # receptors", "apo E mutation", "ornithine transcarbamylase deficiency", "carbamylphosphate
    # synthetase (CPS)"); spelling variants come from `protein_name_variants`.
    *protein_name_variants("LDL receptor", "LDLR"),
    *protein_name_variants("low density lipoprotein receptor", "LDLR"),
    *protein_name_variants("apo E", "APOE"),
    ("apoE", "APOE", 0),
    *protein_name_variants("ornithine transcarbamylase", "OTC"),
    *protein_name_variants("ornithine carbamoyltransferase", "OTC"),
    *protein_name_variants("carbamoyl phosphate synthetase", "CPS1"),
    *protein_name_variants("carbamyl phosphate synthetase", "CPS1"),
    *protein_name_variants("carbamoyl phosphate synthetase I", "CPS1"),
    *protein_name_variants("carbamoyl phosphate synthase 1", "CPS1"),
    *protein_name_variants("argininosuccinate synthetase", "ASS1"),
    *protein_name_variants("argininosuccinic acid synthetase", "ASS1"),
    *protein_name_variants("argininosuccinate synthase", "ASS1"),
    *protein_name_variants("argininosuccinate lyase", "ASL"),
    *protein_name_variants("argininosuccinic acid lyase", "ASL"),
    *protein_name_variants("N-acetylglutamate synthase", "NAGS"),
    *protein_name_variants("N-acetylglutamate synthetase", "NAGS"),
    ("arginase", "ARG1", 0),
    ("arginase 1", "ARG1", 0),
    ("arginase I", "ARG1", 0),
]

# Drug abbreviations of 3 characters or fewer (or written with capitals) that PGx text uses
# for one drug only. Matched case-sensitively. abbreviation -> PharmGKB name.
DRUG_ABBREVIATIONS = {
    "5-FU": "fluorouracil", "5FU": "fluorouracil", "6-MP": "mercaptopurine",
    "6MP": "mercaptopurine", "6-TG": "thioguanine", "INH": "isoniazid", "MTX": "methotrexate",
    "CBZ": "carbamazepine", "OXC": "oxcarbazepine", "VPA": "valproic acid", "EFV": "efavirenz",
    "NVP": "nevirapine", "AZT": "zidovudine", "3TC": "lamivudine", "TDF": "tenofovir",
    "RBV": "ribavirin", "CsA": "cyclosporine", "MMF": "mycophenolate mofetil",
    "APAP": "acetaminophen", "CPT-11": "irinotecan", "SN-38": "SN-38", "AZA": "azathioprine",
    "SSRI": "selective serotonin reuptake inhibitors", "SSRIs": "selective serotonin reuptake inhibitors",
    "PPI": "proton pump inhibitors", "PPIs": "proton pump inhibitors",
    "NSAID": "anti-inflammatory and antirheumatic products, non-steroids",
    "NSAIDs": "anti-inflammatory and antirheumatic products, non-steroids",
}

# Common spellings PharmGKB lacks, as synonyms of an existing PharmGKB chemical.
DRUG_EXTRA = {
    "rifampicin": "rifampin", "ciclosporin": "cyclosporine", "cyclosporin": "cyclosporine",
    "cyclosporin A": "cyclosporine", "ACE inhibitors": "ace inhibitors, plain",
    "angiotensin-converting enzyme inhibitors": "ace inhibitors, plain",
    "angiotensin-converting enzyme inhibitor": "ace inhibitors, plain",
    "angiotensin converting enzyme inhibitors": "ace inhibitors, plain",
}

# Drug-lexicon terms dropped by hand: trade names and synonyms that are common words or
# mean something else in PGx text (found by reviewing --report output).
DRUG_STOP = {
    # trade names / street names that are common words
    "today", "alli", "plan b", "allay", "alert", "girl", "cocktail", "triad", "tulip", "freeze",
    "juice", "same", "coumarins", "caffine", "compound 65", "contrheuma retard", "ulup", "fluri",
    "captin", "dirox", "mern", "rosex", "latka 42", "warf 42", "place-pax", "d-con", "co-rax",
    "acetylin", "acetal", "acetol", "acetonyl", "colamine", "algrain", "dapa",
    # wrong synonyms in the source (aminoethanol is not ethanol; hydrazide is a class)
    "aminoethanol", "hydrazide",
    # ATC groups and PharmGKB entries that are ordinary words in PGx text
    "various", "enzymes", "thyroid", "cosmetics", "radiotherapy", "endocrine therapy", "retinal",
    "lipase", "vitamin", "vitamins", "salt", "vena", "water",
    # street names that are words of clinical text ("blast crisis" is no cocaine)
    "blast", "blasts", "crack", "rock", "snow", "flake", "lady", "coke", "base", "line", "paste",
    "star", "dust", "candy", "crystal", "ice", "speed", "glass", "cloud", "white", "girlfriend",
}

# Terms that are not drugs in clinical text (issue 17: drugs that are drugs), written to
# not_drugs.tsv.gz. `lab_test`: laboratory tests and enzymes whose words would otherwise match
# a drug ("alanine aminotransferase" is not alanine): matched longest-first and yielding no
# mention. `analyte`: canonical drug names that in a label are a measured analyte, a nutrient or
# an endogenous compound, never the subject of another drug's PGx statement. PharmGKB types
# "Biological Intermediate" and "Ion" add to the analytes (see `not_drugs`).
LAB_TESTS = """
    alanine aminotransferase|alanine transaminase|aspartate aminotransferase|aspartate transaminase|
    serum glutamic pyruvic transaminase|serum glutamic oxaloacetic transaminase|alkaline phosphatase|
    creatine kinase|creatine phosphokinase|creatinine kinase|creatine kinase-MB|lactate dehydrogenase|
    lactic dehydrogenase|lactic acid dehydrogenase|gamma-glutamyl transferase|gamma-glutamyltransferase|
    gamma glutamyl transferase|gamma-glutamyl transpeptidase|gamma-glutamyltranspeptidase|blood urea nitrogen|
    urea nitrogen|glucose tolerance test|glycosylated hemoglobin|glycated hemoglobin|urea cycle
"""
ANALYTES = """
    bilirubin|glucose|dextrose|phosphorus|phosphate|creatine|creatinine|calcium|potassium|sodium|
    magnesium|chloride|bicarbonate|albumin|cholesterol|triglycerides|uric acid|urea|ammonia|
    alanine|l-alanine|aspartic acid|l-aspartic acid|glutamic acid|hemoglobin|iron|ferritin|lactate|
    lactic acid|zinc|copper|oxygen|adenine|uridine|nicotinamide adenine dinucleotide|
    reduced nicotinamide adenine dinucleotide|ryanodine|testosterone|acth|apple juice|
    grapefruit juice|vitamin k|vitamin d|folate|amino acids|fructose|sucrose|lactose
"""


COMMON_WORD_MIN = 2  # lower-case occurrences in abstracts + label prose that make a word common


# ---------------------------------------------------------------------------
# Reading the sources
# ---------------------------------------------------------------------------


def multi(cell: str, sep: str = "|") -> list[str]:
    """HGNC multi-valued cell: "A|B|C" in double quotes, or one bare value."""
    cell = cell.strip().strip('"')
    return [v.strip() for v in cell.split(sep) if v.strip()] if cell else []


def pharmgkb_list(cell: str) -> list[str]:
    """PharmGKB multi-valued cell: "a","b, c" (quoted items, comma-separated) or one bare value."""
    cell = cell.strip()
    if not cell:
        return []
    if cell.startswith('"'):
        return [v.strip() for v in next(csv.reader([cell])) if v.strip()]
    return [cell]


def read_tab(path: Path) -> list[dict[str, str]]:
    """A PharmGKB TSV, split on TAB line by line (quotes inside cells are data)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].lstrip("\ufeff").split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def corpus_texts(shared: Path) -> list[str]:
    """Abstract titles + texts, and label prose (sections only)."""
    texts = []
    for path in sorted((shared / ABSTRACTS).glob("*.xml")):
        with path.open("rb") as fh:
            for rec in iter_pubmed_xml(fh, str(path)):
                if isinstance(rec, Abstract):
                    texts.append(rec.title + "\n" + rec.abstract_text)
    skip = {"openfda", "spl_product_data_elements", "package_label_principal_display_panel"}
    for path in sorted((shared / LABELS).glob("*.json")):
        for result in json.loads(path.read_bytes()).get("results", []):
            for key, value in result.items():
                if key in skip or key.endswith("_table") or not isinstance(value, list):
                    continue
                texts.extend(v for v in value if isinstance(v, str))
    return texts


_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")


def common_words(texts: list[str]) -> Counter:
    """Lower-case occurrences of alphabetic words (the English of abstracts and labels)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(w for w in _WORD.findall(text) if w.islower())
    return counts


_DEF = re.compile(r"((?:[^\s()]+\s+){1,12})\(\s*([A-Za-z0-9][A-Za-z0-9\-]{1,9})\s*[,;)]")
_FILLER = {"the", "of", "and", "in", "a", "an", "with", "for", "to", "on", "by", "as", "or", "its",
           "gene", "genes", "protein", "human", "type", "member", "family", "subfamily"}


# words of a long form that make it name a gene product ("tumor necrosis factor receptor 1")
_PRODUCT_WORDS = {
    "receptor", "receptors", "transporter", "transporters", "factor", "channel", "subunit",
    "antigen", "hormone", "cassette", "carrier", "polypeptide", "cytochrome", "p450", "enzyme",
    "glycoprotein", "kinase", "ligand", "interleukin", "interferon", "oncogene", "homolog",
}


def long_form(short: str, before: str) -> str | None:
    """The long form that `short` abbreviates at the end of `before` (Schwartz & Hearst 2003)."""
    s, i = len(short) - 1, len(before) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (before[i].lower() != c or (s == 0 and i > 0 and before[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = before.rfind(" ", 0, i + 1) + 1
    lf = before[start:].strip()
    return lf if lf and lf.lower() != short.lower() and len(lf) > len(short) else None


def abbreviation_definitions(texts: list[str]) -> dict[str, list[set[str]]]:
    """ABBR -> word sets of the long forms defined as "long form (ABBR)" in the corpora."""
    defs: dict[str, list[set[str]]] = defaultdict(list)
    for text in texts:
        for m in _DEF.finditer(text):
            abbr = m.group(2)
            words = m.group(1).split()
            before = " ".join(words[-min(len(words), len(abbr) + 5, 2 * len(abbr)):])
            lf = long_form(abbr, before)
            if lf is None:
                continue
            defs[abbr].append(set(re.findall(r"[a-z0-9]+", lf.lower())) - _FILLER)
    return defs


# ---------------------------------------------------------------------------
# Genes
# ---------------------------------------------------------------------------


def pgx_genes(shared: Path) -> tuple[set[str], set[str]]:
    """(core PGx genes, genes with PharmGKB-annotated variants)."""
    core = set(PGX_CORE_EXTRA)
    for row in read_tab(shared / PHENOTYPES):
        core.add(row["Gene"].strip())
    annotated = set()
    for row in read_tab(shared / RSID_2016):
        annotated.update(s.strip() for s in row.get("Gene Symbols", "").split(",") if s.strip())
    return core, annotated | core


def cyp_variants(symbol: str) -> list[tuple[str, int]]:
    """Spellings of a CYP symbol that HGNC does not list: CYP 2D6, cytochrome P450 2D6, ..."""
    m = re.fullmatch(r"CYP(\d+[A-Z]+\d+)", symbol)
    if not m:
        return []
    code = m.group(1)
    out = [
        (f"CYP {code}", 1), (f"CYP-{code}", 1), (f"CYP450 {code}", 1), (f"CYP450-{code}", 1),
        (f"cytochrome P450 {code}", 0), (f"cytochrome P-450 {code}", 0),
        (f"cytochrome P450 (CYP) {code}", 0), (f"P450 {code}", 0), (f"P-450 {code}", 0),
    ]
    # The older Roman-numeral nomenclature older labels still use: "cytochrome P450IID6", "P450 IIIA4".
    family = re.fullmatch(r"([123])([A-Z]+\d+)", code)
    if family:
        roman = {"1": "I", "2": "II", "3": "III"}[family.group(1)] + family.group(2)
        out += [(f"P450{roman}", 1), (f"P450 {roman}", 1), (f"P-450{roman}", 1), (f"P-450 {roman}", 1),
                (f"cytochrome P450{roman}", 1), (f"cytochrome P450 {roman}", 1)]
    return out


def link_2020_symbols(rows: list[dict[str, str]], symbols_2020: set[str]) -> tuple[dict[str, str], int]:
    """2019 symbol -> newer symbol, for genes renamed by 2020, and the count left unlinked.

    The 2020 list has no ids, so a new symbol is linked to a 2019 gene only when that gene's
    2019 symbol is gone from the 2020 list and either the new symbol is one of its aliases /
    previous symbols, or it is a systematic rename (SEPT7 -> SEPTIN7, MARCH1 -> MARCHF1,
    AARS -> AARS1)."""
    known = {r["symbol"] for r in rows}
    for r in rows:
        known.update(multi(r["alias_symbol"]) + multi(r["prev_symbol"]))
    new = symbols_2020 - {r["symbol"] for r in rows}
    gone = {r["symbol"]: r for r in rows if r["symbol"] not in symbols_2020}
    links: dict[str, str] = {}
    by_alias: dict[str, list[str]] = defaultdict(list)
    for sym, r in gone.items():
        for a in multi(r["alias_symbol"]) + multi(r["prev_symbol"]):
            by_alias[a].append(sym)
    for sym in gone:
        for cand in (sym + "1", re.sub(r"^SEPT(\d)", r"SEPTIN\1", sym), re.sub(r"^MARCH(\d)", r"MARCHF\1", sym)):
            if cand != sym and cand in new:
                links[sym] = cand
                break
    for a, olds in by_alias.items():
        if a in new and len(olds) == 1 and olds[0] not in links:
            links[olds[0]] = a
    unlinked = len(new - set(links.values()) - known)
    return links, unlinked


def build_genes(shared: Path, words: Counter, defs: dict[str, list[set[str]]], drug_terms: set[str],
                report: list[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], dict[str, int]]:
    with gzip.open(shared / HGNC_FILE, "rt", encoding="utf-8") as fh:
        all_rows = [r for r in csv.DictReader(fh, delimiter="\t")]
    rows = [r for r in all_rows if r["status"] == "Approved"]
    text_2020 = (shared / HGNC_2020).read_text(encoding="utf-8-sig")
    symbols_2020 = {line.strip() for line in text_2020.splitlines()[1:] if line.strip()}
    core, pgx = pgx_genes(shared)
    links, unlinked = link_2020_symbols(rows, symbols_2020)

    def included(r: dict[str, str]) -> bool:
        return (r["locus_group"] == "protein-coding gene" or r["locus_type"] in KEEP_LOCUS_TYPES
                or r["symbol"] in EXTRA_LOCI)

    genes = [r for r in rows if included(r)]
    approved = {r["symbol"] for r in rows}  # every approved symbol, any locus group
    stop = {s.upper() for s in GENE_STOP}

    # words that name a gene in HGNC's name fields, per term: a long form written before
    # "(TERM)" that shares none of them defines TERM as something else.
    name_words: dict[str, set[str]] = defaultdict(set)
    for r in genes:
        ws = set(re.findall(r"[a-z0-9]+", " ".join([r["name"], r["alias_name"], r["prev_name"]]).lower()))
        ws -= _FILLER
        for t in [r["symbol"]] + multi(r["alias_symbol"]) + multi(r["prev_symbol"]):
            name_words[t] |= ws

    symbols_lower = {r["symbol"].lower() for r in genes}

    def gene_like(form: set[str], term: str) -> bool:
        if form & name_words[term] or form & _PRODUCT_WORDS or form & symbols_lower:
            return True
        return any(w.endswith(("ase", "ases", "protein", "proteins", "globulin", "in-1")) for w in form)

    def other_meaning(term: str) -> bool:
        if term in core:
            return False
        forms = defs.get(term, [])
        genes_ = sum(1 for f in forms if gene_like(f, term))
        return len(forms) - genes_ >= max(1, genes_)

    def is_word(term: str) -> bool:
        return term.isalpha() and words[term.lower()] >= COMMON_WORD_MIN

    def ambiguous_reason(term: str) -> str | None:
        if term.upper() in stop:
            return "stop list"
        if is_word(term):
            return f"common word ({words[term.lower()]}x lower-case)"
        if other_meaning(term):
            return "abbreviation defined otherwise in the corpora"
        return None

    # candidates: term -> list of (symbol row, kind)
    by_symbol = {r["symbol"]: r for r in genes}
    out: dict[tuple[str, str], tuple[str, ...]] = {}  # (term, hgnc_id) -> row

    def current(r: dict[str, str]) -> str:
        return links.get(r["symbol"], r["symbol"])

    def emit(term: str, r: dict[str, str], kind: str, cs: int, ctx: int) -> None:
        key = (term, r["hgnc_id"])
        if key not in out:
            out[key] = (term, current(r), r["hgnc_id"], kind, str(cs), str(ctx))

    # 1. approved symbols (and the 2020 symbols that replace them)
    for r in genes:
        sym = r["symbol"]
        reason = ambiguous_reason(sym) or ("2 characters or fewer" if len(sym) <= 2 else None)
        if reason:
            report.append(("gene", sym, sym, "needs_context", reason))
        if sym in links:
            emit(links[sym], r, "symbol", 1, 0)
            emit(sym, r, "previous", 1, 1 if reason else 0)
        else:
            emit(sym, r, "symbol", 1, 1 if reason else 0)

    # 2. aliases and previous symbols
    owners: dict[str, list[tuple[dict[str, str], str]]] = defaultdict(list)
    for r in genes:
        for kind, field in (("alias", "alias_symbol"), ("previous", "prev_symbol")):
            for a in multi(r[field]):
                if a != r["symbol"]:
                    owners[a].append((r, kind))
    for term, cands in sorted(owners.items()):
        syms = sorted({c[0]["symbol"] for c in cands})
        drop = None
        if term in approved or term in links.values():
            drop = "is another gene's approved symbol"
        elif len(term) <= 2:
            drop = "2 characters or fewer"
        elif not re.search(r"[A-Za-z]", term) or re.fullmatch(r"[\d\W]+", term):
            drop = "no letters"
        elif term.lower() == term and not re.fullmatch(r"[a-z]{1,3}-?\d+[a-z]?", term):
            drop = "all lower case (p53-style names excepted)"
        elif re.fullmatch(r"[A-Z][a-z]+", term):
            drop = "looks like a capitalised word"
        elif re.fullmatch(r"\d+[A-Z]+\d+", term) or re.fullmatch(r"CYP\d+[A-Z]?", term):
            drop = "CYP subfamily or fragment of a CYP name"
        elif not (set(syms) & core) and (re.fullmatch(r"[A-Z]{3}", term) or re.fullmatch(r"[A-Z]\d{1,3}", term)):
            drop = "3 capital letters or letter+number, not a PGx gene"
        elif term.lower() in drug_terms:
            drop = "is a drug term"
        if drop:
            report.append(("gene", term, ",".join(syms), "dropped", drop))
            continue
        if len(syms) > 1:
            keep = [s for s in syms if s in core] or [s for s in syms if s in pgx]
            if len(keep) != 1:
                report.append(("gene", term, ",".join(syms), "dropped", "shared by several genes"))
                continue
            cands = [c for c in cands if c[0]["symbol"] == keep[0]]
            report.append(("gene", term, ",".join(syms), f"kept for {keep[0]}", "shared; PGx gene wins"))
        r, kind = cands[0]
        reason = ambiguous_reason(term)
        if reason:
            if r["symbol"] in core:
                report.append(("gene", term, r["symbol"], "needs_context", reason))
                emit(term, r, kind, 1, 1)
            else:
                report.append(("gene", term, r["symbol"], "dropped", reason))
            continue
        emit(term, r, kind, 1, 0)

    # 3. hand-made spellings
    for r in genes:
        for term, cs in cyp_variants(current(r)):
            emit(term, r, "alias", cs, 0)
    for term, symbol, cs in GENE_EXTRA:
        r = by_symbol[symbol]
        out.pop((term, r["hgnc_id"]), None)
        for (t, hid) in [k for k in out if k[0] == term]:  # the hand table wins over HGNC
            del out[(t, hid)]
        emit(term, r, "alias" if term != current(r) else "symbol", cs, 0)

    result = sorted(out.values(), key=lambda row: (row[1], {"symbol": 0, "previous": 1, "alias": 2}[row[3]], row[0]))
    stats = {
        "genes": len(genes),
        "renamed_by_2020": sum(1 for r in genes if r["symbol"] in links),
        "unlinked_2020": unlinked,
        "needs_context": sum(1 for row in result if row[5] == "1"),
    }
    return result, stats


# ---------------------------------------------------------------------------
# Drugs
# ---------------------------------------------------------------------------

_BRACKET = re.compile(r"\s*\[[^\]]*\]\s*$")
_KIND_RANK = {"name": 0, "generic": 1, "trade": 2, "class": 0, "metabolite": 0}
_ENTITY_RANK = {"drug": 0, "class": 1, "metabolite": 2}


def entity_kind(types: str) -> str | None:
    ts = set(pharmgkb_list(types))
    if ts & {"Drug", "Prodrug", "Small Molecule"}:
        return "drug"
    if "Drug Class" in ts:
        return "class"
    if "Metabolite" in ts:
        return "metabolite"
    return None  # Biological Intermediate, Ion: not drugs


def rxnorm_of(row: dict[str, str]) -> str:
    ids = pharmgkb_list(row.get("RxNorm Identifiers", ""))
    if ids:
        return ids[0].split(",")[0].strip()
    m = re.search(r"RxNorm:(\d+)", row.get("External Vocabulary", ""))
    return m.group(1) if m else ""


def clean_term(term: str) -> str:
    term = _BRACKET.sub("", term)
    return " ".join(term.split())


def mixture_components(cell: str) -> list[str]:
    """'Kivexa (Abacavir Sulfate + Lamivudine)' -> ['Abacavir Sulfate', 'Lamivudine']."""
    out = []
    for item in pharmgkb_list(cell):
        m = re.search(r"\(([^()]*)\)\s*$", item)
        if m:
            out.extend(p.strip() for p in m.group(1).split("+") if p.strip())
    return out


def strip_salts(term: str) -> str:
    words = term.split()
    while len(words) > 1 and words[-1].lower() in SALT_WORDS:
        words.pop()
    return " ".join(words)


def build_drugs(shared: Path, words: Counter, gene_symbols: set[str],
                report: list[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], dict[str, int]]:
    entities: dict[str, dict] = {}
    for source, path in (("2020", CHEMICALS_2020), ("2016", DRUGS_2016)):
        for row in read_tab(shared / path):
            pid = row["PharmGKB Accession Id"].strip()
            kind = entity_kind(row["Type"])
            if kind is None:
                continue
            ent = entities.get(pid)
            if ent is None:
                ent = entities[pid] = {
                    "pid": pid, "name": clean_term(row["Name"]).lower(), "kind": kind,
                    "rxnorm": rxnorm_of(row), "terms": [], "source": source,
                    "mixtures": mixture_components(row.get("Brand Mixtures", "")),
                }
            elif not ent["rxnorm"]:
                ent["rxnorm"] = rxnorm_of(row)
            ent["terms"].append((row["Name"], "name"))
            ent["terms"].extend((t, "generic") for t in pharmgkb_list(row["Generic Names"]))
            ent["terms"].extend((t, "trade") for t in pharmgkb_list(row["Trade Names"]))
    by_name = {e["name"]: e for e in entities.values()}

    # salt forms PharmGKB writes in brand mixtures ("Abacavir Sulfate + Lamivudine")
    for e in entities.values():
        for comp in e["mixtures"]:
            base = strip_salts(comp).lower()
            if base != comp.lower() and base in by_name and by_name[base]["kind"] == "drug":
                by_name[base]["terms"].append((comp, "generic"))

    abbreviations = {a: n for a, n in DRUG_ABBREVIATIONS.items()}
    for abbr, name in abbreviations.items():
        if name in by_name:
            by_name[name]["terms"].append((abbr, "generic"))
        else:
            report.append(("drug", abbr, name, "dropped", "abbreviation's drug not in PharmGKB"))

    for term, name in DRUG_EXTRA.items():
        if name in by_name:
            by_name[name]["terms"].append((term, "generic"))
    unambiguous_symbols = {s for s in gene_symbols if len(s) >= 3}
    candidates: dict[str, list[tuple[int, int, str, dict, str]]] = defaultdict(list)
    for e in entities.values():
        for raw, tkind in e["terms"]:
            term = clean_term(raw)
            low = term.lower()
            kind = e["kind"] if e["kind"] in ("class", "metabolite") else tkind
            if tkind == "name":
                kind = "name" if e["kind"] == "drug" else e["kind"]
            drop = None
            letters = sum(c.isalnum() for c in term)
            if not term:
                continue
            if term in abbreviations:
                pass
            elif low in DRUG_STOP:
                drop = "hand stop list"
            elif low in SALT_WORDS and tkind != "name":
                drop = "a salt word"
            elif e["kind"] == "class" and re.search(r"\b(?:system|organs)$", low):
                drop = "ATC anatomical group"
            elif letters <= 3:
                drop = "3 characters or fewer"
            elif re.fullmatch(r"[\d\W]+", term):
                drop = "no letters"
            elif "," in term or ";" in term or len(term) > 60 or len(tokens(term)) > 8:
                drop = "list, or long chemical name"
            elif tkind != "name" and "/" in term:
                drop = "combination"
            elif any(t.upper() in unambiguous_symbols and (t.isupper() or any(c.isdigit() for c in t))
                     for t in tokens(term)) and low != e["name"]:
                drop = "contains a gene symbol"
            elif tkind != "name" and re.sub(r"[\W_]", "", term).upper() in unambiguous_symbols:
                drop = "spells a gene symbol"  # "IL-1RN" (anakinra), "IL-11" (oprelvekin): the text names the gene
            elif tkind == "trade" and all(
                (w.isalpha() and words[w.lower()] >= COMMON_WORD_MIN) or len(w) <= 1
                for w in term.split()
            ) and low not in by_name:
                drop = "trade name made of common words"
            if drop:
                report.append(("drug", term, e["name"], "dropped", drop))
                continue
            candidates[low].append((_KIND_RANK[kind], _ENTITY_RANK[e["kind"]], term, e, kind))

    rows = []
    for low, cands in sorted(candidates.items()):
        cands.sort(key=lambda c: (c[0], c[1]))
        best = [c for c in cands if (c[0], c[1]) == (cands[0][0], cands[0][1])]
        pids = {c[3]["pid"] for c in best}
        if len(pids) > 1:
            # a term two entities share at the same rank: the one named by it, else drop
            named = [c for c in best if c[3]["name"] == low]
            if len(named) == 1:
                best = named
            else:
                report.append(("drug", low, ",".join(sorted(c[3]["name"] for c in best)), "dropped",
                               "shared by several chemicals"))
                continue
        rank, erank, term, e, kind = best[0]
        # keep the written form of names (lower case) / abbreviations; one row per term
        written = term if term in abbreviations else low
        rows.append((written, e["name"], e["pid"], e["rxnorm"], kind))
    rows.sort(key=lambda r: (r[1], _KIND_RANK[r[4]], r[0]))
    stats = Counter(r[4] for r in rows)
    stats["entities"] = len({r[2] for r in rows})
    return rows, dict(stats)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def not_drugs(shared: Path) -> list[tuple[str, str]]:
    """(term, kind) rows of not_drugs.tsv.gz: the hand tables plus PharmGKB's endogenous types."""
    rows = {(" ".join(t.split()), "lab_test") for t in LAB_TESTS.split("|") if t.strip()}
    analytes = {" ".join(t.split()).lower() for t in ANALYTES.split("|") if t.strip()}
    for row in read_tab(shared / CHEMICALS_2020):
        if set(pharmgkb_list(row["Type"])) & {"Biological Intermediate", "Ion"}:
            analytes.add(clean_term(row["Name"]).lower())
    rows |= {(a, "analyte") for a in analytes}
    return sorted(rows)


def write_tsv_gz(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    buf = io.StringIO()
    buf.write("\t".join(header) + "\n")
    for row in rows:
        assert not any("\t" in c or "\n" in c for c in row), row
        buf.write("\t".join(row) + "\n")
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue().encode("utf-8"))


def build(shared: Path, out: Path, report_path: Path | None = None) -> dict[str, object]:
    shared = shared.resolve()
    out.mkdir(parents=True, exist_ok=True)
    texts = corpus_texts(shared)
    words = common_words(texts)
    defs = abbreviation_definitions(texts)
    report: list[tuple[str, ...]] = []

    with gzip.open(shared / HGNC_FILE, "rt", encoding="utf-8") as fh:
        symbols = {r["symbol"] for r in csv.DictReader(fh, delimiter="\t") if r["status"] == "Approved"}
    stop = {s.upper() for s in GENE_STOP}
    plain_symbols = {s for s in symbols if s not in stop and not (s.isalpha() and words[s.lower()] >= COMMON_WORD_MIN)}
    drug_rows, drug_stats = build_drugs(shared, words, plain_symbols, report)
    drug_terms = {r[0].lower() for r in drug_rows}
    gene_rows, gene_stats = build_genes(shared, words, defs, drug_terms, report)

    write_tsv_gz(out / "genes.tsv.gz", GENE_COLUMNS, gene_rows)
    write_tsv_gz(out / "drugs.tsv.gz", DRUG_COLUMNS, drug_rows)
    not_drug_rows = not_drugs(shared)
    write_tsv_gz(out / NOT_DRUGS_FILE, NOT_DRUG_COLUMNS, not_drug_rows)
    stats = {
        "gene_rows": len(gene_rows),
        "gene_ids": len({r[2] for r in gene_rows}),
        "gene_kinds": dict(Counter(r[3] for r in gene_rows)),
        "gene_case_insensitive": sum(1 for r in gene_rows if r[4] == "0"),
        **{f"gene_{k}": v for k, v in gene_stats.items()},
        "drug_rows": len(drug_rows),
        "drug_ids": drug_stats.pop("entities"),
        "drug_kinds": drug_stats,
        "texts_for_filters": len(texts),
        "genes_bytes": (out / "genes.tsv.gz").stat().st_size,
        "drugs_bytes": (out / "drugs.tsv.gz").stat().st_size,
        "not_drug_rows": dict(Counter(r[1] for r in not_drug_rows)),
    }
    (out / "README.md").write_text(readme(stats), encoding="utf-8")
    if report_path is not None:
        with report_path.open("w", encoding="utf-8") as fh:
            for row in report:
                fh.write("\t".join(row) + "\n")
    return stats


def readme(s: dict) -> str:
    gk, dk = s["gene_kinds"], s["drug_kinds"]
    return f"""# corpora/lexicons — gene and drug lexicons

Compiled by `tools/build_lexicons.py` (do not edit by hand; rebuild):

```bash
python tools/build_lexicons.py --shared ../shared --out corpora/lexicons [--report /tmp/dropped.tsv]
```

Read by `pgxlit.extract.lexicons` (`load_lexicons`, `DictionaryMatcher`, `normalise_gene`,
`normalise_drug`). Both files are gzipped UTF-8 TSV with a header row; the build is
deterministic (same inputs, same bytes).

| file | rows | distinct ids | bytes | licence |
|---|---|---|---|---|
| `genes.tsv.gz` | {s['gene_rows']:,} | {s['gene_ids']:,} HGNC ids | {s['genes_bytes']:,} | HGNC data: freely available, no restriction |
| `drugs.tsv.gz` | {s['drug_rows']:,} | {s['drug_ids']:,} PharmGKB ids | {s['drugs_bytes']:,} | **CC BY-SA 4.0** (derived from PharmGKB) |

## `genes.tsv.gz`: `term, symbol, hgnc_id, kind, case_sensitive, needs_context`

- Rows by kind: symbol {gk.get('symbol', 0):,}, previous {gk.get('previous', 0):,}, alias {gk.get('alias', 0):,};
  {s['gene_case_insensitive']:,} rows match case-insensitively (hand-added names), all others exactly;
  {s['gene_needs_context']:,} rows need a gene word next to them (`needs_context=1`).
- Origin: `../shared/vocab/hgnc/hgnc_complete_set.2019-01.txt.gz` (HGNC complete set, via
  `lyijin/common` @ `436e3ec59f223e33e296b4b748c5d203b139fa43`, newest record 2018-11-07) —
  Approved rows only; and `hgnc_approved_symbols.2020.csv` (via `mtpandi/Text-Mining-for-PGx`
  @ `35dbff0239928ccc5324443fa08994a7f70ddadc`), which has symbols but no ids.
  PGx gene sets from PharmGKB `2016/rsid.tsv` (via `ryuzheng/PharmGKB`
  @ `92bdea34c1e2ade5075d23a7969588dcd55b5ab2`) and PharmCAT `docs/phenotypes.tsv`
  (`PharmGKB/PharmCAT` @ `5431bf1187e50383df7e7db18ef67b36fc8b562e`).
- Licence: HGNC states its data are freely available without restriction (cite HGNC,
  genenames.org). The copying repository is GPL-3.0 but the data are HGNC's.
- Genes: {s['gene_genes']:,} loci — locus group "protein-coding gene", plus the "complex locus
  constituent" loci (UGT1A1…UGT1A10) and MT-RNR1. Pseudogenes, RNA genes, immunoglobulin/TCR
  segments are left out.
- Newer symbols: {s['gene_renamed_by_2020']:,} genes renamed by 2020 are linked to their 2020 symbol (the
  2019 symbol becomes `previous`), when the 2019 symbol is gone from the 2020 list and the new
  one is among its aliases or a systematic rename (SEPT7→SEPTIN7, MARCH1→MARCHF1, AARS→AARS1).
  {s['gene_unlinked_2020']:,} other new 2020 symbols cannot be tied to an id and are left out.
- Terms: approved symbol, alias symbols, previous symbols (HGNC long names are not used),
  plus a small hand table (`GENE_EXTRA` in the script): CYP spellings for every CYP gene
  (`CYP 2D6`, `CYP-2D6`, `CYP450 2D6`, `cytochrome P450 2D6`, `P450 2C19`, …), enzyme/transporter
  names common in PGx text (`thiopurine methyltransferase`→TPMT, `dihydropyrimidine
  dehydrogenase`/`DPD`→DPYD, `P-glycoprotein`/`P-gp`/`MDR1`→ABCB1, `OATP1B1`→SLCO1B1,
  `BCRP`→ABCG2, `IL28B`→IFNL3, …). `DPD` is kept without context: in PGx text it means
  dihydropyrimidine dehydrogenase.
- Filtering of aliases and previous symbols — a term is dropped when it is
  2 characters or fewer; has no letters (purely numeric); is all lower case (except p53-style
  names: `p53`, `p21`); looks like a capitalised word (`San`, `Era`); is a CYP subfamily or a
  fragment of a CYP name (`CYP2C`, `2C18`); is three capital letters or a letter plus a number
  (`LPS`, `STZ`, `P50`, `Q10`) of a gene that is not a core PGx gene; is another gene's
  approved symbol; is a drug term of `drugs.tsv.gz`; is shared by several genes (kept only when
  exactly one of them is a PGx gene: the PharmCAT/CPIC core and `PGX_CORE_EXTRA`, else a gene
  with PharmGKB-annotated variants); or is ambiguous: a common word (its lower-case form occurs
  ≥{COMMON_WORD_MIN}× lower-case in the 2,037 abstracts of `corpora/pubmed/efetch/pharmgkb_vda_2018`
  and the prose of the 122 labels of `corpora/fda/openfda/labels`), an abbreviation that those
  texts define as something else ("hazard ratio (HR)", "coronary artery disease (CAD)": a long
  form sharing no word with the HGNC names of the genes bearing it), or on the hand stop list
  `GENE_STOP` (PM, MET, SET, CAT, ALL, AIM, CAR, MAP, REST, TAP, T2D, …). An ambiguous alias of a
  core PGx gene is kept with `needs_context=1` instead.
- Approved symbols are never dropped: an ambiguous one (MET, SET, CAT, ACE, IMPACT, WAS, HR,
  CAD, TTR, …, and every symbol of 2 characters or fewer such as F5, AR) gets `needs_context=1`:
  the matcher accepts it only next to a gene word (`MET gene`, `ACE I/D`, `F5 rs6025`,
  `polymorphisms in the CAT gene`).
- Matching (in `pgxlit.extract.lexicons`): `case_sensitive=1` terms match exactly, and symbols
  with a digit also in rodent-style capitalisation (`Cyp2d6`, `Nrf2`); `case_sensitive=0` terms
  (hand-added names) match in any case.

## `drugs.tsv.gz`: `term, name, pharmgkb_id, rxnorm, kind`

- Rows by kind: {', '.join(f'{k} {v:,}' for k, v in sorted(dk.items()))}.
  `name` is PharmGKB's canonical (lower-case generic) name, `rxnorm` the first RxNorm CUI
  PharmGKB gives (empty when none); norms are written `PA449053|clopidogrel`.
- Origin: `../shared/vocab/pharmgkb/2020/chemicals.tsv` (PharmGKB chemicals ≈2020, via
  `mtpandi/Text-Mining-for-PGx` @ `35dbff0239928ccc5324443fa08994a7f70ddadc`) and, for
  accessions and terms it lacks, `2016/drugs.tsv` (PharmGKB download of 2016-10-05, via
  `ryuzheng/PharmGKB` @ `92bdea34c1e2ade5075d23a7969588dcd55b5ab2`).
- **Licence: CC BY-SA 4.0.** PharmGKB data are licensed CC BY-SA 4.0; this compiled lexicon is
  an adaptation and is distributed under CC BY-SA 4.0 as well (attribution: PharmGKB,
  https://www.pharmgkb.org; Whirl-Carrillo et al., Clin Pharmacol Ther 2021). Changes made:
  selection, lower-casing, filtering and salt folding as described here.
- Entities: PharmGKB types Drug/Prodrug (→ kinds `name`, `generic`, `trade` by the column the
  term comes from), Drug Class (→ `class`), Metabolite (→ `metabolite`). Biological
  intermediates and ions are left out.
- Salts and forms are folded into the base drug: salt forms PharmGKB lists (`Warfarin sodium`,
  `Irinotecan Hydrochloride`, and salt forms named in its brand mixtures, e.g. `abacavir sulfate`)
  are rows of the base drug, and at match time any drug term followed by salt words (`SALT_WORDS`
  in `pgxlit/extract/lexicons.py`: hydrochloride, HCl, sodium, potassium, sulfate, bisulfate,
  besylate, mesylate, maleate, citrate, tartrate, succinate, fumarate, phosphate, acetate,
  calcium, magnesium, hydrate words, …) is one span of the base drug (`clopidogrel bisulfate`).
- Filtering: `[INN-French]`-style suffixes removed; terms of 3 characters or fewer dropped except
  the whitelisted abbreviations (`DRUG_ABBREVIATIONS`: 5-FU, 6-MP, 6-TG, INH, MTX, CBZ, VPA, EFV,
  CsA, …, matched case-sensitively); lists, combinations and long chemical names dropped; terms
  containing a gene symbol dropped (`CYP3A4 inhibitors` stays a gene mention), and synonyms that spell an
  approved gene symbol once case and hyphens are set aside (`IL-1RN` for anakinra, `IL-11` for
  oprelvekin, `FGF-7` for palifermin: the text names the gene); trade names
  made only of common words (`Today`, `Alli`, `Plan B`, `Allay`) and synonyms that are common
  words dropped, plus the hand list `DRUG_STOP`; a term two chemicals share at the same rank
  goes to the chemical it names, else it is dropped. Matching is case-insensitive except the
  short capitalised abbreviations.

## `not_drugs.tsv.gz`: `term, kind`

- Rows by kind: {', '.join(f'{k} {v:,}' for k, v in sorted(s['not_drug_rows'].items()))}.
- `lab_test`: laboratory tests and enzymes whose words would otherwise match a drug (`alanine
  aminotransferase` is not alanine, `creatine kinase` not creatine); the matcher takes them
  longest-first like any term and they yield no mention. Hand table `LAB_TESTS`.
- `analyte`: canonical drug names that in label text are a measured analyte, a nutrient or an
  endogenous compound (bilirubin, glucose, phosphorus, creatine, calcium, ...): still DRUG
  mentions (an abstract may study glucose), but never the subject of a label's PGx statement
  unless the label is theirs. Hand table `ANALYTES` plus every PharmGKB chemical typed
  "Biological Intermediate" or "Ion" (`vocab/pharmgkb/2020/chemicals.tsv`).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "corpora" / "lexicons")
    ap.add_argument("--report", type=Path, default=None, help="write dropped/demoted terms here")
    args = ap.parse_args(argv)
    if not (args.shared / HGNC_FILE).is_file():
        ap.error(f"{args.shared / HGNC_FILE} not found (point --shared at the shared folder)")
    stats = build(args.shared, args.out, args.report)
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
