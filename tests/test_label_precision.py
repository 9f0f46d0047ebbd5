"""Issue 17's Build bullets for labels, each checked on whole recorded labels.

Unlike tests/test_labels_precision.py (one copied sentence per failure class), these read the
recorded openFDA labels in ../shared/corpora/fda/openfda/labels and run the same `label_triples`
a stored label goes through, so a rule that only works on the copied sentence fails here. They skip,
with the reason, when ../shared is absent.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from pgxlit.extract.conditions import condition_genes
from pgxlit.extract.label_eval import genes_named_in_text
from pgxlit.extract.lexicons import DictionaryMatcher, load_lexicons, normalise_gene
from pgxlit.extract.triples import biomarker_triples, label_subject, label_triples
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.records import LabelVersion, Triple
from pgxlit.store import SaveCounts

pytestmark = pytest.mark.shared


@lru_cache(maxsize=None)
def _read(path: Path) -> LabelVersion:
    labels, _ = parse_openfda_response(path.read_bytes(), str(path))
    return labels[0]


@lru_cache(maxsize=None)
def _triples_of(path: Path) -> tuple[Triple, ...]:
    return tuple(label_triples(_read(path)))


@pytest.fixture(scope="module")
def labels(shared: Path):
    """label(file name) -> (the recorded label, its triples)."""
    folder = shared / "corpora" / "fda" / "openfda" / "labels"

    def get(name: str) -> tuple[LabelVersion, tuple[Triple, ...]]:
        path = folder / name
        if not path.is_file():
            pytest.skip(f"needs the recorded label {path}")
        return _read(path), _triples_of(path)

    return get


def _save(store, label: LabelVersion) -> None:
    with store.transaction() as session:
        store.save_label_version(session, label, None, SaveCounts())


def _pgx(triples: tuple[Triple, ...]) -> set[tuple[str, str]]:
    return {(t.drug, t.gene) for t in triples if t.pgx and t.gene}


# ---- drugs that are drugs ------------------------------------------------------------------------
def test_analytes_and_lab_tests_are_never_pgx_subjects(labels) -> None:
    # BOSULIF's adverse-reaction tables name glucose, phosphorus, creatine kinase, ALT and AST next to BCR-ABL.
    lex = load_lexicons()
    for name in ("NDA203341.json", "NDA022068.json"):  # BOSULIF, Tasigna
        label, triples = labels(name)
        subject = label_subject(label)
        assert subject is not None
        assert not [t for t in triples if t.gene and lex.is_not_a_drug(t.drug)], name
        assert {d for d, _ in _pgx(triples)} <= {subject.name}, name


def test_a_brand_named_label_is_read_as_its_active_ingredient(labels) -> None:
    # PURIXAN: openFDA's generic_name is the brand; its product data names mercaptopurine.
    label, triples = labels("NDA205919.json")
    assert label.generic_names == ("PURIXAN",)
    assert label_subject(label).name == "mercaptopurine"
    assert {("mercaptopurine", "TPMT"), ("mercaptopurine", "NUDT15")} <= _pgx(triples)
    assert not {d for d, _ in _pgx(triples)} - {"mercaptopurine"}


# ---- drugs known from what is stored -------------------------------------------------------------
# Stored labels whose drug the shipped lexicon predates, by their file, generic and brand name.
NEW_DRUGS = [("NDA215383.json", "belzutifan", "Welireg"), ("NDA213871.json", "abrocitinib", "Cibinqo"),
             ("NDA210730.json", "oliceridine", "Olinvyk"), ("NDA211964.json", "viloxazine", "Qelbree"),
             ("BLA761115.json", "sacituzumab govitecan", "Trodelvy")]


def test_ask_knows_every_stored_labels_drug_by_generic_and_brand(shared: Path, store) -> None:
    from pgxlit.qa.answer import refusal_reason
    from pgxlit.qa.drugs import DrugCatalogue
    from pgxlit.qa.question import read_question

    folder = shared / "corpora" / "fda" / "openfda" / "labels"
    lex = load_lexicons()
    for name, generic, _brand in NEW_DRUGS:
        assert lex.normalise_drug(generic) is None, f"{generic} is in the lexicon now: pick another drug"
        _save(store, _read(folder / name))
    catalogue = DrugCatalogue.compile(store)
    for _name, generic, brand in NEW_DRUGS:
        for asked in (generic, brand):
            q = read_question(f"Can I give {asked} to a CYP2D6 poor metabolizer?", catalogue)
            assert q.drugs == (generic,) and q.unknown_drug is None, asked
            assert "does not know a drug" not in (refusal_reason(q) or ""), asked


def test_ask_reads_a_brand_named_label_as_its_active_ingredient(shared: Path, store) -> None:
    from pgxlit.qa.drugs import DrugCatalogue
    from pgxlit.qa.question import read_question

    _save(store, _read(shared / "corpora" / "fda" / "openfda" / "labels" / "NDA205919.json"))
    q = read_question("Is Purixan safe in TPMT poor metabolizers?", DrugCatalogue.compile(store))
    assert q.drugs == ("mercaptopurine",)


# ---- genes by any name ---------------------------------------------------------------------------
# (label file, words of the label that name the gene, HGNC symbol): every example of the issue that
# the recorded labels hold, and the protein names of the lead's rule.
NAMED = [
    ("NDA009768.json", "glucose-6-phosphate dehydrogenase (G-6-PD) deficiency", "G6PD"),
    ("NDA020985.json", "dihydropyrimidine dehydrogenase (DPD) enzyme deficiency", "DPYD"),
    ("NDA016792.json", "cytochrome P450 2D6 (debrisoquin hydroxylase)", "CYP2D6"),
    ("NDA008453.json", "Patients homozygous for atypical plasma cholinesterase gene", "BCHE"),
    ("NDA022291.json", "Factor V Leiden, ATIII deficiency", "F5"),
    ("NDA022291.json", "Factor V Leiden, ATIII deficiency", "SERPINC1"),
    ("NDA019898.json", "lack functional LDL receptors", "LDLR"),
    ("NDA021366.json", "4 with apo E mutation", "APOE"),
    ("NDA018081.json", "particularly ornithine transcarbamylase deficiency", "OTC"),
]


@pytest.mark.parametrize(("name", "words", "symbol"), NAMED, ids=[f"{s}:{w[:24]}" for _, w, s in NAMED])
def test_a_gene_named_by_its_protein_or_deficiency_is_a_pgx_triple_of_its_symbol(labels, name, words, symbol) -> None:
    label, triples = labels(name)
    assert any(words in s.text for s in label.sections), f"{name} no longer says {words!r}"
    assert symbol in genes_named_in_text(words)
    subject = label_subject(label).name
    found = [t for t in triples if t.pgx and t.gene == symbol and words in t.evidence.sentence]
    assert found and {t.drug for t in found} == {subject}


def test_old_cyp_names_take_their_symbol(labels) -> None:
    # Quinidine gluconate (ANDA089338), precautions: "Constitutional deficiency of cytochrome P450IID6".
    label, _ = labels("ANDA089338.json")
    text = next(s.text for s in label.sections if "P450IID6" in s.text)
    assert "CYP2D6" in {m.norm.split("|")[1] for m in DictionaryMatcher(drugs=False).find(text) if m.norm}
    assert normalise_gene("P450IID6")[1] == normalise_gene("debrisoquin hydroxylase")[1] == "CYP2D6"


# ---- subjects ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "not_subjects"), [
    ("NDA022402.json", {"morphine"}),  # codeine: its metabolite
    ("NDA209884.json", {"rifampin", "fluconazole", "efavirenz", "modafinil", "carbamazepine"}),  # siponimod: partners
    ("NDA021807.json", {"endoxifen", "4-hydroxytamoxifen"}),  # tamoxifen: metabolites
    ("BLA103792.json", {"paclitaxel", "cisplatin", "capecitabine", "fluorouracil", "docetaxel"}),  # regimen partners
    ("NDA020822.json", {"cimetidine", "omeprazole"}),  # citalopram: a CYP2C19 inhibitor
])
def test_partners_metabolites_probes_and_regimens_are_not_pgx_subjects(labels, name, not_subjects) -> None:
    label, triples = labels(name)
    drugs = {d for d, _ in _pgx(triples)}
    assert not drugs & not_subjects
    assert drugs <= {label_subject(label).name} | {"carbamazepine"} - not_subjects


# ---- germline vs somatic ---------------------------------------------------------------------------
def test_tumour_biomarkers_are_somatic_and_listed_apart(labels) -> None:
    for name, drug, gene in [("BLA103792.json", "trastuzumab", "ERBB2"), ("NDA020571.json", "irinotecan", "BRAF"),
                             ("NDA203341.json", "bosutinib", "BCR")]:
        _, triples = labels(name)
        assert (drug, gene) not in _pgx(triples), name
        if drug != "irinotecan":  # irinotecan's BRAF is a trial table's row, not a marker it is given for
            assert gene in {t.gene for t in biomarker_triples(list(triples))}, name
    # Xeloda: DPYD is the patient's (germline PGx), HER2 the gastric tumour's.
    _, triples = labels("NDA020896.json")
    assert ("capecitabine", "DPYD") in _pgx(triples)
    origins = {t.origin for t in triples if t.gene == "DPYD" and t.pgx}
    assert "germline" in origins and "somatic" not in origins
    assert ("capecitabine", "ERBB2") not in _pgx(triples)


def test_triples_pgx_and_biomarker_flags_split_germline_from_somatic(shared: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from pgxlit.cli.main import app

    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path))
    monkeypatch.setenv("PGXLIT_EXTRACT_MODEL", "none")
    folder = shared / "corpora" / "fda" / "openfda" / "labels"
    runner = CliRunner()
    for args in (["load", str(folder / "NDA020896.json")], ["extract"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    pgx = json.loads(runner.invoke(app, ["triples", "--pgx", "--json"]).output)
    biomarker = json.loads(runner.invoke(app, ["triples", "--biomarker", "--json"]).output)
    rows = lambda data: data if isinstance(data, list) else data["triples"]  # noqa: E731
    assert "DPYD" in {r["gene"] for r in rows(pgx)} and "ERBB2" not in {r["gene"] for r in rows(pgx)}
    assert "ERBB2" in {r["gene"] for r in rows(biomarker)} and "DPYD" not in {r["gene"] for r in rows(biomarker)}


# ---- genes named, not inferred ---------------------------------------------------------------------
def test_a_condition_that_names_no_gene_product_gives_no_gene(labels) -> None:
    # Depakene: "urea cycle disorders, a group of uncommon genetic abnormalities, particularly ornithine
    # transcarbamylase deficiency": OTC is named; CPS1, ASS1, ASL, NAGS and ARG1 are only implied.
    label, triples = labels("NDA018081.json")
    genes = {g for _, g in _pgx(triples)}
    assert "OTC" in genes
    assert not genes & {"CPS1", "ASS1", "ASL", "NAGS", "ARG1"}
    assert {"CPS1", "ASS1", "ASL", "NAGS"} <= {g for s in label.sections for g in condition_genes(s.text)}
    # Lipitor: "familial hypercholesterolemia" and "dysbetalipoproteinemia (an inherited condition ...)"
    # name no gene; the only LDLR and APOE triples come from sentences that name the receptor or an allele.
    _, triples = labels("NDA020702.json")
    for t in triples:
        if t.pgx and t.gene in ("LDLR", "APOE"):
            assert t.gene in genes_named_in_text(t.evidence.sentence), t.evidence.sentence


# ---- DDI is not PGx ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "words"), [
    ("NDA020839.json", "avoid concomitant use of strong CYP2C19 inducers"),  # Plavix 5.1 and 7
    ("NDA020839.json", "Concomitant use of strong inducers of CYP2C19 results in increased plasma"),  # Plavix 12.3
    ("NDA209884.json", "Caution should be exercised for concomitant use of MAYZENT with moderate CYP2C9 inhibitors"),
    ("NDA209884.json", "Caution should be exercised for concomitant use of MAYZENT with moderate CYP2C9 inducers"),
])
def test_inhibitor_and_inducer_statements_are_interactions_not_pgx(labels, name, words) -> None:
    label, triples = labels(name)
    assert any(words in s.text for s in label.sections), f"{name} no longer says {words!r}"
    assert not [t for t in triples if t.pgx and words in t.evidence.sentence]


# ---- prose a flattened table runs into; a loss of function written out -------------------------------
@pytest.mark.parametrize(("name", "words", "pair"), [
    # PRAVACHOL 14.5 runs into Table 8's rows with no full stop between them.
    ("NDA019898.json", "46 patients with genotype E2/E2", ("pravastatin", "APOE")),
    # Lipitor 14: a number-heavy sentence glued to the next one by "LDL-C. Five".
    ("NDA020702.json", "Five of the 29 patients had absent LDL-receptor function", ("atorvastatin", "LDLR")),
])
def test_prose_inside_a_flattened_table_is_read(labels, name, words, pair) -> None:
    _, triples = labels(name)
    assert any(t.pgx and (t.drug, t.gene) == pair and words in t.evidence.sentence for t in triples)
    assert not any("Median" in t.evidence.sentence and t.gene == pair[1] for t in triples if t.pgx)


def test_a_loss_of_function_is_a_genotype_only_when_it_is_a_patients(labels) -> None:
    # WELIREG, clinical pharmacology: "Lack of functional VHL protein results in stabilization ..." is how
    # belzutifan works, not a patient's genotype.
    _, triples = labels("NDA215383.json")
    assert not [t for t in triples if t.pgx and t.gene == "VHL" and "Lack of functional" in t.evidence.sentence]


# ---- the eval's false pairs, for a reader -----------------------------------------------------------
def test_label_eval_lists_each_false_pair_with_its_section_and_sentence(labels) -> None:
    # PLAQUENIL and AMARYL state G6PD deficiency in their precautions and warnings, not in a
    # pharmacogenomics section: with no list row for them, each pair is false and the eval says
    # where the label says it, so a reader can judge the pair.
    from pgxlit.extract.label_eval import evaluate_raw, format_raw

    read = [labels(name)[0] for name in ("NDA009768.json", "NDA020496.json")]
    cache = {lv.key: list(labels(name)[1])
             for lv, name in zip(read, ("NDA009768.json", "NDA020496.json"), strict=True)}
    score = evaluate_raw(read, {}, cache)
    false = [p for p in score.pairs if not p.right]
    assert {p.name for p in false} >= {"hydroxychloroquine–G6PD", "glimepiride–G6PD"}
    details = score.details()
    by_section = details["false_by_section"]
    assert sum(by_section.values()) == len(false)
    evidence = details["false_pair_evidence"]
    assert len(evidence) == len(false)
    for row in evidence:
        assert row["section"] in by_section and row["sentence"] and row["cause"]
        assert "G6PD" in row["sentence"] or "glucose-6-phosphate" in row["sentence"].lower(), row
    assert "false pairs by section: " in format_raw(score)
