"""A trained relation classifier behind the same contract as `relations.relate`.

    model = RelationModel.load()                  # corpora/models/pgx_rel (the shipped model)
    model.predict(sentence, mentions)             # -> list[RelationMention], like relations.relate
    model.pair_probability(sentence, drug, variant, others=mentions)   # -> P(associated)

Built by ``python tools/train_relations.py --shared ../shared --out
corpora/models/pgx_rel`` (see corpora/models/README.md). Inference needs
numpy only: the folder holds linear weights over named sparse features
(``model.json``) and ``meta.json`` (data, fold, settings, figures).

What it predicts
----------------
Candidates are all pairs of non-overlapping mentions of one sentence whose
(unordered) label pair occurs in the training relations. Each candidate,
taken in text order (first, second), gets one of 13 classes from a
multinomial logistic regression ("typed" head):

    NONE, <type>> (head = first mention), <type>< (head = second mention)
    for influences/increases/decreases/causes/treats, and
    isAssociatedWith, isEquivalentTo (symmetric: head = first mention).

A relation is emitted when its score reaches the threshold; its type is the
most probable non-NONE class and ``confidence`` is P(related) = 1 - P(NONE)
(temperature-calibrated on out-of-fold predictions of the train fold). The
score is P(related) (decision "related") or the probability of that best class
(decision "best_class": the chance the typed, directed relation is right); the
training script chooses the decision with the threshold, see meta.json.
``negated``/``hedged`` come from `relations.signals` (the rules' clause cue
words) -- see meta.json for how they score against PGxCorpus notes.

The typed head is trained on PGxCorpus train-fold sentences twice over: with
the gold entities, and with the rule pipeline's own mentions, labelled by
projecting the gold relations through span overlap (so a DRUG mention inside
an untagged "response to warfarin" takes that phrase's relation). Thresholds
(all chosen on the train fold, see meta.json): `threshold` (default; best mean
of both settings), and by name in `thresholds`: "gold_entities" (complete,
curated mentions) and "rule_pipeline" (the rule pipeline's mentions without a
trained NER; more recall). `predict(..., threshold=...)` takes a number or a name.

`pair_probability` is the binary "is this drug associated with this
variant" decision of PGxMine's task. For a DRUG x VARIANT/ALLELE pair it uses
the "pair" head (a binary logistic regression trained as recorded in
meta.json); for any other label pair it falls back to the typed head's
P(related). Pass the sentence's other mentions as ``others`` when you have
them: the features count and mask entities between the two.

Features (all binary, names kept in the model file so weights can be read):
ordered label pair; words and bigrams between the two (lower-cased, digits
masked, other mentions replaced by ``[LABEL]``); three words before/after;
token and character distance buckets; other entities between (count, labels,
whether one has the label of either end); the rules' trigger, negation, hedge
and PGx cues (`relations.signals`); parenthesis and list structure; which
mentions contain / are contained in each end; whether each end is the nearest
mention of its label to the other, and the nearest of repeated names; the
words of the two mentions; and what surrounds the pair (`surrounding_features`:
labels between conjoined with the label pair, labels of the nearest mentions
outside, rivals of each end's label, clause cuts). Several are also conjoined
with the label pair.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.extract import relations as rel
from pgxlit.extract.encoder import pair_vector
from pgxlit.records import Mention, RelationMention
from pgxlit.shipped import shipped

__all__ = [
    "BUILD_COMMAND",
    "FEATURE_VERSION",
    "NONE",
    "PAIR_HEAD_LABELS",
    "DECISIONS",
    "RELATION_TYPES",
    "SYMMETRIC_TYPES",
    "LinearHead",
    "RelationModel",
    "SentenceContext",
    "candidate_pairs",
    "class_of",
    "cues_fingerprint",
    "default_model_dir",
    "pair_features",
    "relation_of_class",
]

BUILD_COMMAND = "python tools/train_relations.py --shared ../shared --out corpora/models/pgx_rel"
DENSE_FILE = "dense.npz"
FEATURE_VERSION = 2
# How a pair is emitted: "related" when 1 - P(NONE) >= threshold; "best_class" when the most probable
# typed class (type and direction) reaches it -- the expected count of typed hits of emitting it.
DECISIONS = ("related", "best_class")
RELATION_TYPES = ("influences", "increases", "decreases", "causes", "isAssociatedWith", "treats", "isEquivalentTo")
SYMMETRIC_TYPES = frozenset({"isAssociatedWith", "isEquivalentTo"})
NONE = "NONE"
# Labels whose pairs with DRUG are PGxMine's chemical–variant task.
PAIR_HEAD_LABELS = frozenset({"VARIANT", "ALLELE"})

# ---- the rules' cues the features depend on ------------------------------------------


def cues_fingerprint() -> str:
    """A digest of relations.py's cue patterns: features use `relations.signals`, so a model
    trained under other patterns sees shifted features (load() warns; retrain)."""
    import hashlib

    parts = []
    for name in ("_TRIGGERS", "_NEGATION", "_HEDGE", "_PGX_CUES", "_CLAUSE_BREAK"):
        value = getattr(rel, name, None)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            pat = item[1] if isinstance(item, tuple) else item
            parts.append(f"{name}:{getattr(pat, 'pattern', pat)!s}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ---- classes ----------------------------------------------------------------


def class_of(rtype: str, head_first: bool) -> str:
    """The class of a relation of `rtype` whose head is (or is not) the first mention in the text."""
    if rtype in SYMMETRIC_TYPES:
        return rtype
    return f"{rtype}{'>' if head_first else '<'}"


def relation_of_class(cls: str) -> tuple[str, bool]:
    """(type, head is the first mention) of a non-NONE class."""
    if cls.endswith(">"):
        return cls[:-1], True
    if cls.endswith("<"):
        return cls[:-1], False
    return cls, True


# ---- features -----------------------------------------------------------------

_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")
_DIGITS = re.compile(r"\d+")
_NUMBER = re.compile(r"[\d.,]+")
_LIST_WORDS = frozenset({",", "and", "or", "/", "nor", "as", "well", "both", "either", "&", ";"})
_OPEN, _CLOSE = "([{", ")]}"


def _norm_word(word: str) -> str:
    w = word.lower()
    if any(c.isdigit() for c in w):
        return "<num>" if _NUMBER.fullmatch(w) else _DIGITS.sub("0", w)
    return w


def _bucket(n: int, edges: Sequence[int]) -> str:
    for e in edges:
        if n <= e:
            return str(e)
    return f">{edges[-1]}"


_TOK_EDGES = (0, 1, 2, 3, 5, 8, 12, 20, 30)
_CHR_EDGES = (2, 10, 25, 50, 100, 150)


class SentenceContext:
    """Per-sentence precomputation shared by all candidate pairs of the sentence."""

    __slots__ = ("text", "mentions", "starts", "ends", "words", "cover", "group")

    def __init__(self, sentence: str, mentions: Sequence[Mention]) -> None:
        self.text = sentence
        self.mentions = mentions
        toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(sentence)]
        self.starts = [s for s, _, _ in toks]
        self.ends = [e for _, e, _ in toks]
        self.words = [_norm_word(w) for _, _, w in toks]
        # For each token, the mentions covering it, longest first.
        by_len = sorted(range(len(mentions)), key=lambda k: (mentions[k].start - mentions[k].end, mentions[k].start))
        cover: list[tuple[int, ...]] = [()] * len(toks)
        for k in by_len:  # the tokens a mention overlaps form one run: find it by bisection
            m = mentions[k]
            for t in range(bisect.bisect_right(self.ends, m.start), bisect.bisect_left(self.starts, m.end)):
                cover[t] = (*cover[t], k)
        self.cover = cover
        # Bracket group of every character: id of the innermost open bracket (0 = top level).
        group = [0] * (len(sentence) + 1)
        if not any(ch in sentence for ch in _OPEN):
            self.group = group
            return
        stack: list[int] = []
        n_groups = 0
        for i, ch in enumerate(sentence):
            if ch in _OPEN:
                n_groups += 1
                stack.append(n_groups)
                group[i] = 0 if len(stack) < 2 else stack[-2]
                continue
            if ch in _CLOSE and stack:
                stack.pop()
                group[i] = stack[-1] if stack else 0
                continue
            group[i] = stack[-1] if stack else 0
        self.group = group

    def view(self, lo: int, hi: int, skip: tuple[int, int]) -> list[str]:
        """Normalised words of tokens inside [lo, hi), each other mention collapsed to one [LABEL]."""
        a = bisect.bisect_left(self.starts, lo)
        out: list[str] = []
        last_mention = -1
        for t in range(a, len(self.starts)):
            if self.ends[t] > hi:
                break
            covering = next((k for k in self.cover[t] if k not in skip), None)
            if covering is None:
                out.append(self.words[t])
                last_mention = -1
            elif covering != last_mention:
                out.append(f"[{self.mentions[covering].label}]")
                last_mention = covering
        return out


def _overlaps(a: Mention, b: Mention) -> bool:
    return a.start < b.end and b.start < a.end


def _gap(a: Mention, b: Mention) -> int:
    return max(a.start - b.end, b.start - a.end, 0)


def _text_order(mentions: Sequence[Mention], i: int, j: int) -> tuple[int, int]:
    a, b = mentions[i], mentions[j]
    return (i, j) if (a.start, a.end, i) <= (b.start, b.end, j) else (j, i)


def candidate_pairs(
    mentions: Sequence[Mention], label_pairs: Iterable[tuple[str, str]] | None = None
) -> list[tuple[int, int]]:
    """(first, second) index pairs in text order: non-overlapping, unordered label pair allowed."""
    allowed = None if label_pairs is None else {frozenset(p) if p[0] != p[1] else frozenset((p[0],)) for p in label_pairs}
    out = []
    for i in range(len(mentions)):
        for j in range(i + 1, len(mentions)):
            a, b = mentions[i], mentions[j]
            if _overlaps(a, b):
                continue
            if allowed is not None and frozenset((a.label, b.label)) not in allowed:
                continue
            out.append(_text_order(mentions, i, j))
    return sorted(out, key=lambda p: (mentions[p[0]].start, mentions[p[1]].start, p))


def _entity_words(ctx: SentenceContext, m: Mention) -> list[str]:
    a = bisect.bisect_left(ctx.starts, m.start)
    out = []
    for t in range(a, len(ctx.starts)):
        if ctx.starts[t] >= m.end:
            break
        out.append(ctx.words[t])
    return out


def pair_features(
    ctx: SentenceContext, i: int, j: int, group_alleles: bool = False, surroundings: bool = True
) -> list[str]:
    """Feature names of the candidate pair (i, j), i being the first mention in the text.
    `surroundings`: also what lies around the pair (`surrounding_features`); the pair head,
    trained before they existed, goes without."""
    ms = ctx.mentions
    a, b = ms[i], ms[j]
    la, lb = a.label, b.label
    if group_alleles:
        la = "VARIANT" if la == "ALLELE" else la
        lb = "VARIANT" if lb == "ALLELE" else lb
    lp = f"{la}>{lb}"
    f: list[str] = ["bias", f"lp={lp}"]
    skip = (i, j)
    between = ctx.view(a.end, b.start, skip)
    nb = len(between)
    if between:
        f += [f"bw={w}" for w in sorted(set(between))]
        seq = ["<a>", *between, "<b>"]
        f += [f"bb={x}_{y}" for x, y in sorted(set(zip(seq, seq[1:])))]
        f += [f"bf={between[0]}", f"bl={between[-1]}", f"lp|bf={lp}|{between[0]}", f"lp|bl={lp}|{between[-1]}"]
        if nb <= 5:
            f.append(f"bs={' '.join(between)}")
            f.append(f"lp|bs={lp}|{' '.join(between)}")
    else:
        f += ["bw=<none>", f"lp|bw=<none>|{lp}"]
    # Three words before the first and after the second mention.
    before = ctx.view(max(0, a.start - 80), a.start, skip)[-3:]
    after = ctx.view(b.end, min(len(ctx.text), b.end + 80), skip)[:3]
    for k, w in enumerate(reversed(before), 1):
        f += [f"pre{k}={w}", f"pre={w}"]
    for k, w in enumerate(after, 1):
        f += [f"post{k}={w}", f"post={w}"]
    if not before:
        f.append("pre=<s>")
    if not after:
        f.append("post=</s>")
    # Distances.
    dt = _bucket(nb, _TOK_EDGES)
    dc = _bucket(b.start - a.end, _CHR_EDGES)
    f += [f"dtok={dt}", f"dchr={dc}", f"lp|dtok={lp}|{dt}"]
    # Other entities between.
    inside = [k for k in range(len(ms)) if k not in skip and ms[k].start >= a.end and ms[k].end <= b.start]
    n_in = _bucket(len(inside), (0, 1, 2, 3))
    f += [f"nent={n_in}", f"lp|nent={lp}|{n_in}"]
    labels_in = {ms[k].label for k in inside}
    f += [f"lab_in={x}" for x in sorted(labels_in)]
    if a.label in labels_in:
        f.append(f"same_a_in|{lp}")
    if b.label in labels_in:
        f.append(f"same_b_in|{lp}")
    # The rules' cues.
    s = rel.signals(ctx.text, a, b)
    f += [f"rs={s.relation}", f"lp|rs={lp}|{s.relation}"]
    if s.trigger_between:
        f += [f"rs_between={s.relation}", f"lp|rs_between={lp}|{s.relation}"]
    if s.negated:
        f.append("neg")
    if s.hedged:
        f.append("hedge")
    if s.pgx_cue:
        f.append("pgx_cue")
    # Brackets.
    ga, gb = ctx.group[a.start], ctx.group[b.start]
    if ga:
        f.append("a_in_paren")
    if gb:
        f.append("b_in_paren")
    if ga and ga == gb:
        f.append("same_paren")
    raw_between = ctx.text[a.end : b.start].strip()
    if raw_between[:1] in _OPEN and gb and gb != ga and len(raw_between) <= 3:
        f += ["b_paren_after_a", f"lp|b_paren_after_a={lp}"]
    elif gb != ga:
        f.append("paren_cross")
    # Lists: only commas/and/or (and other mentions) between the two.
    if between and all(w in _LIST_WORDS or w.startswith("[") for w in between):
        f += ["list", f"lp|list={lp}"]
        if a.label == b.label:
            f.append("list_same_label")
    # Nesting: what contains / is contained in each end ("responses to [salmeterol]").
    for tag, k, m in (("a", i, a), ("b", j, b)):
        for o, om in enumerate(ms):
            if o == k or (om.start, om.end) == (m.start, m.end):
                continue
            if om.start <= m.start and m.end <= om.end:
                f += [f"{tag}_in={om.label}", f"lp|{tag}_in={lp}|{om.label}"]
            elif m.start <= om.start and om.end <= m.end:
                f += [f"{tag}_has={om.label}", f"lp|{tag}_has={lp}|{om.label}"]
    # Is each end the nearest mention of its label to the other end?
    for tag, src, dst, d in (("b_nearest", a, b, j), ("a_nearest", b, a, i)):
        best = min(
            (k for k, om in enumerate(ms) if om.label == dst.label and not _overlaps(om, src)),
            key=lambda k: (_gap(ms[k], src), k),
            default=None,
        )
        if best == d:
            f += [tag, f"lp|{tag}={lp}"]
    # Repeated names ("dapsone-induced ... dapsone-tolerant"): is this occurrence the nearest/first one?
    for tag, k, m, o in (("a", i, a, b), ("b", j, b, a)):
        name = m.text.lower()
        same = [om for x, om in enumerate(ms) if x != k and om.label == m.label and om.text.lower() == name]
        if same:
            nearer = any(_gap(om, o) < _gap(m, o) for om in same if not _overlaps(om, o))
            first = all(om.start > m.start for om in same)
            f += [f"{tag}_dup", f"{tag}_dup_{'farther' if nearer else 'nearest'}", f"{tag}_dup_{'first' if first else 'later'}"]
    # The mentions' own words.
    for tag, m in (("ea", a), ("eb", b)):
        words = _entity_words(ctx, m)
        if words:
            f.append(f"{tag}_last={words[-1]}")
            f += [f"{tag}={w}" for w in sorted(set(words))]
    if surroundings:
        f += surrounding_features(ctx, i, j, lp, labels_in)
    # Each name once: the heads are fitted on 0/1 features (train_relations.matrix), and LinearHead.scores
    # adds a weight per listing, so a name listed twice (two mentions of one label containing an end, a
    # word both one and three before the pair) counted twice at run time only.
    return list(dict.fromkeys(f))


_CLAUSE_CUTS = (";", ":", " which ", " while ", " whereas ", " but ", " although ")


def surrounding_features(ctx: SentenceContext, i: int, j: int, lp: str, labels_in: set[str]) -> list[str]:
    """What the other mentions of the sentence say about the pair: PGxCorpus relates a drug and a
    phenotype across a variant between them differently than across nothing; the labels of the
    nearest mentions before and after the pair; how many rivals of each end's label the sentence
    holds; and clause cuts between the two (a relation rarely crosses "; whereas")."""
    ms = ctx.mentions
    a, b = ms[i], ms[j]
    f = [f"lp|lab_in={lp}|{x}" for x in sorted(labels_in)]
    left = [m for k, m in enumerate(ms) if k not in (i, j) and m.end <= a.start]
    right = [m for k, m in enumerate(ms) if k not in (i, j) and m.start >= b.end]
    lab_l = max(left, key=lambda m: m.end).label if left else "<none>"
    lab_r = min(right, key=lambda m: m.start).label if right else "<none>"
    f += [f"left_lab={lab_l}", f"right_lab={lab_r}", f"lp|left_lab={lp}|{lab_l}", f"lp|right_lab={lp}|{lab_r}"]
    n_a = sum(m.label == a.label for m in ms)
    n_b = sum(m.label == b.label for m in ms)
    f += [f"n_same_a={min(n_a, 4)}", f"n_same_b={min(n_b, 4)}", f"lp|nsame={lp}|{min(n_a, 3)}|{min(n_b, 3)}"]
    raw = ctx.text[a.end : b.start].lower()
    f += [f"clause_cut={cue.strip()}" for cue in _CLAUSE_CUTS if cue in raw]
    return f


# ---- linear heads -------------------------------------------------------------


@dataclass
class LinearHead:
    """Weights over named features: multinomial (k >= 3 classes) or binary (2 classes, one column)."""

    classes: list[str]
    vocab: dict[str, int]
    weights: np.ndarray  # (n_features, n_columns) float32
    bias: np.ndarray  # (n_columns,)
    temperature: float = 1.0
    # Optional weights over MiniLM pair vectors (encoder.pair_vector, PAIR_DIM x n_columns), kept in
    # the model folder's dense.npz; a head with them needs the sentence's token vectors.
    dense: np.ndarray | None = None

    @property
    def binary(self) -> bool:
        return self.weights.shape[1] == 1

    def scores(self, feature_lists: Sequence[Sequence[str]], dense_rows: np.ndarray | None = None) -> np.ndarray:
        out = np.tile(self.bias.astype(np.float64), (len(feature_lists), 1))
        vocab = self.vocab
        for r, feats in enumerate(feature_lists):
            idx = [vocab[x] for x in feats if x in vocab]
            if idx:
                out[r] += self.weights[idx].sum(axis=0)
        if self.dense is not None:
            if dense_rows is None:
                raise ValueError("this head reads MiniLM pair vectors: pass dense_rows")
            out += np.asarray(dense_rows, dtype=np.float64) @ self.dense.astype(np.float64)
        return out

    def proba(self, feature_lists: Sequence[Sequence[str]], dense_rows: np.ndarray | None = None) -> np.ndarray:
        """(n, n_classes) probabilities, temperature applied."""
        z = self.scores(feature_lists, dense_rows) / self.temperature
        if self.binary:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_json(self, ndigits: int = 5) -> dict[str, Any]:
        names = sorted(self.vocab, key=self.vocab.get)
        return {
            "classes": self.classes,
            "temperature": round(float(self.temperature), 6),
            "bias": [round(float(x), ndigits) for x in self.bias],
            "features": {n: [round(float(x), ndigits) for x in self.weights[self.vocab[n]]] for n in names},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LinearHead:
        names = list(d["features"])
        weights = np.asarray([d["features"][n] for n in names], dtype=np.float32)
        bias = np.asarray(d["bias"], dtype=np.float64)
        if weights.size == 0:
            weights = np.zeros((0, len(bias)), dtype=np.float32)
        return cls(list(d["classes"]), {n: k for k, n in enumerate(names)}, weights, bias, float(d.get("temperature", 1.0)))


# ---- the model ----------------------------------------------------------------


def default_model_dir() -> Path:
    """``corpora/models/pgx_rel`` of the checkout or of the installed package."""
    return shipped("models/pgx_rel", "model.json")


_CACHE: dict[Path, RelationModel] = {}
_LOCK = threading.Lock()


def model_folder(path: str | Path | None, default: Path) -> Path:
    """A model folder as given (absolute, or relative to the working directory or the repo), else the default."""
    folder = default if path is None else Path(path)
    if not folder.is_absolute() and not folder.exists():
        folder = Path(__file__).resolve().parents[1] / folder
    return folder.resolve()


class TypedClassifier:
    """What the relation classifiers share: named thresholds and `predict` over `typed_proba`.

    A subclass sets `classes` (NONE + the typed classes), `threshold`, `thresholds` and
    implements `typed_proba(sentence, mentions, only) -> (pairs, probabilities)`.
    """

    classes: list[str]
    threshold: float
    thresholds: dict[str, float]
    decision: str = "related"  # one of DECISIONS

    def _set_classes(self, classes: Sequence[str]) -> None:
        if NONE not in classes:
            raise ValueError("the typed classifier needs a NONE class")
        self.classes = list(classes)
        self._none = self.classes.index(NONE)
        self._rel_cols = [k for k, c in enumerate(self.classes) if c != NONE]

    def typed_proba(
        self, sentence: str, mentions: Sequence[Mention], only: Iterable[tuple[int, int]] | None = None
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        raise NotImplementedError

    def predict(
        self, sentence: str, mentions: Sequence[Mention], threshold: float | str | None = None,
        only: Iterable[tuple[int, int]] | None = None,
    ) -> list[RelationMention]:
        """Relations between mentions of one sentence (offsets within it), like `relations.relate`.

        A pair is emitted when its score >= threshold: a number, a name from `self.thresholds`
        ("gold_entities", "rule_pipeline"), or None for the default `self.threshold`. The score is
        P(related) = 1 - P(NONE), or with `decision` "best_class" the probability of the best typed
        class. `only` restricts the judged pairs to these index pairs (e.g. drug x genetic factor).
        `confidence` is P(related) either way."""
        if len(mentions) < 2:
            return []
        t = self._threshold(threshold)
        pairs, probs = self.typed_proba(sentence, mentions, only)
        out: list[RelationMention] = []
        for (i, j), p in zip(pairs, probs):
            p_rel = 1.0 - float(p[self._none])
            best = max(self._rel_cols, key=lambda k: p[k])
            if (p_rel if self.decision == "related" else float(p[best])) < t:
                continue
            rtype, head_first = relation_of_class(self.classes[best])
            head, tail = (i, j) if head_first else (j, i)
            s = rel.signals(sentence, mentions[head], mentions[tail])
            out.append(RelationMention(head, tail, rtype, round(p_rel, 4), s.negated, s.hedged))
        return out

    def _threshold(self, threshold: float | str | None) -> float:
        if threshold is None:
            return self.threshold
        if isinstance(threshold, str):
            if threshold not in self.thresholds:
                raise KeyError(f"unknown threshold name {threshold!r}; this model has {sorted(self.thresholds)}")
            return self.thresholds[threshold]
        return float(threshold)


class RelationModel(TypedClassifier):
    """The typed head (13 classes), an optional binary pair head, label pairs and thresholds."""

    def __init__(
        self,
        typed: LinearHead,
        label_pairs: Iterable[tuple[str, str]],
        threshold: float = 0.5,
        pair: LinearHead | None = None,
        pair_group_alleles: bool = True,
        meta: dict[str, Any] | None = None,
        thresholds: dict[str, float] | None = None,
        decision: str = "related",
    ) -> None:
        if decision not in DECISIONS:
            raise ValueError(f"decision is one of {DECISIONS}, not {decision!r}")
        self.decision = decision
        self._set_classes(typed.classes)
        self.typed = typed
        self.label_pairs = sorted({tuple(p) for p in label_pairs})
        self.threshold = float(threshold)
        # Named thresholds chosen on the train fold: "gold_entities" (curated/complete mentions),
        # "rule_pipeline" (the rule pipeline's own mentions, no trained NER); `threshold` is the default.
        self.thresholds = {k: float(v) for k, v in (thresholds or {}).items() if v is not None}
        self.pair = pair
        self.pair_group_alleles = pair_group_alleles
        self.meta = meta or {}

    # -- persistence --

    @classmethod
    def load(cls, path: str | Path | None = None) -> RelationModel:
        """The model folder at `path` (default: the shipped ``corpora/models/pgx_rel``), loaded once per folder."""
        folder = model_folder(path, default_model_dir())
        with _LOCK:
            if folder in _CACHE:
                return _CACHE[folder]
            file = folder / "model.json"
            if not file.is_file():
                raise FileNotFoundError(
                    f"no trained relation model in {folder} (model.json missing); build it with `{BUILD_COMMAND}`"
                )
            d = json.loads(file.read_text(encoding="utf-8"))
            if d.get("feature_version") != FEATURE_VERSION:
                raise ValueError(
                    f"{file}: feature_version {d.get('feature_version')} != {FEATURE_VERSION}; retrain with `{BUILD_COMMAND}`"
                )
            trained_on = d.get("cues_fingerprint")
            if trained_on and trained_on != cues_fingerprint():
                warnings.warn(
                    f"{file}: extract/relations.py's cue patterns changed since this model was trained "
                    f"(its features use them); retrain with `{BUILD_COMMAND}`",
                    stacklevel=2,
                )
            meta_file = folder / "meta.json"
            meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
            pair = LinearHead.from_json(d["pair"]) if d.get("pair") else None
            if pair is not None and d.get("pair_dense"):
                with np.load(folder / d["pair_dense"]) as npz:
                    pair.dense = npz["pair"].astype(np.float32)
            model = cls(
                typed=LinearHead.from_json(d["typed"]),
                label_pairs=[tuple(p) for p in d["label_pairs"]],
                threshold=d["typed_threshold"],
                pair=pair,
                pair_group_alleles=d.get("pair_group_alleles", True),
                meta=meta,
                thresholds=d.get("thresholds"),
                decision=d.get("decision", "related"),
            )
            _CACHE[folder] = model
            return model

    def to_json(self) -> dict[str, Any]:
        return {
            "feature_version": FEATURE_VERSION,
            "cues_fingerprint": cues_fingerprint(),
            "typed_threshold": self.threshold,
            "thresholds": self.thresholds,
            "decision": self.decision,
            "label_pairs": [list(p) for p in self.label_pairs],
            "pair_group_alleles": self.pair_group_alleles,
            "typed": self.typed.to_json(),
            "pair": self.pair.to_json() if self.pair is not None else None,
            "pair_dense": DENSE_FILE if self.pair is not None and self.pair.dense is not None else None,
        }

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if self.pair is not None and self.pair.dense is not None:
            np.savez_compressed(folder / DENSE_FILE, pair=self.pair.dense.astype(np.float32))
        out = folder / "model.json"
        out.write_text(json.dumps(self.to_json(), separators=(",", ":")), encoding="utf-8")
        return out

    # -- prediction --

    def typed_proba(
        self, sentence: str, mentions: Sequence[Mention], only: Iterable[tuple[int, int]] | None = None
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Candidate pairs (text order) and their class probabilities (columns = typed.classes).
        `only`: the index pairs (either order) the caller needs; the others are not scored (a pair's
        features do not depend on which other pairs are scored, so its probability is the same)."""
        pairs = candidate_pairs(mentions, self.label_pairs)
        if only is not None:
            wanted = {frozenset(p) for p in only}
            pairs = [p for p in pairs if frozenset(p) in wanted]
        if not pairs:
            return [], np.zeros((0, len(self.typed.classes)))
        ctx = SentenceContext(sentence, mentions)
        return pairs, self.typed.proba([pair_features(ctx, i, j) for i, j in pairs])

    def _encoded(self, sentence: str) -> tuple[np.ndarray, np.ndarray]:
        """MiniLM token vectors of a sentence; the last few are kept (a sentence has several pairs)."""
        cache = self.__dict__.setdefault("_enc_cache", {})
        hit = cache.get(sentence)
        if hit is None:
            from pgxlit.extract.encoder import default_encoder

            if len(cache) >= 64:
                cache.clear()
            hit = cache[sentence] = default_encoder().encode([sentence])[0]
        return hit

    def pair_probability(
        self, sentence: str, head: Mention, tail: Mention, *, others: Sequence[Mention] = ()
    ) -> float:
        """P(the two mentions are related). DRUG x VARIANT/ALLELE uses the pair head (PGxMine's
        "associated"); other pairs the typed head's 1 - P(NONE). `others`: the sentence's other
        mentions (head/tail may be among them; they are matched by extent and label)."""
        if _overlaps(head, tail):
            return 0.0
        key = lambda m: (m.start, m.end, m.label)  # noqa: E731
        rest = [m for m in others if key(m) not in (key(head), key(tail))]
        mentions = [head, tail, *rest]
        i, j = _text_order(mentions, 0, 1)
        ctx = SentenceContext(sentence, mentions)
        labels = {head.label, tail.label}
        if self.pair is not None and "DRUG" in labels and labels & PAIR_HEAD_LABELS:
            feats = pair_features(ctx, i, j, group_alleles=self.pair_group_alleles, surroundings=False)
            dense = None
            if self.pair.dense is not None:
                dense = pair_vector(self._encoded(sentence), mentions[i], mentions[j])[None, :]
            return float(self.pair.proba([feats], dense)[0, 1])
        p = self.typed.proba([pair_features(ctx, i, j)])[0]
        return float(1.0 - p[self._none])
