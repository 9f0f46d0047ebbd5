"""The compiled claims of a store, recompiled incrementally, and the questions consumers ask of them.

`compile_claims` reads the store's PGx triples (I/O edge), fingerprints each drug's triples and
recompiles only the drugs whose fingerprint changed since the cached compile (a new label
version, a new abstract, a curator's review): the rest are read back from
`$PGXLIT_HOME/knowledge_claims.json.gz`.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgxlit.knowledge.compile import Thresholds, claim_order, compile_drug, facts_fingerprint
from pgxlit.knowledge.facts import TripleFact, read_facts
from pgxlit.knowledge.groups import GenotypeReader
from pgxlit.knowledge.model import Claim


def _builder_version() -> str:
    """Changes with the compiler's rules, so an upgraded pgxlit never serves stale claims."""
    h = hashlib.sha256()
    for name in ("pgxlit.sections", "pgxlit.extract.actions", "pgxlit.knowledge.compile", "pgxlit.knowledge.facts",
                 "pgxlit.knowledge.groups", "pgxlit.knowledge.model", "pgxlit.knowledge.applies"):
        h.update(Path(importlib.import_module(name).__file__).read_bytes())
    return f"claims-{h.hexdigest()[:12]}"


BUILDER_VERSION = _builder_version()


@dataclass
class Coverage:
    """What the store holds linking one drug and one gene, claims or not."""

    label_sentences: int = 0
    pmids: set[str] = field(default_factory=set)

    @property
    def status(self) -> str:
        if self.label_sentences:
            return "label"
        return "literature_only" if self.pmids else "not_covered"


@dataclass
class KnowledgeBase:
    """Claims by drug, with coverage; what every consumer reads."""

    claims: dict[str, list[Claim]]
    coverage_of: dict[str, dict[str, Coverage]]
    fingerprints: dict[str, str] = field(default_factory=dict)
    recompiled: tuple[str, ...] = ()  # drugs compiled in this call (the rest came from the cache)
    thresholds: Thresholds = Thresholds()
    reader: str = "text"
    store_fingerprint: str = ""

    def drugs(self) -> list[str]:
        return sorted(self.claims)

    def claims_for(self, drug: str) -> list[Claim]:
        """One drug's claims, strongest first (canonical lower-case generic name)."""
        return list(self.claims.get(drug.lower(), ()))

    def claims_for_gene(self, gene: str) -> list[Claim]:
        """Every drug's claims for one gene, strongest first."""
        found = [c for claims in self.claims.values() for c in claims if c.gene == gene]
        return sorted(found, key=claim_order)

    def genes_for(self, drug: str) -> list[str]:
        return sorted(self.coverage_of.get(drug.lower(), {}))

    def coverage(self, drug: str, gene: str) -> str:
        """"label", "literature_only" or "not_covered": whether anything stored links drug and gene."""
        found = self.coverage_of.get(drug.lower(), {}).get(gene)
        return found.status if found else "not_covered"

    def pmids(self, drug: str, gene: str) -> list[str]:
        found = self.coverage_of.get(drug.lower(), {}).get(gene)
        return sorted(found.pmids) if found else []


def coverage_of(facts: list[TripleFact]) -> dict[str, Coverage]:
    out: dict[str, Coverage] = defaultdict(Coverage)
    for f in facts:
        if not f.gene or not f.own_label or f.review_status == "rejected":
            continue
        if f.source == "fda_label":
            out[f.gene].label_sentences += 1
        elif f.pmid:
            out[f.gene].pmids.add(f.pmid)
    return dict(out)


def store_fingerprint(store: Any) -> str:
    """Changes whenever triples are added, replaced, reviewed, or label versions arrive: when it is
    unchanged the cached claims are served without reading a triple."""
    return hashlib.sha256(repr(store.triples_stamp()).encode()).hexdigest()[:20]


