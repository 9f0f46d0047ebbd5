"""The check's view of the knowledge layer: claims indexed drug -> gene -> group for fast lookups.

The claims themselves are compiled by `pgxlit.knowledge` (the same claims ask, digest and web
read); this module only gives the check CPIC's genotype tables as the claims' genotype reader
and lays the claims out as items keyed drug x gene x group, so a check is a few dictionary
lookups. Each item is one claim: its check verdict (avoid, alternative, dose change, monitor,
no action), severity, the lead sentence as recommendation, its citations and the claim's JSON.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxlit.check.genotype import GenotypeError, GenotypeTable, canonical_phenotype, normalise_hla
from pgxlit.extract.actions import VERDICTS
from pgxlit.knowledge.base import (
    BUILDER_VERSION,
    KnowledgeBase,
    compile_claims,
    compile_facts,
    refresh_claims,
    save_claims,
    store_fingerprint,
)
from pgxlit.knowledge.compile import Thresholds, check_verdict
from pgxlit.knowledge.facts import TripleFact
from pgxlit.knowledge.groups import group_keys
from pgxlit.knowledge.model import Claim

__all__ = ["ACTIONS", "BUILDER_VERSION", "CpicReader", "Knowledge", "build_knowledge", "factor_keys", "item_rank",
           "knowledge_path", "load_knowledge", "refresh_knowledge", "store_fingerprint"]

ACTIONS = VERDICTS


class CpicReader:
    """CPIC's genotype tables as the claims' genotype reader (star alleles, diplotypes, rsIDs)."""

    def __init__(self, table: GenotypeTable) -> None:
        self.table = table
        self.name = f"cpic-{len(table.genes)}"

    def phenotype(self, text: str) -> str | None:
        return canonical_phenotype(text)

    def hla(self, text: str) -> str | None:
        return normalise_hla(text)

    def diplotype(self, gene: str, text: str) -> tuple[str, str] | None:
        if not self.table.knows(gene):
            return None
        try:
            call = self.table.translate(gene, text)
        except GenotypeError:
            return None
        return "/".join(sorted(call.alleles)), call.phenotype

    def allele(self, gene: str, text: str) -> str | None:
        if not self.table.knows(gene):
            return None
        try:
            return self.table.resolve_allele(gene, text)
        except GenotypeError:
            return None

    def single_variant(self, gene: str, text: str) -> str | None:
        if not self.table.knows(gene):
            return None
        rsid = text.lower() if text.lower().startswith("rs") and text[2:].isdigit() else self.table.variant_alias(gene, text)
        if rsid and self.table.rsid_gene.get(rsid) == gene and self.table.genes[gene]["method"] == "single_variant":
            return rsid
        return None


def factor_keys(gene: str, variant: str | None, sentence: str, table: GenotypeTable) -> list[tuple[str, dict[str, Any]]]:
    """Group keys a triple is about (see pgxlit.knowledge.groups), read with CPIC's tables."""
    return group_keys(gene, variant, sentence, CpicReader(table))


def _citation(claim: Claim, k: int) -> dict[str, Any]:
    c = claim.citations[k]
    p = c.places[0]
    return {**p.to_json(), "sentence": c.sentence, "text": c.text, "strength": c.strength,
            "also_at": [q.to_json() for q in c.places[1:]]}


def item_of(claim: Claim) -> dict[str, Any]:
    """One claim as the check's item: verdict, severity, recommendation and citations."""
    return {
        "action": check_verdict(claim), "strength": claim.rank, "severity": claim.severity,
        "recommendation": claim.recommendation, "sentence": claim.citations[0].sentence,
        "confidence": claim.confidence, "review_status": claim.review_status, "effect": claim.effect,
        "citation": _citation(claim, 0), "also": [_citation(claim, k) for k in range(1, len(claim.citations))],
        "label_rank": claim.extra.get("label_rank", []), "weak": bool(claim.extra.get("weak")),
        "claim": claim,
        **({"copies": claim.copies} if claim.copies is not None else {}),
        **({"implies": claim.implies} if claim.implies else {}),
    }


def layout(kb: KnowledgeBase, only: Iterable[str] | None = None) -> dict[str, dict[str, dict[str, list[dict[str, Any]]]]]:
    """drug -> gene -> group -> items (strongest first); of the drugs in `only` when given."""
    drugs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for drug in kb.drugs() if only is None else sorted(d for d in set(only) if d in kb.claims):
        for claim in kb.claims_for(drug):
            drugs[drug][claim.gene][claim.group].append(item_of(claim))
    return {d: {g: {k: sorted(v, key=item_rank, reverse=True) for k, v in keys.items()} for g, keys in genes.items()}
            for d, genes in drugs.items()}


def item_rank(item: dict[str, Any]) -> tuple:
    return (item["strength"], *item.get("label_rank", [])[1:])


