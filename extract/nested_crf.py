"""Nested entities with stacked linear-chain CRFs: PGxCorpus's ten types, inner layer first.

PGxCorpus's entities nest ("[CYP2D6] poor metabolizers" is a phenotype holding a gene; a
variant holds a gene; a drug response holds the drug), so one BIO layer can hold at most
57.6 % of its train-fold gold spans. Each span gets a level from what it holds: 0 for a span
that holds no other ("CYP2D6", "warfarin", "asthma"), else one more than the highest level it
holds ("CYP2D6 poor metabolizers" 1, a phenotype of such a phenotype 2). One CRF per level
tags its spans; the CRF of level k reads, besides the features of extract/crf_ner.py (word,
shape, affixes, context, pgxlit's rule mentions, abbreviations, the train fold's gazetteer),
the spans the levels below it found (the way stacked NER for GENIA's nested entities works).
On the train fold (491 sentences, 3,410 spans, crf_ner.TOKEN_PATTERN tokens, no gold edge
inside a token) two levels keep 92.9 % of the spans in some layer and three 98.4 %, against
91.3 % for one layer per type (ten CRFs) and 57.6 % for one flat layer
(`layers_of`; measured by tests/test_nested_crf.py on the real gold).

Trained on the PGxCorpus train fold only by `python tools/train_pgxcorpus_crf.py`; each upper
level learns from the lower levels' out-of-fold predictions, so its features look in training
as they will on new text. The weights are derived from PGxCorpus (CC BY-NC 4.0): non-commercial
use only.

Recall from the CRF's own uncertainty (`marginal_spans`): the Viterbi path alone was precise (test
fold P 0.64) but short of recall (R 0.40). With a threshold in meta.json ("marginal"; absent = the
paths only), each level also outputs the spans the path left out whose marginals reach it (a B
position with P(B-type) >= t run on while P(I-type) >= t, kept unless it crosses a kept span of
its level); upper levels still read only the lower paths, as in training. t = 0.2 was chosen on
the held-back fifth (exact macro-F1 0.4948 -> 0.5389) and holds over five folds of the train fold
(pooled 0.4773 -> 0.4938, four folds of five up). Test fold, read once after: exact macro-F1
0.469 -> 0.476 (R 0.396 -> 0.431, P 0.641 -> 0.583), micro 0.654 -> 0.647, overlap macro
0.571 -> 0.578; typed relations end to end exact micro 0.198 -> 0.194, overlap 0.345 -> 0.359.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxlit.extract.crf_ner import GAZETTEER_FILE, Gazetteer, doc_features, spans_of, tags_of, tokens_of
from pgxlit.records import Mention
from pgxlit.shipped import shipped

__all__ = [
    "KIND",
    "Span",
    "NestedSettings",
    "NestedCrfTagger",
    "build_command",
    "default_model_dir",
    "layer_file",
    "layers_of",
    "level_of",
    "marginal_scored",
    "marginal_spans",
    "span_marginal",
    "load_nested",
    "shipped_tagger",
    "stack_features",
    "tag_level",
]

KIND = "nested_crf"  # meta.json's "kind" for a model of this module
Span = tuple[int, int, str]


def layer_file(level: int) -> str:
    return f"level{level}.crfsuite"


def default_model_dir(scheme: str = "pgxcorpus") -> Path:
    """``corpora/models/<scheme>_crf`` of the checkout or of the installed package."""
    return shipped(f"models/{scheme}_crf", "meta.json")


def build_command(scheme: str = "pgxcorpus") -> str:
    return f"python tools/train_pgxcorpus_crf.py --shared ../shared --out corpora/models/{scheme}_crf"


def level_of(spans: Sequence[Span]) -> list[int]:
    """Each span's level: 0 when it holds no other span, else 1 + the highest level it holds
    (a span of the same extent is not held: it sits on the same level)."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
    level = [0] * len(spans)
    for i in order:
        s, e, _ = spans[i]
        held = [level[j] for j in order if j != i and spans[j][0] >= s and spans[j][1] <= e
                and spans[j][1] - spans[j][0] < e - s]
        level[i] = 1 + max(held) if held else 0
    return level


