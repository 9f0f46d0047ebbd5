"""Sentences of label text and their editorial-free canonical form.

Why: label revisions are full of edits nobody needs to read — re-flowed whitespace, renumbered
subsections ("(5.2)" -> "(5.3)"), "( 4.1 )" vs "(4.1)", curly quotes, a dropped comma. Sentences
are compared by a canonical form that folds those away, so only wording changes reach the digest.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

# A sentence ends at . ! ? (and the cross-reference after it, "... activity. ( 5.4 )") followed by
# space and something that can start a sentence.
_BOUNDARY = re.compile(r"(?<=[.!?])(\s*[(\[][\d.,;\s]+[)\]])?\s+(?=[\"'(\[•]?\s?[A-Z0-9•])|\s+(?=•)"
                       # Highlights end their statements with a cross-reference and no period:
                       # "... 825 mg/m 2 orally twice daily ( 2.1 ) Without Radiation Therapy: ..."
                       r"|(?<=[a-z%)])(\s*\(\s*\d{1,2}(?:\.\d{1,2})*(?:\s*,\s*\d{1,2}(?:\.\d{1,2})*)*\s*\))\s+(?=[A-Z][a-z])")
# Abbreviations that end in a period but do not end a sentence.
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|approx|Dr|No|Nos|Fig|Figs|Ref|al|Inc|Ltd|Co|U\.S|St|Jr|Sr|min|max|ca|cf|viz)\.|"
    r"\b[A-Z]\.)$"
)
# An inline subsection heading after a closing bracket: "...(12.3) ] 4.2 Hypersensitivity XELODA is ...";
# and text some openFDA versions glue together without spaces: "...agents.ZIAGEN is", "(2.4)2.1 Screening".
_HEADING_AFTER_BRACKET = re.compile(r"(?<=[)\]])\s*(?=\d{1,2}(?:\.\d{1,2})+\.?\s*[A-Z])"
                                    r"|(?<=[a-z]{2}[.!?])(?=[A-Z][A-Za-z]|\d{1,2}\.\d{1,2}\s*[A-Z])"
                                    # A numbered subsection heading after a table flattened into the
                                    # text ("... ↓ 50 mg/m2 2.3 Dosage in Patients With Reduced UGT1A1"):
                                    # a number, then a title of capitalised words.
                                    r"|(?<=[\w%)])(?<!Table)(?<!Figure)(?<!Section)(?<!see)(?<!and)(?<!to)(?<!or)\s+"
                                    r"(?=\d{1,2}\.\d{1,2}\.?\s+[A-Z][a-z]{2,}(?:\s+(?:[A-Z][\w-]*|of|in|and|or|with|for|the|to|on)){2,}\s)")


def split_sentences(text: str) -> list[str]:
    """Sentences in reading order; paragraph breaks and table rows always split."""
    out: list[str] = []
    for block in re.split(r"\n+", text):
        block = " ".join(block.split())
        if not block:
            continue
        pieces = _HEADING_AFTER_BRACKET.split(block)
        for piece in pieces:
            start = 0
            for m in _BOUNDARY.finditer(piece):
                xref = m.group(1) or m.group(2)
                candidate = piece[start : m.start() + len(xref) if xref else m.start()]
                if _ABBREV.search(piece[start : m.start()]):
                    continue
                if candidate.strip():
                    out.append(candidate.strip())
                start = m.end()
            tail = piece[start:].strip()
            if tail:
                out.append(tail)
    return out


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "‑": "-", "‐": "-", "−": "-",
                         "\u00a0": " ", "®": "", "™": ""})
# "(5.1)", "( 2.5 , 5.4 )", "(4)", "(5.1, 5.2; 12.3)": cross-references to numbered subsections.
_XREF = re.compile(r"[(\[]\s*\d{1,2}(?:\.\d{1,2})*(?:\s*[,;]\s*\d{1,2}(?:\.\d{1,2})*)*\s*[)\]]")
# A subsection number at the start of a sentence ("4.2 Hypersensitivity ...", "12.5. Pharmacogenomics"):
# a heading starts with a capital, so a leading dose ("2.5 mg | ...", a table row) is never taken for one.
_LEADING_NUMBER = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})*\.?\s+(?=[A-Z\"'(])")
# "section 5.1", "Sections 2.3 and 5.4": the numbers, not the word.
_SECTION_NUMBER = re.compile(r"\b(sections?)\s+\d{1,2}(?:\.\d{1,2})*(?:\s*(?:,|and|or)\s*\d{1,2}(?:\.\d{1,2})*)*",
                             re.IGNORECASE)
# Patient leaflets switch list bullets between "•" and a lone "o" from one version to the next.
_O_BULLET = re.compile(r"(?:(?<=\s)|^)o(?=\s)")
_O_BULLET_GLUED = re.compile(r"(?:(?<=\s)|^)o(?=[A-Z][a-z])")
# Debris of the word processor a label was written in, and its revision stamp: "Error! Hyperlink
# reference not valid.", "Error! Reference source not found.", "Revised: 3/2021", with the cross-reference
# the error cut short ("(4, Error! ..." where the label meant "(4, 5.7)"). Never the label's content.
_DEBRIS = re.compile(r"(?:[(\[]\s*\d{1,2}(?:\.\d{1,2})*(?:\s*[,;]\s*\d{1,2}(?:\.\d{1,2})*)*\s*[,;]?\s*)?"  # "(4, Error!"
                     r"\bError!\s*(?:(?:Hyperlink reference not valid|Reference source not found|Bookmark not defined)\.?)?"
                     r"|\bHyperlink reference not valid\.?|\bRevised:?\s*\d{1,2}\s*/\s*(?:\d{4}|\d{2})\b")
_TABLE_NUMBER = re.compile(r"\b(table|figure)\s+\d{1,2}[a-z]?\b", re.IGNORECASE)
# Punctuation that carries no meaning; < > ≤ ≥ % × / + and decimal points do, and stay.
_PUNCT = re.compile(r"[,;:!?\"'()\[\]{}*_`•·▪◦]|(?<!\d)\.|\.(?!\d)|(?<![\d\s])-|-(?![\d])")


@lru_cache(maxsize=1 << 16)
def canonical(sentence: str) -> str:
    """The sentence with editorial noise folded: case, spacing, punctuation, section/table numbers,
    word-processor debris and revision stamps."""
    s = unicodedata.normalize("NFKC", sentence).translate(_QUOTES)
    s = _DEBRIS.sub(" ", s)
    s = _XREF.sub(" ", s)
    s = _LEADING_NUMBER.sub("", s)
    s = _SECTION_NUMBER.sub(r"\1 #", s)
    s = _TABLE_NUMBER.sub(r"\1 #", s)
    s = _O_BULLET_GLUED.sub(" ", s)
    s = _PUNCT.sub(" ", s)
    s = _O_BULLET.sub(" ", s)
    return " ".join(s.casefold().split())


# A subsection number glued between words once spaces are gone ("starting2.2adults").
_GLUED_NUMBER = re.compile(r"(?<=[a-z])\d{1,2}(?:\.\d{1,2})+(?=[a-z])")


def editorial_key(sentence: str) -> str:
    """What must differ for a change to be more than editorial: the canonical form without any
    spacing, since openFDA renders sub- and superscripts with or without a space ("P2Y12",
    "P2Y 12", "mm3", "mm 3") from one version to the next."""
    return _GLUED_NUMBER.sub("", canonical(sentence).replace(" ", ""))


_NUMBERISH = re.compile(r"[-+(\[]*[<>≥≤~↑↓]?\d[\d.,:/–-]*%?[)\],;]*|[%±<>≥≤=–↑↓-]|n|N|NA")


def looks_like_table(text: str) -> bool:
    """Is this "sentence" a table's row (rendered "a | b | c") or a table run together into prose
    (openFDA's text fields hold their tables flattened): many words, many of them numbers, or the
    same cell text again and again?"""
    if " | " in text:
        return True
    words = text.split()
    n = len(words)
    if n < 30:
        return False
    numeric = sum(1 for w in words if _NUMBERISH.fullmatch(w)) / n
    trigrams = [" ".join(words[i : i + 3]) for i in range(n - 2)]
    repeated = max((trigrams.count(t) for t in set(trigrams)), default=0)
    return numeric >= 0.15 or repeated >= 4 or (n >= 150 and numeric >= 0.05)


def similarity(a: str, b: str) -> float:
    """Word-level similarity of two canonical texts, 0..1 (difflib ratio on words)."""
    wa, wb = a.split(), b.split()
    if not wa and not wb:
        return 1.0
    return SequenceMatcher(None, wa, wb, autojunk=False).ratio()


def word_set_similarity(a: str, b: str) -> float:
    """Cheap overlap of two texts' word sets (Jaccard), for comparing whole sections."""
    sa, sb = set(a.split()), set(b.split())
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


# "[see Warnings and Precautions (5.1)]", "(see WARNINGS)": where to read more, not what the label says.
_SEE_XREF = re.compile(r"[\[(]\s*see\s[^\[\]()]*(?:\([^()]*\)[^\[\]()]*)*[\])]", re.IGNORECASE)


def without_cross_references(text: str) -> str:
    """The text without its "[see ...]" pointers, whose section names ("Heterozygous Familial
    Hypercholesterolemia in Pediatric Patients (2.2)") would otherwise look like content."""
    return _SEE_XREF.sub(" ", text)


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) runs turning `old` into `new` word by word; op is "=", "-" or "+". For highlights."""
    a, b = re.findall(r"\S+\s*", old), re.findall(r"\S+\s*", new)
    ka = [canonical(w) or w for w in a]
    kb = [canonical(w) or w for w in b]
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, ka, kb, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("=", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            runs.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("+", "".join(b[j1:j2])))
    return runs
