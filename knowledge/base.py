"""The compiled claims of a store, recompiled incrementally, and the questions consumers ask of them.

`compile_claims` reads the store's PGx triples (I/O edge), fingerprints each drug's triples and
recompiles only the drugs whose fingerprint changed since the cached compile (a new label
version, a new abstract, a curator's review): the rest are read back from
`$PGXLIT_HOME/knowledge_claims.json.gz`. `refresh_claims` is what a running service calls after
reviews: it reads back only the reviewed drugs' triples and recompiles only those drugs, keeping
every other drug's claims objects as they are; `save_claims` writes the cache (orjson, atomic).
`Refreshing` is how every long-lived reader (the check service, the web answerer's `LiveKnowledge`)
keeps such a value current: one background thread, swapped in when ready, requests never waiting.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import logging
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from pgxlit.knowledge.compile import Thresholds, claim_order, compile_drug, facts_fingerprint
from pgxlit.knowledge.edits import changed_edit_drugs, with_store_edits, without_edits
from pgxlit.knowledge.facts import TripleFact, read_facts
from pgxlit.knowledge.groups import GenotypeReader
from pgxlit.knowledge.model import Claim

log = logging.getLogger(__name__)
T = TypeVar("T")


def _builder_version() -> str:
    """Changes with the compiler's rules, so an upgraded pgxlit never serves stale claims."""
    h = hashlib.sha256()
    for name in ("pgxlit.sections", "pgxlit.extract.actions", "pgxlit.knowledge.compile", "pgxlit.knowledge.facts",
                 "pgxlit.extract.quote",
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
    stamp: tuple[Any, ...] = ()  # the store's triples_stamp the claims were compiled at
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # drug -> {fingerprint, claims} as cached
    salt: str = ""
    edited: dict[str, tuple[int, ...]] = field(default_factory=dict)  # drug -> curator edits laid over it (knowledge.edits)

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
    return fingerprint_of(store.triples_stamp())


def fingerprint_of(stamp: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr(stamp).encode()).hexdigest()[:20]


def _unreviewed_part(stamp: tuple[Any, ...]) -> tuple[Any, ...]:
    """What of `Store.triples_stamp` only adding, replacing or removing triples or labels changes (the
    count, newest id and newest time of triples; extracted documents; label versions), not a review."""
    (count, max_id, _status_len, newest), docs, labels, _by_status, _audit = stamp
    return (count, max_id, newest), docs, labels


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
                   rebuild: bool = False, path: Path | None = None, write: bool = True) -> KnowledgeBase:
    """The store's claims, recompiling only drugs whose triples changed since the cached compile."""
    path = path or claims_path(settings, reader)
    thresholds = _thresholds(settings)
    salt = f"{reader.name if reader else 'text'}:{thresholds}"
    stamp = tuple(store.triples_stamp())  # read before the triples: a review in between is seen next time
    fingerprint = fingerprint_of(stamp)
    compiled_at = fingerprint_of(without_edits(stamp))  # the cache holds claims as compiled: edits leave it valid
    data: dict[str, Any] = {}
    if not rebuild and path.is_file():
        try:
            data = orjson.loads(gzip.decompress(path.read_bytes()))
            if data.get("builder") != BUILDER_VERSION or data.get("salt") != salt:
                data = {}
        except (OSError, ValueError, EOFError, gzip.BadGzipFile):
            data = {}  # a damaged cache is rebuilt
    if data and data.get("store") == compiled_at:  # no triple changed: none is read
        kb = _from_cache(data, thresholds, reader)
        kb.stamp, kb.salt, kb.store_fingerprint = stamp, salt, fingerprint
        return with_store_edits(kb, store)
    kb, out_cache = compile_facts(read_facts(store), reader, thresholds, data.get("drugs", {}))
    kb.store_fingerprint, kb.stamp, kb.cache, kb.salt = fingerprint, stamp, out_cache, salt
    if write:
        save_claims(kb, path)
    return with_store_edits(kb, store)  # the cache keeps the claims as compiled; edits are laid over them


def refresh_claims(kb: KnowledgeBase, store: Any, settings: Any, reader: GenotypeReader | None = None) -> KnowledgeBase | None:
    """`kb` brought up to date with the store by recompiling only the drugs reviewed since it was
    compiled (their triples read back alone); None when more than reviews changed (new triples, labels
    or documents: compile the store with `compile_claims`). `kb` itself is left as it is (it may be
    serving); the new one shares the unchanged drugs' claims. The cache is not written: `save_claims`."""
    stamp = tuple(store.triples_stamp())
    if not kb.stamp or _unreviewed_part(stamp) != _unreviewed_part(kb.stamp) or kb.thresholds != _thresholds(settings):
        return None
    if stamp == kb.stamp:
        return kb
    _last, reviewed = store.reviewed_drugs_since(kb.stamp[-1])
    edited = changed_edit_drugs(kb, store)  # a curator edited or reverted these drugs' claims
    drugs = reviewed | edited
    part, part_cache = compile_facts(read_facts(store, drugs), reader, kb.thresholds,
                                     {d: kb.cache[d] for d in drugs if d in kb.cache})
    claims, coverage = dict(kb.claims), dict(kb.coverage_of)
    fingerprints, cache = dict(kb.fingerprints), dict(kb.cache)
    for drug in drugs:
        for table in (claims, coverage, fingerprints, cache):
            table.pop(drug, None)
    claims.update(part.claims)
    coverage.update(part.coverage_of)
    fingerprints.update(part.fingerprints)
    cache.update(part_cache)
    fresh = KnowledgeBase(claims, coverage, fingerprints, tuple(sorted(set(part.recompiled) | edited)), kb.thresholds,
                          kb.reader, fingerprint_of(stamp), stamp, cache, kb.salt, kb.edited)
    return with_store_edits(fresh, store, drugs)


