"""Two entity taggers' spans voted into one set: crossing spans never; nested spans where the scheme nests.

Why: PGxCorpus's nested CRF (extract/nested_crf.py) is precise on short, name-like spans (genes,
drugs, haplotypes) and the MiniLM span model (extract/span_ner.py) reads long, meaning-defined
ones better (Phenotype, Pharmacodynamic_phenotype). Neither sees the other's errors, so a span both
find is likelier right than a span one finds alone.

The rule is one general mechanism, not a per-type or per-sentence choice: each tagger gives each of
its spans a score in [0, 1] (the CRF: 1 on its Viterbi path, its weakest marginal off it; the span
model: its probability); a span's vote is ``weight * first + (1 - weight) * second`` (0 for a tagger
that did not give it), and spans are kept best vote first while the vote reaches ``threshold``,
skipping one that crosses a kept span, (``one_type_per_extent``) repeats a kept extent with another
type, or (``nested`` off, a flat scheme such as BioRED's) overlaps a kept span at all. `weight` and
`threshold` are chosen on the held-back fifth of the train fold (tools/choose_span_vote.py) and kept
in the vote's meta.json. Nothing here knows a scheme or a type.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Scored", "VoteRule", "Voted", "crosses", "load_rule", "vote"]

Scored = tuple[int, int, str, float]  # start, end, type, score in [0, 1]


@dataclass(frozen=True, slots=True)
class VoteRule:
    """How two taggers' scores make one decision (chosen on held-back data, kept in meta.json)."""

    weight: float = 0.5  # the first tagger's share of a span's vote; the second gets 1 - weight
    threshold: float = 0.5  # the vote a span needs to be kept
    one_type_per_extent: bool = True  # one type per (start, end): the better-voted one
    nested: bool = True  # a kept span may hold another (PGxCorpus); False: no two kept spans overlap (BioRED)

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"a vote's weight is in [0, 1], not {self.weight}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VoteRule:
        return cls(float(data["weight"]), float(data["threshold"]), bool(data.get("one_type_per_extent", True)),
                   bool(data.get("nested", True)))


@dataclass(frozen=True, slots=True)
class Voted:
    """A kept span, its vote and what each tagger said of it (0.0 = not given)."""

    start: int
    end: int
    label: str
    vote: float
    first: float
    second: float

    @property
    def agreed(self) -> bool:
        """Both taggers gave this span with this type."""
        return self.first > 0.0 and self.second > 0.0


def crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two extents that overlap with neither holding the other."""
    return a[0] < b[1] and b[0] < a[1] and not (a[0] <= b[0] and b[1] <= a[1]) and not (b[0] <= a[0] and a[1] <= b[1])


def vote(first: Sequence[Scored], second: Sequence[Scored], rule: VoteRule) -> list[Voted]:
    """One span set from two, in text order (outer span first when two start together)."""
    scores: dict[tuple[int, int, str], list[float]] = {}
    for k, spans in enumerate((first, second)):
        for s, e, label, p in spans:
            if e <= s:
                continue
            row = scores.setdefault((s, e, label), [0.0, 0.0])
            row[k] = max(row[k], float(p))
    ranked = sorted(
        ((rule.weight * a + (1.0 - rule.weight) * b, s, e, label, a, b) for (s, e, label), (a, b) in scores.items()),
        key=lambda x: (-x[0], -max(x[4], x[5]), x[1], -x[2], x[3]),
    )
    kept: list[Voted] = []
    extents: set[tuple[int, int]] = set()
    for v, s, e, label, a, b in ranked:
        if v < rule.threshold or v <= 0.0:
            break
        if rule.one_type_per_extent and (s, e) in extents:
            continue
        if any(crosses((s, e), (k.start, k.end)) or (not rule.nested and s < k.end and k.start < e) for k in kept):
            continue
        kept.append(Voted(s, e, label, round(v, 6), a, b))
        extents.add((s, e))
    return sorted(kept, key=lambda k: (k.start, -k.end, k.label))


def load_rule(folder: str | Path) -> tuple[VoteRule, dict[str, Any]]:
    """The rule in a vote folder's meta.json ("rule") and the whole meta."""
    meta_file = Path(folder) / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"no vote in {folder} (meta.json missing); choose one with "
                                "`python tools/choose_span_vote.py --shared ../shared --out corpora/models/pgxcorpus_vote`")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return VoteRule.from_json(meta["rule"]), meta