def layers_of(spans: Sequence[Span], layers: int) -> list[list[Span]]:
    """Spans grouped by level, the levels above `layers` - 1 folded into the top one."""
    out: list[list[Span]] = [[] for _ in range(layers)]
    for span, lvl in zip(spans, level_of(spans)):
        out[min(lvl, layers - 1)].append(span)
    return [sorted(set(layer)) for layer in out]


def stack_features(tokens: Sequence[tuple[int, int]], below: Sequence[Span]) -> list[list[str]]:
    """What the lower levels found, as features of an upper one: for each token the B-/I-/E- tag of
    every lower span over it and its type, and the same for the tokens either side."""
    own: list[list[str]] = [[] for _ in tokens]
    for s, e, label in below:
        inside = [k for k, (ts, te) in enumerate(tokens) if ts < e and te > s]
        for n, k in enumerate(inside):
            own[k] += [f"L={'B' if n == 0 else 'I'}-{label}", f"Lt={label}"]
            if n == len(inside) - 1:
                own[k].append(f"L=E-{label}")
    out: list[list[str]] = []
    for i in range(len(tokens)):
        f = list(own[i]) or ["L=O"]
        for j, side in ((i - 1, "-1"), (i + 1, "+1")):
            if 0 <= j < len(tokens):
                f += [f"{side}{t}" for t in own[j] if t.startswith("L=")] or [f"{side}L=O"]
        out.append(f)
    return out


@dataclass(frozen=True, slots=True)
class NestedSettings:
    """Feature choices a model was trained with (kept in its meta.json)."""

    layers: int = 2
    window: int = 2
    use_gazetteer: bool = False
    use_model: bool = False
    use_cues: bool = False

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> NestedSettings:
        f = meta.get("features", {})
        return cls(int(f.get("layers", 2)), int(f.get("window", 2)), bool(f.get("use_gazetteer", False)),
                   bool(f.get("use_model", False)), bool(f.get("use_cues", False)))


def base_features(text: str, tokens: Sequence[tuple[int, int]], mentions: Sequence[Mention],
                  settings: NestedSettings, gazetteer: Gazetteer | None) -> list[list[str]]:
    """crf_ner's token features with this model's settings (the gazetteer only when trained with one)."""
    x = doc_features(text, tokens, mentions, settings.use_model, settings.window,
                     gazetteer if settings.use_gazetteer else None)
    if settings.use_cues:
        x = [f + g for f, g in zip(x, cue_features(text, tokens), strict=True)]
    return x


CUE_REACH = 3  # tokens either side whose cue classes a token sees


def cue_features(text: str, tokens: Sequence[tuple[int, int]]) -> list[list[str]]:
    """The guidelines' cue classes (pgxcorpus_types.CUES: metabolism vs response, variation vs genomic
    factor...) of each token and of its neighbours within CUE_REACH: a drug's "clearance" and its
    "response" name different phenotypes however the words between them vary."""
    from pgxlit.extract.pgxcorpus_types import CUES

    own = []
    for s, e in tokens:
        word = text[s:e].lower()
        own.append([name for name, cues in CUES.items() if any(word.startswith(c) for c in cues)])
    out: list[list[str]] = []
    for i in range(len(tokens)):
        f = [f"cue={c}" for c in own[i]]
        for d in range(1, CUE_REACH + 1):
            for j, side in ((i - d, "-"), (i + d, "+")):
                if 0 <= j < len(tokens):
                    f += [f"cue{side}{d}={c}" for c in own[j]] + [f"cue{side}={c}" for c in own[j]]
        out.append(f)
    return out


def with_stack(x: Sequence[list[str]], tokens: Sequence[tuple[int, int]], below: Sequence[Span]) -> list[list[str]]:
    return [f + g for f, g in zip(x, stack_features(tokens, below), strict=True)]


def gold_tags(tokens: Sequence[tuple[int, int]], spans: Sequence[Span], layers: int) -> list[list[str]]:
    """Each level's BIO tags of the tokens for gold spans."""
    return [tags_of(tokens, layer) for layer in layers_of(spans, layers)]


def crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two extents that overlap with neither holding the other."""
    return a[0] < b[1] and b[0] < a[1] and not (a[0] <= b[0] and b[1] <= a[1]) and not (b[0] <= a[0] and a[1] <= b[1])


def marginal_spans(tagger: Any, tokens: Sequence[tuple[int, int]], kept: Sequence[Span], threshold: float) -> list[Span]:
    """Spans the Viterbi path left out that the CRF itself finds likely (call after ``tagger.set``/``tag``):
    for each type, a B position whose marginal P(B-type) reaches `threshold`, run on over the next tokens
    while P(I-type) does. Candidates go by their weakest marginal, highest first; one is kept unless it is
    already kept or crosses a kept span of this level (nesting and same extent with another type are fine)."""
    return [(s, e, label) for s, e, label, _ in marginal_scored(tagger, tokens, kept, threshold)]


def span_marginal(tagger: Any, tokens: Sequence[tuple[int, int]], span: Span) -> float:
    """The weakest marginal of a span's tags (P(B-type) at its first token, P(I-type) after; call after
    ``tagger.set``/``tag``): how sure the CRF is of the span, path or not."""
    s, e, label = span
    inside = [k for k, (ts, te) in enumerate(tokens) if ts < e and te > s]
    if not inside:
        return 0.0
    labels = set(tagger.labels())
    score = tagger.marginal(f"B-{label}", inside[0]) if f"B-{label}" in labels else 0.0
    for k in inside[1:]:
        score = min(score, tagger.marginal(f"I-{label}", k) if f"I-{label}" in labels else 0.0)
    return float(score)


def marginal_scored(tagger: Any, tokens: Sequence[tuple[int, int]], kept: Sequence[Span],
                    threshold: float) -> list[tuple[int, int, str, float]]:
    """`marginal_spans` with each span's weakest marginal."""
    labels = set(tagger.labels())
    n = len(tokens)
    candidates: list[tuple[float, int, int, str]] = []
    for label in sorted(lab[2:] for lab in labels if lab.startswith("B-")):
        inner = f"I-{label}" if f"I-{label}" in labels else None
        for i in range(n):
            score = tagger.marginal(f"B-{label}", i)
            if score < threshold:
                continue
            j = i + 1
            while inner is not None and j < n:
                p = tagger.marginal(inner, j)
                if p < threshold:
                    break
                score, j = min(score, p), j + 1
            candidates.append((score, tokens[i][0], tokens[j - 1][1], label))
    held = set(kept)
    out: list[tuple[int, int, str, float]] = []
    for score, s, e, label in sorted(candidates, key=lambda c: (-c[0], c[1], c[2], c[3])):
        if (s, e, label) in held or any(crosses((s, e), (ks, ke)) for ks, ke, _ in held):
            continue
        held.add((s, e, label))
        out.append((s, e, label, float(score)))
    return sorted(out)


def tag_level(tagger: Any, tokens: Sequence[tuple[int, int]], xseq: Sequence[list[str]],
              threshold: float | None) -> tuple[list[Span], list[Span]]:
    """One level's Viterbi spans and, with a marginal threshold, the likely spans the path left out."""
    viterbi = spans_of(tokens, tagger.tag(xseq))
    return viterbi, (marginal_spans(tagger, tokens, viterbi, threshold) if threshold is not None else [])


def marginal_threshold(meta: dict[str, Any]) -> float | None:
    """The model's marginal threshold for spans off the Viterbi path (meta.json "marginal"; absent = none)."""
    t = (meta.get("marginal") or {}).get("threshold")
    return None if t is None else float(t)


