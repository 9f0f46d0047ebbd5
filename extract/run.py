"""Run extraction over the store: every label version and abstract not yet extracted."""

from __future__ import annotations

from collections.abc import Callable

from pgxlit.extract.pipeline import default_nlp
from pgxlit.extract.pipeline import extractor_name
from pgxlit.extract.triples import iter_triples
from pgxlit.store import Store


def run_extraction(
    store: Store, *, force: bool = False, progress: Callable[[int, int | None], None] | None = None
) -> dict[str, int]:
    """Extract triples document by document; each document is replaced atomically, so a killed run resumes."""
    nlp = default_nlp()
    extractor = extractor_name()
    total = store.count_documents()
    counts = {"documents": total, "extracted": 0, "already_current": 0, "triples": 0, "pgx_triples": 0}
    todo = []
    for doc_key, content_sha, record in store.documents_for_extraction():
        if not force and store.extraction_is_current(doc_key, content_sha, extractor):
            counts["already_current"] += 1
            if progress:
                progress(1, total)
        else:
            todo.append((doc_key, content_sha, record))
    for doc_key, content_sha, triples in iter_triples(todo, nlp):
        with store.transaction() as session:
            store.replace_triples(session, doc_key, content_sha, extractor, triples)
        counts["extracted"] += 1
        counts["triples"] += len(triples)
        counts["pgx_triples"] += sum(t.pgx for t in triples)
        if progress:
            progress(1, total)
    return counts
