"""The stored triples claims are compiled from, and their evidence sentences cleaned for display.

`read_facts` is the I/O edge (the store's public triple listing); everything else is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from dataclasses import dataclass
from typing import Any

from pgxlit.extract.quote import strip_layout


@dataclass(frozen=True, slots=True)
class TripleFact:
    """The columns of one stored triple a claim needs (plus its review status)."""

    drug: str
    gene: str | None
    variant: str | None
    relation: str
    effect: str
    negated: bool
    confidence: float
    source: str
    sentence: str
    review_status: str = "pending"
    set_id: str | None = None
    version: int | None = None
    section: str | None = None
    effective_time: str | None = None
    pmid: str | None = None
    year: int | None = None
    own_label: bool = True  # the sentence is in the label of the triple's drug
    triple_id: int | None = None


def usable(fact: TripleFact, min_label: float, min_pubmed: float) -> bool:
    """Accepted by a curator, or confident enough for its source; rejected never."""
    if fact.review_status == "rejected":
        return False
    if fact.review_status == "accepted":
        return True
    return fact.confidence >= (min_label if fact.source == "fda_label" else min_pubmed)


def _label_names(generic: Iterable[str]) -> set[str]:
    from pgxlit.extract.lexicons import normalise_drug

    canon: set[str] = set()
    for n in generic:
        found = normalise_drug(n)
        canon.add((found[1] if found else n).lower())
        canon.update(p.strip().lower() for p in re.split(r"\band\b|,|/", n.lower()) if p.strip())
    return {c for c in canon if c}


def read_facts(store: Any, drugs: Iterable[str] | None = None) -> list[TripleFact]:
    """PGx triples of the latest version of each label, and of abstracts, with review status
    (only those of `drugs` when given: a review recompiles the drugs it touched, not the store).

    A label sentence about another drug ("avoid with fluconazole") is kept but marked: it is not
    the label's own drug's claim."""
    from pgxlit.extract.lexicons import normalise_drug

    names = {key: _label_names(generic) for key, generic in store.label_generic_names().items()}
    facts: list[TripleFact] = []
    entries = (store.triple_entries_in_order(pgx=True, latest_only=True) if drugs is None
               else store.triple_entries_in_order(pgx=True, latest_only=True, drugs=drugs))
    for entry in entries:
        t, e = entry.triple, entry.triple.evidence
        own = True
        if e.source == "fda_label":
            label_names = names.get((e.set_id, e.version), set())
            own = not label_names or t.drug.lower() in label_names or any(
                (normalise_drug(n) or ("", n))[1].lower() == t.drug.lower() for n in label_names)
        facts.append(TripleFact(
            drug=t.drug, gene=t.gene, variant=t.variant, relation=t.relation, effect=t.effect, negated=t.negated,
            confidence=t.confidence, source=e.source, sentence=e.sentence, review_status=entry.review_status,
            set_id=e.set_id, version=e.version, section=e.section, effective_time=e.effective_time, pmid=e.pmid,
            year=e.year, own_label=own, triple_id=entry.id,
        ))
    return facts


# ---- sentences for display ----------------------------------------------------------------------------
_CROSSREF = re.compile(r"\s*\[\s*see [^\]]{0,200}\]\s*\.?|\s*\(\s*see [^)]{0,160}\)\s*\.?", re.I)
_LEADING_REF = re.compile(r"^\s*(?:[\d.]+\s*,?\s*)*\d*\s*\)\s*(?:•\s*)?|^\s*•\s*|^\s*\(\s*[\d.]+\s*\)\s*")
_TRAILING_REF = re.compile(r"\s*\(\s*(?:[\d.]+\s*,?\s*)*\s*$|\s*\(\s*[\d.]+\s*\)\s*$|\s*•\s*$")
_HEADING = re.compile(r"^\s*\d+(?:\.\d+)*\s+(?:[A-Z][A-Z ,&/-]{3,}\s+)(?=[A-Z][a-z]|[A-Z]{2,}\s)")
_SEGMENT_BREAK = re.compile(r"\s*\[\s*see [^\]]{0,200}\]\s*\.?|\s*•\s*")
LONG_SENTENCE = 240

# A pointer to elsewhere in the label ("See full prescribing information for complete boxed warning.",
# "[see Warnings and Precautions (5.1)]"): it points at evidence, it is none.
_POINTER = re.compile(r"\bsee (?:the )?full prescribing information\b[^.]*\.?|\[\s*see [^\]]{0,200}\]|\(\s*see [^)]{0,160}\)",
                      re.I)
_WORD = re.compile(r"\b[a-z]{3,}\b")
_CELL = re.compile(r"\[[^\]]*\brow \d+\]$")  # a table cell rendered as evidence (extract.table_facts.render)


def is_heading_or_pointer(sentence: str) -> bool:
    """A heading ("WARNING: DIMINISHED ANTIPLATELET EFFECT IN PATIENTS WITH TWO LOSS-OF-FUNCTION
    ALLELES OF THE CYP2C19 GENE") or a pointer ("See full prescribing information for ...") with no
    statement of its own: no evidence sentence, neither for a claim nor for a quote. What remains
    without pointers and layout is empty, or has no closing full stop and is written in capitals or
    title case (an all-capitals sentence of an old boxed warning ends with one and stays evidence)."""
    rest = strip_layout(_POINTER.sub(" ", sentence)).strip(" \t•·;:,-–")
    if not rest:
        return True
    if rest.endswith((".", "!", "?")) or _CELL.search(rest):
        return False
    long_words = re.findall(r"[A-Za-z][\w-]{3,}", rest)
    capitalised = sum(w[0].isupper() for w in long_words)
    return not _WORD.search(rest) or (len(long_words) >= 2 and capitalised >= 0.75 * len(long_words))


@lru_cache(maxsize=65536)  # pure, and the same label sentences are cleaned again at every refresh
def clean_sentence(sentence: str, focus: tuple[str, ...] = ()) -> str:
    """The evidence sentence without cross-references and section numbers, for display.

    A long run-on (a contraindications list read as one sentence) is cut to the first of its
    parts that names the factor (`focus`), so the recommendation is the evidence's own words.
    """
    text = " ".join(sentence.split())
    if len(text) > LONG_SENTENCE and focus:
        parts = [p for p in _SEGMENT_BREAK.split(text) if p.strip()]
        low_focus = [f.lower() for f in focus if f]
        hit = next((p for p in parts if any(f in p.lower() for f in low_focus)), None)
        if hit is not None:
            text = hit
    text = _CROSSREF.sub(" ", text)
    text = strip_layout(_LEADING_REF.sub("", text))
    text = _HEADING.sub("", text)
    text = _TRAILING_REF.sub("", text)
    text = re.sub(r"\s+([.,;:])", r"\1", text).strip()
    text = re.sub(r"\s*‑\s*", "-", text)
    if text and text.isupper():
        text = text[0] + text[1:].lower()
    if text and text[-1] not in ".!?":
        text += "."
    return text



def focus_words(fact: TripleFact) -> tuple[str, ...]:
    """Words that locate the factor in a run-on sentence: the variant as written and its gene."""
    words: list[str] = []
    if fact.variant:
        # "GENE:name" is a gene-level variant name; an HLA allele's colon ("HLA-B*58:01") is its own
        v = fact.variant[len(fact.gene) + 1:] if fact.gene and fact.variant.startswith(f"{fact.gene}:") \
            else fact.variant
        words += [v, v.replace(":", ""), v.split(" ")[-1]]
        if "*" in v:
            words.append(v[v.index("*"):])
    if fact.gene:
        words.append(fact.gene)
    return tuple(w for w in words if len(w) > 2)


@lru_cache(maxsize=65536)
def same_sentence_key(sentence: str) -> str:
    """One key for a sentence however versions, generics and layouts wrote it."""
    return re.sub(r"\W+", " ", clean_sentence(sentence).lower()).strip()
