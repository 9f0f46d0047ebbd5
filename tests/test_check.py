"""Prescribing check: phenotype translation, profile parsing, evidence reading, knowledge and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pgxlit.check.engine import DrugRef, check
from pgxlit.check.knowledge import build_knowledge, factor_keys, knowledge_path, load_knowledge
from pgxlit.extract.actions import read_action
from pgxlit.knowledge.facts import TripleFact, clean_sentence, read_facts
from pgxlit.check.genotype import GenotypeError, load_table, normalise_hla
from pgxlit.check.profile import parse_profile, profile_from_args, read_profile_file
from pgxlit.check.service import CheckService, resolve_drug
from test_check_fixtures import FIXTURES, fill_store, fixture_triples, set_review_status
from typer.testing import CliRunner

from pgxlit.config import Settings

TABLE = load_table()


# ---- genotype -> phenotype ---------------------------------------------------------------------
@pytest.mark.parametrize(("gene", "diplotype", "phenotype"), [
    ("CYP2C19", "*1/*1", "Normal Metabolizer"),
    ("CYP2C19", "*2/*2", "Poor Metabolizer"),
    ("CYP2C19", "*1/*2", "Intermediate Metabolizer"),
    ("CYP2C19", "*1/*17", "Rapid Metabolizer"),
    ("CYP2C19", "*17/*17", "Ultrarapid Metabolizer"),
    ("CYP2C19", "*2/*17", "Intermediate Metabolizer"),
    ("CYP2C19", "*2/*9", "Likely Poor Metabolizer"),
    ("CYP2D6", "*1/*1", "Normal Metabolizer"),
    ("CYP2D6", "*4/*4", "Poor Metabolizer"),
    ("CYP2D6", "*1/*4", "Intermediate Metabolizer"),
    ("CYP2D6", "*1/*1xN", "Ultrarapid Metabolizer"),
    ("CYP2D6", "*1/*2x2", "Ultrarapid Metabolizer"),
    ("CYP2D6", "*4/*41", "Intermediate Metabolizer"),  # 0 + 0.25
    ("CYP2D6", "*1/*10", "Normal Metabolizer"),  # 1.25
    ("CYP2D6", "*10/*10", "Intermediate Metabolizer"),  # 0.5
    ("CYP2C9", "*1/*1", "Normal Metabolizer"),
    ("CYP2C9", "*1/*3", "Intermediate Metabolizer"),
    ("CYP2C9", "*2/*3", "Poor Metabolizer"),  # 0.5
    ("CYP2C9", "*3/*3", "Poor Metabolizer"),
    ("DPYD", "c.1905+1G>A (*2A)/Reference", "Intermediate Metabolizer"),
    ("DPYD", "*2A/*13", "Poor Metabolizer"),
    ("TPMT", "*3A/*3C", "Poor Metabolizer"),
    ("UGT1A1", "*28/*28", "Poor Metabolizer"),
    ("CYP3A5", "*3/*3", "Poor Metabolizer"),
])
def test_diplotypes_translate_to_cpic_phenotypes(gene: str, diplotype: str, phenotype: str) -> None:
    assert TABLE.translate(gene, diplotype).phenotype == phenotype


def test_cyp2d6_is_translated_by_activity_score_and_says_how() -> None:
    call = TABLE.translate("CYP2D6", "*1/*41")
    assert call.activity_score == pytest.approx(1.25)
    assert "1.25" in call.derivation and call.phenotype == "Normal Metabolizer"


def test_an_allele_without_known_function_is_indeterminate_not_guessed() -> None:
    call = TABLE.translate("CYP2D6", "*1/*22")  # *22 has no CPIC activity value
    assert call.phenotype == "Indeterminate"
    assert any("*22" in n for n in call.notes)


def test_unknown_alleles_and_malformed_diplotypes_are_errors_that_name_the_entry() -> None:
    with pytest.raises(GenotypeError, match=r"\*99"):
        TABLE.translate("CYP2C19", "*1/*99")
    with pytest.raises(GenotypeError, match="two alleles"):
        TABLE.translate("CYP2C19", "*1")


def test_vkorc1_rsid_genotype_reads_as_the_minus_1639_genotype_on_the_gene_strand() -> None:
    assert TABLE.genotype("rs9923231", "CT").phenotype == "-1639 AG"
    assert TABLE.genotype("rs9923231", "TT").phenotype == "-1639 AA"
    ref = TABLE.genotype("rs9923231", "CC")
    assert ref.phenotype == "-1639 GG" and ref.is_normal


@pytest.mark.parametrize(("text", "norm"), [
    ("HLA-B*57:01", "HLA-B*57:01"), ("HLA-B*5701", "HLA-B*57:01"), ("B*15:02", "HLA-B*15:02"),
    ("hla-a*31:01", "HLA-A*31:01"), ("CYP2D6*4", None),
])
def test_hla_names_normalise(text: str, norm: str | None) -> None:
    assert normalise_hla(text) == norm


# ---- profiles ---------------------------------------------------------------------------------
def test_a_profile_with_bad_entries_keeps_the_good_ones_and_names_the_bad_ones() -> None:
    profile = read_profile_file(FIXTURES / "profile_mixed.json", TABLE)
    got = {c.gene: c.phenotype for c in profile.calls}
    assert got["CYP2C19"] == "Poor Metabolizer"
    assert got["CYP2D6"] == "Ultrarapid Metabolizer"
    assert got["HLA-B"] == "HLA-B*57:01 positive"
    assert got["VKORC1"] == "-1639 AG"
    text = "\n".join(profile.messages)
    assert "*99" in text and "CYP2C9" in text
    assert "NOTAGENE1" in text
    assert '"TPMT"' in text  # the entry is quoted back
    assert "CQ" in text
    assert "CYP3A5 *1/*3" in text  # a bare string is not an entry object
    assert "maybe" in text
    assert "CYP2C9" not in got and "TPMT" not in got


def test_a_file_that_is_not_json_is_an_error_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{nope", encoding="utf-8")
    with pytest.raises(ValueError, match="p.json"):
        read_profile_file(bad, TABLE)


def test_command_line_entries_parse_like_profile_entries() -> None:
    profile = profile_from_args(["CYP2C19 *2/*2", "CYP2C9*1/*3", "rs9923231 CT"], ["CYP2D6 ultra-rapid metabolizer"],
                                ["HLA-B*57:01 positive", "HLA-B*15:02 negative"], TABLE)
    got = {c.phenotype for c in profile.calls}
    assert {"Poor Metabolizer", "Intermediate Metabolizer", "-1639 AG", "Ultrarapid Metabolizer",
            "HLA-B*57:01 positive", "HLA-B*15:02 negative"} <= got
    assert profile.messages == ()


def test_a_diplotype_wins_over_a_conflicting_stated_phenotype_and_says_so() -> None:
    profile = parse_profile([{"gene": "CYP2C19", "phenotype": "Normal Metabolizer"},
                             {"gene": "CYP2C19", "diplotype": "*2/*2"}], TABLE)
    assert [c.phenotype for c in profile.calls] == ["Poor Metabolizer"]
    assert "conflicts" in profile.messages[0]


def test_a_phenotype_outside_the_gene_vocabulary_is_refused() -> None:
    profile = parse_profile([{"gene": "CYP2C9", "phenotype": "Ultrarapid Metabolizer"}], TABLE)
    assert profile.calls == () and "CYP2C9" in profile.messages[0]


# ---- reading evidence sentences (real label sentences) -------------------------------------------
@pytest.mark.parametrize(("sentence", "section", "effect", "action", "severity"), [
    ("Consider use of another platelet P2Y 12 inhibitor in patients identified as CYP2C19 poor metabolizers.",
     "boxed_warning", "metabolism", "alternative", "critical"),
    ("Therefore, individuals who are ultra-rapid metabolizers should not use Codeine Sulfate Tablets.",
     "warnings_and_cautions", "metabolism", "avoid", "critical"),
    ("Presence of HLA-B*5701 allele. (", "contraindications", "toxicity", "avoid", "critical"),
    ("2.2 ) The recommended maintenance dosage in patients with a CYP2C9*1/*3 or *2/*3 genotype is 1 mg. (",
     "dosage_and_administration", "dosage", "dose change", "warning"),
    ("Tests are available to identify patients who are CYP2C19 poor metabolizers.", "boxed_warning", "metabolism",
     "monitor", "info"),
    ("HLA-B*1502 is present in less than 1% of the population in Japan and Korea.", "warnings", "toxicity",
     "monitor", "info"),
    ("Consider avoiding DILANTIN as an alternative to carbamazepine in patients who are positive for HLA-B*1502 or "
     "in CYP2C9*3 carriers.", "warnings_and_cautions", "toxicity", "avoid", "critical"),
    # contraindicated only together with something else: a warning to look, not "do not use"
    ("IMs and PMs CERDELGA is contraindicated in patients with any degree of hepatic impairment.",
     "contraindications", "other", "monitor", "warning"),
    ("PMs Taking a strong CYP3A inhibitor", "contraindications", "other", "monitor", "warning"),
])
def test_label_sentences_read_as_actions(sentence: str, section: str, effect: str, action: str, severity: str) -> None:
    reading = read_action(sentence, section, effect, "fda_label")
    assert (reading.action, reading.severity) == (action, severity)


def test_a_gene_wide_contraindication_is_not_an_avoid_alert() -> None:
    fact = TripleFact(drug="eliglustat", gene="CYP2D6", variant=None, relation="influences", effect="other",
                      negated=False, confidence=0.9, source="fda_label", set_id="s", version=1, section="contraindications",
                      sentence="CERDELGA is contraindicated in the following patients based on CYP2D6 metabolizer status.")
    built = build_knowledge([fact], TABLE, min_label=0.3, min_pubmed=0.7)
    [item] = built["drugs"]["eliglustat"]["CYP2D6"]["gene"]
    assert (item["action"], item["severity"]) == ("monitor", "warning")


def test_literature_alone_never_raises_a_warning() -> None:
    reading = read_action("Carriers should not use the drug.", None, "toxicity", "pubmed")
    assert reading.action == "avoid" and reading.severity == "info"


def test_recommendations_are_the_evidence_without_cross_references() -> None:
    s = ("ZIAGEN is contraindicated in patients with a prior hypersensitivity reaction to abacavir and in "
         "HLA ‑ B*5701-positive patients [see Contraindications ( 4 ), Warnings and Precautions ( 5.1 )] .")
    assert clean_sentence(s) == ("ZIAGEN is contraindicated in patients with a prior hypersensitivity reaction to "
                                 "abacavir and in HLA-B*5701-positive patients.")


def test_factor_keys_say_what_a_patient_must_have() -> None:
    assert factor_keys("CYP2C19", "CYP2C19 Poor Metabolizer", "", TABLE) == [("phenotype:Poor Metabolizer", {})]
    assert factor_keys("HLA-B", "HLA-B*57:01", "", TABLE) == [("hla:HLA-B*57:01", {})]
    assert factor_keys("CYP2C9", "CYP2C9*3/*3", "", TABLE) == [("diplotype:*3/*3", {"implies": "Poor Metabolizer"})]
    assert factor_keys("CYP2C9", "CYP2C9*3", "patients homozygous for CYP2C9*3", TABLE) == [("allele:*3", {"copies": 2})]
    assert factor_keys("VKORC1", "VKORC1:-1639G>A", "", TABLE) == [("variant:rs9923231", {})]
    assert factor_keys("CYP2C19", "CYP2C19 No Function", "two loss-of-function alleles", TABLE) == [
        ("function:No", {"copies": 2})]
    assert factor_keys("CYP2C19", None, "", TABLE) == [("gene", {})]


# ---- knowledge from triples (pure) ---------------------------------------------------------------
def _facts() -> list[TripleFact]:
    out = []
    for d in fixture_triples()["triples"]:
        e = d["evidence"]
        out.append(TripleFact(drug=d["drug"], gene=d["gene"], variant=d["variant"], relation=d["relation"],
                              effect=d["effect"], negated=d["negated"], confidence=d["confidence"], source=e["source"],
                              sentence=e["sentence"], set_id=e["set_id"], version=e["version"], section=e["section"],
                              pmid=e["pmid"], year=e["year"], own_label=not e["sentence"].startswith("Consider avoiding DILANTIN")))
    return out


def _knowledge(min_label: float = 0.3, facts: list[TripleFact] | None = None):
    from pgxlit.check.knowledge import Knowledge

    built = build_knowledge(facts if facts is not None else _facts(), TABLE, min_label=min_label, min_pubmed=0.7)
    return Knowledge(drugs=built["drugs"], fingerprint="test", min_label=min_label, min_pubmed=0.7)


def _profile(*diplotypes: str, phenotypes: tuple[str, ...] = (), hla: tuple[str, ...] = ()):
    return profile_from_args(list(diplotypes), list(phenotypes), list(hla), TABLE)


def test_clopidogrel_poor_metabolizer_gets_the_boxed_warning_alternative() -> None:
    result = check(DrugRef("clopidogrel"), _profile("CYP2C19 *2/*2"), _knowledge())
    [alert] = result.alerts
    assert alert["action"] == "alternative" and alert["severity"] == "critical"
    assert alert["recommendation"].startswith("Consider use of another platelet P2Y 12 inhibitor")
    assert alert["citations"][0]["section"] == "boxed_warning" and alert["citations"][0]["set_id"]
    assert len(alert["summary"]) <= 140


def test_normal_results_give_no_alert_but_are_explained() -> None:
    result = check(DrugRef("clopidogrel"), _profile("CYP2C19 *1/*1"), _knowledge())
    assert result.alerts == []
    assert result.genes_considered == ["CYP2C19"]
    assert any("standard use" in line for line in result.explanation)


def test_a_drug_without_evidence_gives_no_alert_and_says_why() -> None:
    result = check(DrugRef("metformin"), _profile("CYP2C19 *2/*2"), _knowledge())
    assert result.alerts == [] and result.genes_considered == ["CYP2C19"]
    assert "no label or literature evidence" in result.explanation[0]


def test_a_sentence_from_another_drugs_label_does_not_feed_alerts() -> None:
    # "Consider avoiding DILANTIN as an alternative to carbamazepine ..." is phenytoin's label
    result = check(DrugRef("carbamazepine"), _profile(hla=("HLA-B*15:02 positive",)), _knowledge())
    assert result.alerts == []


def test_the_threshold_decides_which_triples_feed_alerts() -> None:
    # "... should not use Codeine Sulfate Tablets." was extracted with confidence 0.34
    strict = check(DrugRef("codeine"), _profile(phenotypes=("CYP2D6 ultrarapid metabolizer",)), _knowledge(min_label=0.5))
    loose = check(DrugRef("codeine"), _profile(phenotypes=("CYP2D6 ultrarapid metabolizer",)), _knowledge(min_label=0.3))
    assert loose.alerts[0]["action"] == "avoid"
    assert strict.alerts[0]["action"] != "avoid"


def test_literature_only_evidence_is_information_not_a_warning() -> None:
    result = check(DrugRef("tacrolimus"), _profile("CYP3A5 *1/*3"), _knowledge())
    [alert] = result.alerts
    assert alert["severity"] == "info" and alert["citations"][0]["source"] == "pubmed"
    assert "literature only" in alert["detail"]


def test_siponimod_heterozygote_gets_the_dose_and_homozygote_the_contraindication() -> None:
    k = _knowledge()
    het = check(DrugRef("siponimod"), _profile("CYP2C9 *1/*3"), k).alerts[0]
    hom = check(DrugRef("siponimod"), _profile("CYP2C9 *3/*3"), k).alerts[0]
    assert (het["action"], het["severity"]) == ("dose change", "warning")
    assert "1 mg" in het["recommendation"]
    assert (hom["action"], hom["severity"]) == ("avoid", "critical")


# ---- the store, the cache, curators --------------------------------------------------------------
def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'test.sqlite'}", **kw)


def test_knowledge_is_cached_and_rebuilt_when_triples_change(tmp_path: Path, store) -> None:
    settings = Settings(home=tmp_path / "home", db_url=store.url)
    fill_store(store)
    first = load_knowledge(store, settings, TABLE)
    assert knowledge_path(settings).is_file()
    again = load_knowledge(store, settings, TABLE)
    assert again.fingerprint == first.fingerprint and again.drugs == first.drugs
    rejected = set_review_status(store, "Consider use of another platelet P2Y 12 inhibitor", "rejected")
    assert rejected >= 1
    after = load_knowledge(store, settings, TABLE)
    assert after.fingerprint != first.fingerprint
    result = check(DrugRef("clopidogrel"), _profile("CYP2C19 *2/*2"), after)
    assert all(a["action"] != "alternative" for a in result.alerts)


def test_an_accepted_triple_feeds_alerts_below_the_threshold(tmp_path: Path, store) -> None:
    fill_store(store)
    settings = Settings(home=tmp_path / "home", db_url=store.url, check_min_confidence=0.9)
    service = CheckService(settings, store=store)
    before = service.run("codeine", _profile(phenotypes=("CYP2D6 ultrarapid metabolizer",)))
    assert not any(a["action"] == "avoid" for a in before.alerts)
    set_review_status(store, "Therefore, individuals who are ultra-rapid metabolizers should not use", "accepted")
    after = service.rebuild()
    result = check(DrugRef("codeine"), _profile(phenotypes=("CYP2D6 ultrarapid metabolizer",)), after)
    assert result.alerts[0]["action"] == "avoid" and result.alerts[0]["review_status"] == "accepted"


def test_only_the_latest_label_version_counts(store) -> None:
    fill_store(store)
    facts = read_facts(store)
    assert facts and all(f.source != "fda_label" or f.version is not None for f in facts)
    assert any(not f.own_label for f in facts)  # the phenytoin sentence about carbamazepine


def test_drug_names_resolve_through_the_lexicon() -> None:
    assert resolve_drug("Plavix").name == "clopidogrel"
    assert resolve_drug("clopidogrel bisulfate 75 mg oral tablet").name == "clopidogrel"
    assert resolve_drug("notadrugxyz") is None


# ---- the command ---------------------------------------------------------------------------------
@pytest.fixture()
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pgxlit.cli import app
    from pgxlit.config import get_settings
    from pgxlit.store import Store

    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    store = Store(get_settings().resolved_db_url)
    fill_store(store)
    store.close()
    runner = CliRunner()

    def invoke(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def test_check_json_follows_the_contract(cli) -> None:
    result = cli("check", "--drug", "Plavix", "--diplotype", "CYP2C19 *2/*2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"drug", "alerts", "explanation"}
    assert data["drug"] == "clopidogrel"
    [alert] = data["alerts"]
    assert set(alert) >= {"gene", "phenotype", "action", "severity", "summary", "detail", "citations", "confidence",
                          "review_status"}
    assert alert["severity"] in ("critical", "warning", "info")
    assert alert["action"] in ("avoid", "alternative", "dose change", "monitor", "no action")


def test_check_with_a_profile_file_reports_bad_entries_and_still_alerts(cli) -> None:
    result = cli("check", "--drug", "codeine", "--profile", str(FIXTURES / "profile_mixed.json"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["alerts"][0]["gene"] == "CYP2D6" and data["alerts"][0]["action"] == "avoid"
    assert any("NOTAGENE1" in m for m in data["messages"])


def test_check_with_nothing_applicable_lists_the_genes_considered(cli) -> None:
    result = cli("check", "--drug", "abacavir", "--hla", "HLA-B*57:01 negative", "--json")
    data = json.loads(result.output)
    assert data["alerts"] == [] and "HLA-B" in data["genes_considered"]


def test_check_of_an_unknown_drug_says_so(cli) -> None:
    result = cli("check", "--drug", "notadrugxyz", "--diplotype", "CYP2C19 *2/*2")
    assert result.exit_code == 1
    assert "notadrugxyz" in result.output and "not a drug pgxlit knows" in result.output


def test_check_without_results_asks_for_them(cli) -> None:
    result = cli("check", "--drug", "clopidogrel")
    assert result.exit_code == 1 and "--profile" in result.output


def test_check_human_output_shows_the_alert_and_its_source(cli) -> None:
    result = cli("check", "--drug", "abacavir", "--hla", "HLA-B*57:01 positive")
    assert result.exit_code == 0, result.output
    assert "CRITICAL" in result.output and "avoid" in result.output and "FDA label" in result.output
    places = [line.strip() for line in result.output.splitlines() if line.strip().startswith(("FDA label", "PubMed"))]
    assert places and len(places) == len({p.split(" (")[0] for p in places})  # each place once, sentences counted


# ---- agreement with the FDA label list -----------------------------------------------------------
def test_eval_counts_hits_misses_and_false_alarms() -> None:
    from pgxlit.check.evaluate import evaluate, read_label_list

    rows = read_label_list(FIXTURES / "drugLabels_min.tsv")  # real rows of PharmGKB's drugLabels.tsv
    assert ("abacavir", "HLA-B", "Genetic testing required") in rows
    result = evaluate(rows, {"abacavir", "codeine", "carbamazepine"}, _knowledge(), TABLE)
    assert result["drugs_judged"] == 3
    assert result["risk_cases"] == 3 and result["hits"] == 2
    assert result["missed_pairs"] == ["carbamazepine–HLA-A (Actionable PGx)"]  # no HLA-A triple in the fixture
    assert result["normal_false_alarms"] == 0 and result["unlisted_false_alarms"] == 0
    assert result["unlisted_cases"] > 0


def test_serve_and_eval_check_are_registered(cli) -> None:
    serve = cli("serve", "--help")
    assert serve.exit_code == 0 and "--host" in serve.output and "--port" in serve.output
    evaluate = cli("eval", "check", "--help")
    assert evaluate.exit_code == 0 and "--path" in evaluate.output


def test_an_empty_store_says_to_extract_first(tmp_path: Path, store) -> None:
    service = CheckService(Settings(home=tmp_path / "home", db_url=store.url), store=store)
    result = service.run("clopidogrel", _profile("CYP2C19 *2/*2"))
    assert result.alerts == [] and "pgxlit extract" in result.explanation[0]


# ---- issue 16 item 2: a result that cannot be read is said, never silent ----------------------------------
@pytest.mark.parametrize("entry", ["CYP2C19 *2/", "CYP2C19 *2/*2/*3"])
def test_check_names_a_result_it_could_not_read(cli, entry: str) -> None:
    value = entry.split(" ", 1)[1]
    data = json.loads(cli("check", "--drug", "Plavix", "--diplotype", entry, "--json").output)
    assert data["alerts"] == []
    assert any(m.startswith(f"CYP2C19 result {value!r} could not be read; no PGx check was done for this gene")
               for m in data["messages"]), data["messages"]
    human = cli("check", "--drug", "Plavix", "--diplotype", entry)
    assert "NOT CHECKED" in human.output and f"CYP2C19 result {value!r} could not be read" in human.output


def test_check_reads_a_pharmcat_report_profile(cli, tmp_path: Path) -> None:
    report = {"genes": {"CPIC": {"CYP2C19": {"geneSymbol": "CYP2C19", "recommendationDiplotypes": [
        {"label": "*2/*2", "phenotypes": ["Poor Metabolizer"], "activityScore": None}]}}}}
    path = tmp_path / "pharmcat.report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    data = json.loads(cli("check", "--drug", "Plavix", "--profile", str(path), "--json").output)
    assert data["alerts"][0]["gene"] == "CYP2C19" and data["alerts"][0]["phenotype"] == "Poor Metabolizer"


def test_check_reads_a_fhir_bundle_profile_and_names_what_it_could_not_read(cli, tmp_path: Path) -> None:
    request = json.loads((FIXTURES / "cds_order_select_clopidogrel.json").read_text(encoding="utf-8"))
    path = tmp_path / "observations.json"
    path.write_text(json.dumps(request["prefetch"]["genotypes"]), encoding="utf-8")
    data = json.loads(cli("check", "--drug", "Plavix", "--profile", str(path), "--json").output)
    assert data["alerts"][0]["gene"] == "CYP2C19" and data["alerts"][0]["phenotype"] == "Poor Metabolizer"
    assert any(m.startswith("XYZ9 result '*1/*2' could not be read") for m in data["messages"])


def test_check_says_an_indeterminate_result_was_not_checked(cli) -> None:
    result = cli("check", "--drug", "Plavix", "--diplotype", "CYP2C19 *1/*12")
    assert result.exit_code == 0, result.output
    assert "NOT CHECKED" in result.output and "*12" in result.output and "Indeterminate" in result.output


def test_cli_never_shows_not_covered_as_safe() -> None:
    from pgxlit.check.cli import outcome_lines

    lines = outcome_lines("lapatinib", [
        {"gene": "CYP2D6", "phenotype": "Poor Metabolizer", "outcome": "not_covered"},
        {"gene": "CYP2C19", "phenotype": "Normal Metabolizer", "outcome": "normal"},
        {"gene": "ERBB2", "phenotype": "x", "outcome": "no_interaction"},
    ])
    assert lines[0].startswith("[dim]NOT COVERED[/] CYP2D6") and "no evidence of safety" in lines[0]
    assert "green" not in lines[0] and lines[1].startswith("[green]NORMAL[/]")
    assert lines[2].startswith("[bold]NO INTERACTION STATED[/]")
    assert outcome_lines("x", []) == ["[dim]NOT COVERED[/] no result given could be checked against x"]
