"""Compile one drug's claims from its stored triples: pure, deterministic, general.

Each usable triple is read once: who it is about (`groups.group_keys`, allele-exact), what it
tells a prescriber (`extract.actions.read_action`), how strong its source is
(`pgxlit.sections.source_strength`). Triples with the same drug, gene, group and action make one
claim; their sentences are grouped so that a sentence repeated across label versions, generic
labels and set ids is one citation with many places. No rule names a drug or a sentence: the
same mechanisms run on drugs never seen.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pgxlit.extract.actions import (
    Reading,
    looks_like_table,
    mentions_testing,
    read_action,
    recommends_testing,
    stated_dose,
    testing_level,
)
from pgxlit.knowledge.facts import (
    TripleFact,
    clean_sentence,
    focus_words,
    is_heading_or_pointer,
    same_sentence_key,
    usable,
)
from pgxlit.knowledge.groups import GenotypeReader, describe, group_keys
from pgxlit.knowledge.model import Citation, Claim, Place
from pgxlit.sections import CHECK_RANK, PATIENT_SECTIONS, Strength, section_title, source_strength

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
LITERATURE_FLOOR = 0.3  # abstracts below this confidence support nothing, not even a literature-only caution


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Which triples may stand behind a claim: accepted ones, or confident enough for their source."""

    min_label: float = 0.3
    min_pubmed: float = 0.7  # a literature claim below this is kept as literature-only support (`weak`)
    literature_floor: float = LITERATURE_FLOOR
    # A label sentence that says outright not to use the drug in a group it names ("The use of X is
    # not recommended in HLA-B*58:01 positive patients") is what the label says even when the
    # pairing model is unsure of it (its "not" reads as negation): usable this far below `min_label`.
    avoid_margin: float = 0.1


def claim_action(reading: Reading, sentence: str, source: str = "fda_label") -> tuple[str, bool]:
    """The claim vocabulary for a verdict reading: (action, says nothing changes). An abstract is a
    "test" claim only when it asks for or commends the test, not when it reports its own genotyping."""
    if reading.action == "avoid":
        return "avoid", False
    if reading.action == "alternative":
        return "alternative", False
    if reading.action == "dose change":
        return "dose_change", False
    if reading.action == "no action":
        return "informative", True
    if reading.strength >= 2:
        return "monitor", False
    if reading.strength < 0 and mentions_testing(sentence) and (source == "fda_label" or recommends_testing(sentence)):
        return "test", False
    return "informative", False


CHECK_VERDICT = {"avoid": "avoid", "alternative": "alternative", "dose_change": "dose change", "monitor": "monitor",
                 "test": "monitor", "informative": "monitor"}


def check_verdict(claim: Claim) -> str:
    """The check's alert vocabulary (avoid, alternative, dose change, monitor, no action) for a claim."""
    return "no action" if claim.no_change else CHECK_VERDICT[claim.action]


@dataclass
class _Item:
    fact: TripleFact
    reading: Reading
    action: str
    no_change: bool
    text: str

    @property
    def rank(self) -> tuple:
        f = self.fact
        return (self.reading.strength, f.source == "fda_label", f.review_status == "accepted",
                CHECK_RANK.get(f.section or "", 0), f.confidence, f.version or 0)


@dataclass
class _Group:
    items: list[_Item] = field(default_factory=list)


def _place(f: TripleFact) -> Place:
    if f.source == "fda_label":
        return Place("fda_label", set_id=f.set_id, version=f.version, section=f.section,
                     section_title=section_title(f.section), effective_time=f.effective_time)
    return Place("pubmed", pmid=f.pmid, year=f.year)


def _citations(items: Sequence[_Item]) -> tuple[Citation, ...]:
    """One citation per sentence (however many versions, generics and set ids state it), best first."""
    by_sentence: dict[str, list[_Item]] = {}
    for item in sorted(items, key=lambda i: i.rank, reverse=True):
        by_sentence.setdefault(same_sentence_key(item.fact.sentence), []).append(item)
    out = []
    for group in by_sentence.values():
        lead = group[0]
        places, seen = [], set()
        for item in group:
            p = _place(item.fact)
            ident = (p.source, p.set_id, p.version, p.section, p.pmid)
            if ident not in seen:
                seen.add(ident)
                places.append(p)
        strength = max(source_strength(i.fact.source, i.fact.section) for i in group)
        out.append(Citation(text=lead.text, sentence=lead.fact.sentence, source=lead.fact.source,
                            strength=strength.label, places=tuple(places), confidence=round(lead.fact.confidence, 3),
                            review_status="accepted" if any(i.fact.review_status == "accepted" for i in group)
                            else lead.fact.review_status))
    return tuple(out)


def _reading(fact: TripleFact) -> Reading:
    reading = read_action(fact.sentence, fact.section, fact.effect, fact.source)
    if (fact.source == "fda_label" and fact.section in PATIENT_SECTIONS) or looks_like_table(fact.sentence):
        reading = Reading(reading.action, min(reading.strength, 0), "info")
    return reading


def _stated_avoid(fact: TripleFact, thresholds: Thresholds) -> bool:
    """A label sentence below the label threshold that still counts: it reads as avoid, names the
    triple's factor itself, and is at most `avoid_margin` below the label threshold (never a rejected one)."""
    if fact.review_status == "rejected" or fact.confidence < thresholds.min_label - thresholds.avoid_margin - 1e-9:
        return False
    low = fact.sentence.lower()
    named = any(w.lower() in low for w in focus_words(fact) if w != fact.gene)
    return named and _reading(fact).strength >= 5


