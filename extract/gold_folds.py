"""Which gold documents a trainer fits on, which it holds back, and where the gold files are.

The trainers (tools/train_span_ner.py, tools/train_crf_ner.py and the taggers built on them) read
only the train fold of `extract.gold.dev_split`; inside it a fixed fifth, chosen by a hash of
the document id, is held back to choose settings. Keeping the hash here, in one place, makes
every trainer hold back the same documents, so their held-back figures can be compared and the
test fold stays unread until a model is written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pgxlit.extract.gold import GoldDoc, read_biored, read_pgxcorpus

__all__ = ["FOLDS", "fold_of", "held_back", "load_docs"]

FOLDS = 5


def load_docs(scheme: str, shared: Path) -> list[GoldDoc]:
    """The DEV documents of a gold scheme ("pgxcorpus" or "biored") under `shared`/gold."""
    if scheme == "pgxcorpus":
        return read_pgxcorpus(shared / "gold" / "pgxcorpus")
    files = sorted((shared / "gold" / "biored").glob("*.PubTator"))
    if not files:
        raise FileNotFoundError(f"no BioRED PubTator files under {shared / 'gold' / 'biored'}; "
                                f"pass the shared data folder (the one holding gold/) with --shared")
    return [d for f in files for d in read_biored(f)]


def held_back(doc_id: str, part: int = 0) -> bool:
    """A fixed fifth of the train fold, by document id. Part 0 is the fifth every shipped model's
    settings were chosen on; parts 1-4 are the other fifths, to check that a choice made on part 0
    holds elsewhere (cross-validation), never to choose again."""
    return int(hashlib.sha256(f"span-ner-dev:{doc_id}".encode()).hexdigest(), 16) % 5 == part


def fold_of(doc_id: str, folds: int = FOLDS) -> int:
    """A fixed fold of a document, by id (for out-of-fold gazetteers and first passes)."""
    return int(hashlib.sha256(f"crf-gazetteer:{doc_id}".encode()).hexdigest(), 16) % folds
