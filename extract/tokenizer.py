"""The pipeline's tokenizer: scispaCy's rule tokenizer, keeping the input string on the doc.

`doc.text` rebuilds the string token by token; measured, a sixth of the rule pipeline's time went
to that and to `Span.text`. Components read the kept string with `doc_text` instead. A module of
its own so that components (extract/boundaries.py) and the pipeline that registers them both
import it, and neither imports the other at load time.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["KeepText", "doc_text", "rule_tokenizer", "split_compounds", "split_final_periods"]

_TEXT_KEY = "pgx_text"


# Participles and adjectives that follow a name in a hyphenated compound ("warfarin-induced",
# "CYP2D6-mediated", "HER2-positive"). PGxCorpus, the trained NER's training text, is split at entity
# edges ("amiodarone -induced hepatotoxicity"); running text is not, and the compound stayed one token,
# so the NER tagged "LTG-related" whole and the abbreviation detector missed "sirolimus (SRL)-based".
_COMPOUND_TAILS = (
    "induced|related|associated|based|mediated|dependent|independent|treated|pretreated|positive|negative|"
    "resistant|sensitive|refractory|responsive|intolerant|tolerant|naive|naïve|infected|coinfected|"
    "monoinfected|exposed|deficient|mutated|mutant|expressing|overexpressing|containing|targeted|"
    "selective|specific|linked|regulated|stimulated|inhibited|receiving|sparing|carrying"
)
_TAIL = rf"(?<=[\w)\]*])-(?:{_COMPOUND_TAILS})"
_COMPOUND = re.compile(_TAIL + r"\b", re.IGNORECASE)  # anywhere in a text
_COMPOUND_END = re.compile(_TAIL + "$", re.IGNORECASE)  # ending one token
# "(SRL)-based": an abbreviation in brackets before the tail (not "(S)-warfarin": two characters or more)
_BRACKETED = re.compile(r"\(([^()\s]{2,12})\)")


def _pieces(word: str) -> list[str] | None:
    """How one token "<head>-<tail>" splits (head, then "-tail"; a bracketed head into its brackets and
    the abbreviation), or None when it is no such compound."""
    match = _COMPOUND_END.search(word)
    if match is None or match.start() < 2:
        return None
    head, tail = word[: match.start()], word[match.start() :]
    bracketed = _BRACKETED.fullmatch(head)
    if bracketed:
        return ["(", bracketed.group(1), ")", tail]
    return [head, tail]


def split_compounds(doc: Doc, text: str) -> Doc:
    """Split each "<name>-<tail>" token (`_COMPOUND_TAILS`) of `doc`, made from `text`, into the name
    and "-<tail>", as PGxCorpus writes them; character offsets and the text stay the same."""
    splits = []
    for match in _COMPOUND.finditer(text):
        span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
        if span is not None and len(span) == 1 and (pieces := _pieces(span[0].text)):
            if not splits or splits[-1][0].i != span[0].i:  # "drug-related-induced": one split per token
                splits.append((span[0], pieces))
    if splits:
        with doc.retokenize() as retokenizer:
            for token, pieces in splits:
                retokenizer.split(token, pieces, heads=[(token, i) for i in range(len(pieces))])
    return doc


# A sentence that ends in a token ending with a capital letter keeps its period on that token
# ("681G-->A.", "C/C.", "hepatitis C."), where the sentencizer never sees it, so two sentences read as one.
_CAPITAL_PERIOD = re.compile(r"(?<=[A-Z])\.(?=\s+[A-Z])")
_NOTATION_SYMBOLS = frozenset(">→/=")  # "-1639G > A.", "G → A."
_DOTTED = re.compile(r"(?:[A-Za-z]{1,2}\.){2,}")  # "U.S.", "Ph.D.": an abbreviation, its period its own


def split_final_periods(doc: Doc, text: str) -> Doc:
    """Split the sentence-ending period off a token that ends "<capital letter>." ("3435C>T.", "CL/F.",
    "c.3435C-->T.", "hepatitis C.") when a capitalised word follows; an initial ("Lopez, J. R.") and a
    dotted abbreviation ("U.S.") keep theirs. Offsets and text stay the same."""
    splits = []
    for match in _CAPITAL_PERIOD.finditer(text):
        span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
        if span is None or len(span) != 1:
            continue
        token = span[0]
        word = token.text
        if len(word) < 2 or token.idx + len(word) != match.end() or _DOTTED.fullmatch(word):
            continue
        if len(word) == 2 and token.i > 0 and not _closes_word(doc[token.i - 1]):
            continue  # "J." after a name or an initial
        splits.append(token)
    if splits:
        with doc.retokenize() as retokenizer:
            for token in splits:
                retokenizer.split(token, [token.text[:-1], "."], heads=[(token, 0), (token, 1)])
    return doc


def _closes_word(previous: Any) -> bool:
    """Whether a one-letter token after `previous` ends a term, not an initial: glued to it
    ("3435C", ">", "T."), after a symbol ("-1639G > A.") or after a lower-case word ("hepatitis C.",
    "vitamin K.")."""
    return not previous.whitespace_ or previous.text[:1].islower() or previous.text[-1:] in _NOTATION_SYMBOLS


class KeepText:
    """A tokenizer wrapper that stores its input string in `doc.user_data`, splits compounds
    (`split_compounds`) and sentence-ending periods glued to a capital (`split_final_periods`)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        doc = split_final_periods(split_compounds(self.tokenizer(text), text), text)
        doc.user_data[_TEXT_KEY] = text
        return doc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


def rule_tokenizer(nlp: Language) -> KeepText:
    """scispaCy's rule tokenizer for `nlp` (keeps HLA-B*57:01, rs9923231 whole), text kept."""
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # a regex warning inside spaCy's tokenizer build
        return KeepText(combined_rule_tokenizer(nlp))


def doc_text(doc: Doc) -> str:
    """The doc's text (the tokenizer's input when our pipeline made it; spaCy keeps it exact)."""
    text = doc.user_data.get(_TEXT_KEY)
    return text if text is not None else doc.text