def build_knowledge(facts: Iterable[TripleFact], table: GenotypeTable, *, min_label: float,
                    min_pubmed: float) -> dict[str, Any]:
    """drug -> gene -> group -> items from facts (pure): the claims of `pgxlit.knowledge`, laid out."""
    facts = list(facts)
    kb, _ = compile_facts(facts, CpicReader(table), Thresholds(min_label=min_label, min_pubmed=min_pubmed))
    return {"drugs": layout(kb), "facts_used": len(facts), "facts_skipped": 0, "kb": kb}


def drug_aliases(drugs: Iterable[str]) -> dict[str, str]:
    """Every lexicon term (brand, salt, synonym) of the drugs with knowledge, lower-cased -> name."""
    from pgxlit.extract.lexicons import load_lexicons

    wanted = set(drugs)
    aliases: dict[str, str] = {}
    for term, name, _pid, _rx, _kind in load_lexicons().drug_rows:
        if name in wanted:
            aliases.setdefault(" ".join(term.lower().split()), name)
    for name in wanted:
        aliases[name] = name
    return aliases


def knowledge_path(settings: Any) -> Path:
    """Where the claims the check reads are cached."""
    from pgxlit.check.genotype import load_table
    from pgxlit.knowledge.base import claims_path

    explicit = settings.check.knowledge_path
    return Path(explicit) if explicit else claims_path(settings, CpicReader(load_table()))


@dataclass
class Knowledge:
    """The check's lookup tables over the claims, plus where they came from."""

    drugs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]]
    fingerprint: str
    min_label: float
    min_pubmed: float
    facts_used: int = 0
    facts_skipped: int = 0
    aliases: dict[str, str] | None = None  # lower-cased drug term -> canonical name
    base: KnowledgeBase | None = None  # the claims (coverage: label / literature only / not covered)

    def coverage(self, drug: str, gene: str) -> str:
        """"label", "literature_only" or "not_covered" (from the items when built without a base)."""
        if self.base is not None:
            return self.base.coverage(drug, gene)
        items = [i for v in self.drugs.get(drug.lower(), {}).get(gene, {}).values() for i in v]
        if any(i["citation"]["source"] == "fda_label" for i in items):
            return "label"
        return "literature_only" if items else "not_covered"


def load_knowledge(store: Any, settings: Any, table: GenotypeTable, *, rebuild: bool = False,
                   write: bool = True) -> Knowledge:
    """The check's view of the store's claims (recompiled only for drugs whose triples changed).
    `write=False` leaves writing the claims cache to the caller (`save_knowledge`), off its request path."""
    path = knowledge_path(settings)
    kb = compile_claims(store, settings, CpicReader(table), rebuild=rebuild, path=path, write=write)
    drugs = layout(kb)
    return Knowledge(drugs=drugs, fingerprint=kb.store_fingerprint, min_label=kb.thresholds.min_label,
                     min_pubmed=kb.thresholds.min_pubmed, facts_used=sum(len(c) for c in kb.claims.values()),
                     aliases=_cached_aliases(path, kb.store_fingerprint, drugs), base=kb)


def refresh_knowledge(current: Knowledge, store: Any, settings: Any, table: GenotypeTable) -> Knowledge | None:
    """`current` brought up to date after reviews: only the reviewed drugs are read back, recompiled and
    laid out again; None when more than reviews changed (then `load_knowledge`). The cache is not written."""
    if current.base is None:
        return None
    kb = refresh_claims(current.base, store, settings, CpicReader(table))
    if kb is None:
        return None
    changed = set(kb.recompiled) | (set(current.base.claims) ^ set(kb.claims))
    drugs = {d: v for d, v in current.drugs.items() if d not in changed} | layout(kb, changed)
    aliases = current.aliases
    if aliases is None or set(kb.claims) != set(current.base.claims):
        aliases = _cached_aliases(knowledge_path(settings), kb.store_fingerprint, drugs)
    return Knowledge(drugs=drugs, fingerprint=kb.store_fingerprint, min_label=kb.thresholds.min_label,
                     min_pubmed=kb.thresholds.min_pubmed, facts_used=sum(len(c) for c in kb.claims.values()),
                     aliases=aliases, base=kb)


def save_knowledge(knowledge: Knowledge, settings: Any) -> None:
    """Write the claims cache behind `knowledge` (orjson, atomic): what a service does off its request path."""
    if knowledge.base is not None:
        save_claims(knowledge.base, knowledge_path(settings))


def _cached_aliases(claims_file: Path, fingerprint: str, drugs: Iterable[str]) -> dict[str, str]:
    """Drug aliases kept beside the claims, so a check resolves "Plavix" without loading the lexicon."""
    path = claims_file.with_name(claims_file.name.replace(".json.gz", "") + ".aliases.json")
    wanted = sorted(drugs)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("fingerprint") == fingerprint and data.get("drugs") == wanted:
            return data["aliases"]
    except (OSError, ValueError, KeyError):
        pass
    aliases = drug_aliases(wanted)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "drugs": wanted, "aliases": aliases}), encoding="utf-8")
    os.replace(tmp, path)  # a check process starting meanwhile never reads half a file
    return aliases

