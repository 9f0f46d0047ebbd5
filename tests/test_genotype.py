"""Reading laboratory genotypes with CPIC's tables: input forms, `pgxlit genotype`, profiles from
PharmCAT reports and FHIR, and results that cannot be read (issue 16 item 2)."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pgxlit.check.genotype import INDETERMINATE, GenotypeError, load_table
from pgxlit.check.profile import parse_profile, profile_from_args, read_profile_file
from test_check_fixtures import FIXTURES
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
TABLE = load_table()


@pytest.mark.parametrize(("gene", "text", "phenotype", "score"), [
    # the done-when examples
    ("CYP2D6", "*4/*41x2", "Intermediate Metabolizer", "0.5"),
    ("DPYD", "c.1905+1G>A/Reference", "Intermediate Metabolizer", "1.0"),
    ("G6PD", "B (reference)/A- 202A_376G", "Variable", None),
    ("HLA-B", "*57:01/*08:01", "*57:01 positive; *15:02 negative; *58:01 negative", None),
    # activity scores, duplications and CPIC's "≥" bands
    ("CYP2D6", "*1/*1x2", "Ultrarapid Metabolizer", "3.0"),
    ("CYP2D6", "*4x2/*4", "Poor Metabolizer", "0.0"),
    ("CYP2D6", "*1x≥3/*4", "Ultrarapid Metabolizer", "≥3.0"),
    ("CYP2D6", "*1x3/*41", "Ultrarapid Metabolizer", "≥3.25"),  # three copies read as CPIC's *1x≥3
    ("CYP2D6", "*2x2/*10", "Normal Metabolizer", "2.25"),
    ("CYP2D6", "*41x3/*41x3", "Normal Metabolizer", "1.5"),
    ("CYP2C9", "*2/*3", "Poor Metabolizer", "0.5"),
    ("DPYD", "c.1905+1G>A (*2A)/c.1679T>G (*13)", "Poor Metabolizer", "0.0"),
    ("DPYD", "*2A/HapB3", "Poor Metabolizer", "0.5"),
    ("DPYD", "c.1129-5923C>G, c.1236G>A (HapB3)/Reference", "Intermediate Metabolizer", "1.5"),
    # function pairs with CPIC's "Likely"/"Possible" words
    ("CYP2C19", "*2/*9", "Likely Poor Metabolizer", None),
    ("CYP2C19", "CYP2C19*1/CYP2C19*9", "Likely Intermediate Metabolizer", None),
    ("TPMT", "*3A/*12", "Possible Intermediate Metabolizer", None),
    ("SLCO1B1", "*5/*2", "Possible Decreased Function", None),
    ("CYP3A5", "*1/*8", "Possible Intermediate Metabolizer", None),
    ("UGT1A1", "*1/*80+*28", "Intermediate Metabolizer", None),
    # allele-status and other CPIC words
    ("RYR1", "Reference/c.529C>T", "Malignant Hyperthermia Susceptibility", None),
    ("CACNA1S", "Reference/Reference", "Uncertain Susceptibility", None),
    ("CFTR", "G551D/ivacaftor non-responsive CFTR sequence", "ivacaftor responsive in CF patients", None),
    ("HLA-B", "*57:01 positive", "*57:01 positive", None),
    ("HLA-B", "HLA-B*57:01 negative", "*57:01 negative", None),
    ("HLA-A", "*31:01/*02:01", "*31:01 positive", None),
    # single alleles: G6PD in males, MT-RNR1
    ("G6PD", "A- 202A_376G", "Deficient", None),
    ("G6PD", "Taipei, Chinese-3", "Deficient", None),
    ("G6PD", "Kaiping/B (reference)", "Variable", None),  # one name of "Kaiping, Anant, Dhon, ..."
    ("MT-RNR1", "m.1555A>G", "increased risk of aminoglycoside-induced hearing loss", None),
    ("MT-RNR1", "Reference", "normal risk of aminoglycoside-induced hearing loss", None),  # CPIC's own case
    # rsID-named alleles
    ("ABCG2", "rs2231142 variant (T)/rs2231142 reference (G)", "Decreased Function", None),
    ("ABCG2", "rs2231142 T/rs2231142 T", "Poor Function", None),
    ("VKORC1", "rs9923231 reference (C)/rs9923231 variant (T)", "-1639 AG", None),
])
def test_lab_results_read_as_cpic_words_them(gene: str, text: str, phenotype: str, score: str | None) -> None:
    reading = TABLE.read(gene, text)
    assert (reading.phenotype, reading.activity_score) == (phenotype, score)


def test_each_allele_carries_its_function_value_and_source_row() -> None:
    reading = TABLE.read("CYP2D6", "*4/*41x2")
    assert [(a.name, a.function, a.activity_value) for a in reading.alleles] == [
        ("*4", "No function", "0.0"), ("*41x2", "Decreased function", "0.5")]
    assert all(a.row and a.row.startswith("allele.csv id ") for a in reading.alleles)
    assert reading.rows[-1].startswith("gene_result_lookup.csv id ")


@pytest.mark.parametrize(("gene", "text", "named"), [
    ("CYP2C9", "*1/*76", "*76"),  # in CPIC's table without a function
    ("CYP2D6", "*1/*22", "*22"),  # uncertain function, no activity value
    ("CYP2D6", "*10x3/*1", "*10x3"),  # a copy number CPIC gives no value for
    ("NUDT15", "*1/*16", "*16"),
    ("CYP2D6", "*1xN/*4", "copy number"),  # *1x2/*4 is Normal, *1x≥3/*4 Ultrarapid: not guessed
])
def test_an_allele_without_a_value_is_indeterminate_with_a_message_naming_it(gene: str, text: str, named: str) -> None:
    reading = TABLE.read(gene, text)
    assert reading.phenotype == INDETERMINATE
    assert any(named in m for m in reading.messages), reading.messages


def test_a_copy_number_not_given_is_read_when_every_copy_number_agrees() -> None:
    reading = TABLE.read("CYP2D6", "*1/*1xN")
    assert reading.phenotype == "Ultrarapid Metabolizer" and "copy number not given" in reading.messages[0]


def test_nat2_stays_phenotype_only_and_says_so() -> None:
    reading = TABLE.read("NAT2", "*4/*5")
    assert reading.phenotype == INDETERMINATE and "phenotype only" in reading.messages[0]
    profile = parse_profile([{"gene": "NAT2", "phenotype": "Poor Metabolizer"}], TABLE)
    assert [c.phenotype for c in profile.calls] == ["Poor Metabolizer"]


@pytest.mark.parametrize(("gene", "text", "why"), [
    ("CYP2C19", "*2/", "two alleles"),
    ("CYP2C19", "*2/*2/*3", "two alleles"),
    ("CYP2C19", "*1", "two alleles"),
    ("CYP2C19", "*1/*99", "no allele '*99'"),
    ("MT-RNR1", "m.1555A>G/Reference", "one allele"),
    ("HLA-B", "*57:01 maybe", "not an HLA-B allele"),
    ("NOTAGENE", "*1/*1", "unknown gene"),
])
def test_unreadable_input_is_an_error_that_names_it(gene: str, text: str, why: str) -> None:
    with pytest.raises(GenotypeError, match=why.replace("*", r"\*")):
        TABLE.read(gene, text)


# ---- pgxlit genotype ---------------------------------------------------------------------------------
def _genotype(*args: str):
    from pgxlit.cli import app

    return CliRunner().invoke(app, ["genotype", *args])


@pytest.mark.parametrize(("gene", "text", "phenotype"), [
    ("CYP2D6", "*4/*41x2", "Intermediate Metabolizer"),
    ("DPYD", "c.1905+1G>A/Reference", "Intermediate Metabolizer"),
    ("G6PD", "B (reference)/A- 202A_376G", "Variable"),
    ("HLA-B", "*57:01/*08:01", "*57:01 positive"),
])
def test_genotype_command_prints_cpics_phenotype(gene: str, text: str, phenotype: str) -> None:
    result = _genotype(gene, text)
    assert result.exit_code == 0, result.output
    assert phenotype in result.output and "allele.csv id" in result.output


def test_genotype_json_follows_the_contract() -> None:
    result = _genotype("CYP2D6", "*4/*41x2", "--json")
    data = json.loads(result.stdout)
    assert {"gene", "diplotype", "phenotype", "activity_score", "alleles", "messages"} <= set(data)
    assert data["activity_score"] == "0.5" and data["phenotype"] == "Intermediate Metabolizer"
    assert data["alleles"][1] == {"name": "*41x2", "function": "Decreased function", "activity_value": "0.5",
                                  "row": data["alleles"][1]["row"]}


@pytest.mark.parametrize(("args", "said"), [(("NOTAGENE", "*1/*1"), "unknown gene"), (("CYP2C19", "*2/"), "two alleles")])
def test_genotype_bad_input_is_one_line_and_exit_2(args: tuple[str, str], said: str) -> None:
    result = _genotype(*args)
    assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output


# ---- profiles: pgxlit entries, PharmCAT reports, FHIR ---------------------------------------------------
PHARMCAT_V2 = {
    "pharmcatVersion": "2.13.0",
    "genes": {"CPIC": {
        "CYP2C19": {"geneSymbol": "CYP2C19", "callSource": "MATCHER", "recommendationDiplotypes": [
            {"label": "*2/*2", "allele1": {"name": "*2"}, "allele2": {"name": "*2"}, "phenotypes": ["Poor Metabolizer"],
             "activityScore": None}]},
        "CYP2D6": {"geneSymbol": "CYP2D6", "callSource": "OUTSIDE", "recommendationDiplotypes": [
            {"label": "*1/*1x2", "phenotypes": ["Ultrarapid Metabolizer"], "activityScore": "3.0"}]},
        "HLA-B": {"geneSymbol": "HLA-B", "recommendationDiplotypes": [
            {"label": "*57:01/*08:01", "phenotypes": ["*57:01 positive", "*58:01 negative"]}]},
        "DPYD": {"geneSymbol": "DPYD", "recommendationDiplotypes": [
            {"label": "Unknown/Unknown", "phenotypes": ["No Result"]}]},
        "VKORC1": {"geneSymbol": "VKORC1", "recommendationDiplotypes": [
            {"label": "rs9923231 reference (C)/rs9923231 variant (T)", "phenotypes": ["n/a"]}]},
    }},
}


def test_a_pharmcat_report_is_read_by_its_phenotype_calls() -> None:
    profile = parse_profile(PHARMCAT_V2, TABLE)
    got = {c.phenotype for c in profile.calls}
    assert {"Poor Metabolizer", "Ultrarapid Metabolizer", "HLA-B*57:01 positive", "HLA-B*58:01 negative",
            "-1639 AG"} <= got  # VKORC1: PharmCAT gives no phenotype, its diplotype is read with the tables
    [unread] = profile.unread
    assert unread.gene == "DPYD" and "no PGx check was done for this gene" in unread.message


def test_a_pharmcat_v3_report_with_genes_at_the_top_is_read() -> None:
    v3 = {"genes": {"CYP2C19": PHARMCAT_V2["genes"]["CPIC"]["CYP2C19"]}}
    assert [c.phenotype for c in parse_profile(v3, TABLE).calls] == ["Poor Metabolizer"]


def test_a_fhir_bundle_is_read_and_its_bad_observations_named() -> None:
    request = json.loads((FIXTURES / "cds_order_select_clopidogrel.json").read_text(encoding="utf-8"))
    bundle = request["prefetch"]["genotypes"]
    bundle["entry"].append({"resource": {"resourceType": "Observation", "id": "bad-shape", "status": "final",
                                         "code": {"text": "genotype"}, "valueString": 5}})
    profile = parse_profile(bundle, TABLE)
    got = {c.gene: c.phenotype for c in profile.calls}
    assert got["CYP2C19"] == "Poor Metabolizer" and got["CYP2D6"] == "Ultrarapid Metabolizer"
    text = "\n".join(u.message for u in profile.unread)
    assert "XYZ9" in text and "valueString" in text


def test_a_profile_file_may_be_a_pharmcat_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(PHARMCAT_V2), encoding="utf-8")
    assert "Poor Metabolizer" in {c.phenotype for c in read_profile_file(path, TABLE).calls}


def test_an_unreadable_command_line_result_says_no_check_was_done_for_the_gene() -> None:
    profile = profile_from_args(["CYP2C19 *2/", "CYP2D6 *4/*4"], [], ["HLA-B*57:01 maybe"], TABLE)
    assert [c.phenotype for c in profile.calls] == ["Poor Metabolizer"]
    assert profile.messages[0].startswith("CYP2C19 result '*2/' could not be read; no PGx check was done for this gene")
    assert "HLA-B result 'HLA-B*57:01 maybe' could not be read" in profile.messages[1]


# ---- the build ---------------------------------------------------------------------------------------------
def test_the_tables_rebuild_byte_identical_from_shared_inputs_only(shared: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "tools" / "build_cpic.py"), "--shared", str(shared), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    shipped = REPO / "corpora" / "cpic" / "genotype_tables.json.gz"
    built = tmp_path / "genotype_tables.json.gz"
    assert hashlib.sha256(built.read_bytes()).digest() == hashlib.sha256(shipped.read_bytes()).digest()
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "cpicpgx.org" in readme and "MPL" in readme
    data = json.loads(gzip.decompress(built.read_bytes()))
    assert data["genes"]["CYP2D6"]["alleles"]["*41x2"]["activity_value"] == "0.5"


def test_no_function_or_activity_value_is_typed_into_the_build() -> None:
    source = (REPO / "tools" / "build_cpic.py").read_text(encoding="utf-8")
    for typed in ("No function", "Decreased function", "Normal function", "Poor Metabolizer", "0.25", "0.5"):
        assert typed not in source


def test_g6pd_short_names_resolve_or_say_what_they_could_mean() -> None:
    assert TABLE.read("G6PD", "Mediterranean").alleles[0].name.startswith("Mediterranean, Dallas")
    with pytest.raises(GenotypeError, match="A- 202A_376G, A- 680T_376G"):
        TABLE.read("G6PD", "A-")
