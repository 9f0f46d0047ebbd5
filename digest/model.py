"""Records of the digest: one change, one label-version pair, one digest.

Plain frozen dataclasses; `to_json` gives the shape `pgxlit digest --format json` prints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pgxlit.records import label_date

KINDS = ("added", "removed", "changed")

# Importance of the section a change sits in, most important first (issue 6).
TIERS = ("boxed warning", "contraindications", "dosage and administration", "warnings and precautions",
         "pharmacogenomics / clinical pharmacology", "other")


@dataclass(frozen=True, slots=True)
class VersionRef:
    """Which label version a change cites: set id + version, with its effective date."""

    set_id: str
    version: int
    effective_time: str | None
    spl_id: str | None = None
    title: str | None = None
    manufacturer: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"set_id": self.set_id, "version": self.version, "effective_date": label_date(self.effective_time),
                "spl_id": self.spl_id, "manufacturer": self.manufacturer}


@dataclass(frozen=True, slots=True)
class TripleKey:
    """A triple as compared across versions: who, what factor, which relation and effect."""

    drug: str
    gene: str | None
    variant: str | None
    relation: str
    effect: str
    pgx: bool
    sentence: str = field(default="", compare=False, hash=False)
    origin: str = field(default="unknown", compare=False, hash=False)  # germline | somatic | unknown

    def factor(self) -> str:
        """"DPYD deficiency", "CYP2C19 poor metabolizer", "HLA-B*57:01": the gene said once."""
        if self.variant and self.gene and self.variant.upper().startswith(self.gene.upper()):
            return self.variant
        return " ".join(x for x in (self.gene, self.variant) if x) or "?"

    def label(self) -> str:
        return f"{self.drug}–{self.factor()} ({self.relation}, {self.effect})"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two versions of a label section.

    `scope` is "sentence" (sentences added, removed or reworded) or "section" (a whole section
    added or removed). `rank` is the position in the digest, 1 = most important.
    """

    old: VersionRef
    new: VersionRef
    drug: str
    section: str
    section_field: str | None
    section_loinc: str | None
    tier: int  # index into TIERS
    kind: str  # one of KINDS
    scope: str
    old_text: str
    new_text: str
    alignment: str  # how the section was paired: loinc, title, content, or "" for whole sections
    order: int  # position within the pair, for a stable reading order
    pgx_relevant: bool = False
    pgx_reasons: tuple[str, ...] = ()
    pgx_weight: int = 0
    triples_added: tuple[TripleKey, ...] = ()
    triples_removed: tuple[TripleKey, ...] = ()
    rank: int = 0
    origin: str = "unknown"  # of the PGx factors it touches: germline, somatic (a tumour biomarker) or unknown
    table_row: bool = False  # an edit of a table's rows (a table section, or a table flattened into text)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "set_id": self.new.set_id, "old_set_id": self.old.set_id, "drug": self.drug,
            "old_version": self.old.version, "new_version": self.new.version,
            "old_effective_date": label_date(self.old.effective_time),
            "new_effective_date": label_date(self.new.effective_time),
            "section": self.section, "section_field": self.section_field, "section_loinc": self.section_loinc,
            "importance": TIERS[self.tier], "kind": self.kind, "scope": self.scope,
            "pgx_relevant": self.pgx_relevant, "pgx_reasons": list(self.pgx_reasons), "origin": self.origin,
            "table_row": self.table_row, "old_text": self.old_text, "new_text": self.new_text, "alignment": self.alignment,
            "triples_added": [t.label() for t in self.triples_added],
            "triples_removed": [t.label() for t in self.triples_removed],
            "cites": {"old": self.old.to_json(), "new": self.new.to_json()},
        }


