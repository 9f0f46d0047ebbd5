"""Prescribing knowledge compiled from pgxlit's own extracted triples.

Each PGx triple of the latest label versions (and of abstracts, as support) that is accepted
by a curator or confident enough becomes an *item* keyed drug x gene x factor, where the
factor is what a patient must have for the sentence to apply: a phenotype ("phenotype:Poor
Metabolizer"), a diplotype, a star allele, an HLA allele, an rsID carrier state, a function
("function:No", from "two loss-of-function alleles"), or the gene as a whole ("gene").
Its action class and severity are read from the evidence sentence and its label section; its
recommendation is that sentence, cleaned -- never written by us.

`build_knowledge` is pure (rows in, tables out); `load_knowledge` caches the result as one
gzipped JSON file under the settings home, rebuilt when the triples or the threshold change,
so a check is a dictionary lookup.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxlit.check.genotype import GenotypeError, canonical_phenotype, normalise_hla
from pgxlit.check.genotype import GenotypeTable as PhenotypeTable
from pgxlit.extract.actions import SEVERITIES, VERDICTS, Reading, looks_like_table, read_action
from pgxlit.sections import CHECK_RANK, PATIENT_SECTIONS, section_title

__all__ = ["ACTIONS", "SEVERITIES", "Knowledge", "Reading", "TripleFact", "build_knowledge", "clean_sentence",
           "factor_keys", "item_rank", "knowledge_path", "load_knowledge", "looks_like_table", "read_action",
           "read_facts", "section_title", "store_fingerprint"]


def _builder_version() -> str:
    """Changes with the rules (this module, the action reader, the section vocabulary), so an
    upgraded pgxlit never serves a stale cache."""
    from pgxlit import sections
    from pgxlit.extract import actions

    h = hashlib.sha256()
    for module_file in (__file__, actions.__file__, sections.__file__):
        h.update(Path(module_file).read_bytes())
    digest = h.hexdigest()[:12]
    return f"check-knowledge-{digest}"


BUILDER_VERSION = _builder_version()
ACTIONS = VERDICTS
MAX_ITEMS_PER_KEY = 12
_TWO = re.compile(r"\btwo\b|\bboth\b|\bhomozygous\b|\bhomozygotes?\b", re.I)
_ONE = re.compile(r"\bone\b|\bsingle\b|\bheterozygous\b|\bheterozygotes?\b", re.I)


_CROSSREF = re.compile(r"\s*\[\s*see [^\]]{0,200}\]\s*\.?|\s*\(\s*see [^)]{0,160}\)\s*\.?", re.I)
_LEADING_REF = re.compile(r"^\s*(?:[\d.]+\s*,?\s*)*\d*\s*\)\s*(?:•\s*)?|^\s*•\s*|^\s*\(\s*[\d.]+\s*\)\s*")
_TRAILING_REF = re.compile(r"\s*\(\s*(?:[\d.]+\s*,?\s*)*\s*$|\s*\(\s*[\d.]+\s*\)\s*$|\s*•\s*$")
_HEADING = re.compile(r"^\s*\d+(?:\.\d+)*\s+(?:[A-Z][A-Z ,&/-]{3,}\s+)(?=[A-Z][a-z]|[A-Z]{2,}\s)")
_SEGMENT_BREAK = re.compile(r"\s*\[\s*see [^\]]{0,200}\]\s*\.?|\s*•\s*")
LONG_SENTENCE = 240


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
    text = _LEADING_REF.sub("", text)
    text = _HEADING.sub("", text)
    text = _TRAILING_REF.sub("", text)
    text = re.sub(r"\s+([.,;:])", r"\1", text).strip()
    text = re.sub(r"\s*‑\s*", "-", text)
    if text and text.isupper():
        text = text[0] + text[1:].lower()
    if text and text[-1] not in ".!?":
        text += "."
    return text


# ---- factors: what a patient must have for a sentence to apply ------------------------------
_FUNCTION_WORD = re.compile(r"\b(no|decreased|increased|normal|poor)\s+function$", re.I)


def factor_keys(gene: str, variant: str | None, sentence: str, table: PhenotypeTable) -> list[tuple[str, dict[str, Any]]]:
    """Keys a triple is stored under, with what each implies; empty when the factor is not a patient trait."""
    if not variant or variant.startswith(f"{gene}:") and not re.search(r"[>*]|\d", variant.split(":", 1)[1]):
        return [("gene", {})]
    v = variant.strip()
    if v.upper().startswith("HLA-"):
        if "/" in v:
            return []
        name = normalise_hla(v)
        return [(f"hla:{name}", {})] if name else []
    rest = v[len(gene):].strip() if v.upper().startswith(gene.upper() + " ") else v
    if rest.lower().endswith("deficiency"):
        return [("function:No", {})]
    fn = _FUNCTION_WORD.search(rest)
    if fn:
        info: dict[str, Any] = {}
        if _TWO.search(sentence):
            info["copies"] = 2
        elif _ONE.search(sentence):
            info["copies"] = 1
        return [(f"function:{fn.group(1).title()}", info)]
    canon = canonical_phenotype(rest)
    if canon:
        return [(f"phenotype:{canon}", {})]
    if rest.lower().startswith("activity score"):
        return []
    if "*" in v and table.knows(gene):
        star = v[len(gene):] if v.upper().startswith(gene.upper()) else v
        try:
            if "/" in star:
                call = table.translate(gene, star)
                return [(f"diplotype:{'/'.join(sorted(call.alleles))}", {"implies": call.phenotype})]
            copies = {"copies": 2} if _TWO.search(sentence) else {}
            return [(f"allele:{table.resolve_allele(gene, star)}", copies)]
        except GenotypeError:
            return []
    rsid = v.lower() if re.fullmatch(r"rs\d+", v.lower()) else table.variant_alias(gene, v)
    if rsid and table.rsid_gene.get(rsid) == gene and table.genes[gene]["method"] == "single_variant":
        return [(f"variant:{rsid}", {})]
    return []


# ---- building ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TripleFact:
    """The columns of one stored triple the check needs (plus its review status)."""

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


def feeds_alerts(fact: TripleFact, min_label: float, min_pubmed: float) -> bool:
    """Accepted by a curator, or confident enough for its source; rejected never."""
    if fact.review_status == "rejected":
        return False
    if fact.review_status == "accepted":
        return True
    return fact.confidence >= (min_label if fact.source == "fda_label" else min_pubmed)


def citation_of(fact: TripleFact) -> dict[str, Any]:
    if fact.source == "fda_label":
        return {"source": "fda_label", "set_id": fact.set_id, "version": fact.version, "section": fact.section,
                "section_title": section_title(fact.section), "effective_time": fact.effective_time,
                "url": f"https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid={fact.set_id}"}
    return {"source": "pubmed", "pmid": fact.pmid, "year": fact.year, "url": f"https://pubmed.ncbi.nlm.nih.gov/{fact.pmid}/"}


def build_knowledge(
    facts: Iterable[TripleFact], table: PhenotypeTable, *, min_label: float, min_pubmed: float
) -> dict[str, Any]:
    """drug -> gene -> factor key -> ranked items. Pure: the same facts give the same tables."""
    grouped: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    used = skipped = 0
    for fact in facts:
        if not fact.gene or not fact.own_label or not feeds_alerts(fact, min_label, min_pubmed):
            skipped += 1
            continue
        keys = factor_keys(fact.gene, fact.variant, fact.sentence, table)
        if not keys:
            skipped += 1
            continue
        reading = read_action(fact.sentence, fact.section, fact.effect, fact.source)
        if (fact.source == "fda_label" and fact.section in PATIENT_SECTIONS) or looks_like_table(fact.sentence):
            reading = Reading(reading.action, min(reading.strength, 0), "info")
        used += 1
        recommendation = clean_sentence(fact.sentence, _focus(fact))
        for key, info in keys:
            used_reading = reading
            if key == "gene" and reading.strength >= 4:
                # "contraindicated based on CYP2D6 metabolizer status" names no result: it cannot say
                # which patients must avoid the drug, only that the result matters
                used_reading = Reading("monitor", 2, "warning")
            bucket = grouped[(fact.drug.lower(), fact.gene, key)]
            dedup = re.sub(r"\W+", " ", recommendation.lower()).strip()
            item = {
                "action": used_reading.action, "strength": used_reading.strength, "severity": used_reading.severity,
                "recommendation": recommendation, "sentence": fact.sentence, "confidence": round(fact.confidence, 3),
                "review_status": fact.review_status, "effect": fact.effect, "relation": fact.relation,
                "citation": citation_of(fact), **info,
            }
            old = bucket.get(dedup)
            if old is None or _item_rank(item) > _item_rank(old):
                if old is not None:
                    item["also"] = old.get("also", []) + [old["citation"]]
                bucket[dedup] = item
            else:
                old.setdefault("also", []).append(item["citation"])
    drugs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = defaultdict(lambda: defaultdict(dict))
    for (drug, gene, key), bucket in sorted(grouped.items()):
        items = sorted(bucket.values(), key=_item_rank, reverse=True)[:MAX_ITEMS_PER_KEY]
        drugs[drug][gene][key] = items
    return {"drugs": {d: dict(g) for d, g in drugs.items()}, "facts_used": used, "facts_skipped": skipped}


def drug_aliases(drugs: Iterable[str]) -> dict[str, str]:
    """Every lexicon term (brand, salt, synonym) of the drugs with knowledge, lower-cased -> name.

    Shipped in the cache so a check resolves "Plavix" without loading the whole lexicon.
    """
    from pgxlit.extract.lexicons import load_lexicons

    wanted = set(drugs)
    aliases: dict[str, str] = {}
    for term, name, _pid, _rx, _kind in load_lexicons().drug_rows:
        if name in wanted:
            aliases.setdefault(" ".join(term.lower().split()), name)
    for name in wanted:
        aliases[name] = name
    return aliases


def _focus(fact: TripleFact) -> tuple[str, ...]:
    """Words that locate the factor in a run-on sentence: the variant as written and its gene."""
    words: list[str] = []
    if fact.variant:
        v = fact.variant.split(":", 1)[-1]
        words += [v, v.replace(":", ""), v.split(" ")[-1]]
        if "*" in v:
            words.append(v[v.index("*"):])
    if fact.gene:
        words.append(fact.gene)
    return tuple(w for w in words if len(w) > 2)


def _item_rank(item: dict[str, Any]) -> tuple:
    c = item["citation"]
    return (
        item["strength"],
        c["source"] == "fda_label",
        item.get("review_status") == "accepted",
        CHECK_RANK.get(c.get("section") or "", 0),
        item["confidence"],
        c.get("version") or 0,
    )


item_rank = _item_rank


# ---- reading the store (I/O edge) ------------------------------------------------------------
def store_fingerprint(store: Any) -> str:
    """Changes whenever triples are added, replaced, reviewed, or label versions arrive."""
    return hashlib.sha256(repr(store.triples_stamp()).encode()).hexdigest()[:20]


def read_facts(store: Any) -> list[TripleFact]:
    """PGx triples of the latest version of each label, and of abstracts, with review status."""
    from pgxlit.extract.lexicons import normalise_drug

    entries = store.triple_entries_in_order(pgx=True, latest_only=True)
    names: dict[tuple[str, int], set[str]] = {}
    for (set_id, version), generic in store.label_generic_names().items():
        canon = set()
        for n in generic:
            found = normalise_drug(n)
            canon.add((found[1] if found else n).lower())
            canon.update(p.strip().lower() for p in re.split(r"\band\b|,|/", n.lower()) if p.strip())
        names[(set_id, version)] = {c for c in canon if c}
    facts = []
    for entry in entries:
        r, e = entry.triple, entry.triple.evidence
        own = True
        if e.source == "fda_label":
            label_names = names.get((e.set_id, e.version), set())
            own = not label_names or r.drug.lower() in label_names or any(
                (normalise_drug(n) or ("", n))[1].lower() == r.drug.lower() for n in label_names)
        facts.append(TripleFact(
            drug=r.drug, gene=r.gene, variant=r.variant, relation=r.relation, effect=r.effect, negated=r.negated,
            confidence=r.confidence, source=e.source, sentence=e.sentence, review_status=entry.review_status,
            set_id=e.set_id, version=e.version, section=e.section, effective_time=e.effective_time, pmid=e.pmid,
            year=e.year, own_label=own,
        ))
    return facts


def knowledge_path(settings: Any) -> Path:
    explicit = settings.check.knowledge_path
    return Path(explicit) if explicit else Path(settings.home) / "check_knowledge.json.gz"


@dataclass
class Knowledge:
    """The compiled tables plus where they came from."""

    drugs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]]
    fingerprint: str
    min_label: float
    min_pubmed: float
    facts_used: int = 0
    facts_skipped: int = 0
    aliases: dict[str, str] | None = None  # lower-cased drug term -> canonical name

    def to_json(self) -> dict[str, Any]:
        return {"builder": BUILDER_VERSION, "fingerprint": self.fingerprint, "min_label": self.min_label,
                "min_pubmed": self.min_pubmed, "facts_used": self.facts_used, "facts_skipped": self.facts_skipped,
                "aliases": self.aliases or {}, "drugs": self.drugs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Knowledge:
        return cls(drugs=data["drugs"], fingerprint=data["fingerprint"], min_label=data["min_label"],
                   min_pubmed=data["min_pubmed"], facts_used=data.get("facts_used", 0),
                   facts_skipped=data.get("facts_skipped", 0), aliases=data.get("aliases") or {})


def _cache_key(fingerprint: str, min_label: float, min_pubmed: float) -> str:
    return f"{BUILDER_VERSION}:{fingerprint}:{min_label}:{min_pubmed}"


def load_knowledge(store: Any, settings: Any, table: PhenotypeTable, *, rebuild: bool = False) -> Knowledge:
    """The cached knowledge if it matches the store and settings, else rebuilt and cached."""
    min_label = settings.check.min_confidence
    min_pubmed = settings.check.min_confidence_pubmed
    fingerprint = store_fingerprint(store)
    path = knowledge_path(settings)
    if not rebuild and path.is_file():
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("builder") == BUILDER_VERSION and _cache_key(
                data["fingerprint"], data["min_label"], data["min_pubmed"]
            ) == _cache_key(fingerprint, min_label, min_pubmed):
                return Knowledge.from_json(data)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt
    built = build_knowledge(read_facts(store), table, min_label=min_label, min_pubmed=min_pubmed)
    knowledge = Knowledge(drugs=built["drugs"], fingerprint=fingerprint, min_label=min_label, min_pubmed=min_pubmed,
                          facts_used=built["facts_used"], facts_skipped=built["facts_skipped"],
                          aliases=drug_aliases(built["drugs"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        json.dump(knowledge.to_json(), fh, ensure_ascii=False)
    tmp.replace(path)
    return knowledge
