"""The versioned store: raw responses, label versions, sections, abstracts, triples, passages, crawl state.

SQLAlchemy 2 over SQLite (WAL, one file) by default; any SQLAlchemy URL works (Postgres is tested).
Every write goes through `Store.transaction()`, and every save is idempotent: loading the same bytes
or records twice adds nothing. `Store` is the one door: other stages call its methods and never see
a table class or write SQL. Its parts live beside it: `schema` (tables, engine), `documents`,
`triples` (with review and audit), `passages`, `figures` (counts, change stamps) and `claim_edits`
(curators' edits of compiled claims, with their history).
"""

from __future__ import annotations

from pgxlit.store.claim_edits import ClaimEdit, ClaimEditStore
from pgxlit.store.documents import CrawlState, DocumentStore, LabelVersionSummary, SaveCounts, StoredResponse
from pgxlit.store.passages import PassageStore, passage_key
from pgxlit.store.schema import make_engine, sha256_hex
from pgxlit.store.triples import EDITABLE_FIELDS, TripleEntry, TripleStore, triple_identity

__all__ = [
    "ClaimEdit",
    "EDITABLE_FIELDS",
    "CrawlState",
    "LabelVersionSummary",
    "SaveCounts",
    "Store",
    "StoredResponse",
    "TripleEntry",
    "make_engine",
    "passage_key",
    "sha256_hex",
    "triple_identity",
]


class Store(DocumentStore, TripleStore, PassageStore, ClaimEditStore):
    """Typed reads and idempotent writes over one database: the store's only public door."""
