"""A learned second look at two taggers' spans: each candidate scored from what both taggers said of it
and of the spans competing with it.

Why: extract/span_vote.py keeps a span by one weighted sum of two scores and one threshold, the same for
every type and every neighbourhood. Its errors on held-back text are mostly edges: two spans of one
type that share an edge (one holds the other) are both kept, or the wrong one of the two is. A
logistic model over the same two scores plus the span's type, width, edge characters and its
strongest competitors (a same-type span it holds or is held by with a shared edge, a crossing span,
another type on the same extent) learns which one to keep, and a per-type weight on the vote
lets a rare, hard type keep spans at a lower vote than a common one.

It is trained on spans the two taggers gave for text they had not seen (held-back parts of a
train fold, each part tagged by models fitted without it: tools/train_span_stack.py), so its inputs
look like run time. Decoding is the vote's: best first while the probability reaches the threshold,
crossing never, one type per extent. Nothing here knows a scheme: the types come from the model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.extract.span_vote import Scored, Voted, crosses

__all__ = ["Candidate", "SpanStack", "candidates", "feature_names", "features", "keep", "load_stack"]

CrfScored = tuple[int, int, str, float, bool]  # start, end, type, weakest marginal, on the Viterbi path
Key = tuple[int, int, str]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WIDTH_BINS = (1, 2, 3, 5, 8)  # widths in words: 1, 2, 3, 4-5, 6-8, 9+


@dataclass(slots=True)
class Candidate:
    """What two taggers said of one (start, end, type): the CRF's vote score (1 on its path, else its
    marginal), whether it is on the path, its marginal, and the span model's probability (0 = not given)."""

    crf: float = 0.0
    path: float = 0.0
    marginal: float = 0.0
    span: float = 0.0

    def vote(self, weight: float) -> float:
        return weight * self.crf + (1.0 - weight) * self.span


def candidates(crf: Sequence[CrfScored], span: Sequence[Scored]) -> dict[Key, Candidate]:
    """Every span either tagger gave, with both taggers' scores."""
    found: dict[Key, Candidate] = {}
    for s, e, label, p, on_path in crf:
        if e <= s:
            continue
        c = found.setdefault((s, e, label), Candidate())
        c.crf = max(c.crf, 1.0 if on_path else float(p))
        c.path = max(c.path, float(on_path))
        c.marginal = max(c.marginal, float(p))
    for s, e, label, p in span:
        if e <= s:
            continue
        c = found.setdefault((s, e, label), Candidate())
        c.span = max(c.span, float(p))
    return found


def feature_names(types: Sequence[str]) -> list[str]:
    """The features' names, in column order."""
    width = [f"width<={w}" for w in _WIDTH_BINS] + [f"width>{_WIDTH_BINS[-1]}"]
    return ["crf", "span", "path", "marginal", "vote", "crf_gave", "span_gave", "both_gave", *width,
            *(f"type={t}" for t in types), *(f"vote*type={t}" for t in types),
            "holds_same_type_edge", "held_by_same_type_edge", "crossed_by", "other_type_same_extent",
            "overlaps_same_type", "vote-holds", "vote-held_by", "vote-crossed_by", "vote-other_type",
            "starts_with_symbol", "ends_with_symbol", "after_open_bracket", "before_close_bracket",
            "after_comma", "before_comma_or_stop", "unbalanced_brackets"]


