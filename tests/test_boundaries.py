"""Sentence starts at label subsection headings (extract/boundaries.py), on recorded label text.

Every label here is read from ../shared/corpora/fda/openfda/labels (file and section named beside it)
through the openFDA parser, so the text is exactly what `pgxlit load` stores; the tests skip when
../shared is absent. The last tests walk every recorded openFDA label and every recorded abstract.
"""

from __future__ import annotations

import io
import re
import warnings
from functools import lru_cache
from pathlib import Path

import pytest

from pgxlit.extract.boundaries import heading_starts, section_number
from pgxlit.extract.pipeline import DEFAULT_COMPONENTS, RULE_MODULES, annotate_texts, build_nlp, rules_nlp
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.records import LabelVersion


@lru_cache(maxsize=2)
def _pipelines() -> tuple:
    """The sentencizer alone and with `pgx_headings`: their difference is what the component adds."""
    return build_nlp(components=("sentencizer",)), build_nlp(components=("sentencizer", "pgx_headings"))


def _label(shared: Path, name: str) -> LabelVersion:
    path = shared / "corpora/fda/openfda/labels" / name
    [label], _ = parse_openfda_response(path.read_bytes(), str(path))
    return label


def _section_with(shared: Path, name: str, phrase: str) -> str:
    texts = [s.text for s in _label(shared, name).sections if phrase in s.text]
    assert texts, f"{phrase!r} is no longer in {name}"
    return texts[0]


def _sentences(text: str, with_headings: bool = True) -> list[str]:
    nlp = _pipelines()[1 if with_headings else 0]
    return [s.text for s in nlp(text).sents]


def _added_starts(text: str) -> list[int]:
    plain, headed = _pipelines()
    before = {s.start_char for s in plain(text).sents}
    return sorted({s.start_char for s in headed(text).sents} - before)


def _holding(sentences: list[str], phrase: str) -> str:
    return next(s for s in sentences if phrase in s)


# ---- heading runs are split -------------------------------------------------------------------
def test_highlights_run_into_the_first_subsection_is_split(shared: Path) -> None:
    # AUSTEDO (NDA208082), dosage_and_administration: "… 36 mg per day ( 2.4 , 8.7 ) 2.1 Dosing Information …"
    text = _section_with(shared, "NDA208082.json", "( 2.4 , 8.7 ) 2.1 Dosing Information")
    before = _holding(_sentences(text, with_headings=False), "poor CYP2D6 metabolizers is 36 mg")
    assert "2.1 Dosing Information" in before  # the sentencizer alone runs both subsections together
    sentences = _sentences(text)
    dose = _holding(sentences, "poor CYP2D6 metabolizers is 36 mg")
    assert dose.endswith("36 mg per day ( 2.4 , 8.7 )")  # the reference stays whole, the heading goes
    assert _holding(sentences, "Dosing Information").startswith("2.1 Dosing Information The dose of AUSTEDO")


def test_table_footnote_run_into_the_next_subsection_is_split(shared: Path) -> None:
    # venlafaxine (NDA020699), drug_interactions: "… (Fig 3 and Metabolism Section 12.3) figure1 7.7 Effects of …"
    text = _section_with(shared, "NDA020699.json", "figure1 7.7 Effects of")
    sentences = _sentences(text)
    footnote = _holding(sentences, "Metabolism Section 12.3")
    assert footnote.endswith("(Fig 3 and Metabolism Section 12.3) figure1")  # "Section 12.3" is not cut
    assert _holding(sentences, "7.7 Effects").startswith("7.7 Effects of Venlafaxine")


def test_a_section_text_that_runs_on_into_the_next_sections_is_followed(shared: Path) -> None:
    # PURIXAN (NDA205919): its dosage_and_administration text carries sections 2 to 8; the adverse
    # reactions' highlights run into "6.1 Clinical Trials Experience" after "6 ADVERSE REACTIONS".
    text = _section_with(shared, "NDA205919.json", "(5.5) ] 6.1 Clinical Trials Experience")
    assert section_number(text) == (2,)
    assert _holding(_sentences(text), "Clinical Trials Experience").startswith("6.1 Clinical Trials Experience")


# ---- references, decimals and tables are never split ------------------------------------------
def test_bracketed_references_are_not_headings(shared: Path) -> None:
    # ARAKODA (NDA210607), dosage_and_administration: "[see Contraindications ( 4 ), Warnings and Precautions ( 5.1 )]"
    text = _section_with(shared, "NDA210607.json", "Warnings and Precautions ( 5.1 )]")
    for offset in _added_starts(text):
        assert not text[:offset].rstrip().endswith(("(", "[", ",", "see", "Section", "and", "to"))
    sentence = _holding(_sentences(text), "deficiency prior to prescribing ARAKODA [see Contraindications")
    assert sentence.startswith("2.1 Tests to be Performed Prior to ARAKODA Dose Initiation")
    assert sentence.endswith("Warnings and Precautions ( 5.1 )] .")


