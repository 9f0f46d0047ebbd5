"""Gene/drug lexicons (corpora/lexicons) and the dictionary matcher (pgxlit.extract.lexicons).

Everything but the last test runs on the committed compiled lexicons alone; the build
test needs ../shared (the `shared` fixture skips without it).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pgxlit.extract.lexicons import (
    DRUGS_FILE,
    GENES_FILE,
    DictionaryMatcher,
    Lexicons,
    default_dir,
    load_lexicons,
    normalise_drug,
    normalise_gene,
)
from pgxlit.records import Mention

REPO = Path(__file__).resolve().parents[1]
LEXICONS = REPO / "corpora" / "lexicons"

HGNC = {
    "CYP2C19": "HGNC:2621", "CYP2D6": "HGNC:2625", "CYP2C9": "HGNC:2623", "VKORC1": "HGNC:23663",
    "HLA-B": "HGNC:4932", "TPMT": "HGNC:12014", "DPYD": "HGNC:3012", "UGT1A1": "HGNC:12530",
    "G6PD": "HGNC:4057", "NUDT15": "HGNC:23063", "ABCB1": "HGNC:40", "SLCO1B1": "HGNC:10959",
    "ABCG2": "HGNC:74", "CYP3A4": "HGNC:2637", "IFNL3": "HGNC:18365",
}


@pytest.fixture(scope="module")
def matcher() -> DictionaryMatcher:
    return DictionaryMatcher()


def genes(matcher: DictionaryMatcher, text: str) -> list[tuple[str, str]]:
    return [(m.text, m.norm) for m in matcher.find(text) if m.label == "GENE"]


def drugs(matcher: DictionaryMatcher, text: str) -> list[tuple[str, str]]:
    return [(m.text, m.norm) for m in matcher.find(text) if m.label == "DRUG"]


def gene(symbol: str) -> str:
    return f"{HGNC[symbol]}|{symbol}"


# ---- the shipped files -----------------------------------------------------------


def test_shipped_lexicons_exist_small_and_documented() -> None:
    assert default_dir().resolve() == LEXICONS.resolve()
    for name in (GENES_FILE, DRUGS_FILE):
        assert (LEXICONS / name).stat().st_size < 1_000_000
    readme = (LEXICONS / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in readme and "tools/build_lexicons.py" in readme
    with gzip.open(LEXICONS / GENES_FILE, "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split("\t")[:5] == ["term", "symbol", "hgnc_id", "kind", "case_sensitive"]
    with gzip.open(LEXICONS / DRUGS_FILE, "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split("\t") == ["term", "name", "pharmgkb_id", "rxnorm", "kind"]


def test_loaded_once() -> None:
    assert load_lexicons() is load_lexicons()
    assert load_lexicons(LEXICONS) is load_lexicons()


def test_missing_directory_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="build_lexicons.py"):
        load_lexicons(tmp_path)


# ---- genes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # openFDA label, CELEXA (citalopram), dosage and administration
        ("Patients greater than 60 years of age, patients with hepatic impairment, and CYP2C19 poor "
         "metabolizers: maximum recommended dosage is 20 mg once daily", ["CYP2C19"]),
        # openFDA label, REGLAN (metoclopramide), clinical pharmacology
        ("The elimination of metoclopramide may be slowed in patients who are CYP2D6 poor metabolizers "
         "(compared to patients who are CYP2D6 intermediate, extensive, or ultra-rapid metabolizers)",
         ["CYP2D6", "CYP2D6"]),
        # openFDA label, COUMADIN (warfarin sodium), mechanism of action
        ("Warfarin is thought to interfere with clotting factor synthesis by inhibition of the C1 subunit "
         "of vitamin K epoxide reductase (VKORC1) enzyme complex", ["VKORC1", "VKORC1"]),
        # openFDA label, ZIAGEN (abacavir), boxed warning
        ("Patients who carry the HLA-B*5701 allele are at a higher risk of experiencing a hypersensitivity "
         "reaction to abacavir.", ["HLA-B"]),
        # openFDA label, mercaptopurine, clinical pharmacology
        ("heterozygous for either TPMT or NUDT15, 50-90%; heterozygous for both TPMT and NUDT15, 30-50%",
         ["TPMT", "NUDT15", "TPMT", "NUDT15"]),
        # openFDA label, XELODA (capecitabine), warnings
        ("Patients with certain homozygous or compound heterozygous variants in the DPYD gene known to "
         "result in complete or near complete absence of DPD activity (complete DPD deficiency)",
         ["DPYD", "DPYD", "DPYD"]),
        # openFDA label, CAMPTOSAR (irinotecan), adverse reactions
        ("In patients heterozygous for the UGT1A1*28 allele (n=420), the incidence of Grade 3-4 "
         "neutropenia was 49%.", ["UGT1A1"]),
        # openFDA label, tolbutamide, precautions
        ("caution should be used in patients with G6PD deficiency and a non-sulfonylurea alternative "
         "should be considered", ["G6PD"]),
    ],
)
def test_pgx_genes_in_label_sentences(matcher: DictionaryMatcher, text: str, expected: list[str]) -> None:
    found = genes(matcher, text)
    assert [n for _, n in found] == [gene(s) for s in expected]


def test_gene_spans_at_token_boundaries(matcher: DictionaryMatcher) -> None:
    text = "CYP2C19*2 carriers; CYP2D6-mediated O-demethylation; HLA-B*57:01; CYP2C9/VKORC1 genotypes"
    found = [(m.start, m.end, m.text, m.norm) for m in matcher.find(text) if m.label == "GENE"]
    assert found[0] == (0, 7, "CYP2C19", gene("CYP2C19"))
    assert [f[2] for f in found] == ["CYP2C19", "CYP2D6", "HLA-B", "CYP2C9", "VKORC1"]
    for start, end, surface, _ in found:
        assert text[start:end] == surface
    assert genes(matcher, "TPMTP1 and CYP2D6xN and xCYP2D6") == []  # no match inside a token
    # tokenised text (PGxCorpus style): spaces around punctuation are free
    assert genes(matcher, "HLA - B * 5801 carriers") == [("HLA - B", gene("HLA-B"))]


def test_aliases_and_previous_symbols_resolve(matcher: DictionaryMatcher) -> None:
    # openFDA label, KADCYLA (ado-trastuzumab emtansine), clinical pharmacology
    assert genes(matcher, "In vitro, DM1 was a substrate of P-glycoprotein (P-gp).") == [
        ("P-glycoprotein", gene("ABCB1")), ("P-gp", gene("ABCB1"))]
    # openFDA label, ZOCOR (simvastatin), drug interactions
    assert genes(matcher, "ZOCOR is a substrate of CYP3A4 and of the transport protein OATP1B1.") == [
        ("CYP3A4", gene("CYP3A4")), ("OATP1B1", gene("SLCO1B1"))]
    # previous symbols: MDR1 (ABCB1), IL28B (IFNL3), CYP3A3 (CYP3A4)
    assert genes(matcher, "MDR1 C3435T and IL28B rs12979860; CYP3A3") == [
        ("MDR1", gene("ABCB1")), ("IL28B", gene("IFNL3")), ("CYP3A3", gene("CYP3A4"))]
    assert genes(matcher, "BCRP, OATP1B1/1B3, P-gp") [0] == ("BCRP", gene("ABCG2"))
    # PGx spellings HGNC lacks
    text = ("cytochrome P450 2D6, Cytochrome P450 2C19, P450 2C9, CYP 2D6, CYP-2C19, "
            "thiopurine methyltransferase, dihydropyrimidine dehydrogenase")
    assert [n for _, n in genes(matcher, text)] == [
        gene("CYP2D6"), gene("CYP2C19"), gene("CYP2C9"), gene("CYP2D6"), gene("CYP2C19"),
        gene("TPMT"), gene("DPYD")]


def test_cyp_enzymes_are_genes_not_drugs(matcher: DictionaryMatcher) -> None:
    text = "Strong CYP3A4 inhibitors and CYP2D6 substrates; P450 2D6 inhibitors such as quinidine"
    found = matcher.find(text)
    assert [(m.text, m.label) for m in found] == [
        ("CYP3A4", "GENE"), ("CYP2D6", "GENE"), ("P450 2D6", "GENE"), ("quinidine", "DRUG")]
    assert normalise_drug("CYP2D6") is None and normalise_drug("CYP3A4 inhibitors") is None


def test_no_gene_false_positives_in_ordinary_label_prose(matcher: DictionaryMatcher) -> None:
    # Composed from ordinary label wording (dosing times, all-caps headings, trial names,
    # abbreviations) with words that are also gene symbols or aliases in HGNC.
    text = (
        "IMPACT OF RENAL IMPAIRMENT. ALL PATIENTS SHOULD BE MONITORED. SET THE DOSE AT 10 PM. "
        "MET CRITERIA FOR DISCONTINUATION WERE REVIEWED. CAT SCANS WERE NORMAL. "
        "Take one tablet at 10 PM with or without food. Patients with ALL or CML received "
        "induction therapy. In the IMPACT trial, the hazard ratio (HR) was 0.81 (95% CI 0.70-0.93). "
        "A CAT scan was performed at baseline. Patients who MET the primary endpoint continued. "
        "Monitor INR, ALT, AST and CrCl; PM and IM subjects had higher exposure. "
        "The REST of the patients were treated for CAD or ACS. WAS the dose reduced? "
        "Take with water; SET and MAX values are given in Table 3."
    )
    assert genes(matcher, text) == []


def test_ambiguous_symbols_need_gene_context(matcher: DictionaryMatcher) -> None:
    assert genes(matcher, "MET amplification and the ACE I/D polymorphism") == [
        ("MET", "HGNC:7029|MET"), ("ACE", "HGNC:2707|ACE")]
    assert genes(matcher, "polymorphisms in the CAT gene") == [("CAT", "HGNC:1516|CAT")]
    # "F5" needs its rsID beside it; "Factor V Leiden" is the gene's variant by name (issue 17).
    assert genes(matcher, "Factor V Leiden (F5 rs6025)") == [("Factor V Leiden", "HGNC:3542|F5"), ("F5", "HGNC:3542|F5")]
    assert genes(matcher, "F5 was measured") == []


# ---- drugs -----------------------------------------------------------------------


def test_salts_folded(matcher: DictionaryMatcher) -> None:
    # openFDA label, PLAVIX (clopidogrel), description
    assert drugs(matcher, "The empirical formula of clopidogrel bisulfate is C 16 H 16 ClNO 2 S") == [
        ("clopidogrel bisulfate", "PA449053|clopidogrel")]
    # openFDA label, COUMADIN, description
    assert drugs(matcher, "COUMADIN (Warfarin Sodium) tablets contain warfarin sodium") == [
        ("COUMADIN", "PA451906|warfarin"), ("Warfarin Sodium", "PA451906|warfarin"),
        ("warfarin sodium", "PA451906|warfarin")]
    # openFDA label, ZIAGEN, dosage forms and strengths
    assert drugs(matcher, "ZIAGEN tablets contain 300 mg of abacavir as abacavir sulfate.") == [
        ("ZIAGEN", "PA448004|abacavir"), ("abacavir", "PA448004|abacavir"),
        ("abacavir sulfate", "PA448004|abacavir")]
    assert normalise_drug("clopidogrel bisulfate") == ("PA449053", "clopidogrel")
    assert normalise_drug("Warfarin Sodium") == ("PA451906", "warfarin")
    assert normalise_drug("abacavir sulfate") == ("PA448004", "abacavir")
    assert normalise_drug("irinotecan hydrochloride trihydrate")[1] == "irinotecan"
    assert normalise_drug("tamoxifen citrate")[1] == "tamoxifen"


def test_brand_names_and_abbreviations(matcher: DictionaryMatcher) -> None:
    assert normalise_drug("Plavix") == ("PA449053", "clopidogrel")
    assert normalise_drug("XELODA") == ("PA448771", "capecitabine")
    assert drugs(matcher, "5-FU or 6-MP; INH; Xeloda") == [
        ("5-FU", "PA128406956|fluorouracil"), ("6-MP", "PA450379|mercaptopurine"),
        ("INH", "PA450112|isoniazid"), ("Xeloda", "PA448771|capecitabine")]
    assert normalise_drug("inh") is None  # short abbreviations keep their case
    assert normalise_drug("Today") is None and normalise_drug("Alli") is None


def test_mentions_are_records(matcher: DictionaryMatcher) -> None:
    (m,) = matcher.find("clopidogrel")
    assert isinstance(m, Mention)
    assert (m.start, m.end, m.label, m.kind, m.source) == (0, 11, "DRUG", "name", "lexicon")


def test_normalise_gene() -> None:
    assert normalise_gene("CYP2D6") == ("HGNC:2625", "CYP2D6")
    assert normalise_gene("cyp2d6") == ("HGNC:2625", "CYP2D6")  # symbols with digits: any case
    assert normalise_gene("P-gp") == ("HGNC:40", "ABCB1")
    assert normalise_gene("thiopurine methyltransferase") == ("HGNC:12014", "TPMT")
    assert normalise_gene("met") is None and normalise_gene("warfarin") is None
    assert normalise_gene("") is None


@pytest.mark.parametrize("text", ["", " ", "\n\t", "....", "\x00\ufffd\u200b", "İİİ CYP2D6", "a" * 10_000,
                                  "😀 clopidogrel 😀", "((((", "CYP", "-*-*"])
def test_empty_and_garbage_text(matcher: DictionaryMatcher, text: str) -> None:
    found = matcher.find(text)
    for m in found:
        assert text[m.start:m.end] == m.text
    if "CYP2D6" in text:
        assert [m.text for m in found] == ["CYP2D6"]
    if "clopidogrel" in text:
        assert [m.text for m in found] == ["clopidogrel"]


# ---- build -----------------------------------------------------------------------


def _rows(path: Path) -> int:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return sum(1 for _ in fh) - 1


@pytest.mark.shared
def test_build_reproduces_committed_lexicons(shared: Path, tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_lexicons", REPO / "tools" / "build_lexicons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stats = module.build(shared, tmp_path)
    for name in (GENES_FILE, DRUGS_FILE):
        assert _rows(tmp_path / name) == _rows(LEXICONS / name), name
        assert (tmp_path / name).read_bytes() == (LEXICONS / name).read_bytes(), name
    assert stats["gene_rows"] == _rows(LEXICONS / GENES_FILE)
    lex = Lexicons(tmp_path)
    assert lex.normalise_gene("HLA-B") == ("HGNC:4932", "HLA-B")


def test_old_cyp_nomenclature_and_her2_long_name(matcher: DictionaryMatcher) -> None:
    # Quinidine gluconate label: "cytochrome P450IID6"; Tykerb label: "human epidermal growth factor
    # receptor 2 (HER2)" is ERBB2, while the bare "epidermal growth factor receptor" stays EGFR.
    text = ('Testing with debrisoquine is sometimes used to distinguish the P450IID6-deficient "poor '
            'metabolizers". Grapefruit juice inhibits P450 IIIA4. Tumors overexpress human epidermal growth '
            'factor receptor 2 (HER2); epidermal growth factor receptor (EGFR) mutations.')
    genes = [(m.text, m.norm.split("|")[1]) for m in matcher.find(text) if m.label == "GENE"]
    assert genes == [("P450IID6", "CYP2D6"), ("P450 IIIA4", "CYP3A4"),
                     ("human epidermal growth factor receptor 2", "ERBB2"), ("HER2", "ERBB2"),
                     ("epidermal growth factor receptor", "EGFR"), ("EGFR", "EGFR")]
