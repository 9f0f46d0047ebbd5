"""Extraction end to end on real label and abstract text: triples, flags, evidence, reruns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgxlit.cli import app
from pgxlit.config import get_settings
from pgxlit.extract.annotate import annotate_lines
from pgxlit.extract.pipeline import annotate_texts, default_nlp
from pgxlit.extract.run import run_extraction
from pgxlit.extract.pipeline import extractor_name
from pgxlit.extract.triples import label_triples, sentence_triples, triples_for
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.ingest.load import Loader
from pgxlit.records import Abstract, AbstractSection, Evidence
from pgxlit.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
EVIDENCE = Evidence(source="pubmed", sentence="", start=0, end=0, pmid="1")


def _triples(sentence: str):
    [sentences] = list(annotate_texts([sentence]))
    return [t for s in sentences for t in sentence_triples(s, EVIDENCE, None, None)]


def _recorded_abstracts(shared: Path, wanted: dict[str, str]) -> dict[str, Abstract]:
    """The recorded PubMed records (../shared/corpora/pubmed/efetch/pharmgkb_vda_2018) with these PMIDs,
    each read from the efetch batch file named beside it."""
    import io

    from pgxlit.ingest.pubmed_xml import iter_pubmed_xml

    folder = shared / "corpora/pubmed/efetch/pharmgkb_vda_2018"
    found = {}
    for pmid, name in wanted.items():
        for record in iter_pubmed_xml(io.BytesIO((folder / name).read_bytes()), name):
            if isinstance(record, Abstract) and record.pmid == pmid:
                found[pmid] = record
    assert set(found) == set(wanted), f"not in the recorded batches: {sorted(set(wanted) - set(found))}"
    return found


def test_clopidogrel_label_sentence_gives_a_cited_pgx_triple() -> None:
    # Plavix label (NDA020839, v27), boxed warning.
    sentence = ("Plavix at recommended doses forms less of the active metabolite and so has a reduced effect on "
                "platelet activity in patients who are homozygous for nonfunctional alleles of the CYP2C19 gene, "
                '(termed "CYP2C19 poor metabolizers").')
    found = _triples(sentence)
    pm = [t for t in found if t.variant == "Poor Metabolizer"]
    assert pm and pm[0].drug == "clopidogrel" and pm[0].gene == "CYP2C19" and pm[0].gene_id == "HGNC:2621"
    assert pm[0].pgx


def test_hla_allele_toxicity_and_drug_normalised_from_salt() -> None:
    # Ziagen label (NDA020977), boxed warning, shortened.
    found = _triples("Patients who carry the HLA-B*5701 allele are at a higher risk of a hypersensitivity "
                     "reaction to abacavir sulfate.")
    [t] = found
    assert (t.drug, t.gene, t.variant, t.effect, t.pgx) == ("abacavir", "HLA-B", "HLA-B*57:01", "toxicity", True)
    assert t.relation == "increases" and not t.negated


def test_negation_and_hedging_are_flagged() -> None:
    # PubMed-style findings (negative result; hypothesis).
    [neg] = [t for t in _triples("The CYP2C19*2 allele was not associated with clopidogrel response.")
             if t.variant == "CYP2C19*2"]
    assert neg.negated
    [hedge] = [t for t in _triples("CYP2C9*3 may reduce the warfarin dose requirement.") if t.variant == "CYP2C9*3"]
    assert hedge.hedged and not hedge.negated and hedge.effect == "dosage"


def test_plain_enzyme_fact_is_kept_but_not_pgx() -> None:
    found = _triples("Simvastatin is metabolized by CYP3A4.")
    assert found and all(not t.pgx for t in found)


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01 ###", "a" * 20000, "CYP2D6 " * 3000])
def test_empty_and_garbage_text(text: str) -> None:
    abstract = Abstract(pmid="1", title=text, sections=(AbstractSection(text=text),))
    triples = triples_for(abstract)
    assert isinstance(triples, list)
    assert all(t.drug for t in triples)


def test_label_triples_carry_label_provenance() -> None:
    labels, _ = parse_openfda_response((FIXTURES / "openfda_capecitabine_min.json").read_bytes(), "fixture")
    triples = label_triples(labels[0])
    dpyd = [t for t in triples if t.gene == "DPYD" and t.pgx]
    assert dpyd, "capecitabine's DPYD text must give triples"
    e = dpyd[0].evidence
    assert (e.source, e.set_id, e.version) == ("fda_label", labels[0].set_id, labels[0].version)
    assert any(t.drug == "capecitabine" for t in dpyd)
    section = next(s for s in labels[0].sections if (s.field or s.loinc) == e.section)
    assert section.text[e.start : e.end] == e.sentence


def test_extraction_reruns_only_what_changed(store: Store) -> None:
    settings = get_settings()
    Loader(store, settings).load([FIXTURES / "openfda_capecitabine_min.json", FIXTURES / "pubmed_tiny.xml"])
    first = run_extraction(store)
    assert first["extracted"] == 3 and first["triples"] > 0
    again = run_extraction(store)
    assert again["extracted"] == 0 and again["already_current"] == 3
    assert len(store.triples(latest_only=False)) == first["triples"]
    forced = run_extraction(store, force=True)
    assert forced["triples"] == first["triples"]
    assert store.extraction_is_current("pubmed:26866747", store_sha(store, "pubmed:26866747"), extractor_name())


def store_sha(store: Store, key: str) -> str:
    return next(sha for k, sha, _ in store.documents_for_extraction() if k == key)


def test_annotate_json_lines_in_both_schemes() -> None:
    lines = [json.dumps({"id": "a", "text": "CYP2D6 poor metabolizers given codeine. rs9923231 alters warfarin dose."})]
    [out] = [json.loads(x) for x in annotate_lines(lines)]
    labels = {e["label"] for e in out["entities"]}
    assert {"GENE", "PHENOTYPE", "DRUG", "VARIANT"} <= labels
    for e in out["entities"]:
        assert lines[0] and json.loads(lines[0])["text"][e["start"] : e["end"]] == e["text"]
    assert out["relations"] and all(0 <= r["head"] < len(out["entities"]) for r in out["relations"])
    [pc] = [json.loads(x) for x in annotate_lines(lines, "pgxcorpus")]
    assert {"Gene_or_protein", "Chemical"} <= {e["label"] for e in pc["entities"]}
    with pytest.raises(ValueError, match="line 1"):
        list(annotate_lines(["not json"]))


def test_cli_extract_and_triples_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["load", str(FIXTURES / "openfda_capecitabine_min.json")]).exit_code == 0
        result = runner.invoke(app, ["extract", "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(runner.invoke(app, ["triples", "--drug", "Xeloda", "--pgx", "--json"]).output)
        assert rows and {"drug", "gene", "variant", "relation", "effect", "negated", "hedged", "confidence",
                         "evidence"} <= rows[0].keys()
        assert {"source", "set_id", "version", "section", "pmid", "sentence", "start", "end"} <= rows[0]["evidence"].keys()
        tsv = runner.invoke(app, ["triples", "--gene", "DPYD", "--tsv"]).output.splitlines()
        assert tsv[0].startswith("drug\t") and len(tsv) > 1
    finally:
        get_settings.cache_clear()


def test_eval_extraction_on_the_fixture_gold() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "extraction", "--gold", "pgxcorpus", "--path",
                                 str(FIXTURES / "gold" / "pgxcorpus"), "--fold", "all", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["documents"] == 2 and "entities" in data and "relations" in data


def test_label_conditions_stand_for_their_genes() -> None:
    # Depakote label (valproate), contraindications: a group of disorders names no gene (issue 17) ...
    assert not _triples("Valproate is contraindicated in patients with known urea cycle disorders (UCD).")
    # ... but the enzyme deficiency the same label names is its gene (Depakene, 5.6 Hyperammonemia).
    found = _triples("Hyperammonemic encephalopathy, sometimes fatal, has been reported following initiation of "
                     "valproate therapy in patients with urea cycle disorders, a group of uncommon genetic "
                     "abnormalities, particularly ornithine transcarbamylase deficiency.")
    assert {t.gene for t in found} == {"OTC"}
    assert all(t.pgx and t.drug == "valproic acid" for t in found)
    # Coumadin label: hereditary deficiencies of protein C or its cofactor, protein S.
    found = _triples("Warfarin may cause necrosis in patients with hereditary or acquired deficiencies of "
                     "protein C or its cofactor, protein S.")
    assert {"PROC", "PROS1"} <= {t.gene for t in found}


def test_coordinated_genes_share_the_genetic_cue() -> None:
    # Effient label, 12.5 Pharmacogenomics: every gene of the list is a (negated) PGx biomarker.
    found = _triples("There is no relevant effect of genetic variation in CYP2B6, CYP2C9, CYP2C19, or CYP3A5 on "
                     "the pharmacokinetics of prasugrel's active metabolite or its inhibition of platelet aggregation.")
    pgx = {t.gene for t in found if t.pgx and t.drug == "prasugrel"}
    assert pgx == {"CYP2B6", "CYP2C9", "CYP2C19", "CYP3A5"}
    assert all(t.negated for t in found if t.drug == "prasugrel")


def test_inhibitor_statements_stay_non_pgx() -> None:
    # Quinidine label: quinidine lowers pseudocholinesterase activity (no inherited deficiency), and
    # modafinil inhibits CYP2C19 (an interaction): kept, but neither is a PGx biomarker.
    found = _triples("In addition, in vitro addition of quinidine to the serum of pregnant women reduces the activity "
                     "of pseudocholinesterase, an enzyme that is essential to the metabolism of succinylcholine.")
    assert not [t for t in found if t.gene == "BCHE" and t.pgx]  # the enzyme named, no inherited trait
    found = _triples("In vitro data demonstrated that modafinil is a reversible inhibitor of CYP2C19 activity.")
    assert found and not any(t.pgx for t in found)
    # ... while the inherited trait is one (Anectine label).
    found = _triples("Succinylcholine should be used with caution in patients homozygous for the atypical plasma "
                     "cholinesterase gene.")
    assert any(t.gene == "BCHE" and t.pgx for t in found)


def test_a_pgx_mention_of_the_gene_makes_the_pair_pgx() -> None:
    # Provigil label, 7: the first CYP2D6 is a genotype ("deficient in"), the second an interaction word.
    from pgxlit.extract.triples import Subject

    sentence = ("In individuals deficient in the CYP2D6 enzyme, the levels of CYP2D6 substrates which have "
                "ancillary routes of elimination through CYP2C19, such as tricyclic antidepressants and "
                "selective serotonin reuptake inhibitors, may be increased by co-administration of modafinil.")
    [sentences] = list(annotate_texts([sentence]))
    provigil = Subject("modafinil", "PA450530", frozenset({"modafinil", "provigil"}))
    found = [t for s in sentences for t in sentence_triples(s, EVIDENCE, provigil, None)]
    assert any(t.drug == "modafinil" and t.gene == "CYP2D6" and t.pgx for t in found)
    # In an abstract, where no drug is the document's own, the co-administered drug is no subject.
    assert not any(t.drug == "modafinil" for t in _triples(sentence))


def test_label_statuses_take_the_gene_the_label_ties_them_to() -> None:
    # Strattera label, 12.3 (shortened): "PMs" in a sentence that names CYP2C19 still means CYP2D6 PMs.
    text = ("Atomoxetine is metabolized primarily through the CYP2D6 enzymatic pathway. Laboratory tests are "
            "available to identify CYP2D6 PMs. N-Desmethylatomoxetine is formed by CYP2C19 and other cytochrome "
            "P450 enzymes, and circulates in plasma at lower concentrations (5% of atomoxetine concentration in "
            "EMs and 45% of atomoxetine concentration in PMs). For PMs, AUC of atomoxetine is approximately "
            "10-fold greater than EMs.")
    from pgxlit.records import LabelVersion, Section

    label = LabelVersion(set_id="s", version=1, effective_time=None, spl_id=None, title=None,
                         generic_names=("ATOMOXETINE",), brand_names=("Strattera",),
                         sections=(Section(order=0, field="clinical_pharmacology", text=text),))
    statuses = {t.gene for t in label_triples(label) if t.variant in ("Poor Metabolizer", "Normal Metabolizer")}
    assert statuses == {"CYP2D6"}


def _abbreviations(nlp, texts: list[str]) -> list[list[tuple[str, int, int, str, int]]]:
    """Per text, its short forms and long forms (sorted: scispaCy keeps them in sets)."""
    return [sorted((a.text, a.start_char, a.end_char, a._.long_form.text, a._.long_form.start_char)
                   for a in doc._.abbreviations) for doc in nlp.pipe(texts)]


def _detectors():
    from pgxlit.extract.pipeline import build_nlp

    return (build_nlp(components=("sentencizer", "abbreviation_detector")),
            build_nlp(components=("sentencizer", "pgx_abbreviations")))


def test_fast_abbreviation_detector_finds_what_scispacy_finds() -> None:
    texts = [
        "Poor metabolizers (PMs) of CYP2D6 had higher exposure; PMs (n = 12) and extensive metabolizers (EMs) differed.",
        "Stevens-Johnson syndrome (SJS) and toxic epidermal necrolysis (TEN) occurred (see Warnings (5.1)).",
        "(Abstract) no definitions here",
        "",
        "One ( two ) three ( four five ) six (SIX) seven eight (EE)",
    ]
    scispacy_nlp, fast_nlp = _detectors()
    found = _abbreviations(fast_nlp, texts)
    assert found == _abbreviations(scispacy_nlp, texts)
    assert ("PMs", 19, 22, "Poor metabolizers", 0) in found[0]
    assert {a[0] for a in found[1]} >= {"SJS", "TEN"}


def test_fast_abbreviation_detector_on_recorded_abstracts(shared: Path) -> None:
    import io

    from pgxlit.ingest.pubmed_xml import iter_pubmed_xml

    texts = []
    for path in sorted((shared / "corpora/pubmed/efetch/pharmgkb_vda_2018").glob("*.xml"))[:10]:
        for record in iter_pubmed_xml(io.BytesIO(path.read_bytes()), str(path)):
            if isinstance(record, Abstract) and record.has_text:
                texts.append("\n".join([record.title, *(s.text for s in record.sections)]))
    scispacy_nlp, fast_nlp = _detectors()
    found = _abbreviations(fast_nlp, texts)
    assert sum(map(len, found)) > 50  # the abstracts do define abbreviations
    assert found == _abbreviations(scispacy_nlp, texts)


def test_cue_patterns_match_as_ignorecase_did() -> None:
    import re

    from pgxlit.extract.relations import CuePattern

    pattern = r"(\bSJS\b|\bHLA-|loss-of-function|and\s+\S+\s+inhibit|tests?\b)"
    cue, reference = CuePattern(pattern), re.compile(pattern, re.IGNORECASE)
    for text in ("Risk of sjs", "hla-B*57:01", "LOSS-OF-FUNCTION alleles", "and  X  inhibits", "AND x\tINHIBIT",
                 "a and b inhibit", "testing", "Tests", "SJSX", "protests", ""):
        assert bool(cue.search(text)) == bool(reference.search(text)), text
    assert cue.pattern == pattern  # the relation model's cue fingerprint reads the pattern as written


def test_abstract_triples_name_only_drugs_the_lexicons_know(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018) where the trained NER calls a virus, a measure or a
    statistic a drug (HCV beside IL28B, INR beside acenocoumarol's genes, "p<0.0001", T2DM, glucose): every
    triple names a drug with a PharmGKB id that is no lab analyte, and the real drugs of the same
    abstracts stay (acenocoumarol; "CsA" read as cyclosporine; "antidepressant" as PharmGKB's class)."""
    from pgxlit.extract.lexicons import load_lexicons

    wanted = {"19387461": "efetch_batch_066.xml", "15790782": "efetch_batch_034.xml",
              "18195729": "efetch_batch_060.xml", "18589174": "efetch_batch_031.xml",
              "18693052": "efetch_batch_010.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    lex = load_lexicons()
    found = {pmid: triples_for(a) for pmid, a in abstracts.items()}
    everything = [t for ts in found.values() for t in ts]
    assert everything and all(t.drug_id and not lex.is_not_a_drug(t.drug) for t in everything)
    assert not {t.drug for t in everything} & {"hcv", "inr", "p<0.0001", "t2dm", "glucose", "csa"}
    assert {t.drug for t in found["15790782"] if t.pgx} >= {"acenocoumarol"}
    assert "cyclosporine" in {t.drug for t in found["18589174"]}
    assert "antidepressants" in {t.drug for t in found["18195729"]}


def test_a_co_medication_is_no_subject_of_an_abstracts_genes(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018) that study a drug's PGx beside a co-medication
    ("rifampin coadministration", "concomitant rifampin", "Concomitant Use of Voriconazole",
    "phenytoin co-administration", "in the presence and in the absence of rifampicin-based TB treatment"): the co-medication is not paired with the genes of the sentences
    that write it so, and the drug studied keeps its triples, as does a drug "receiving" names."""
    wanted = {"19124658": "efetch_batch_038.xml", "18728241": "efetch_batch_081.xml",
              "25565672": "efetch_batch_068.xml", "26790665": "efetch_batch_052.xml",
              "21209234": "efetch_batch_053.xml", "24316028": "efetch_batch_075.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    found = {pmid: triples_for(a) for pmid, a in abstracts.items()}

    def pairs(pmid: str, cue: str) -> set[tuple[str, str | None]]:
        return {(t.drug, t.gene) for t in found[pmid] if cue in t.evidence.sentence}

    title = pairs("19124658", "but not rifampin coadministration")
    assert ("efavirenz", "CYP2B6") in title and not any(d == "rifampin" for d, _ in title)
    aim = pairs("18728241", "receiving concomitant rifampin")
    assert ("efavirenz", "CYP2B6") in aim and not any(d == "rifampin" for d, _ in aim)
    voriconazole = pairs("25565672", "Concomitant Use of Voriconazole")
    assert ("tacrolimus", "CYP3A5") in voriconazole and not any(d == "voriconazole" for d, _ in voriconazole)
    formula = pairs("26790665", "phenytoin co-administration")
    assert ("lamotrigine", "UGT1A4") in formula  # "the co-administration of phenobarbital and/or carbamazepine"
    assert not {"phenytoin", "phenobarbital", "carbamazepine"} & {d for d, _ in formula}
    assert ("oxycodone", "CYP3A5") in pairs("21209234", "cancer patients receiving oxycodone")
    both = pairs("24316028", "in the presence and in the absence of rifampicin-based TB treatment")
    assert ("efavirenz", "CYP2B6") in both and not any(d == "rifampin" for d, _ in both)


def test_a_drug_or_gene_name_has_a_letter(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018) where the trained NER tagged "× 10", "×" and "®"
    as genes or drugs next to p-values and a trade mark: no drug or gene mention is without a letter,
    and the abstracts' real genes and drugs are still found."""
    import re

    from pgxlit.extract.triples import abstract_text

    wanted = {"23609393": "efetch_batch_006.xml", "26425837": "efetch_batch_006.xml",
              "23974086": "efetch_batch_004.xml"}
    texts = {pmid: abstract_text(a) for pmid, a in _recorded_abstracts(shared, wanted).items()}
    for pmid, sentences in zip(texts, annotate_texts(texts.values()), strict=True):
        names = [m for s in sentences for m in s.mentions if m.label in ("DRUG", "GENE")]
        assert names, pmid
        assert all(re.search(r"[^\W\d_]", m.text) for m in names), [m.text for m in names]


def test_an_anti_drug_class_target_is_no_genetic_factor(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018) about "anti-TNF medications" and "anti-EGFR plus
    irinotecan": TNF and EGFR there are what the drugs act on, so the sIL-6R variant does not borrow TNF
    and irinotecan is not paired with EGFR; a TNF genotype written as one ("TNF-308AA genotype") still
    gives etanercept–TNF."""
    wanted = {"19926672": "efetch_batch_064.xml", "18713756": "efetch_batch_045.xml",
              "23959273": "efetch_batch_079.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    found = {pmid: triples_for(a) for pmid, a in abstracts.items()}

    def pairs(pmid: str, cue: str) -> set[tuple[str, str | None]]:
        return {(t.drug, t.gene) for t in found[pmid] if cue in t.evidence.sentence}

    assert not {g for _, g in pairs("19926672", "the sIL-6R A358C polymorphism")} & {"TNF"}
    assert ("etanercept", "TNF") in pairs("18713756", "After stratification by anti-TNF agent")
    assert ("irinotecan", "EGFR") not in {(t.drug, t.gene) for t in found["23959273"]}


def test_a_compound_inside_a_protein_name_is_no_drug(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018): "reduced folate carrier 1 polymorphisms" is no
    folic acid beside methotrexate, "Metabotropic glutamate receptor (GRM3)" no glutamate; "ABCG2 (BCRP)
    as an allopurinol transporter" keeps allopurinol, the drug it carries."""
    wanted = {"16462575": "efetch_batch_010.xml", "19451915": "efetch_batch_062.xml",
              "25676789": "efetch_batch_057.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    found = {pmid: triples_for(a) for pmid, a in abstracts.items()}

    def drugs(pmid: str, cue: str) -> set[str]:
        return {t.drug for t in found[pmid] if cue in t.evidence.sentence}

    folate = drugs("16462575", "reduced folate carrier 1 polymorphisms")
    assert "methotrexate" in folate and "folic acid" not in folate
    assert "l-glutamic acid" not in drugs("19451915", "Metabotropic glutamate receptor (GRM3) SNP")
    assert "allopurinol" in drugs("25676789", "as an allopurinol transporter")


def test_a_variant_takes_the_gene_written_as_its_own(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018) that list variants with their genes: "rs3814637 (in
    CYP2C19) and rs2242480 (in CYP3A4)", "rs628031 and rs683369 polymorphisms of SLC22A1 and rs776746 of
    CYP3A5". Each variant's triple names the gene written for it, not the nearest other one."""
    wanted = {"21692828": "efetch_batch_026.xml", "29427770": "efetch_batch_002.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    found = {pmid: triples_for(a) for pmid, a in abstracts.items()}

    def genes(pmid: str, cue: str) -> dict[str, set[str | None]]:
        out: dict[str, set[str | None]] = {}
        for t in found[pmid]:
            if cue in t.evidence.sentence and t.variant:
                out.setdefault(t.variant, set()).add(t.gene)
        return out

    warfarin = genes("21692828", "rs3814637 (in CYP2C19) and rs2242480 (in CYP3A4)")
    assert warfarin["rs3814637"] == {"CYP2C19"} and warfarin["rs2242480"] == {"CYP3A4"}
    imatinib = genes("29427770", "polymorphisms of SLC22A1 and rs776746 of CYP3A5")
    assert imatinib["rs776746"] == {"CYP3A5"} and imatinib["rs628031"] == {"SLC22A1"}


def test_a_bracketed_variant_belongs_to_the_gene_its_brackets_follow(shared: Path) -> None:
    """Recorded PubMed abstracts (pharmgkb_vda_2018) that list variants in brackets after their gene:
    "c-Myc genotypes for 5.2% (rs4645974 for 2.4% and rs4645943 for 2.8%), CYP4F2 genotype",
    "OCT1 (rs12208357 and rs72552763), HNF1A (rs2464196)", "ABCB1 [c.1236C>T (rs1128503), ...]", and
    an HLA serotype ("HLA-A2", "HLA-B17") that names its own locus. Before, each took the nearest gene
    in the sentence (CYP4F2, HNF1A, CYP3A5, HLA-C)."""
    wanted = {"26249541": "efetch_batch_052.xml", "28834135": "efetch_batch_067.xml",
              "24240480": "efetch_batch_063.xml", "28444425": "efetch_batch_035.xml"}
    found = {pmid: triples_for(a) for pmid, a in _recorded_abstracts(shared, wanted).items()}

    def genes(pmid: str) -> dict[str, set[str | None]]:
        out: dict[str, set[str | None]] = {}
        for t in found[pmid]:
            if t.variant:
                out.setdefault(t.variant, set()).add(t.gene)
        return out

    assert genes("26249541")["rs4645943"] == {"MYC"}
    metformin = genes("28834135")
    assert metformin["rs72552763"] == {"SLC22A1"} and metformin["rs2464196"] == {"HNF1A"}
    assert genes("24240480")["c.3435C>T"] == {"ABCB1"}
    hla = genes("28444425")
    assert hla["HLA-A2"] == {"HLA-A"} and hla["HLA-B17"] == {"HLA-B"}


def test_a_trade_name_inside_a_hyphenated_word_or_naming_a_trial_is_no_drug(shared: Path) -> None:
    """Recorded abstracts where a trade name of the drug lexicon is part of another word or a study's
    name: "P-selectin" (Selectin, a pravastatin brand), "the SPIRIT trial" (an ethanol product). Neither
    is a drug subject; the drugs the abstracts study (clopidogrel, fenofibrate, simvastatin, imatinib)
    still are."""
    wanted = {"16607077": "efetch_batch_006.xml", "17337040": "efetch_batch_007.xml",
              "24123600": "efetch_batch_039.xml"}
    found = {pmid: {t.drug for t in triples_for(a)} for pmid, a in _recorded_abstracts(shared, wanted).items()}
    assert "pravastatin" not in found["16607077"] | found["17337040"]
    assert {"fenofibrate", "simvastatin"} <= found["16607077"] and "clopidogrel" in found["17337040"]
    assert "ethanol" not in found["24123600"] and "imatinib" in found["24123600"]


def test_a_trade_name_before_a_hyphenated_tail_stays_a_drug() -> None:
    # "adriamycin", "streptozotocin" and "formalin" are trade terms of the lexicon that BioRED and
    # PGxCorpus annotate as chemicals
    sentence = ("Adriamycin-induced cardiotoxicity, streptozotocin-treated rats and formalin-fixed tissue were "
                "studied in CYP2D6 poor metabolizers.")
    drugs = {m.text for m in default_nlp()(sentence)._.pgx_mentions if m.label == "DRUG"}
    assert {"Adriamycin", "streptozotocin", "formalin"} <= drugs


def test_a_variant_keeps_the_gene_the_abstract_gave_it_before(shared: Path) -> None:
    """Recorded abstracts that write a variant with its gene once and then alone: "ABCB1 C3435T ...
    Patients with 3435CC genotype will require a higher dose of CsA"; "rs776746 in CYP3A5 ... Rs776746
    is associated with concentrations of TAC". The later sentence's triple takes that gene."""
    wanted = {"25536375": "efetch_batch_016.xml", "24352002": "efetch_batch_096.xml"}
    found = {pmid: triples_for(a) for pmid, a in _recorded_abstracts(shared, wanted).items()}
    later = {(t.variant, t.gene) for t in found["25536375"] if t.evidence.sentence.startswith("Patients with 3435CC")}
    assert ("3435CC", "ABCB1") in later and ("3435TT", "ABCB1") in later
    alone = {(t.variant, t.gene) for t in found["24352002"] if t.evidence.sentence.startswith("Rs776746 is associated")}
    assert alone == {("rs776746", "CYP3A5")}


def test_a_gene_symbol_glued_to_a_bracketed_subtype_is_no_gene(shared: Path) -> None:
    """"beta(1)AR" and "β(1)AR" (recorded abstracts 17541557, 21311897) are the beta-1 adrenergic
    receptor, not AR, the androgen receptor; a marker list keeps its genes."""
    wanted = {"17541557": "efetch_batch_049.xml", "21311897": "efetch_batch_027.xml"}
    for abstract in _recorded_abstracts(shared, wanted).values():
        assert not any(t.gene == "AR" for t in triples_for(abstract))
    genes = {m.text for m in default_nlp()("CD4(+)CD25(+)FoxP3(+) Tregs")._.pgx_mentions if m.label == "GENE"}
    assert "CD25" in genes


def test_genotype_letters_are_no_gene(shared: Path) -> None:
    """"rs1049174 GC polymorphism" (recorded abstract 28004016) is a genotype of KLRK1's variant, not GC
    (the vitamin D binding protein gene); "TT/TG genotypes" and "AGT or CGC haplotypes" are genotypes
    and haplotypes. The AGT gene written as a gene stays a gene."""
    wanted = {"28004016": "efetch_batch_098.xml"}
    (abstract,) = _recorded_abstracts(shared, wanted).values()
    assert not any(t.gene == "GC" for t in triples_for(abstract))
    nlp = default_nlp()

    def genes(text: str) -> set[str]:
        return {m.text for m in nlp(text)._.pgx_mentions if m.label == "GENE"}

    assert "TG" not in genes("Carriers of IL28B rs8099917 TT/TG genotypes responded less to ribavirin.")
    assert "AGT" not in genes("Patients harboring 2 copies of AGT or CGC haplotypes had lower clearance.")
    assert "AGT" in genes("The M235T polymorphism of the AGT gene was detected in patients on enalapril.")


def test_drug_word_in_a_gene_symbols_long_form_is_no_drug(shared: Path) -> None:
    """A drug word inside the long form of a gene symbol is part of the gene's name (recorded abstracts):
    "selectin E (SELE)" is not pravastatin (whose trade name is Selectin), "Flavin-containing
    monooxygenase 3 (FMO3)" not riboflavin, "corticotropin-releasing hormone receptor 1 (CRHR1)" not
    corticotropin. A long form that is the drug and nothing else stays a drug: "oxytocin (OXT)"."""
    wanted = {"24980946": "efetch_batch_007.xml", "25224784": "efetch_batch_084.xml", "22249355": "efetch_batch_101.xml",
              "22706620": "efetch_batch_012.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    drugs = {pmid: {t.drug for t in triples_for(a)} for pmid, a in abstracts.items()}
    assert "pravastatin" not in drugs["24980946"]
    assert "riboflavin" not in drugs["25224784"]
    assert "corticotropin" not in drugs["22249355"]
    assert "duloxetine" in drugs["22249355"]
    # the long form left without its drug word names the gene: "endothelial nitric oxide synthase (eNOS)"
    assert {("enalapril", "NOS3"), ("enalapril", "BDKRB2")} <= {(t.drug, t.gene) for t in triples_for(abstracts["22706620"])}
    nlp = default_nlp()
    found = {m.text for m in nlp("Plasma oxytocin (OXT) levels rose after intranasal oxytocin.")._.pgx_mentions
             if m.label == "DRUG"}
    assert "oxytocin" in found


def test_a_variant_after_an_unknown_genes_name_borrows_no_gene(shared: Path) -> None:
    """"alpha-adducin gene Gly460Trp and angiotensin I-converting enzyme (ACE) gene I/D" (recorded abstract
    15773232): Gly460Trp is alpha-adducin's, a gene the lexicons cannot name, so it does not borrow ACE,
    the nearest gene they know. A variant after a known gene's name keeps it."""
    (abstract,) = _recorded_abstracts(shared, {"15773232": "efetch_batch_019.xml"}).values()
    assert not any(t.variant == "p.Gly460Trp" and t.gene == "ACE" for t in triples_for(abstract))
    assert any(t.gene == "ACE" and t.drug == "benazepril" for t in triples_for(abstract))
    from pgxlit.extract.factor_genes import gene_of

    nlp = default_nlp()
    text = "The MDR1 gene C3435T polymorphism was associated with tacrolimus trough levels."
    mentions = nlp(text)._.pgx_mentions
    (variant,) = [m for m in mentions if m.label == "VARIANT"]
    assert gene_of(variant, mentions, text)[0] == "ABCB1"


def test_a_drug_synonym_spelled_like_a_gene_symbol_is_the_gene(shared: Path) -> None:
    """"IL-1RN genotypes" (recorded abstract 21054464, an H. pylori eradication study) name the IL1RN gene,
    not anakinra, whose PharmGKB synonyms include "IL-1RN": the lexicon build drops drug synonyms that spell
    an approved gene symbol (tools/build_lexicons.py), and the gene keeps them as aliases."""
    from pgxlit.extract.lexicons import normalise_drug, normalise_gene

    assert normalise_drug("IL-1RN") is None and normalise_drug("anakinra") is not None
    assert normalise_gene("IL-1RN") == ("HGNC:6000", "IL1RN")
    (abstract,) = _recorded_abstracts(shared, {"21054464": "efetch_batch_009.xml"}).values()
    pairs = {(t.drug, t.gene) for t in triples_for(abstract)}
    assert not any(drug == "anakinra" for drug, _ in pairs)
    assert ("omeprazole", "IL1RN") in pairs


def test_a_gene_named_as_an_inhibitor_class_is_no_genetic_factor_in_abstracts(shared: Path) -> None:
    """"methylphenidate (a dopamine transporter inhibitor)" (recorded abstract 25805645) and "aspirin and P2Y12
    receptor antagonists" (27937053) name drug classes by their targets, not genes that vary; their genetic
    factors (PEAR1) keep their triples. Label text keeps "strong CYP2D6 inhibitors" as interaction triples."""
    wanted = {"25805645": "efetch_batch_078.xml", "27937053": "efetch_batch_094.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    pairs = {pmid: {(t.drug, t.gene) for t in triples_for(a)} for pmid, a in abstracts.items()}
    assert not any("transporter inhibitor" in t.evidence.sentence for t in triples_for(abstracts["25805645"]))
    assert ("aspirin", "P2RY12") not in pairs["27937053"]
    assert ("aspirin", "PEAR1") in pairs["27937053"]
    from pgxlit.extract.triples import is_drug_target

    sentence = "Reduce the dose when coadministered with strong CYP2D6 inhibitors."
    cyp = next(m for m in default_nlp()(sentence)._.pgx_mentions if m.label == "GENE")
    assert is_drug_target(sentence, cyp, inhibitor_classes=True) and not is_drug_target(sentence, cyp)


def test_none_of_and_irrespective_of_deny_an_abstracts_pair(shared: Path) -> None:
    """Recorded abstracts: "None of the genotypes in ABCB1 1236 C>T, ... correlated with plasma dolutegravir
    concentration" (28858994) and "response to clopidogrel is independent of ... CYP2C19 genetic variants"
    (24504666) are negated triples. "independent of the influence of VKORC1 1173C>T and CYP2C9*2" (20716240)
    keeps those factors' effect, so their triples stay positive. A label's "regardless of HLA-B*5701 status,
    discontinue" is an instruction and is not negated."""
    wanted = {"24504666": "efetch_batch_002.xml", "28858994": "efetch_batch_057.xml", "20716240": "efetch_batch_073.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    dolutegravir = [t for t in triples_for(abstracts["28858994"]) if t.drug == "dolutegravir" and "None of" in t.evidence.sentence]
    assert dolutegravir and all(t.negated for t in dolutegravir)
    clopidogrel = [t for t in triples_for(abstracts["24504666"])
                   if (t.drug, t.gene) == ("clopidogrel", "CYP2C19") and "independent of" in t.evidence.sentence]
    assert clopidogrel and all(t.negated for t in clopidogrel)
    kept = [t for t in triples_for(abstracts["20716240"]) if t.variant in ("CYP2C9*2", "1173C>T")
            and "independent of the influence" in t.evidence.sentence]
    assert kept and not any(t.negated for t in kept)
    from pgxlit.extract.negation import triple_negated

    sentence = "Discontinue ZIAGEN immediately if a hypersensitivity reaction is suspected, regardless of HLA-B*5701 status."
    mentions = default_nlp()(sentence)._.pgx_mentions
    drug = next(m for m in mentions if m.label == "DRUG")
    allele = next(m for m in mentions if m.label in ("ALLELE", "VARIANT", "GENE"))
    assert triple_negated(sentence, drug, allele, mentions, study=True)
    assert not triple_negated(sentence, drug, allele, mentions, study=False)  # a label's instruction


def test_a_tumour_status_is_somatic_without_a_tumour_word(shared: Path) -> None:
    """"HER2-positive mBC patients treated with lapatinib" (recorded abstract 21989330) names the tumour only by
    an abbreviation; "-positive" after the gene still makes ERBB2 the tumour's marker, not a germline PGx pair.
    In 19692684 the EGFR triple's two mentions, one somatic ("Activating mutations in ... (EGFR)"), make one
    somatic triple, not a PGx one."""
    wanted = {"21989330": "efetch_batch_021.xml", "19692684": "efetch_batch_031.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    her2 = [t for t in triples_for(abstracts["21989330"]) if (t.drug, t.gene) == ("lapatinib", "ERBB2")]
    assert her2 and all(t.origin == "somatic" and not t.pgx for t in her2)
    egfr = [t for t in triples_for(abstracts["19692684"]) if t.gene == "EGFR" and "Activating mutations" in t.evidence.sentence]
    assert egfr and all(t.origin == "somatic" and not t.pgx for t in egfr)


def test_a_contrasted_not_denies_only_its_own_mention(shared: Path) -> None:
    """Recorded abstracts: "predict the DBP response to irbesartan, but not to atenolol" (12359989) denies atenolol,
    not irbesartan; "CYP2C9*5, *6, *8 and *11 variants, but not CYP2C9*9, are associated with a decreased phenytoin
    metabolism" (16220110) denies *9 only, and "In liver, but not kidney transplant patients, homozygous ABCB1 T-T-T
    haplotype carriers needed higher TAC doses" (21698374) denies nothing of the liver patients' pair. A denial with
    its own wording stays: "little or no effect on the acute rejection rates" (22786571) and "though not achieving
    the significance level" (27262302)."""
    wanted = {"12359989": "efetch_batch_069.xml", "16220110": "efetch_batch_027.xml", "21698374": "efetch_batch_016.xml",
              "22786571": "efetch_batch_029.xml", "27262302": "efetch_batch_003.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    irbesartan = [t for t in triples_for(abstracts["12359989"])
                  if (t.drug, t.gene) == ("irbesartan", "CYP2C9") and "but not to atenolol" in t.evidence.sentence]
    assert irbesartan and not any(t.negated for t in irbesartan)
    phenytoin = {t.variant: t.negated for t in triples_for(abstracts["16220110"])
                 if t.drug == "phenytoin" and "but not CYP2C9*9" in t.evidence.sentence}
    assert phenytoin.get("CYP2C9*11") is False and phenytoin.get("CYP2C9*9") is True
    liver = [t for t in triples_for(abstracts["21698374"])
             if (t.drug, t.gene) == ("tacrolimus", "ABCB1") and "In liver, but not kidney" in t.evidence.sentence]
    assert liver and not any(t.negated for t in liver)
    little = [t for t in triples_for(abstracts["22786571"]) if "little or no effect" in t.evidence.sentence and t.gene]
    assert little and all(t.negated for t in little)
    trend = [t for t in triples_for(abstracts["27262302"]) if "not achieving the significance" in t.evidence.sentence]
    assert trend and all(t.negated for t in trend)


def test_a_cell_system_is_no_genetic_factor_and_a_bracketed_variant_keeps_its_gene(shared: Path) -> None:
    """Recorded abstracts: "Both tropisetron and ondansetron inhibited ASP(+) uptake in OCT1-overexpressing HEK293
    cells" (20921968) measures a drug on a transporter made to be expressed, not a genetic factor; in
    "ENOX1(rs9594987), rs10108210, and rs703297 gene polymorphisms" (27339827) the bare rsIDs are not ENOX1's; in
    "ABCB1 [c.1236C>T (rs1128503), c.2677G>T/A (rs2032582), c.3435C>T (rs1045642)] and CYP3A5*3" (24240480) every
    rsID inside ABCB1's brackets is ABCB1's, not the nearer CYP3A5's."""
    wanted = {"20921968": "efetch_batch_099.xml", "27339827": "efetch_batch_071.xml", "24240480": "efetch_batch_063.xml"}
    abstracts = _recorded_abstracts(shared, wanted)
    oct1 = [t for t in triples_for(abstracts["20921968"]) if "OCT1-overexpressing HEK293" in t.evidence.sentence]
    assert not oct1
    listed = {t.variant: t.gene for t in triples_for(abstracts["27339827"]) if "ENOX1(rs9594987)" in t.evidence.sentence}
    assert listed.get("rs703297", "missing") is None and listed.get("rs10108210", "missing") is None
    abcb1 = {t.variant: t.gene for t in triples_for(abstracts["24240480"]) if "ABCB1 [c.1236C>T" in t.evidence.sentence}
    assert all(abcb1.get(rs) == "ABCB1" for rs in ("rs1128503", "rs2032582", "rs1045642")), abcb1


def test_an_instruction_or_an_unstudied_effect_is_not_a_denial() -> None:
    """Label wording: "Do not administer ... to patients with G6PD deficiency" is a contraindication and "should not
    exceed" a dose limit, "have not been evaluated" leaves the effect open: none of them denies the pair, which the
    curator export would print as "is not associated with". A real denial stays negated."""
    from pgxlit.extract.negation import denial

    for sentence in ("Do not administer rasburicase to patients with glucose-6-phosphate dehydrogenase (G6PD) deficiency.",
                     "In CYP2D6 poor metabolizers the daily dose of tetrabenazine should not exceed 50 mg.",
                     "The pharmacokinetics of celecoxib have not been evaluated in subjects with CYP2C9*5."):
        found = [t for t in _triples(sentence) if t.gene in ("G6PD", "CYP2D6", "CYP2C9")]
        assert found and not any(t.negated for t in found), sentence
    sentence = "Do not administer rasburicase: the CYP2C9*3 allele was not associated with its clearance."
    mentions = default_nlp()(sentence)._.pgx_mentions
    drug = next(m for m in mentions if m.label == "DRUG")
    allele = next(m for m in mentions if m.label == "ALLELE")
    assert denial(sentence, drug, allele, mentions)  # the other clause's plain "not" still denies