class NestedCrfTagger:
    """One CRFsuite model per level and the feature settings they were trained with."""

    def __init__(self, folder: str | Path) -> None:
        import pycrfsuite

        self.folder = Path(folder)
        meta_file = self.folder / "meta.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"no nested CRF model in {self.folder} (meta.json missing); "
                                    f"build it with `{build_command()}`")
        self.meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
        if self.meta.get("kind") != KIND:
            raise ValueError(f"{meta_file} is a {self.meta.get('kind')!r} model, not {KIND!r}")
        self.types: tuple[str, ...] = tuple(self.meta["types"])
        self.settings = NestedSettings.from_meta(self.meta)
        self.threshold = marginal_threshold(self.meta)
        self.gazetteer: Gazetteer | None = None
        if self.settings.use_gazetteer:
            self.gazetteer = Gazetteer.from_json(json.loads((self.folder / GAZETTEER_FILE).read_text(encoding="utf-8")))
        self._taggers = []
        for k in range(self.settings.layers):
            path = self.folder / layer_file(k)
            if not path.is_file():
                raise FileNotFoundError(f"{path} missing; build the model again with `{build_command()}`")
            tagger = pycrfsuite.Tagger()
            tagger.open(str(path))
            self._taggers.append(tagger)
        self._lock = threading.Lock()  # a CRFsuite tagger holds one sequence at a time

    def tag_levels(self, text: str, mentions: Sequence[Mention]) -> list[list[Span]]:
        """Each level's spans of `text`, lowest first: the Viterbi path's, and with the model's marginal
        threshold the likely spans it left out (upper levels read only the lower paths, as in training)."""
        tokens = tokens_of(text)
        if not tokens:
            return [[] for _ in self._taggers]
        x = base_features(text, tokens, mentions, self.settings, self.gazetteer)
        paths: list[list[Span]] = []
        found: list[list[Span]] = []
        with self._lock:
            for k, tagger in enumerate(self._taggers):
                below = [s for layer in paths for s in layer]
                viterbi, extra = tag_level(tagger, tokens, with_stack(x, tokens, below) if k else x, self.threshold)
                paths.append(viterbi)
                found.append(sorted(viterbi + extra))
        return found

    def tag_scored(self, text: str, mentions: Sequence[Mention], threshold: float | None = None,
                   ) -> list[tuple[int, int, str, float, bool]]:
        """Every span of every level with the CRF's own confidence: (start, end, type, weakest marginal,
        on the Viterbi path?). Spans off the path are the marginal step's at `threshold` (default: the
        model's; None in meta = paths only). What extract/span_vote.py weighs against another tagger."""
        tokens = tokens_of(text)
        if not tokens:
            return []
        cut = self.threshold if threshold is None else threshold
        x = base_features(text, tokens, mentions, self.settings, self.gazetteer)
        paths: list[list[Span]] = []
        out: dict[tuple[int, int, str], tuple[float, bool]] = {}
        with self._lock:
            for k, tagger in enumerate(self._taggers):
                below = [s for layer in paths for s in layer]
                viterbi = spans_of(tokens, tagger.tag(with_stack(x, tokens, below) if k else x))
                paths.append(viterbi)
                for span in viterbi:
                    p = span_marginal(tagger, tokens, span)
                    if span not in out or not out[span][1] or out[span][0] < p:
                        out[span] = (p, True)
                if cut is not None:
                    for s, e, label, p in marginal_scored(tagger, tokens, viterbi, cut):
                        if (s, e, label) not in out:
                            out[(s, e, label)] = (p, False)
        return sorted((s, e, label, p, path) for (s, e, label), (p, path) in out.items() if label in self.types)

    def tag(self, text: str, mentions: Sequence[Mention]) -> list[Mention]:
        """The scheme's entities of `text` (exact spans, nested, the scheme's types), given pgxlit's mentions of it."""
        spans = sorted({s for layer in self.tag_levels(text, mentions) for s in layer if s[2] in self.types})
        return [Mention(s, e, label, text[s:e], source="crf") for s, e, label in spans]


_CACHE: dict[Path, NestedCrfTagger] = {}
_LOCK = threading.Lock()


def load_nested(folder: str | Path) -> NestedCrfTagger:
    """The nested tagger of a folder, loaded once per process."""
    path = Path(folder).resolve()
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = NestedCrfTagger(path)
        return _CACHE[path]


def shipped_tagger(scheme: str = "pgxcorpus") -> NestedCrfTagger | None:
    """corpora/models/<scheme>_crf when it holds a nested model and python-crfsuite is installed, else None."""
    folder = default_model_dir(scheme)
    meta = folder / "meta.json"
    if not meta.is_file() or json.loads(meta.read_text(encoding="utf-8")).get("kind") != KIND:
        return None
    try:
        import pycrfsuite  # noqa: F401
    except ImportError:
        return None
    return load_nested(folder)
