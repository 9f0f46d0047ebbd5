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
from dataclasses import dataclass, replace
from functools import lru_cache

from pgxlit.digest.diff import SentenceChange
from pgxlit.digest.model import TripleKey
from pgxlit.digest.text import canonical, without_cross_references
from pgxlit.records import Evidence, LabelVersion, Section, Triple

PGX_LOINC = "66106-6"

_TIER_BY_FIELD = {
    "boxed_warning": 0,
    "contraindications": 1,
    "dosage_and_administration": 2,
    "warnings_and_cautions": 3, "warnings": 3, "precautions": 3, "general_precautions": 3,
    "pharmacogenomics": 4, "clinical_pharmacology": 4, "pharmacokinetics": 4, "pharmacodynamics": 4,
    "mechanism_of_action": 4,
}
_TIER_BY_LOINC = {
    "34066-1": 0, "34070-3": 1, "34068-7": 2, "43685-7": 3, "34071-1": 3, "42232-9": 3, "34072-9": 3,
    PGX_LOINC: 4, "34090-1": 4, "43682-4": 4, "43681-6": 4, "43679-0": 4,
}
_TIER_BY_TITLE = (("boxed warning", 0), ("contraindication", 1), ("dosage and administration", 2),
                  ("warnings and precautions", 3), ("precautions", 3), ("warnings", 3),
                  ("pharmacogenomic", 4), ("clinical pharmacology", 4), ("pharmacokinetic", 4))


def section_tier(section: Section) -> int:
    """0 (boxed warning) .. 5 (other), from the openFDA field, the LOINC code, then the title."""
    name = (section.field or "").removesuffix("_table")
    if name in _TIER_BY_FIELD:
        return _TIER_BY_FIELD[name]
    if section.loinc in _TIER_BY_LOINC:
        return _TIER_BY_LOINC[section.loinc]
    title = canonical(section.title or "")
    for words, tier in _TIER_BY_TITLE:
        if words in title:
            return tier
    return 5


def is_pgx_section(section: Section | None) -> bool:
    if section is None:
        return False
    name = (section.field or "").removesuffix("_table")
    return name == "pharmacogenomics" or section.loinc == PGX_LOINC or "pharmacogenomic" in (section.title or "").lower()


def triple_key(t: Triple) -> TripleKey:
    return TripleKey(t.drug, t.gene, t.variant, t.relation, t.effect, t.pgx, t.evidence.sentence)


@dataclass(frozen=True, slots=True)
class Verdict:
    pgx: bool
    reasons: tuple[str, ...]
    weight: int
    triples_added: tuple[TripleKey, ...] = ()
    triples_removed: tuple[TripleKey, ...] = ()


# texts -> for each text, the PGx triple keys the extraction finds in it, given the label and section
Extractor = Callable[[Sequence[tuple[str, str]], LabelVersion, Section], list[set[TripleKey]]]


@lru_cache(maxsize=1)
def _gene_matcher():
    from pgxlit.extract.lexicons import DictionaryMatcher

    return DictionaryMatcher(genes=True, drugs=False)


def _pharmacogene_of(m) -> tuple[str, str] | None:
    from pgxlit.extract.triples import STATUS_GENES

    if m.label == "GENE" and m.norm and "|" in m.norm:
        hgnc, symbol = m.norm.split("|", 1)
        if symbol in STATUS_GENES or symbol.startswith("HLA-"):
            return symbol, hgnc
    return None


def _pharmacogene(text: str) -> tuple[str, str] | None:
    """The last pharmacogene a passage names: the gene a following "Poor metabolizers ..." is about."""
    found = None
    for m in _gene_matcher().find(text):
        found = _pharmacogene_of(m) or found
    return found


@lru_cache(maxsize=1)
def _recognizer():
    from pgxlit.extract.pipeline import PgxEntityRecognizer

    return PgxEntityRecognizer()


def may_hold_triples(text: str) -> bool:
    """Does the text name any genetic factor (gene, allele, variant, phenotype, inherited condition)?

    Without one the triple rules cannot produce a triple, so the spaCy pass is skipped: exact, and
    most changed label sentences (adverse-reaction tables, storage, wording) need no pipeline.
    """
    from pgxlit.extract.conditions import find_conditions
    from pgxlit.extract.relations import GENETIC

    return any(m.label in GENETIC for m in _recognizer().find(text)) or bool(find_conditions(text))


def extraction_triples(items: Sequence[tuple[str, str]], label: LabelVersion, section: Section) -> list[set[TripleKey]]:
    """PGx triples the extraction stage's rules pipeline and triple rules find in (context, text) pairs.

    Only whether a triple is pharmacogenomic matters here, and that does not depend on which drug
    a sentence names or on the relation type, so drug mentions are set aside and the label's drug
    is the subject of every sentence: the relation classifier (most of extraction's cost) is not run.
    """
    from pgxlit.extract.pipeline import annotate_texts, rules_nlp
    from pgxlit.extract.triples import Subject, label_subject, sentence_triples

    subject = label_subject(label) or Subject((label.generic_names or (label.title or "label",))[0].lower(), None)
    out: list[set[TripleKey]] = [set() for _ in items]
    texts_all = [without_cross_references(text) for _, text in items]
    todo = [k for k, text in enumerate(texts_all) if may_hold_triples(text)]
    texts = [texts_all[k] for k in todo]
    for k, sentences in zip(todo, annotate_texts(texts, rules_nlp()), strict=True):
        keys: set[TripleKey] = set()
        context_gene = _pharmacogene(items[k][0]) if items[k][0] else None
        for sent in sentences:
            evidence = Evidence(source="fda_label", sentence=sent.text, start=sent.start, end=sent.end,
                                set_id=label.set_id, version=label.version, section=section.field)
            factors_only = replace(sent, mentions=tuple(m for m in sent.mentions if m.label != "DRUG"))
            keys |= {triple_key(t) for t in sentence_triples(factors_only, evidence, subject, section.field, context_gene)
                     if t.pgx}
            for m in sent.mentions:
                context_gene = _pharmacogene_of(m) or context_gene
        out[k] = keys
    return out


def _factor(k: TripleKey) -> str:
    return k.factor()


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
