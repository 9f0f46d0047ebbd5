"""The trained NER component `pgx_ner_model` (extract/ner_model.py).

The merge rules and the missing-model error run everywhere; the tests on the
shipped model skip when corpora/models/pgx_ner is absent (it is built by
`python tools/train_ner.py --shared ../shared --out corpora/models/pgx_ner`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pgxlit.extract.ner_model import BUILD_COMMAND, PgxNerModel, default_model_dir, load_model, merge_mentions
from pgxlit.extract.pipeline import build_nlp
from pgxlit.records import Mention

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "corpora" / "models" / "pgx_ner"

needs_model = pytest.mark.skipif(
    not (MODEL / "meta.json").is_file(),
    reason=f"no trained model in {MODEL}; build it with `{BUILD_COMMAND}`",
)

# Sentences quoted from PubMed abstracts (../shared/corpora/pubmed/efetch/pharmgkb_vda_2018).
# PMID 21362365
BREAST = (
    "Although chemotherapy is one of the most important treatments of breast cancer, "
    "it is limited by significant inter-individual variations in response and toxicity."
)
# PMID 28261502
CLOPIDOGREL = (
    "An interindividual variability in response to Clopidogrel has been widely described "
    "in patients with acute coronary syndromes (ACS)."
)


def m(text: str, phrase: str, label: str, norm: str | None = None, source: str = "rule") -> Mention:
    start = text.index(phrase)
    return Mention(start, start + len(phrase), label, phrase, norm, source=source)


def spans(mentions: list[Mention]) -> set[tuple[str, str, str]]:
    return {(x.text, x.label, x.source) for x in mentions}


# ---- merging (no model needed) ------------------------------------------------------

TEXT = "The pharmacokinetics of warfarin differed by CYP2C9 genotype and by VKORC1."


def test_fill_keeps_rule_mentions_and_adds_nested_phrases() -> None:
    rule = [m(TEXT, "warfarin", "DRUG", "PA451906|warfarin"), m(TEXT, "CYP2C9", "GENE", "HGNC:2623|CYP2C9")]
    model = [
        m(TEXT, "pharmacokinetics of warfarin", "PHENOTYPE", source="model"),
        m(TEXT, "warfarin", "DRUG", source="model"),  # same as a rule mention: the rule one (with norm) stays
        m(TEXT, "CYP2C9 genotype", "VARIANT", source="model"),  # a phrase around a rule name: nested, added
        m(TEXT, "VKORC1", "GENE", source="model"),  # nothing there: added
    ]
    out = merge_mentions(rule, model, "fill")
    assert spans(out) == {
        ("pharmacokinetics of warfarin", "PHENOTYPE", "model"),
        ("warfarin", "DRUG", "rule"),
        ("CYP2C9", "GENE", "rule"),
        ("CYP2C9 genotype", "VARIANT", "model"),
        ("VKORC1", "GENE", "model"),
    }
    assert [x.norm for x in out if x.source == "rule"] == ["PA451906|warfarin", "HGNC:2623|CYP2C9"]
    assert [x.start for x in out] == sorted(x.start for x in out)


def test_fill_drops_model_mentions_that_clash_with_rules() -> None:
    rule = [m(TEXT, "CYP2C9 genotype", "VARIANT"), m(TEXT, "warfarin", "DRUG")]
    model = [
        m(TEXT, "genotype and", "PHENOTYPE", source="model"),  # crosses a rule mention
        m(TEXT, "CYP2C9 genotype", "PHENOTYPE", source="model"),  # same extent, other label
        m(TEXT, "warfarin differed", "DRUG", source="model"),  # same head (names) as the rule's DRUG
    ]
    assert spans(merge_mentions(rule, model, "fill")) == {("CYP2C9 genotype", "VARIANT", "rule"), ("warfarin", "DRUG", "rule")}


def test_fill_flat_adds_only_where_no_rule_mention_overlaps() -> None:
    rule = [m(TEXT, "warfarin", "DRUG")]
    model = [m(TEXT, "pharmacokinetics of warfarin", "PHENOTYPE", source="model"), m(TEXT, "VKORC1", "GENE", source="model")]
    assert spans(merge_mentions(rule, model, "fill", nested=False)) == {("warfarin", "DRUG", "rule"), ("VKORC1", "GENE", "model")}


def test_replace_prefers_the_model_but_keeps_norms_of_identical_mentions() -> None:
    rule = [m(TEXT, "warfarin", "DRUG", "PA451906|warfarin"), m(TEXT, "CYP2C9 genotype", "VARIANT")]
    model = [m(TEXT, "warfarin", "DRUG", source="model"), m(TEXT, "CYP2C9", "GENE", source="model"),
             m(TEXT, "genotype and", "PHENOTYPE", source="model")]
    out = merge_mentions(rule, model, "replace")
    assert spans(out) == {("warfarin", "DRUG", "rule"), ("CYP2C9", "GENE", "model"), ("genotype and", "PHENOTYPE", "model")}
    assert out[0].norm == "PA451906|warfarin"
    with pytest.raises(ValueError, match="mode"):
        merge_mentions(rule, model, "union")


# ---- the missing-model error -----------------------------------------------------------


def test_missing_model_names_the_path_and_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        PgxNerModel(path=str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in str(err.value)
    assert "python tools/train_ner.py --shared ../shared --out corpora/models/pgx_ner" in str(err.value)


def test_factory_must_follow_pgx_entities(tmp_path: Path) -> None:
    import pgxlit.extract.ner_model  # noqa: F401  (registers the factory)

    nlp = build_nlp(components=("sentencizer",))
    with pytest.raises(ValueError, match="after pgx_entities"):
        nlp.add_pipe("pgx_ner_model", config={"path": str(tmp_path)})


# ---- the shipped model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def nlp():
    if not (MODEL / "meta.json").is_file():
        pytest.skip(f"no trained model in {MODEL}; build it with `{BUILD_COMMAND}`")
    import pgxlit.extract.ner_model  # noqa: F401

    pipeline = build_nlp()
    pipeline.add_pipe("pgx_ner_model")
    return pipeline


def annotate(nlp, text: str) -> list[Mention]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scispaCy's W036 on texts without abbreviations
        return nlp(text)._.pgx_mentions


@needs_model
def test_shipped_model_is_the_default_small_and_loaded_once() -> None:
    assert default_model_dir().resolve() == MODEL.resolve()
    size = sum(f.stat().st_size for f in MODEL.rglob("*") if f.is_file())
    assert size < 15_000_000
    assert load_model() is load_model(MODEL)
    assert load_model().labels == {"DRUG", "GENE", "VARIANT", "ALLELE", "PHENOTYPE", "DISEASE"}


@needs_model
def test_model_adds_phenotypes_and_diseases(nlp) -> None:
    found = annotate(nlp, BREAST) + annotate(nlp, CLOPIDOGREL)
    model = {(x.text, x.label) for x in found if x.source == "model"}
    assert any(label == "DISEASE" and "breast cancer" in text for text, label in model), model
    assert any(label == "DISEASE" and "acute coronary syndromes" in text for text, label in model), model
    assert any(label == "PHENOTYPE" and ("response" in text or "toxicity" in text) for text, label in model), model


@needs_model
def test_rule_mentions_and_norms_survive(nlp) -> None:
    rules_only = build_nlp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        before = rules_only(CLOPIDOGREL)._.pgx_mentions
    after = annotate(nlp, CLOPIDOGREL)
    assert any(x.label == "DRUG" and x.norm and "clopidogrel" in x.norm for x in before)
    assert set(before) <= set(after)  # every rule mention, norm and all, is still there
    assert all(x.source == "model" for x in set(after) - set(before))


@needs_model
def test_labels_limit_what_the_model_adds() -> None:
    import pgxlit.extract.ner_model  # noqa: F401

    pipeline = build_nlp()
    pipeline.add_pipe("pgx_ner_model", config={"labels": ["DISEASE"]})
    added = {x.label for x in annotate(pipeline, BREAST) if x.source == "model"}
    assert added == {"DISEASE"}
