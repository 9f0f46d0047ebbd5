"""Where an index generation's files are, and its manifest: what a reader needs before it searches.

Kept apart from `index/build.py` (which imports the extraction pipeline, and through it spaCy) so
that opening an index for search imports only this; `index.build` uses the same paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pgxlit.config import Settings


@dataclass(frozen=True, slots=True)
class IndexPaths:
    folder: Path

    @property
    def dense(self) -> Path:
        return self.folder / "dense.faiss"

    @property
    def lexical(self) -> Path:
        return self.folder / "bm25"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"

    @property
    def trained(self) -> Path:
        """The IVF-PQ quantizers with no vectors: every shard is encoded into a copy of it."""
        return self.folder / "trained.faiss"

    @property
    def build_ids(self) -> Path:
        """The passage ids a full build indexed: what stays live once it is swapped in."""
        return self.folder / "passage_ids.npy"

    @property
    def metadata(self) -> Path:
        """The search metadata (per-passage filter fields) saved with this generation."""
        return self.folder / "search_meta.npz"


def index_paths(settings: Settings) -> IndexPaths:
    """The live index. `home/index` points at the current generation; it is resolved once here, so a
    reader opens every file of one generation even if a rebuild swaps the pointer meanwhile."""
    link = settings.home / "index"
    return IndexPaths(link.resolve() if link.is_symlink() else link)


def read_manifest(paths: IndexPaths) -> dict[str, object] | None:
    if not paths.manifest.exists():
        return None
    return json.loads(paths.manifest.read_text())