def claims_path(settings: Any, reader: GenotypeReader | None = None) -> Path:
    """One cache per genotype reader, so the check (CPIC's tables) and ask (text only) never evict each other."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", reader.name if reader else "text")
    return Path(settings.home) / f"knowledge_claims.{name}.json.gz"


def _thresholds(settings: Any) -> Thresholds:
    return Thresholds(min_label=float(settings.check.min_confidence),
                      min_pubmed=float(settings.check.min_confidence_pubmed))


def compile_facts(facts: list[TripleFact], reader: GenotypeReader | None = None, thresholds: Thresholds = Thresholds(),
                  cached: dict[str, Any] | None = None) -> tuple[KnowledgeBase, dict[str, Any]]:
    """Claims of every drug in `facts`; a drug whose fingerprint matches `cached` is not recompiled. Pure."""
    by_drug: dict[str, list[TripleFact]] = defaultdict(list)
    for f in facts:
        by_drug[f.drug.lower()].append(f)
    salt = f"{BUILDER_VERSION}:{reader.name if reader else 'text'}:{thresholds}"
    cached = cached or {}
    claims: dict[str, list[Claim]] = {}
    out_cache: dict[str, Any] = {}
    fingerprints: dict[str, str] = {}
    recompiled: list[str] = []
    for drug in sorted(by_drug):
        fp = facts_fingerprint(by_drug[drug], salt)
        fingerprints[drug] = fp
        entry = cached.get(drug)
        if entry and entry.get("fingerprint") == fp:
            claims[drug] = [Claim.from_json(c) for c in entry["claims"]]
            out_cache[drug] = entry
            continue
        recompiled.append(drug)
        claims[drug] = compile_drug(drug, by_drug[drug], reader, thresholds)
        out_cache[drug] = {"fingerprint": fp, "claims": [c.to_cache() for c in claims[drug]]}
    coverage = {drug: coverage_of(fs) for drug, fs in by_drug.items()}
    kb = KnowledgeBase({d: c for d, c in claims.items() if c}, {d: c for d, c in coverage.items() if c}, fingerprints,
                       tuple(recompiled), thresholds, reader.name if reader else "text")
    return kb, out_cache


def compile_claims(store: Any, settings: Any, reader: GenotypeReader | None = None, *,
                   rebuild: bool = False, path: Path | None = None) -> KnowledgeBase:
    """The store's claims, recompiling only drugs whose triples changed since the cached compile."""
    path = path or claims_path(settings, reader)
    thresholds = _thresholds(settings)
    salt = f"{reader.name if reader else 'text'}:{thresholds}"
    fingerprint = store_fingerprint(store)
    data: dict[str, Any] = {}
    if not rebuild and path.is_file():
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("builder") != BUILDER_VERSION or data.get("salt") != salt:
                data = {}
        except (OSError, ValueError):
            data = {}  # a damaged cache is rebuilt
    if data and data.get("store") == fingerprint:  # nothing changed: no triple is read
        return _from_cache(data, thresholds, reader)
    kb, out_cache = compile_facts(read_facts(store), reader, thresholds, data.get("drugs", {}))
    coverage = {d: {g: [c.label_sentences, sorted(c.pmids)] for g, c in genes.items()} for d, genes in kb.coverage_of.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        json.dump({"builder": BUILDER_VERSION, "salt": salt, "store": fingerprint, "drugs": out_cache,
                   "coverage": coverage}, fh, ensure_ascii=False)
    tmp.replace(path)
    kb.store_fingerprint = fingerprint
    return kb


def _from_cache(data: dict[str, Any], thresholds: Thresholds, reader: GenotypeReader | None) -> KnowledgeBase:
    claims = {d: [Claim.from_json(c) for c in e["claims"]] for d, e in data["drugs"].items()}
    coverage = {d: {g: Coverage(n, set(pmids)) for g, (n, pmids) in genes.items()}
                for d, genes in data.get("coverage", {}).items()}
    return KnowledgeBase({d: c for d, c in claims.items() if c}, coverage,
                         {d: e["fingerprint"] for d, e in data["drugs"].items()}, (), thresholds,
                         reader.name if reader else "text", data["store"])
