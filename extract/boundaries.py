"""Sentence starts at label subsection headings that carry no period before them.

A label section's text runs its numbered subsections together: "… ( 2.4 , 8.7 ) 2.1 Dosing
Information The …", "… figure1 7.7 Effects of …". The sentencizer sees no period there, so two
subsections became one "sentence": the evidence a curator reads grew long and the relation step
paired mentions across unrelated subsections. This component (``pgx_headings``, after the
sentencizer) marks a sentence start at such a heading number.

Why the label's own numbering and not "a number then a capital": flattened tables in label prose
are full of "42.9 6.6 Vomiting 38 …" (measured over every recorded latest label: a loose pattern fired
in ~1,100 places of tables against ~3,000 headings). A section's text opens with its own number
("5 WARNINGS AND PRECAUTIONS", "12.3 Pharmacokinetics"), and its subsections follow in order, so a
heading is a number of the same section that comes next in that order:

* only texts that open with a section number 1-17 (the PLR sections; abstracts never do) are read;
* a candidate is N.M or N.M.K with the opening section's N, outside brackets within its sentence,
  not after a word that cites a section ("see", "Section", "and", "to", "Table", "(", ",", …), and
  followed by a capitalised word;
* it is taken when it is the next number (N.M+1, or N.M.1 / N.M.K+1 / N.M+1 after a third level),
  or a later number of the section when it reads as a heading (no figure-like token just before it,
  no number among the three words after it: a table row is "6.5 Decreased sodium 25 4.7");
* a text that runs on into later sections ("… 6 ADVERSE REACTIONS … 6.1 Clinical …") moves on to a
  later section's N'.1 once that section's title has come since the last heading;
* a heading the sentencizer already starts a sentence with (after a period) resets the order,
  so a section that lists its subsections twice is followed through both.

Nothing here knows a drug, a label or a section name. A heading glued to the token before it by the
tokenizer ("(8.4)8.1 Pregnancy") cannot start a sentence and only advances the order.
"""

from __future__ import annotations

import bisect
import re

import numpy
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.tokens import Doc

from pgxlit.extract.tokenizer import doc_text

MAX_SECTION = 17  # PLR full prescribing information: sections 1-17
_LEAD = re.compile(r"\s*(\d{1,2})(?:\.(\d{1,2}))?(?:\.(\d{1,2}))?\.?\s+(?=[A-Z])")
_CANDIDATE = re.compile(r"(?<![\w.])(\d{1,2})\.(\d{1,2})(?:\.(\d{1,2}))?(?![\w.])(?=\s*[A-Z](?:[A-Za-z]|\.\s))")
# the words a cross-reference puts before a section number: "[see … (5.1)]", "Section 8.6", "5.1 and 5.2"
_CITING = re.compile(r"(?:\b(?:see|sections?|and|or|to|in|through|table|tables)|[(\[,])\s*$|[-–]$", re.IGNORECASE)
_FIGURE = re.compile(r"[-−±]?\d*\.\d+%?\)?")  # a table value just before the number: "42.9 6.6 Vomiting"
_TITLE = re.compile(r"(?<![\w.])(\d{1,2})\.?\s+[A-Z]{2,}")  # a section's number and capitalised title
_HAS_DIGIT = re.compile(r"\d")
_HAS_WORD = re.compile(r"[A-Za-z]{2}")
_LOOKAHEAD_WORDS = 3

Number = tuple[int, ...]


def _following(last: Number) -> set[Number]:
    """The numbers that may come straight after `last` in a section's order."""
    if len(last) == 1:
        return {(last[0], 1)}
    if len(last) == 2:
        return {(last[0], last[1] + 1), (*last, 1)}
    return {(*last[:2], last[2] + 1), (last[0], last[1] + 1)}


def section_number(text: str) -> Number | None:
    """The number a section's text opens with ("5 WARNINGS…" -> (5,), "12.3 Pharmacokinetics…" -> (12, 3))."""
    m = _LEAD.match(text)
    if m is None or not 1 <= int(m.group(1)) <= MAX_SECTION:
        return None
    return tuple(int(g) for g in m.groups() if g is not None)


