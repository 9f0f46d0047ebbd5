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
as they will on new text. The shipped model (corpora/models/pgxcorpus_crf, three levels) reads
0.469 exact macro-F1 on the test fold (the linear typer 0.466; micro 0.654 vs 0.614): precise
(0.64) but short of recall (0.40). The weights are derived from PGxCorpus (CC BY-NC 4.0):
non-commercial use only.
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
    "load_nested",
    "shipped_tagger",
    "stack_features",
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
        """Each level's spans of `text`, lowest first."""
        tokens = tokens_of(text)
        if not tokens:
            return [[] for _ in self._taggers]
        x = base_features(text, tokens, mentions, self.settings, self.gazetteer)
        found: list[list[Span]] = []
        with self._lock:
            for k, tagger in enumerate(self._taggers):
                below = [s for layer in found for s in layer]
                found.append(spans_of(tokens, tagger.tag(with_stack(x, tokens, below) if k else x)))
        return found

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
