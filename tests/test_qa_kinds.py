"""Every kind of question a pharmacist asks, answered on a store built from the bundled snapshot.

The store holds the newest label version of a handful of snapshot drugs (codeine and tramadol for
CYP2D6, allopurinol, abacavir and carbamazepine for three different HLA-B alleles, citalopram and
escitalopram for a class, clopidogrel, capecitabine), a few clopidogrel abstracts, and one label
written here for a drug the shipped lexicon predates (daridorexant, approved 2022) whose text states
nothing pharmacogenomic. Everything is extracted with the real pipeline and indexed with the shipped
MiniLM model once per test session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.records import Abstract, LabelVersion, Section
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "corpora" / "snapshot"
DRUGS = ("codeine", "tramadol", "allopurinol", "abacavir", "carbamazepine", "citalopram", "escitalopram",
         "clopidogrel", "capecitabine")
NEW_DRUG = LabelVersion(
    set_id="00000000-0000-4000-8000-00000000d4d1", version=1, effective_time="20230110", spl_id=None,
    title="QUVIVIQ (daridorexant) tablets, for oral use", generic_names=("DARIDOREXANT HYDROCHLORIDE",),
    brand_names=("Quviviq",),
    sections=(
        Section(order=0, field="indications_and_usage", loinc="34067-9", title="1 INDICATIONS AND USAGE",
                text="QUVIVIQ is an orexin receptor antagonist indicated for the treatment of adult patients with "
                     "insomnia characterized by difficulties with sleep onset and/or sleep maintenance."),
        Section(order=1, field="dosage_and_administration", loinc="34068-7", title="2 DOSAGE AND ADMINISTRATION",
                text="The recommended dosage is 25 mg to 50 mg taken orally no more than once per night, within "
                     "30 minutes before going to bed, with at least 7 hours remaining prior to planned awakening."),
        Section(order=2, field="contraindications", loinc="34070-3", title="4 CONTRAINDICATIONS",
                text="QUVIVIQ is contraindicated in patients with narcolepsy."),
    ),
)


def _newest_own_labels(full: Store) -> list[LabelVersion]:
    """One label per drug of DRUGS: its newest version by effective date (embedding is the slow step)."""
    from pgxlit.extract.triples import label_subject

    newest: dict[str, LabelVersion] = {}
    for lv in full.label_versions():
        subject = label_subject(lv)
        if subject is not None and subject.name in DRUGS:
            known = newest.get(subject.name)
            if known is None or (lv.effective_time or "", lv.version) > (known.effective_time or "", known.version):
                newest[subject.name] = lv
    return sorted(newest.values(), key=lambda lv: lv.set_id)


@pytest.fixture(scope="session")
def kinds_world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from pgxlit.extract.run import run_extraction
    from pgxlit.index.build import update_index
    from pgxlit.ingest.load import Loader

    if not (SNAPSHOT / "manifest.tsv").is_file():
        pytest.skip(f"the bundled snapshot is missing at {SNAPSHOT}")
    full_home = tmp_path_factory.mktemp("kinds-full")
    full = Store(f"sqlite:///{full_home / 'full.sqlite'}")
    Loader(full, Settings(home=full_home)).load([SNAPSHOT])
    labels = _newest_own_labels(full)
    abstracts = []
    for _key, _sha, record in full.documents_for_extraction():
        if isinstance(record, Abstract) and "clopidogrel" in (record.title + record.abstract_text).lower():
            abstracts.append(record)
        if len(abstracts) >= 3:
            break
    full.close()
    home = tmp_path_factory.mktemp("kinds")
    settings = Settings(home=home, db_url=f"sqlite:///{home / 'pgxlit.sqlite'}")
    store = Store(settings.resolved_db_url)
    with store.transaction() as session:
        for lv in [*labels, NEW_DRUG]:
            store.save_label_version(session, lv, None, SaveCounts())
        for a in abstracts:
            store.save_abstract(session, a, None, SaveCounts())
    run_extraction(store)
    update_index(store, settings)
    return {"store": store, "settings": settings, "labels": labels}


@pytest.fixture(scope="session")
def answerer(kinds_world: dict):
    from pgxlit.qa.answer import Answerer

    return Answerer(kinds_world["store"], kinds_world["settings"])


CITED_LINE = re.compile(r"\[\d+(?:, \d+)*\]$")


def _assert_cited(answer) -> None:
    """Every line of the answer (and of its bottom line) ends in citations the answer carries."""
    keys = {c.key for c in answer.citations}
    assert keys, "an answer without citations"
    for line in [*answer.answer.splitlines(), *answer.bottom_line.splitlines()]:
        assert CITED_LINE.search(line.rstrip(".")), line
        for group in re.findall(r"\[(\d+(?:, \d+)*)\]", line):
            assert {int(k) for k in group.split(", ")} <= keys


def _sources_once(answer) -> None:
    """Each sentence is one number, however many versions, generics or set ids state it."""
    from pgxlit.qa.evidence import quote_key

    places = [(c.passage.id, c.text) for c in answer.citations]
    assert len(places) == len(set(places))
    sentences = [quote_key(c.text) for c in answer.citations]
    assert len(sentences) == len(set(sentences)), [c.text for c in answer.citations]


def test_can_i_give_drug_to_a_phenotype(answerer) -> None:
    answer = answerer.ask("Can I give codeine to a CYP2D6 ultra-rapid metabolizer?")
    assert answer.kind == "phenotype" and answer.groups == ("CYP2D6 ultrarapid metabolizer",)
    assert not answer.refused, answer.reason
    _assert_cited(answer)
    _sources_once(answer)
    assert all("codeine" in c.passage.drugs for c in answer.citations)
    assert re.search(r"ultra-?rapid", answer.answer, re.I)
    assert re.match(r"No: avoid codeine in CYP2D6 ultrarapid metabolizers \[\d+(, \d+)*\]\.", answer.bottom_line)
    assert answer.claims[0]["action"] == "avoid" and answer.claims[0]["applies"] is True


def test_another_drugs_text_is_not_evidence(answerer) -> None:
    """Metoprolol is named in citalopram's interaction text; that is no answer about metoprolol."""
    answer = answerer.ask("Is metoprolol affected by CYP2D6 poor metabolizer status?")
    assert answer.refused and not answer.citations and "metoprolol" in answer.reason


