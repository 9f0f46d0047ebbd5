"""Records of the digest: one change, one label-version pair, one digest.

Plain frozen dataclasses; `to_json` gives the shape `pgxlit digest --format json` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("added", "removed", "changed")

# Importance of the section a change sits in, most important first (issue 6).
TIERS = ("boxed warning", "contraindications", "dosage and administration", "warnings and precautions",
         "pharmacogenomics / clinical pharmacology", "other")


def iso_date(effective_time: str | None) -> str | None:
    """YYYYMMDD as published -> YYYY-MM-DD; anything else as it was."""
    if effective_time and len(effective_time) == 8 and effective_time.isdigit():
        return f"{effective_time[:4]}-{effective_time[4:6]}-{effective_time[6:]}"
    return effective_time


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
        return {"set_id": self.set_id, "version": self.version, "effective_date": iso_date(self.effective_time),
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

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "set_id": self.new.set_id, "old_set_id": self.old.set_id, "drug": self.drug,
            "old_version": self.old.version, "new_version": self.new.version,
            "old_effective_date": iso_date(self.old.effective_time),
            "new_effective_date": iso_date(self.new.effective_time),
            "section": self.section, "section_field": self.section_field, "section_loinc": self.section_loinc,
            "importance": TIERS[self.tier], "kind": self.kind, "scope": self.scope,
            "pgx_relevant": self.pgx_relevant, "pgx_reasons": list(self.pgx_reasons),
            "old_text": self.old_text, "new_text": self.new_text, "alignment": self.alignment,
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


@dataclass(frozen=True, slots=True)
class Digest:
    """A whole digest: ranked changes, the version pairs they come from, and what could not be read."""

    generated_at: str
    selection: dict[str, Any]
    pairs: tuple[PairDigest, ...]
    changes: tuple[Change, ...]  # ranked, most important first
    errors: tuple[str, ...] = ()
    labels_with_one_version: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at, "selection": self.selection,
            "summary": {"label_pairs": len(self.pairs), "changes": len(self.changes),
                        "pgx_changes": sum(c.pgx_relevant for c in self.changes),
                        "editorial_folded": sum(p.editorial_folded for p in self.pairs),
                        "labels_with_one_version": len(self.labels_with_one_version), "errors": len(self.errors)},
            "changes": [c.to_json() for c in self.changes],
            "pairs": [p.to_json() for p in self.pairs],
            "labels_with_one_version": list(self.labels_with_one_version),
            "errors": list(self.errors),
        }