@dataclass(frozen=True, slots=True)
class PairDigest:
    """What changed from one label version to the next (same set, or a successor set)."""

    old: VersionRef
    new: VersionRef
    drug: str
    title: str
    changes: tuple[Change, ...]
    editorial_folded: int  # sentences that differed only in spacing, numbering, punctuation or case
    sections_aligned: dict[str, int]  # how many section pairs each alignment step made
    triples_added: tuple[TripleKey, ...] = ()
    triples_removed: tuple[TripleKey, ...] = ()
    triples_extracted: bool = False  # both versions have stored triples

    @property
    def set_changed(self) -> bool:
        return self.old.set_id != self.new.set_id

    def to_json(self) -> dict[str, Any]:
        return {
            "set_id": self.new.set_id, "old_set_id": self.old.set_id, "set_changed": self.set_changed,
            "drug": self.drug, "title": self.title, "old": self.old.to_json(), "new": self.new.to_json(),
            "changes": len(self.changes), "pgx_changes": sum(c.pgx_relevant for c in self.changes),
            "editorial_folded": self.editorial_folded, "sections_aligned": self.sections_aligned,
            "triples_extracted": self.triples_extracted,
            "triples_added": [t.label() for t in self.triples_added],
            "triples_removed": [t.label() for t in self.triples_removed],
        }


_REASON_SIDES = (" (new text)", " (old text)", " (both)")


def pgx_factors(changes: Sequence[Change]) -> tuple[str, ...]:
    """The genes the PGx changes are about, most cited first ("DPYD", "UGT1A1"), from their reasons."""
    counts: dict[str, int] = {}
    for c in changes:
        if not c.pgx_relevant:
            continue
        for reason in c.pgx_reasons:
            side = next((s for s in _REASON_SIDES if reason.endswith(s)), None)
            if side is None:
                continue
            gene = reason.removesuffix(side).split()[0].split("*")[0]
            counts[gene] = counts.get(gene, 0) + 1
    return tuple(sorted(counts, key=lambda g: (-counts[g], g)))


def _version(ref: VersionRef) -> str:
    return f"v{ref.version} ({label_date(ref.effective_time) or 'no date'})"


@dataclass(frozen=True, slots=True)
class LabelSummary:
    """One label's updates in a digest (its set ids followed across owners), summed up in one line."""

    drug: str
    title: str
    pairs: tuple[PairDigest, ...]  # oldest update first

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for p in self.pairs for c in p.changes)

    @property
    def set_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for p in self.pairs for s in (p.old.set_id, p.new.set_id)))

    @property
    def best_rank(self) -> int:
        return min((c.rank for c in self.changes), default=0)

    @property
    def anchor(self) -> str:
        return f"label-{self.pairs[-1].new.set_id}"

    def versions(self) -> str:
        """"v25 (2021-06-01) → v28 (2023-11-28), 2 updates": first and last version compared."""
        n = len(self.pairs)
        return f"{_version(self.pairs[0].old)} → {_version(self.pairs[-1].new)}, {n} update{'s' if n != 1 else ''}"

    def pgx_line(self) -> str:
        """Its PGx changes in a few words: how many, in which updates, about which genes, where."""
        pgx = [c for c in self.changes if c.pgx_relevant]
        if not pgx:
            return "no PGx change"
        updates = [f"v{p.old.version}→v{p.new.version}" for p in self.pairs if any(c.pgx_relevant for c in p.changes)]
        genes = ", ".join(pgx_factors(pgx)[:4])
        tiers = sorted({c.tier for c in pgx})[:3]
        where = ", ".join(TIERS[t] for t in tiers)
        added = [c.section for c in pgx if c.scope == "section" and c.kind == "added"]
        somatic = sum(c.origin == "somatic" for c in pgx)
        parts = [f"{len(pgx)} PGx change{'s' if len(pgx) != 1 else ''} in {', '.join(updates)}"]
        if genes:
            parts.append(genes)
        parts.append(where)
        if added:
            parts.append(f"new section: {added[0]}")
        if somatic:
            parts.append(f"{somatic} tumour biomarker")
        return "; ".join(parts)

    def line(self) -> str:
        """The one line a reader scans: drug, versions and dates, its PGx changes."""
        other = sum(not c.pgx_relevant for c in self.changes)
        return f"{self.title} — {self.versions()} — {self.pgx_line()}; {other} other"

    def to_json(self) -> dict[str, Any]:
        return {"drug": self.drug, "title": self.title, "set_ids": list(self.set_ids),
                "first": self.pairs[0].old.to_json(), "last": self.pairs[-1].new.to_json(),
                "updates": len(self.pairs), "changes": len(self.changes),
                "pgx_changes": sum(c.pgx_relevant for c in self.changes), "pgx_genes": list(pgx_factors(self.changes)),
                "best_rank": self.best_rank, "summary": self.line()}