def features(text: str, found: dict[Key, Candidate], types: Sequence[str], weight: float) -> tuple[list[Key], np.ndarray]:
    """One row per candidate (feature_names order); competitors are measured by their vote."""
    keys = list(found)
    index = {t: i for i, t in enumerate(types)}
    n_types = len(types)
    base = 8 + len(_WIDTH_BINS) + 1
    rows = np.zeros((len(keys), len(feature_names(types))), dtype=np.float64)
    votes = {k: c.vote(weight) for k, c in found.items()}
    for r, (s, e, label) in enumerate(keys):
        c = found[(s, e, label)]
        v = votes[(s, e, label)]
        row = rows[r]
        row[:8] = (c.crf, c.span, c.path, c.marginal, v, c.crf > 0, c.span > 0, c.crf > 0 and c.span > 0)
        width = len(_TOKEN.findall(text[s:e]))
        row[8 + next((i for i, w in enumerate(_WIDTH_BINS) if width <= w), len(_WIDTH_BINS))] = 1.0
        if label in index:
            row[base + index[label]] = 1.0
            row[base + n_types + index[label]] = v
        holds = held_by = crossed = other = overlaps = 0.0
        for (s2, e2, l2), v2 in votes.items():
            if (s2, e2, l2) == (s, e, label):
                continue
            if (s2, e2) == (s, e):
                other = max(other, v2)
            elif crosses((s, e), (s2, e2)):
                crossed = max(crossed, v2)
            elif l2 == label and s <= s2 and e2 <= e and (s == s2 or e == e2):
                holds = max(holds, v2)
            elif l2 == label and s2 <= s and e <= e2 and (s == s2 or e == e2):
                held_by = max(held_by, v2)
            elif l2 == label and s < e2 and s2 < e:
                overlaps = max(overlaps, v2)
        surface = text[s:e]
        before, after = text[:s].rstrip()[-1:], text[e:].lstrip()[:1]
        row[base + 2 * n_types:] = (
            holds, held_by, crossed, other, overlaps, v - holds, v - held_by, v - crossed, v - other,
            not surface[:1].isalnum(), not surface[-1:].isalnum(), before == "(", after == ")",
            before in (",", ";"), after in (",", ";", "."), surface.count("(") != surface.count(")"),
        )
    return keys, rows


def keep(keys: Sequence[Key], probs: np.ndarray, threshold: float, nested: bool = True) -> list[int]:
    """Indexes of the kept candidates: best first while the probability reaches `threshold`, crossing
    never, one type per extent, and (`nested` off) no two overlapping."""
    kept: list[int] = []
    extents: set[tuple[int, int]] = set()
    for i in sorted(range(len(keys)), key=lambda j: (-float(probs[j]), keys[j])):
        if probs[i] < threshold:
            break
        s, e, _ = keys[i]
        if (s, e) in extents:
            continue
        if any(crosses((s, e), keys[k][:2]) or (not nested and s < keys[k][1] and keys[k][0] < e) for k in kept):
            continue
        kept.append(i)
        extents.add((s, e))
    return kept


@dataclass(frozen=True, slots=True)
class SpanStack:
    """A fitted stack: the types it knows, the vote weight its competitor features use, a logistic
    model's weights by feature name, and the probability a span needs to be kept."""

    types: tuple[str, ...]
    weight: float
    coef: dict[str, float]
    intercept: float
    threshold: float
    nested: bool = True

    def probabilities(self, text: str, crf: Sequence[CrfScored], span: Sequence[Scored]) -> tuple[list[Key], list[Candidate], np.ndarray]:
        found = candidates(crf, span)
        keys, rows = features(text, found, self.types, self.weight)
        w = np.array([self.coef.get(n, 0.0) for n in feature_names(self.types)])
        z = rows @ w + self.intercept if len(keys) else np.zeros(0)
        return keys, [found[k] for k in keys], 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def decide(self, text: str, crf: Sequence[CrfScored], span: Sequence[Scored]) -> list[Voted]:
        """The kept spans in text order (outer first when two start together), as the vote reports them."""
        keys, cands, probs = self.probabilities(text, crf, span)
        kept = [Voted(keys[i][0], keys[i][1], keys[i][2], round(float(probs[i]), 6), cands[i].crf, cands[i].span)
                for i in keep(keys, probs, self.threshold, self.nested)]
        return sorted(kept, key=lambda k: (k.start, -k.end, k.label))

    def to_json(self) -> dict[str, Any]:
        return {"types": list(self.types), "weight": self.weight, "intercept": self.intercept,
                "threshold": self.threshold, "nested": self.nested, "coef": self.coef}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpanStack:
        coef = {str(k): float(v) for k, v in data["coef"].items()}
        if not all(math.isfinite(v) for v in coef.values()):
            raise ValueError("a span stack's weights must be finite numbers")
        return cls(tuple(data["types"]), float(data["weight"]), coef, float(data["intercept"]),
                   float(data["threshold"]), bool(data.get("nested", True)))


def load_stack(folder: str | Path) -> tuple[SpanStack, dict[str, Any]] | None:
    """The stack in a folder's meta.json ("stack"), with the whole meta; None when the folder has none."""
    meta_file = Path(folder) / "meta.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if not meta.get("stack"):
        return None
    return SpanStack.from_json(meta["stack"]), meta
