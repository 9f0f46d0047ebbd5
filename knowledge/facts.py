"""The stored triples claims are compiled from, and their evidence sentences cleaned for display.

`read_facts` is the I/O edge (the store's public triple listing); everything else is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


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


def same_sentence_key(sentence: str) -> str:
    """One key for a sentence however versions, generics and layouts wrote it."""
    return re.sub(r"\W+", " ", clean_sentence(sentence).lower()).strip()