def compile_drug(drug: str, facts: Iterable[TripleFact], reader: GenotypeReader | None = None,
                 thresholds: Thresholds = Thresholds()) -> list[Claim]:
    """Every claim the facts of one drug support, strongest first. Pure."""
    groups: dict[tuple[str, str, str, int | None, str | None, bool, bool], _Group] = defaultdict(_Group)
    label_sentences: dict[str, list[str]] = defaultdict(list)
    for fact in facts:
        if not fact.gene or not fact.own_label or fact.review_status == "rejected":
            continue
        if fact.review_status != "accepted" and is_heading_or_pointer(fact.sentence):
            continue  # a heading or "see full prescribing information" names the topic, it states nothing
        if fact.source == "fda_label":
            if not usable(fact, thresholds.min_label, thresholds.min_pubmed) and not _stated_avoid(fact, thresholds):
                continue
            label_sentences[fact.gene].append(fact.sentence)
        elif fact.review_status != "accepted" and fact.confidence < thresholds.literature_floor:
            continue
        keys = group_keys(fact.gene, fact.variant, fact.sentence, reader)
        if not keys and fact.source == "pubmed":
            keys = [("gene", {})]  # an abstract's variant we cannot place still links the gene to the drug
        if not keys:
            continue
        reading = _reading(fact)
        text = clean_sentence(fact.sentence, focus_words(fact))
        for key, info in keys:
            used = reading
            if key == "gene" and reading.strength >= 4:
                # "contraindicated based on CYP2D6 metabolizer status" names no result: it says the
                # result matters, not which patients must avoid the drug
                used = Reading("monitor", 2, "warning")
            action, no_change = claim_action(used, fact.sentence, fact.source)
            # abstracts below the literature threshold make claims of their own: they may back a
            # literature-only caution, never lead or join a label's claim
            weak = fact.source == "pubmed" and fact.review_status != "accepted" and fact.confidence < thresholds.min_pubmed
            gkey = (fact.gene, key, action, info.get("copies"), info.get("implies"), no_change, weak)
            groups[gkey].items.append(_Item(fact, used, action, no_change, text))
    merged = {k: g.items for k, g in groups.items()}
    actionable_genes = {k[0] for k, items in merged.items()
                        if k[2] in ("avoid", "alternative", "dose_change", "monitor")
                        and any(i.fact.source == "fda_label" for i in items)}
    levels = {gene: testing_level(sentences, gene in actionable_genes) for gene, sentences in label_sentences.items()}
    claims = []
    for (gene, key, action, copies, implies, no_change, _weak), items in merged.items():
        items.sort(key=lambda i: i.rank, reverse=True)
        lead = items[0]
        citations = _citations(items)
        in_label = any(i.fact.source == "fda_label" for i in items)
        pmids = {i.fact.pmid for i in items if i.fact.source == "pubmed" and i.fact.pmid}
        strength = max((source_strength(i.fact.source, i.fact.section) for i in items), default=Strength.LITERATURE)
        severity = min((i.reading.severity for i in items if i.fact.source == "fda_label"),
                       key=_SEVERITY_ORDER.__getitem__, default="info")
        strong_literature = any(i.fact.source == "pubmed" and (i.fact.confidence >= thresholds.min_pubmed
                                                               or i.fact.review_status == "accepted") for i in items)
        dose = next((d for i in items if (d := stated_dose(i.fact.sentence))), None) if action == "dose_change" else None
        claims.append(Claim(
            drug=drug, gene=gene, group=key, phenotype=describe(gene, key, copies), effect=lead.fact.effect,
            action=action, severity=severity, strength=strength.label,
            testing_level=levels.get(gene, "informative"), status="label" if in_label else "literature_only",
            recommendation=lead.text, citations=citations, dose=dose, copies=copies, implies=implies,
            no_change=no_change, literature_count=len(pmids), confidence=round(lead.fact.confidence, 3),
            review_status="accepted" if any(i.fact.review_status == "accepted" for i in items) else lead.fact.review_status,
            rank=lead.reading.strength,
            extra={"weak": not in_label and not strong_literature, "label_rank": _label_rank(items)},
        ))
    claims.sort(key=claim_order)
    return claims


def _label_rank(items: Sequence[_Item]) -> list:
    lead = items[0]
    return [lead.reading.strength, lead.fact.source == "fda_label", lead.fact.review_status == "accepted",
            CHECK_RANK.get(lead.fact.section or "", 0), lead.fact.confidence, lead.fact.version or 0]


def claim_order(c: Claim) -> tuple:
    """Strongest first: how strongly it reads, then severity, source tier, gene and group (stable)."""
    return (-c.rank, _SEVERITY_ORDER[c.severity], -Strength[c.strength.upper()], c.gene, c.group, c.action)


def facts_fingerprint(facts: Iterable[TripleFact], salt: str = "") -> str:
    """Changes whenever one of a drug's triples is added, removed, reviewed or superseded."""
    h = hashlib.sha256(salt.encode())
    for f in sorted(facts, key=lambda f: (f.triple_id or 0, f.sentence)):
        h.update(repr((f.triple_id, f.gene, f.variant, f.review_status, f.confidence, f.own_label, f.set_id, f.version,
                       f.section, f.pmid, f.effect, f.sentence)).encode())
    return h.hexdigest()[:20]
