"""A stored evidence sentence as a reader should see it quoted: the one cleaner.

Label text carries its layout into sentences (list bullets, "5.1 ) •" cross-reference residue, a
section number with its heading, a heading repeated by the layout). Answers, claims and
`pgxlit triples` all show sentences through these functions, so a quote reads the same wherever
it is printed; the stored sentence is never changed (evidence offsets point into it).
"""

from __future__ import annotations

import re

# Layout debris a label's text carries into a sentence: list bullets, cross-reference residue
# ("5.1 ) •", "( 5.1 , 12.3 )"), and a section number with its all-caps heading ("2 DOSAGE AND
# ADMINISTRATION •Use ..."). A number is a section number only before a capital letter.
_LEAD_DEBRIS = re.compile(
    r"^\s*(?:\(\s*[\d.]+(?:\s*,\s*[\d.]+)*\s*\)|[\d.]+(?:\s*,\s*[\d.]+)*\s*\)|[•·▪\-–]"
    r"|\d{1,2}(?:\.\d{1,2})*\s+(?:[A-Z][A-Z0-9,&/()'-]*(?:\s+[A-Z0-9,&/()'-]+)*(?=\s+[•·▪]|\s+[A-Z]?[a-z]|\s+\d{1,2}\.\d))?(?=\s*[A-Z•·▪]|\s*\d{1,2}\.\d))\s*"
)
# A heading the layout repeats ("WARNING: DIMINISHED ... GENE WARNING: DIMINISHED ... GENE ..."):
# the same run of at least 12 characters, no lower-case letter in it, twice at the start.
_REPEATED_LEAD = re.compile(r"^([^\sa-z][^a-z]{11,240}?)\s+\1(?=\s|$)")


def strip_layout(text: str) -> str:
    """A sentence without the label layout's leading debris and without a heading repeated at its
    start: what a reader should see quoted. Pure; the sentence's own words are kept."""
    text = " ".join(text.split())
    for _ in range(6):
        before = text
        text = _LEAD_DEBRIS.sub("", text, count=1)
        text = _REPEATED_LEAD.sub(r"\1", text, count=1)
        if text == before:
            break
    return text


# Inline SPL markup (a cross-reference's <linkHtml>, a heading's <content>) leaves a space at each
# element edge when the label text is flattened: "[see Boxed Warning ] .", "( 5.2 , 5.4 )". Closed up:
# the space after an opening bracket, before a closing one, and before a mark that ends a clause (one
# followed by a space, a closing bracket or the end). Never inside a number or unit: "." and ":" after a
# digit stay apart ("increased by 2 .", "1 : 2" may be a ratio or an allele), as do " .5" and "5 %".
_AFTER_OPEN = re.compile(r"([(\[])\s+(?=\S)")
_BEFORE_CLOSE = re.compile(r"(?<=\S)\s+(?=[)\]])")
_BEFORE_MARK = re.compile(r"(?:(?<=[^\s\d])|(?<=\d)(?=\s+[,;]))\s+(?=[.,;:!?](?:\s|[)\]]|$))")


def close_up(text: str) -> str:
    """The text without the spaces markup left inside brackets and before clause punctuation (see above)."""
    return _BEFORE_MARK.sub("", _BEFORE_CLOSE.sub("", _AFTER_OPEN.sub(r"\1", text)))


LEADING_NOISE = re.compile(r"^(?:[\d.,\s]+\)\s*|[•·▪\-–]\s*)+")
TRAILING_NOISE = re.compile(r"(?:\s*[•·(]\s*)+$")


def tidy(sentence: str) -> str:
    """Label sentences carry list bullets and section numbers from the layout; readers need neither."""
    text = " ".join(sentence.split()).replace("\u2011", "-").replace("\u2010", "-")
    text = re.sub(r"HLA ?- ?B", "HLA-B", strip_layout(LEADING_NOISE.sub("", text)))
    return close_up(TRAILING_NOISE.sub("", text).strip())