def _reads_as_heading(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start].split()[-1:]
    if before and _FIGURE.fullmatch(before[0]):
        return False
    after = text[end : end + 200].split()[:_LOOKAHEAD_WORDS]
    return not any(_HAS_DIGIT.search(w) and not _HAS_WORD.search(w) for w in after)


def _section_titles(text: str) -> dict[int, list[int]]:
    """Where each section's capitalised title stands ("6 ADVERSE REACTIONS"), by section number: one
    pass over the text, so a text that runs on into later sections costs no second reading per candidate."""
    found: dict[int, list[int]] = {}
    for m in _TITLE.finditer(text):
        found.setdefault(int(m.group(1)), []).append(m.start())
    return found


def _opens_since(titles: dict[int, list[int]], section: int, since: int, start: int) -> bool:
    at = titles.get(section, ())
    i = bisect.bisect_left(at, since)
    return i < len(at) and at[i] < start


def _bracket_depth(text: str, depth: int = 0) -> int:
    """Open brackets after reading `text`, starting from `depth` (a stray closing one counts for nothing)."""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
    return depth


def heading_starts(text: str, sentence_starts: list[int]) -> list[int]:
    """Character offsets of subsection heading numbers in a label section's text, in order.

    `sentence_starts` are the offsets where sentences already start (ascending); a candidate's brackets
    are counted from the start of its sentence, so an unclosed bracket does not blind the rest of the text.
    Linear in the text: brackets are counted once, titles found in one pass."""
    last = section_number(text)
    if last is None:
        return []
    out: list[int] = []
    titles: dict[int, list[int]] | None = None
    sent_i = 0
    since = 0  # where the text after the last heading taken begins
    depth, depth_at = 0, 0  # open brackets in the current sentence up to `depth_at`
    for m in _CANDIDATE.finditer(text):
        start = m.start()
        number = tuple(int(g) for g in m.groups() if g is not None)
        if start == 0 or number[0] < last[0]:
            continue
        if number[0] > last[0]:
            # a later section's first subsection, in a text that runs on into the next sections ("… 6 ADVERSE
            # REACTIONS … 6.1 Clinical Trials Experience"): its title came since the last heading
            titles = _section_titles(text) if titles is None else titles
            if number[1:] != (1,) or not _opens_since(titles, number[0], since, start):
                continue
        while sent_i + 1 < len(sentence_starts) and sentence_starts[sent_i + 1] <= start:
            sent_i += 1
        sent_start = sentence_starts[sent_i] if sentence_starts else 0
        if depth_at < sent_start:
            depth, depth_at = 0, sent_start
        depth, depth_at = _bracket_depth(text[depth_at:start], depth), start
        if start == sent_start:  # already a sentence start: a heading after a period; follow its order
            if _reads_as_heading(text, start, m.end()):
                last, since = number, start
            continue
        if depth or _CITING.search(text[max(sent_start, start - 40) : start]):
            continue
        if number in _following(last) or (number > last and _reads_as_heading(text, start, m.end())):
            out.append(start)
            last, since = number, start
    return out


class HeadingBoundaries:
    """Start a sentence at each subsection heading number of a label section (see the module docstring)."""

    def __call__(self, doc: Doc) -> Doc:
        if len(doc) < 2:
            return doc
        text = doc_text(doc)
        if section_number(text) is None:  # abstracts and unnumbered sections: nothing to do, cheaply
            return doc
        # token offsets and sentence starts as arrays: building a Token per token cost 6x the rule itself
        offsets, starts = doc.to_array([IDX, SENT_START]).T
        at = heading_starts(text, offsets[starts == 1].tolist())
        for offset in at:
            i = int(numpy.searchsorted(offsets, offset))
            if 0 < i < len(doc) and offsets[i] == offset:
                doc[i].is_sent_start = True
        return doc


@Language.factory("pgx_headings")
def make_heading_boundaries(nlp: Language, name: str) -> HeadingBoundaries:
    return HeadingBoundaries()
