"""scispaCy's abbreviation detector with a cheaper way of finding the brackets.

scispaCy finds "( ... )" candidates with a spaCy Matcher pattern `( + )`, which
walks every token of every document and made the detector a quarter of the rule
pipeline's time. Here the same candidates come from the token ids in one numpy
array; everything after that (Schwartz & Hearst's filters and long-form search,
the document-wide search for later uses of each short form) is scispaCy's own
code, so the abbreviations found are the same (tests/test_extract.py compares
both on recorded abstracts).
"""

from __future__ import annotations

import numpy as np
from scispacy.abbreviation import AbbreviationDetector, filter_matches
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.tokens import Doc

# scispaCy drops candidates of more than 8 tokens inside the brackets.
_MAX_INSIDE = 8


def bracket_candidates(doc: Doc) -> list[tuple[int, int, int]]:
    """Every (-1, start, end) token span strictly inside a "(" ... ")" pair, at most 8 tokens long,
    in the order spaCy's Matcher emits them (as each ")" is reached, the innermost first), which
    decides which definition wins when a short form is defined twice: what scispaCy's matcher
    yields after it strips the brackets."""
    if not len(doc):
        return []
    orth = doc.to_array(ORTH)
    opens = np.flatnonzero(orth == doc.vocab.strings["("])
    if not len(opens):
        return []
    closes = np.flatnonzero(orth == doc.vocab.strings[")"])
    out = []
    for i in opens.tolist():
        for j in closes[np.searchsorted(closes, i + 2) :].tolist():
            if j - (i + 1) > _MAX_INSIDE:
                break
            out.append((-1, i + 1, j))
    out.sort(key=lambda m: (m[2], -m[1]))
    return out


class FastAbbreviationDetector(AbbreviationDetector):
    """`abbreviation_detector` with bracket candidates from `bracket_candidates`."""

    def __call__(self, doc: Doc) -> Doc:
        filtered = filter_matches(bracket_candidates(doc), doc)
        if not filtered:
            return doc  # no definition, so no short form to look for elsewhere in the doc
        for long_form, short_forms in self.find_matches_for(filtered, doc):
            for short in short_forms:
                short._.long_form = long_form
                doc._.abbreviations.append(short)
        return doc


@Language.factory("pgx_abbreviations")
def make_pgx_abbreviations(nlp: Language, name: str) -> FastAbbreviationDetector:
    return FastAbbreviationDetector(nlp, name)