def test_what_genes_to_test_before_a_drug(answerer) -> None:
    answer = answerer.ask("What genes should I test before prescribing capecitabine?")
    assert answer.kind == "test" and not answer.refused
    assert answer.genes and answer.genes[0] == "DPYD"
    assert answer.bottom_line.startswith("Genes to test before capecitabine: DPYD.")
    _assert_cited(answer)


def test_which_drugs_are_affected_by_a_gene(answerer) -> None:
    answer = answerer.ask("Which drugs are affected by CYP2D6 status?")
    assert answer.kind == "affected_drugs" and not answer.refused
    assert {"codeine", "tramadol"} <= set(answer.drugs)
    assert not {"allopurinol", "abacavir", "capecitabine"} & set(answer.drugs)
    _assert_cited(answer)


def test_which_drugs_by_allele_keeps_the_allele_exact(answerer) -> None:
    answer = answerer.ask("Which drugs should be avoided in HLA-B*58:01 carriers?")
    assert answer.kind == "affected_drugs" and not answer.refused
    assert answer.drugs[0] == "allopurinol"
    assert "abacavir" not in answer.drugs
    assert "Avoid allopurinol in HLA-B*58:01 carriers [" in answer.bottom_line
    for c in answer.citations:
        text = c.text.replace(" ", "")
        assert not re.search(r"57:?01|15:?02", text) or re.search(r"58:?01", text), c.text
    _assert_cited(answer)


def test_which_drugs_for_an_allele_nothing_states_says_so_and_names_the_stored_alleles(answerer) -> None:
    """No stored text names HLA-B*13:01: no drug is named for it (not another allele's), the answer says
    so and what the stored HLA-B evidence is about, cited; it is not a refusal."""
    answer = answerer.ask("Which drugs should be avoided in HLA-B*13:01 carriers?")
    assert not answer.refused and answer.outcome == "nothing_found" and answer.drugs == ()
    assert answer.bottom_line.startswith(
        "No stored FDA label section or PubMed abstract states an effect for HLA-B*13:01 carriers;")
    for allele, drug in (("HLA-B*58:01", "allopurinol"), ("HLA-B*57:01", "abacavir"), ("HLA-B*15:02", "carbamazepine")):
        assert re.search(rf"{re.escape(allele)} carriers: [^\[]*{drug}", answer.bottom_line), answer.bottom_line
    _assert_cited(answer)
    _sources_once(answer)


def test_is_there_a_pgx_issue_with_a_drug(answerer) -> None:
    answer = answerer.ask("Is there a PGx issue with abacavir?")
    assert answer.kind == "issue" and not answer.refused
    assert "HLA-B" in answer.genes
    _assert_cited(answer)


