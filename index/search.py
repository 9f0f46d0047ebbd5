"""Hybrid search: dense (faiss) and lexical (BM25) hits fused by reciprocal rank, with filters.

Metadata for filtering is held in numpy arrays (a few bytes per passage), so a filter is a
vector operation, not a database query; only the final top-k passages are read from the store.
Triple entries lead to the passage that holds their sentence.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pgxlit.index import dense
from pgxlit.index.embed import Embedder, get_embedder, other_int8_recipe
from pgxlit.index.lexical import LexicalIndex
from pgxlit.index.paths import IndexPaths, index_paths, read_manifest

from pgxlit.config import Settings
from pgxlit.records import Hit, Passage
from pgxlit.sections import PUBMED_SEARCH_PRIOR, SEARCH_PRIOR, SEARCH_PRIOR_DEFAULT
from pgxlit.store import Store

Mode = Literal["hybrid", "dense", "lexical"]
SOURCES = ("fda_label", "pubmed")
# A prior on where a prescriber's answer usually is: the actionable label sections first (pgxlit/sections.py).
SECTION_PRIOR = SEARCH_PRIOR
PUBMED_PRIOR = PUBMED_SEARCH_PRIOR
METADATA_FORMAT = 1  # bump when the saved metadata layout changes: older files are then rebuilt
RETIRE_PENDING = "retire.pending"  # index.build's marker: a swapped-in build still retiring passages


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """What a search may return. Only the newest version of each label unless `latest_only` is off."""

    source: str | None = None  # fda_label | pubmed
    drug: str | None = None  # canonical name
    gene: str | None = None  # HGNC symbol
    section: str | None = None  # openFDA field name, e.g. boxed_warning
    sections: tuple[str, ...] = ()  # any of these (with `section`, either matches)
    set_id: str | None = None
    since: str | None = None  # YYYY, YYYY-MM-DD or YYYYMMDD: label effective date / abstract year
    until: str | None = None
    latest_only: bool = True

    def __post_init__(self) -> None:
        if self.source not in (None, *SOURCES):
            raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {self.source!r}")
        for value in (self.since, self.until):
            if value is not None:
                _date_int(value)


def _date_int(text: str) -> int:
    digits = text.replace("-", "")
    if not digits.isdigit() or len(digits) not in (4, 6, 8):
        raise ValueError(f"dates look like 2024, 2024-05 or 2024-05-31; got {text!r}")
    return int(digits.ljust(8, "0")) if len(digits) == 8 else int(digits.ljust(8, "0")) + 101


@dataclass
class Metadata:
    """Per-passage fields for filtering and boosting, aligned with `ids` (sorted)."""

    ids: np.ndarray
    is_triple: np.ndarray
    source: np.ndarray  # index into SOURCES
    superseded: np.ndarray
    date: np.ndarray  # YYYYMMDD; abstracts: their year's January 1st
    evidence: np.ndarray  # for triple entries the passage id holding the sentence, else -1
    section: np.ndarray  # code into `sections`
    sections: list[str] = field(default_factory=list)
    by_drug: dict[str, np.ndarray] = field(default_factory=dict)  # canonical name -> row positions
    by_gene: dict[str, np.ndarray] = field(default_factory=dict)
    by_set: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store) -> Metadata:
        ids, triple, source, superseded, date, evidence, section = [], [], [], [], [], [], []
        sections: dict[str, int] = {}
        drugs: dict[str, list[int]] = defaultdict(list)
        genes: dict[str, list[int]] = defaultdict(list)
        sets: dict[str, list[int]] = defaultdict(list)
        for row, (pid, kind, src, set_id, _v, sec, eff, year, _pmid, d, g, ev, sup, _del) in enumerate(store.passage_rows()):
            ids.append(pid)
            triple.append(kind == "triple")
            source.append(SOURCES.index(src))
            superseded.append(bool(sup))
            date.append(int(eff) if eff and eff.isdigit() else (year * 10000 + 101 if year else 0))
            evidence.append(ev if ev is not None else -1)
            section.append(sections.setdefault(sec or "", len(sections)))
            for name in d.split("|") if d else ():
                drugs[name].append(row)
            for name in g.split("|") if g else ():
                genes[name].append(row)
            if set_id:
                sets[set_id].append(row)
        arr = lambda xs, t: np.asarray(xs, dtype=t)  # noqa: E731
        return cls(
            arr(ids, np.int64), arr(triple, bool), arr(source, np.int8), arr(superseded, bool), arr(date, np.int32),
            arr(evidence, np.int64), arr(section, np.int32), list(sections),
            {k: arr(v, np.int64) for k, v in drugs.items()}, {k: arr(v, np.int64) for k, v in genes.items()},
            {k: arr(v, np.int64) for k, v in sets.items()},
        )

    @classmethod
    def for_index(cls, store: Store, paths: IndexPaths) -> Metadata:
        """The metadata of an index generation: loaded from the file saved with it when that file was
        written for this very manifest (a build or an incremental update rewrites the manifest, so a
        changed index is never read with stale metadata); else read from the store and saved there.
        Not saved while a swapped-in build is still retiring passages (the store is about to change)."""
        stamp = metadata_stamp(paths)
        if stamp is not None:
            loaded = cls.load(paths.metadata, stamp)
            if loaded is not None:
                return loaded
        meta = cls.from_store(store)
        if stamp is not None and not (paths.folder / RETIRE_PENDING).exists():
            meta.save(paths.metadata, stamp)
        return meta

    def save(self, path: Path, stamp: str) -> bool:
        """Write to a temporary name and rename (readers never see half a file); False when the folder
        cannot be written (the next reader then reads the store again)."""
        arrays: dict[str, np.ndarray] = {
            "stamp": np.asarray(stamp), "ids": self.ids, "is_triple": self.is_triple, "source": self.source,
            "superseded": self.superseded, "date": self.date, "evidence": self.evidence, "section": self.section,
            "sections": np.asarray(self.sections, dtype=str),
        }
        for name, table in (("drug", self.by_drug), ("gene", self.by_gene), ("set", self.by_set)):
            keys = list(table)
            rows = [table[k] for k in keys]
            arrays[f"{name}_names"] = np.asarray(keys, dtype=str)
            arrays[f"{name}_rows"] = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)
            arrays[f"{name}_ends"] = np.cumsum([len(r) for r in rows], dtype=np.int64)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
            return True
        except OSError:
            tmp.unlink(missing_ok=True)
            return False

    @classmethod
    def load(cls, path: Path, stamp: str) -> Metadata | None:
        """The metadata saved at `path` for `stamp`; None when absent, unreadable or saved for another manifest."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["stamp"]) != stamp:
                    return None
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            return None
        tables = []
        for name in ("drug", "gene", "set"):
            rows, ends = data[f"{name}_rows"], data[f"{name}_ends"]
            starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
            tables.append({str(k): rows[a:b] for k, a, b in zip(data[f"{name}_names"], starts, ends, strict=True)})
        return cls(data["ids"], data["is_triple"], data["source"], data["superseded"], data["date"], data["evidence"],
                   data["section"], [str(x) for x in data["sections"]], *tables)

    def rows_of(self, pids: np.ndarray) -> np.ndarray:
        """Row positions of passage ids; -1 for ids that are not live (retired or unknown)."""
        pos = np.searchsorted(self.ids, pids)
        pos = np.clip(pos, 0, max(len(self.ids) - 1, 0))
        ok = (len(self.ids) > 0) & (self.ids[pos] == pids) if len(self.ids) else np.zeros(len(pids), bool)
        return np.where(ok, pos, -1)

    def mask(self, f: SearchFilters) -> np.ndarray:
        keep = np.ones(len(self.ids), dtype=bool)
        if f.latest_only:
            keep &= ~self.superseded
        if f.source:
            keep &= self.source == SOURCES.index(f.source)
        wanted = [x for x in (f.section, *f.sections) if x]
        if wanted:
            codes = [self.sections.index(x) for x in wanted if x in self.sections]
            keep &= np.isin(self.section, np.asarray(codes or [-2], dtype=np.int32))
        if f.since:
            keep &= self.date >= _date_int(f.since)
        if f.until:
            keep &= self.date <= _date_int(f.until) + (1231 if len(f.until.replace("-", "")) == 4 else 0)
        for table, name in ((self.by_drug, f.drug), (self.by_gene, f.gene), (self.by_set, f.set_id)):
            if name is not None:
                only = np.zeros(len(self.ids), dtype=bool)
                only[table.get(name, np.zeros(0, np.int64))] = True
                keep &= only
        return keep

    def matches(self, table: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
        hit = np.zeros(len(self.ids), dtype=bool)
        for name in names:
            hit[table.get(name, np.zeros(0, np.int64))] = True
        return hit


def metadata_stamp(paths: IndexPaths) -> str | None:
    """What saved metadata must have been written for: this generation's manifest, byte for byte."""
    try:
        manifest = paths.manifest.read_bytes()
    except OSError:
        return None
    return hashlib.sha256(f"{METADATA_FORMAT}|{paths.folder}|".encode() + manifest).hexdigest()


class Searcher:
    """Opens the index once; `search` is then a few milliseconds of numpy, faiss and BM25."""

    def __init__(self, store: Store, settings: Settings, embedder: Embedder | None = None,
                 paths: IndexPaths | None = None) -> None:
        self.store = store
        self.settings = settings
        self.paths = paths or index_paths(settings)
        manifest = read_manifest(self.paths)
        if manifest is None or not self.paths.dense.exists() or manifest.get("status") == "building":
            raise FileNotFoundError(f"no search index under {self.paths.folder}: run `pgxlit index` first")
        self.manifest = manifest
        if (mismatch := other_int8_recipe(str(manifest["embed_model"]))) is not None:
            # as for a missing index: nothing this pgxlit can search until it is rebuilt (the web answers 503)
            raise FileNotFoundError(f"{self.paths.folder}: {mismatch}")
        self.embedder = embedder or get_embedder(str(manifest["embed_model"]), settings.embed.device,
                                                 settings.embed.batch_size, settings.embed.runtime,
                                                 quantize=False)  # the manifest's name says minilm-int8v3 or not
        self.dense = dense.load(self.paths.dense)
        self.lexical = LexicalIndex.load(self.paths.lexical)
        self.meta = Metadata.for_index(store, self.paths)
        # how hits' passages are read: the store's, unless a long-lived caller keeps them (qa.answer)
        self.read_passages: Callable[[Iterable[int]], dict[int, Passage]] = store.passages
        self._vectors: dict[str, np.ndarray] = {}
        self._lex_rows: np.ndarray | None = None
        self._prior = np.asarray([SECTION_PRIOR.get(name, SEARCH_PRIOR_DEFAULT) for name in self.meta.sections] or [1.0])

    @classmethod
    def from_parts(cls, store: Any, settings: Settings, embedder: Embedder, dense_index: Any,
                   lexical: LexicalIndex, meta: Metadata) -> Searcher:
        """A searcher over prepared parts (benchmarks build large replicated indexes this way)."""
        self = cls.__new__(cls)
        self.store, self.settings, self.embedder = store, settings, embedder
        self.dense, self.lexical, self.meta = dense_index, lexical, meta
        self.manifest = {}
        self.read_passages = store.passages
        self._vectors = {}
        self._lex_rows = None
        self._prior = np.asarray([SECTION_PRIOR.get(name, SEARCH_PRIOR_DEFAULT) for name in meta.sections] or [1.0])
        return self

    def search(
        self, query: str, k: int = 10, filters: SearchFilters | None = None, *,
        boost_drugs: tuple[str, ...] = (), boost_genes: tuple[str, ...] = (), mode: Mode = "hybrid",
        boost: bool = True, timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """The k best passages for `query` that pass `filters`."""
        filters = filters or SearchFilters()
        n = max(self.settings.search.candidates, k)
        t0 = time.perf_counter()
        keep = self.meta.mask(filters)
        allowed_fraction = float(keep.mean()) if len(keep) else 0.0
        dense_ranked: list[int] = []
        lexical_ranked: list[int] = []
        if mode in ("hybrid", "dense") and allowed_fraction > 0:
            vector = self._embed(query)
            t1 = time.perf_counter()
            dense_ranked = self._dense(vector, n, keep, allowed_fraction)
            if timings is not None:
                timings["embed_query"] = (t1 - t0) * 1000
        t2 = time.perf_counter()
        if mode in ("hybrid", "lexical") and allowed_fraction > 0:
            _, pids = self.lexical.search(query, n, None if allowed_fraction == 1.0 else self._lexical_mask(keep))
            lexical_ranked = [int(p) for p in pids]
        t3 = time.perf_counter()
        fused = self._fuse(dense_ranked, lexical_ranked, boost_drugs if boost else (), boost_genes if boost else ())
        top = sorted(fused.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
        passages = self.read_passages([pid for pid, _ in top])
        hits = [
            Hit(passages[pid], score, dense_rank, lexical_rank, via_triple=via)
            for pid, (score, dense_rank, lexical_rank, via) in top if pid in passages
        ]
        if timings is not None:
            timings["lexical"] = (t3 - t2) * 1000
            timings["search_total"] = (time.perf_counter() - t0) * 1000
        return hits

    def _lexical_mask(self, keep: np.ndarray) -> np.ndarray:
        """The filter mask in the lexical index's document order (passages it lacks stay out)."""
        if self._lex_rows is None:
            self._lex_rows = self.meta.rows_of(self.lexical.ids)
        rows = self._lex_rows
        return np.where(rows >= 0, keep[np.clip(rows, 0, None)], False)

    def _embed(self, query: str) -> np.ndarray:
        """Query vectors are cached: an answer searches several times with the same question."""
        vector = self._vectors.get(query)
        if vector is None:
            if len(self._vectors) > 512:
                self._vectors.clear()
            vector = self._vectors[query] = self.embedder.encode([query])[0]
        return vector

    def _dense(self, vector: np.ndarray, n: int, keep: np.ndarray, fraction: float) -> list[int]:
        """Wide filters: over-fetch and drop; narrow ones: let faiss search only the allowed ids."""
        if fraction >= 0.3:
            _, pids = dense.search(self.dense, vector, int(n / fraction) + n)
            rows = self.meta.rows_of(pids)
            ok = (rows >= 0) & keep[np.clip(rows, 0, None)]
            return [int(p) for p in pids[ok][:n]]
        _, pids = dense.search(self.dense, vector, n, allowed=self.meta.ids[keep])
        return [int(p) for p in pids]

    def _fuse(self, dense_ranked: list[int], lexical_ranked: list[int], drugs: tuple[str, ...],
              genes: tuple[str, ...]) -> dict[int, list]:
        """Reciprocal-rank fusion onto evidence passages, then a boost for passages naming the asked entities.

        Returns passage id -> [score, dense rank, lexical rank, reached via a triple]."""
        rrf = self.settings.search.rrf_k
        out: dict[int, list] = {}
        if not len(self.meta.ids):
            return out
        for slot, ranked in ((1, dense_ranked), (2, lexical_ranked)):
            if not ranked:
                continue
            # rows, triple entries and their evidence passages' rows for the whole list at once
            pids = np.asarray(ranked, dtype=np.int64)
            rows = self.meta.rows_of(pids)
            safe = np.clip(rows, 0, None)
            via_triple = (rows >= 0) & self.meta.is_triple[safe]
            targets = np.where(via_triple, self.meta.evidence[safe], pids)
            target_live = np.where(via_triple, self.meta.rows_of(targets) >= 0, True)
            rank = 0
            for target, row, via, live in zip(targets.tolist(), rows.tolist(), via_triple.tolist(),
                                              target_live.tolist(), strict=True):
                if row < 0 or not live:
                    continue
                entry = out.setdefault(target, [0.0, None, None, False])
                if entry[slot] is not None:
                    continue  # a passage counts once per list, however many of its triples matched
                rank += 1
                entry[0] += 1.0 / (rrf + rank)
                entry[slot] = rank
                entry[3] = entry[3] or via
        if out and self.settings.search.section_prior:
            rows = self.meta.rows_of(np.asarray(list(out), dtype=np.int64))
            factors = np.where(self.meta.source[rows] == 0, self._prior[self.meta.section[rows]], PUBMED_PRIOR)
            for pid, factor in zip(list(out), factors.tolist(), strict=True):
                out[pid][0] *= factor
        if out and (drugs or genes):
            pids = np.asarray(list(out), dtype=np.int64)
            rows = self.meta.rows_of(pids)
            wanted = (1 if drugs else 0) + (1 if genes else 0)
            drug_hit = self.meta.matches(self.meta.by_drug, drugs)[rows] if drugs else np.zeros(len(rows), bool)
            gene_hit = self.meta.matches(self.meta.by_gene, genes)[rows] if genes else np.zeros(len(rows), bool)
            share = (drug_hit.astype(float) + gene_hit.astype(float)) / wanted
            boost = self.settings.search.entity_boost
            for pid, s in zip(pids.tolist(), share.tolist(), strict=True):
                out[pid][0] *= 1.0 + boost * s
        return out