_TITLE_MAX = 80


def short_title(title: str, drug: str) -> str:
    """A label's name fit for one line: "Xeloda (CAPECITABINE)"; an SPL title that is the whole
    Highlights sentence gives its "BRAND (drug) ..." phrase, or else the drug."""
    if len(title) <= _TITLE_MAX and not title.lower().startswith("these highlights"):
        return title if drug.lower() in title.lower() else f"{title} ({drug})"
    found = re.search(r"([A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,2})\s*[®™]?\s*\(\s*" + re.escape(drug) + r"[^)]{0,60}\)",
                      title, re.IGNORECASE)
    return " ".join(found.group(0).split()) if found else drug


def _in_chain_order(pairs: Sequence[PairDigest]) -> list[PairDigest]:
    """A label's updates from oldest to newest by following each update's newer version into the
    next update (dates alone mislead: eliglustat's v8 carries the date of v4 again)."""
    by_old = {(p.old.set_id, p.old.version): p for p in pairs}
    newer = {(p.new.set_id, p.new.version) for p in pairs}
    starts = sorted((p for p in pairs if (p.old.set_id, p.old.version) not in newer),
                    key=lambda p: (p.old.effective_time or "", p.old.version))
    out: list[PairDigest] = []
    seen: set[int] = set()
    for start in starts:
        p: PairDigest | None = start
        while p is not None and id(p) not in seen:
            out.append(p)
            seen.add(id(p))
            p = by_old.get((p.new.set_id, p.new.version))
    return out + [p for p in pairs if id(p) not in seen]


def group_labels(pairs: Sequence[PairDigest]) -> tuple[LabelSummary, ...]:
    """Label updates grouped by label (set ids joined by an update that crosses from one to the
    other), the label with the most important change first."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[root(p.old.set_id)] = root(p.new.set_id)
    groups: dict[str, list[PairDigest]] = {}
    for p in pairs:
        groups.setdefault(root(p.new.set_id), []).append(p)
    out = []
    for members in groups.values():
        members = _in_chain_order(members)
        last = members[-1]
        out.append(LabelSummary(last.drug, short_title(last.title, last.drug), tuple(members)))
    no_change = 1 << 30
    return tuple(sorted(out, key=lambda g: (g.best_rank or no_change, g.drug, g.set_ids)))


@dataclass(frozen=True, slots=True)
class Digest:
    """A whole digest: ranked changes, the version pairs they come from, and what could not be read."""

    generated_at: str
    selection: dict[str, Any]
    pairs: tuple[PairDigest, ...]
    changes: tuple[Change, ...]  # ranked, most important first
    errors: tuple[str, ...] = ()
    labels_with_one_version: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[LabelSummary, ...]:
        """The label updates grouped by label, each with its one-line summary."""
        return group_labels(self.pairs)

    def to_json(self) -> dict[str, Any]:
        labels = self.labels
        return {
            "generated_at": self.generated_at, "selection": self.selection,
            "summary": {"label_pairs": len(self.pairs), "changes": len(self.changes),
                        "pgx_changes": sum(c.pgx_relevant for c in self.changes),
                        "editorial_folded": sum(p.editorial_folded for p in self.pairs),
                        "labels": len(labels),
                        "labels_with_one_version": len(self.labels_with_one_version), "errors": len(self.errors)},
            "labels": [g.to_json() for g in labels],
            "changes": [c.to_json() for c in self.changes],
            "pairs": [p.to_json() for p in self.pairs],
            "labels_with_one_version": list(self.labels_with_one_version),
            "errors": list(self.errors),
        }