def test_alternatives_when_a_patient_cannot_take_a_drug(answerer) -> None:
    answer = answerer.ask("What are the alternatives if a patient cannot take clopidogrel?")
    assert answer.kind == "alternatives" and not answer.refused
    assert re.search(r"\b(?:another|alternative|other)\b", answer.answer, re.I)
    assert "alternative to clopidogrel" in answer.bottom_line
    _assert_cited(answer)


def test_a_drug_class_means_its_members_in_the_store(answerer) -> None:
    answer = answerer.ask("Which SSRIs are affected by CYP2C19 status?")
    assert answer.kind == "affected_drugs" and not answer.refused
    assert set(answer.drugs) <= {"citalopram", "escitalopram"} and answer.drugs
    q = answerer.read("Is there a PGx issue with opioids?")
    assert q.drug_class == "opioids" and set(q.drugs) == {"codeine", "tramadol"}


def test_a_misspelt_drug_gets_did_you_mean_never_a_guess(answerer) -> None:
    answer = answerer.ask("Can I give clopidogrl to a CYP2C19 poor metabolizer?")
    assert answer.refused and answer.outcome == "did_you_mean" and not answer.citations
    assert "did you mean clopidogrel?" in answer.reason
    assert answer.suggestions[0] == "clopidogrel"


def test_a_format_request_is_honoured_and_json_keeps_citations(answerer) -> None:
    answer = answerer.ask("What genes should I test before capecitabine? Reply with only the gene symbols separated by ;")
    assert answer.kind == "test"
    assert answer.formatted is not None and answer.formatted.split(";")[0].strip() == "DPYD"
    assert all(re.fullmatch(r"[A-Z0-9-]+", g.strip()) for g in answer.formatted.split(";"))
    data = answer.to_json()
    assert data["citations"] and data["formatted"] == answer.formatted and data["bottom_line"]


def test_a_drug_known_only_from_its_stored_label_is_never_unknown(answerer) -> None:
    for question in ("Is there a PGx issue with daridorexant?", "Is there a PGx issue with Quviviq?"):
        answer = answerer.ask(question)
        assert not answer.refused, answer.reason
        assert answer.outcome == "nothing_found"
        assert re.search(r"the label for daridorexant[a-z ]* \(version 1", answer.answer)
        assert "state no pharmacogenomic effect" in answer.answer
        assert [c.passage.set_id for c in answer.citations] == [NEW_DRUG.set_id]
        _assert_cited(answer)


def test_drugs_with_nothing_stored_are_refused(answerer) -> None:
    answer = answerer.ask("Is there a PGx issue with warfarin?")
    assert answer.refused and "no indexed" in answer.reason and not answer.citations


def test_ask_json_carries_bottom_line_and_claims(kinds_world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pgxlit.cli import app
    from pgxlit.config import get_settings

    monkeypatch.setenv("PGXLIT_HOME", str(kinds_world["settings"].home))
    monkeypatch.setenv("PGXLIT_DB_URL", kinds_world["settings"].resolved_db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["ask", "Can I give codeine to a CYP2D6 ultrarapid metabolizer?", "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert {"bottom_line", "claims", "kind", "genes", "drugs", "citations"} <= set(data)
        assert data["kind"] == "phenotype" and data["citations"]
        result = runner.invoke(app, ["ask", "What genes should I test before capecitabine? "
                                            "Reply with only the gene symbols separated by ;"])
        assert result.exit_code == 0, result.output
        assert result.output.strip().split(";")[0] == "DPYD" and "[" not in result.output
    finally:
        get_settings.cache_clear()


def test_an_llm_writes_from_the_claims_and_is_held_to_the_same_citations(answerer) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from pgxlit.qa.llm import LlmAnswerer, build_messages, sources_for

    question = "Can I give codeine to a CYP2D6 ultra-rapid metabolizer?"
    model = FakeListChatModel(responses=["No: avoid codeine in CYP2D6 ultrarapid metabolizers [1]. "
                                         "Codeine is fine for everyone [9]."])
    answer = LlmAnswerer(answerer, model).ask(question)
    assert answer.answerer == "llm" and answer.kind == "phenotype"
    assert answer.answer == answer.bottom_line == "No: avoid codeine in CYP2D6 ultrarapid metabolizers [1]"
    assert any("not retrieved" in n for n in answer.notes)
    assert any(c["action"] == "avoid" and c["applies"] is True for c in answer.claims)
    q, hits, cands, _t = answerer.evidence(question)
    claims = answerer.question_claims(q)
    prompt = build_messages(question, sources_for(hits, cands, claims=claims), 4, claims)[1].content
    assert "Claims compiled from these sources" in prompt
    assert re.search(r"- codeine; CYP2D6; CYP2D6 ultrarapid metabolizers?; action: avoid; applies: yes \[\d", prompt)