def test_table_values_followed_by_a_row_label_are_not_headings(shared: Path) -> None:
    # Herceptin (BLA103946), adverse_reactions table run into prose: "… 42.9 6.6 Vomiting 38 1.1 …"
    text = _section_with(shared, "BLA103946.json", "42.9 6.6 Vomiting")
    assert section_number(text) == (6,)
    at = text.index("42.9 6.6 Vomiting") + len("42.9 ")
    assert at not in _added_starts(text)


def test_cited_section_numbers_and_doses_are_not_headings() -> None:
    # The shapes of cross-references and doses in label prose, in a section numbered like a label's.
    text = ("8 USE IN SPECIFIC POPULATIONS Reduce the dose in poor metabolizers [see Warnings and Precautions "
            "(8.2)] and see Section 8.3 Hepatic Impairment for the rest, 8.4 Pediatric Use as in 8.5 Geriatric Use. "
            "Give 8.2 mg once daily, or 8.2 Tablets twice daily")
    assert heading_starts(text, [0]) == []


def test_abstracts_are_left_alone(shared: Path) -> None:
    """Odds ratios, doses and numbered results in abstracts ("OR 2.1 (95% CI …") never start a sentence:
    an abstract opens with no section number, so the component returns before reading it."""
    from pgxlit.extract.triples import abstract_text
    from pgxlit.ingest.pubmed_xml import iter_pubmed_xml
    from pgxlit.records import Abstract

    texts = []
    for path in sorted((shared / "corpora/pubmed/efetch/pharmgkb_vda_2018").glob("*.xml")):
        texts += [abstract_text(r) for r in iter_pubmed_xml(io.BytesIO(path.read_bytes()), str(path))
                  if isinstance(r, Abstract) and r.has_text]
    assert len(texts) > 1000
    assert sum(bool(re.search(r"\bOR[ =:]+\d\.\d", t)) for t in texts) > 10  # the shapes are there to be misread
    plain, headed = _pipelines()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for text, a, b in zip(texts, plain.pipe(texts), headed.pipe(texts), strict=True):
            assert [s.start_char for s in a.sents] == [s.start_char for s in b.sents], text[:80]


def test_every_added_start_on_every_recorded_label_is_a_heading(shared: Path) -> None:
    """Over every recorded openFDA label: the component only adds starts (never removes one), and each is a
    subsection number of the section's own numbering, outside brackets, not after a citing word, followed
    by a capitalised word."""
    added = 0
    plain, headed = _pipelines()
    for path in sorted((shared / "corpora/fda/openfda/labels").glob("*.json")):
        labels, _ = parse_openfda_response(path.read_bytes(), str(path))
        # a text opening with no section number is returned untouched (the abstracts test walks that path)
        texts = [s.text for label in labels for s in label.sections if section_number(s.text) is not None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for text, a, b in zip(texts, plain.pipe(texts), headed.pipe(texts), strict=True):
                before, after = {s.start_char for s in a.sents}, {s.start_char for s in b.sents}
                assert before <= after, path.name
                for offset in sorted(after - before):
                    added += 1
                    where = f"{path.name}: …{text[max(0, offset - 60):offset]}‖{text[offset:offset + 40]}…"
                    assert re.match(r"\d{1,2}\.\d{1,2}(\.\d{1,2})?\s*[A-Z]", text[offset:]), where
                    sentence_start = max(s for s in before if s < offset)
                    prefix = text[sentence_start:offset]
                    assert prefix.count("(") + prefix.count("[") <= prefix.count(")") + prefix.count("]"), where
                    assert not re.search(r"(?:\bsee|\bSection|[(\[,])\s*$", prefix, re.IGNORECASE), where
                    number = section_number(text)
                    assert number is not None and int(text[offset:].split(".")[0]) >= number[0], where
    assert added > 500  # measured: 692 over every latest label of the store, most of them here


# ---- wiring ------------------------------------------------------------------------------------
def test_the_rule_pipeline_splits_headings_and_its_version_follows_the_component(shared: Path) -> None:
    assert DEFAULT_COMPONENTS.index("pgx_headings") == DEFAULT_COMPONENTS.index("sentencizer") + 1
    assert "pgxlit.extract.boundaries" in RULE_MODULES  # an edit of the rule gives another handover folder
    text = _section_with(shared, "NDA208082.json", "( 2.4 , 8.7 ) 2.1 Dosing Information")
    [sentences] = list(annotate_texts([text], rules_nlp()))
    heading = next(s for s in sentences if s.text.startswith("2.1 Dosing Information"))
    assert text[heading.start : heading.end] == heading.text
    assert all(m.end <= len(heading.text) for m in heading.mentions)


def test_long_runs_of_numbers_stay_linear() -> None:
    """Brackets are counted once and section titles found in one pass: 50,000 candidates in one sentence take
    well under a second (a per-candidate rescan of the sentence took minutes)."""
    import time

    for text in ("1 A " + "3.1 Abc " * 50_000, "1 A " + "( 1.2 Abc " * 50_000, "5 W " + "5.9 Nausea 3 " * 40_000):
        t0 = time.process_time()
        assert heading_starts(text, [0]) == []
        assert time.process_time() - t0 < 5.0
