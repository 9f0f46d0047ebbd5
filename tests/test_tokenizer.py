"""The pipeline tokenizer splits "<name>-induced"-style compounds the way PGxCorpus writes them, and
the period of a sentence that ends in a capital letter."""

from __future__ import annotations

import pytest

from pgxlit.extract.pipeline import rules_nlp
from pgxlit.extract.tokenizer import doc_text


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("LTG-related rash", ["LTG", "-related", "rash"]),
        ("Carbamazepine-induced SJS", ["Carbamazepine", "-induced", "SJS"]),
        ("a sirolimus (SRL)-based regimen", ["a", "sirolimus", "(", "SRL", ")", "-based", "regimen"]),
        ("HLA-B*58:01-positive patients", ["HLA-B*58:01", "-positive", "patients"]),
        ("CYP2D6-Mediated metabolism", ["CYP2D6", "-Mediated", "metabolism"]),
        ("HIV-1-infected adults", ["HIV-1", "-infected", "adults"]),
    ],
)
def test_compounds_split_at_the_tail(text: str, tokens: list[str]) -> None:
    doc = rules_nlp()(text)
    assert [t.text for t in doc] == tokens
    assert doc.text == text == doc_text(doc)
    assert all(text[t.idx : t.idx + len(t.text)] == t.text for t in doc)


@pytest.mark.parametrize(
    "text",
    ["(S)-warfarin", "well-known", "wild-type", "progression-free", "HLA-B", "x-induced", "induced", "-induced"],
)
def test_other_hyphens_stay_as_they_were(text: str) -> None:
    doc = rules_nlp()(text)
    assert "".join(t.text_with_ws for t in doc) == text
    assert not any(t.text.lower() == "-induced" and t.i > 0 for t in doc)


def test_a_bracketed_short_form_before_a_tail_is_an_abbreviation() -> None:
    # PMID 28245187 writes "sirolimus (SRL)-based"; before the split the detector never saw "(SRL)".
    doc = rules_nlp()("Patients received a sirolimus (SRL)-based regimen. SRL trough levels were measured.")
    found = {(a.text, a._.long_form.text) for a in doc._.abbreviations}
    assert found == {("SRL", "sirolimus")}
    later = [m for m in doc._.pgx_mentions if m.text == "SRL"]
    assert len(later) == 2 and all(m.norm and m.norm.endswith("|sirolimus") for m in later)


def test_a_token_with_two_tails_splits_once() -> None:
    doc = rules_nlp()("drug-related-induced rash")
    assert [t.text for t in doc] == ["drug-related", "-induced", "rash"]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # the first from PMID 16267764 (pharmgkb_vda_2018), the others shortened from recorded abstracts
        ("Among nelfinavir recipients, a trend toward decreased virologic failure was associated with the "
         "polymorphism CYP2C19 681G-->A. Genetic variants predict plasma exposure to efavirenz and nelfinavir.",
         "Among nelfinavir recipients, a trend toward decreased virologic failure was associated with the "
         "polymorphism CYP2C19 681G-->A."),
        ("ABCB1 c.3435C-->T. The relationship was examined.", "ABCB1 c.3435C-->T."),
        ("Carriers of ABCB1 3435C>T. Pain was scored.", "Carriers of ABCB1 3435C>T."),
        ("The VKORC1 c.-1639G > A. The A allele was common.", "The VKORC1 c.-1639G > A."),
        ("Patients had chronic hepatitis C. The IL28B genotype was studied.", "Patients had chronic hepatitis C."),
        ("Tacrolimus CL/F. The CYP3A5 genotype explained it.", "Tacrolimus CL/F."),
    ],
)
def test_a_sentence_ending_in_a_capital_letter_ends_there(text: str, first: str) -> None:
    doc = rules_nlp()(text)
    assert next(iter(doc.sents)).text == first
    assert doc.text == text and all(text[t.idx : t.idx + len(t.text)] == t.text for t in doc)


@pytest.mark.parametrize(
    "text",
    ["Reported by Lopez, J. R. Nonspecific effects were seen.", "Made in the U.S. The drug was given.",
     "Smith J. Brown K. and colleagues studied it."],
)
def test_initials_and_dotted_abbreviations_keep_their_period(text: str) -> None:
    doc = rules_nlp()(text)
    assert len(list(doc.sents)) == 1
