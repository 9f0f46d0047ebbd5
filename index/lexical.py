"""The lexical half of the index: BM25 (bm25s) over PGx-aware tokens, saved and memory-mapped.

BM25 is rebuilt from the stored passages on each index update: tokenising and indexing is
cheap next to embedding (about 1M passages a minute), and a rebuilt index has exact statistics.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import bm25s
import numpy as np
from pgxlit.index.tokenize import lexical_tokens


class LexicalIndex:
    """BM25 over passages; `ids[i]` is the passage id of document i."""

    def __init__(self, retriever: bm25s.BM25 | None, ids: np.ndarray) -> None:
        self.retriever = retriever
        self.ids = ids
        vocab = retriever.vocab_dict if retriever is not None else {}
        self._vocab = set(vocab)

    @classmethod
    def build(cls, passages: Iterable[tuple[int, str]]) -> LexicalIndex:
        """BM25 over the passages; a text repeated across label versions is tokenised once (same tokens)."""
        ids: list[int] = []
        corpus: list[list[str]] = []
        seen: dict[str, list[str]] = {}
        for pid, text in passages:
            ids.append(pid)
            tokens = seen.get(text)
            if tokens is None:
                tokens = seen[text] = lexical_tokens(text) or ["∅"]
            corpus.append(tokens)
        if not ids:
            return cls(None, np.zeros(0, dtype=np.int64))
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64))

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, passage ids) of the best k passages with a positive score.

        `allowed` is a boolean mask over `ids` (documents in index order), or None for all."""
        tokens = [t for t in lexical_tokens(query) if t in self._vocab]
        if self.retriever is None or not tokens:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        mask = None
        if allowed is not None:
            if not allowed.any():
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            mask = allowed.astype(np.float32)
        k = min(k, len(self.ids))
        docs, scores = self.retriever.retrieve(
            [tokens], k=k, show_progress=False, weight_mask=mask, n_threads=0
        )
        docs, scores = docs[0], scores[0]
        keep = scores > 0
        return scores[keep].astype(np.float32), self.ids[docs[keep]]

    def save(self, folder: Path) -> None:
        """Write to a fresh folder, then swap it in, so readers never see half an index."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "ids.npy", self.ids)
        if self.retriever is not None:
            self.retriever.save(str(tmp))
        (tmp / "meta.json").write_text(json.dumps({"documents": int(len(self.ids))}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        ids = np.load(folder / "ids.npy")
        if len(ids) == 0:
            return cls(None, ids)
        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        return cls(retriever, ids)
