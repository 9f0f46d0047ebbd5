"""How much a change matters: the section it is in, and whether it touches pharmacogenomics.

Why: label-watch teams read the top of the digest. A change is PGx-relevant when the extraction
stage, run on the changed sentences, finds a pharmacogenomic triple in them (a gene, allele,
variant, metabolizer phenotype or biomarker that changes the drug's effect — the same rules that
fill the triples table), when it sits in the Pharmacogenomics section, or when a PGx triple stored
for one version and not the other was read from it. The section decides the tier
(boxed warning > contraindications > dosage > warnings/precautions > PGx/clinical pharmacology >
other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pgxlit.digest.diff import SentenceChange
from pgxlit.digest.model import TripleKey
from pgxlit.digest.text import canonical, without_cross_references
from pgxlit.extract.api import label_text_pgx_triples
from pgxlit.records import LabelVersion, Section, Triple
from pgxlit.sections import PGX_LOINC, base_code, digest_tier


def section_tier(section: Section) -> int:
    """0 (boxed warning) .. 5 (other), from the openFDA field, the LOINC code, then the title."""
    return digest_tier(section.field, section.loinc, canonical(section.title or ""))


def is_pgx_section(section: Section | None) -> bool:
    if section is None:
        return False
    name = base_code(section.field)
    return name == "pharmacogenomics" or section.loinc == PGX_LOINC or "pharmacogenomic" in (section.title or "").lower()


def triple_key(t: Triple) -> TripleKey:
    return TripleKey(t.drug, t.gene, t.variant, t.relation, t.effect, t.pgx, t.evidence.sentence, t.origin)


@dataclass(frozen=True, slots=True)
class Verdict:
    pgx: bool
    reasons: tuple[str, ...]
    weight: int
    triples_added: tuple[TripleKey, ...] = ()
    triples_removed: tuple[TripleKey, ...] = ()


# texts -> for each text, the PGx triple keys the extraction finds in it, given the label and section
Extractor = Callable[[Sequence[tuple[str, str]], LabelVersion, Section], list[set[TripleKey]]]


def extraction_triples(items: Sequence[tuple[str, str]], label: LabelVersion, section: Section) -> list[set[TripleKey]]:
    """PGx and tumour-biomarker triples extraction's rules find in (context, text) pairs, as keys;
    cross-references ("[see Warnings (5.1)]") are dropped first so they never make a change look PGx.
    A biomarker-only change is flagged with origin "somatic" and ranks after germline ones."""
    cleaned = [(context, without_cross_references(text)) for context, text in items]
    found = label_text_pgx_triples(cleaned, label, section.field, somatic=True)
    return [{triple_key(t) for t in triples} for triples in found]


def _factor(k: TripleKey) -> str:
    """How a reason names the factor; a tumour's biomarker says so, so it never reads as germline PGx."""
    return f"{k.factor()} (tumour biomarker)" if k.origin == "somatic" else k.factor()


def judge(
    change: SentenceChange,
    found_old: set[TripleKey],
    found_new: set[TripleKey],
    stored_added: Sequence[TripleKey] = (),
    stored_removed: Sequence[TripleKey] = (),
) -> Verdict:
    """PGx verdict for one change, from what extraction found in its old and new text and from
    the stored triples that appeared or disappeared with it."""
    reasons: list[str] = []
    if is_pgx_section(change.section) or is_pgx_section(change.old_section):
        reasons.append("pharmacogenomics section")
    old_f = {_factor(k) for k in found_old}
    new_f = {_factor(k) for k in found_new}
    for f in sorted(new_f - old_f):
        reasons.append(f"{f} (new text)")
    for f in sorted(old_f - new_f):
        reasons.append(f"{f} (old text)")
    for f in sorted(old_f & new_f):
        reasons.append(f"{f} (both)")
    new_text, old_text = canonical(change.new_text), canonical(change.old_text)
    added = tuple(k for k in stored_added if k.sentence and canonical(k.sentence) in new_text)
    removed = tuple(k for k in stored_removed if k.sentence and canonical(k.sentence) in old_text)
    for k in added:
        if k.pgx:
            reasons.append(f"stored triple appeared: {k.label()}")
    for k in removed:
        if k.pgx:
            reasons.append(f"stored triple disappeared: {k.label()}")
    pgx = bool(reasons)
    weight = 2 * len(old_f ^ new_f) + len(old_f | new_f) + sum(k.pgx for k in (*added, *removed))
    weight += 3 if reasons and reasons[0] == "pharmacogenomics section" else 0
    return Verdict(pgx, tuple(dict.fromkeys(reasons)), weight if pgx else 0, added, removed)
