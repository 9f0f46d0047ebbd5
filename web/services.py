"""What one server process loads once and shares between requests: store, answerer, check, digests.

The answerer (index, embedding model) is built on the first question and kept; it is rebuilt
only when `pgxlit index` has written a new index. Asks run concurrently: the ONNX encoder's
`run`, faiss searches on the read-only index and BM25 only read shared state, so only building
(or rebuilding) the answerer is serialised, and an ask in flight keeps the answerer it started with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgxlit.config import Settings
from pgxlit.records import Answer
from pgxlit.store import Store

from pgxlit.web.evidence import evidence_view, find_section


@dataclass
class _Cached:
    key: Any
    value: Any
    at: float


class Services:
    """Lazily built, process-wide helpers; every method is safe to call from worker threads."""

    def __init__(self, settings: Settings, check_service: Callable[[], Any]) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self.check_service = check_service
        self._answerer_lock = threading.Lock()  # building the answerer, not answering
        self._answerer: Any = None
        self._index_stamp: float | None = None
        self._digest_lock = threading.Lock()
        self._digests: dict[tuple, _Cached] = {}

    @property
    def store(self) -> Store:
        """Opened on first use, so building the app touches no database."""
        with self._store_lock:
            if self._store is None:
                self._store = Store(self.settings.resolved_db_url)
            return self._store

    # ---- ask -----------------------------------------------------------------------------------
    def _index_mtime(self) -> float | None:
        from pgxlit.index.build import index_paths

        path = index_paths(self.settings).manifest
        return path.stat().st_mtime if path.exists() else None

    def index_ready(self) -> bool:
        """An index exists and no `pgxlit index` is writing it."""
        from pgxlit.index.build import index_paths, read_manifest

        manifest = read_manifest(index_paths(self.settings))
        return bool(manifest) and manifest.get("status") != "building"

    def answerer(self) -> Any:
        """Built on first use (loads the index and the embedding model), rebuilt after a re-index."""
        from pgxlit.qa.answer import Answerer
        from pgxlit.qa.llm import make_answerer

        stamp = self._index_mtime()
        current = self._answerer
        if current is not None and stamp == self._index_stamp:
            return current
        with self._answerer_lock:  # one build, however many asks arrive while it loads
            if self._answerer is None or stamp != self._index_stamp:
                base = Answerer(self.store, self.settings)
                base.catalogue  # noqa: B018 - built here, once, rather than by racing first asks
                self._answerer = make_answerer(base, self.settings)
                self._index_stamp = stamp
            return self._answerer

    def ask(self, question: str, k: int | None = None, source: str | None = None,
            all_versions: bool = False) -> Answer:
        from pgxlit.index.search import SearchFilters

        filters = SearchFilters(source=source, latest_only=not all_versions)
        return self.answerer().ask(question, k, filters)

    # ---- citations -------------------------------------------------------------------------------
    def evidence(self, passage_id: int, sentence: str) -> dict[str, Any] | None:
        """The cited sentence inside its whole label section or abstract; None for an unknown passage."""
        passage = self.store.passages([passage_id]).get(passage_id)
        if passage is None:
            return None
        if passage.source == "pubmed":
            from pgxlit.extract.triples import abstract_text

            abstract = self.store.abstract(passage.pmid or "")
            context = abstract_text(abstract) if abstract else passage.text
            return evidence_view(passage, sentence, context, "Abstract", abstract.title if abstract else None,
                                 passage.start)
        label = self.store.label_version(passage.set_id or "", passage.version or 0)
        section = find_section(label, passage) if label else None
        context = section.text if section else passage.text
        heading = (section.title if section and section.title else None) or passage.section_title or \
            (passage.section or "").replace("_", " ").capitalize()
        return evidence_view(passage, sentence, context, heading, label.title if label else None, passage.start)

    # ---- digest ----------------------------------------------------------------------------------
    def _labels_stamp(self) -> tuple:
        return self.store.labels_stamp()

    def digest(self, since: str | None, drugs: tuple[str, ...], pgx_only: bool) -> Any:
        """The digest of stored label changes, rebuilt only when label versions or extractions change."""
        from pgxlit.digest.build import Selection, build_digest, narrow_digest
        from pgxlit.digest.source import version_index

        # One full build per store state, one at a time; every filter is cut from it, so no
        # parameter a client sends can start another expensive rebuild.
        stamp = self._labels_stamp()
        with self._digest_lock:
            cached = self._digests.get(())
            if cached is None or cached.key != stamp:
                cached = _Cached(stamp, (build_digest(self.store, Selection()), version_index(self.store)), time.time())
                self._digests = {(): cached}
        full, metas = cached.value
        selection = Selection(since=since, drugs=drugs, pgx_only=pgx_only)
        return full if selection == Selection() else narrow_digest(full, selection, metas)

    def label_diff(self, set_id: str, old: int | None, new: int | None) -> Any:
        """One label's change between two stored versions (default: its last two), ranked like a digest."""
        from pgxlit.digest.build import digest_pair, rank_changes
        from pgxlit.digest.source import load_version, stored_triples, version_index

        metas = {m.version: m for m in version_index(self.store) if m.set_id == set_id.lower()}
        if not metas:
            raise LookupError(f"no stored label with set id {set_id}")
        versions = sorted(metas)
        new = new if new is not None else versions[-1]
        old = old if old is not None else next((v for v in reversed(versions) if v < new), None)
        if old is None or old not in metas or new not in metas or old >= new:
            raise LookupError(f"label {set_id} has versions {', '.join(map(str, versions))}; "
                              "pick two stored ones (old < new)")
        a, b = load_version(self.store, metas[old]), load_version(self.store, metas[new])
        pair = digest_pair(a, b, old_triples=stored_triples(self.store, set_id, old),
                           new_triples=stored_triples(self.store, set_id, new))
        changes = rank_changes(pair.changes)
        return pair, changes

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