class Refreshing(Generic[T]):
    """A value loaded once, then kept current off the request path: the one refresh mechanism of pgxlit's
    long-lived readers (the check service's knowledge, the web answerer's claims).

    `get` answers at once with what is held; when `every()` seconds have passed since the last look, it
    starts one background thread (never two) that calls `refresh(current)`: None when nothing changed,
    else the new value, swapped in when ready, then handed to `saved` (e.g. writing a cache file) so
    nothing slow happens before the swap. Only the first `get` waits (the first load). A refresh that
    fails is logged and the held value kept; the next look retries. `replace` (a synchronous rebuild)
    wins over a refresh running at the same time."""

    def __init__(self, load: Callable[[], T], refresh: Callable[[T], T | None], every: Callable[[], float],
                 name: str = "pgxlit-refresh", saved: Callable[[T], None] | None = None) -> None:
        self._load, self._refresh, self._every, self._saved = load, refresh, every, saved
        self.name = name
        self._lock = threading.Lock()  # guards the fields below; never held while a value is built
        self._first = threading.Lock()  # one first load (the only one a reader waits for)
        self._value: T | None = None
        self._looked_at = 0.0
        self._thread: threading.Thread | None = None

    def get(self) -> T:
        current = self._value
        if current is None:
            with self._first:
                if self._value is None:
                    loaded = self._load()
                    with self._lock:
                        self._value, self._looked_at = loaded, time.monotonic()
                return self._value  # type: ignore[return-value]
        now = time.monotonic()
        with self._lock:
            due = now - self._looked_at >= self._every()
            if due and (self._thread is None or not self._thread.is_alive()):
                self._looked_at = now
                self._thread = threading.Thread(target=self._run, args=(current,), name=self.name, daemon=True)
                self._thread.start()
        return current

    def _run(self, current: T) -> None:
        try:
            fresh = self._refresh(current)
            if fresh is None or fresh is current:
                return
            with self._lock:
                if self._value is not current:  # replaced meanwhile (a synchronous rebuild): that one wins
                    return
                self._value = fresh
            if self._saved is not None:
                self._saved(fresh)
        except Exception:  # the reader keeps answering from what it has; the next look retries
            log.exception("%s: refreshing failed; still serving the previous value (retried after the refresh "
                          "interval)", self.name)

    @property
    def loaded(self) -> bool:
        """The first load is done: `get` answers without waiting."""
        return self._value is not None

    def replace(self, build: Callable[[], T]) -> T:
        """Build a new value now, in the caller's thread, and serve it from then on."""
        with self._first:
            fresh = build()
            with self._lock:
                self._value, self._looked_at = fresh, time.monotonic()
            return fresh

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running refresh (tests, shutdown); True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


class LiveKnowledge:
    """The claims for a long-lived reader (the web app's answerer), kept current by `Refreshing`: compiled on
    first use; then every `check.refresh_seconds` a background thread compares the store's stamp and, when
    reviews, claim edits or new triples changed it, compiles only the touched drugs again while asks go on
    reading the claims they have."""

    def __init__(self, store: Any, settings: Any, reader: GenotypeReader | None = None) -> None:
        self.store, self.settings, self.reader = store, settings, reader
        self._claims: Refreshing[KnowledgeBase] = Refreshing(
            lambda: compile_claims(self.store, self.settings, self.reader), self._refresh,
            lambda: float(self.settings.check.refresh_seconds), name="pgxlit-claims-refresh")

    def _refresh(self, kb: KnowledgeBase) -> KnowledgeBase | None:
        if store_fingerprint(self.store) == kb.store_fingerprint:
            return None
        return (refresh_claims(kb, self.store, self.settings, self.reader)
                or compile_claims(self.store, self.settings, self.reader))

    def current(self) -> KnowledgeBase:
        """The claims held now (compiled on the first call); may start a background refresh."""
        return self._claims.get()

    def wait_for_refresh(self, timeout: float | None = None) -> bool:
        return self._claims.wait(timeout)


def save_claims(kb: KnowledgeBase, path: Path) -> None:
    """The claims cache written whole with orjson, atomically (tmp file + os.replace): a reader never
    sees half a file, and a crash leaves the previous cache."""
    coverage = {d: {g: [c.label_sentences, sorted(c.pmids)] for g, c in genes.items()} for d, genes in kb.coverage_of.items()}
    compiled_at = fingerprint_of(without_edits(kb.stamp)) if kb.stamp else kb.store_fingerprint
    body = orjson.dumps({"builder": BUILDER_VERSION, "salt": kb.salt, "store": compiled_at, "drugs": kb.cache,
                         "coverage": coverage})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(gzip.compress(body, compresslevel=3))
    os.replace(tmp, path)


def _from_cache(data: dict[str, Any], thresholds: Thresholds, reader: GenotypeReader | None) -> KnowledgeBase:
    claims = {d: [Claim.from_json(c) for c in e["claims"]] for d, e in data["drugs"].items()}
    coverage = {d: {g: Coverage(n, set(pmids)) for g, (n, pmids) in genes.items()}
                for d, genes in data.get("coverage", {}).items()}
    return KnowledgeBase({d: c for d, c in claims.items() if c}, coverage,
                         {d: e["fingerprint"] for d, e in data["drugs"].items()}, (), thresholds,
                         reader.name if reader else "text", data["store"], cache=data["drugs"])
