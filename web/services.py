"""What one server process loads once and shares between requests: store, answerer, check, digests.

The answerer (index, embedding model) is built on the first question and kept; it is rebuilt
only when `pgxlit index` has written a new index. Asks run concurrently: the ONNX encoder's
`run`, faiss searches on the read-only index and BM25 only read shared state, so only building
(or rebuilding) the answerer is serialised, and an ask in flight keeps the answerer it started with.

With a `HeavyPool` (the web server), asks and triple listings run in worker processes instead, so
this process's GIL stays free for checks and review writes. Answers are cached, keyed by the
normalised question, its options and a fingerprint of the store and index files: any write to
either (a review, a load, a re-index) changes the fingerprint, so no stale answer is served.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pgxlit.config import Settings
from pgxlit.qa.reads import StoreVersion
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

    def __init__(self, settings: Settings, check_service: Callable[[], Any], heavy: Any = None,
                 answer_cache: int = 0) -> None:
        """`heavy`: a web.heavy.HeavyPool for asks and listings (None: in this process);
        `answer_cache`: how many answers to keep (0: none)."""
        self.settings = settings
        self.heavy = heavy
        self.answers = AnswerCache(answer_cache)
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self.check_service = check_service
        self._answerer_lock = threading.Lock()  # building the answerer, not answering
        self._answerer: Any = None
        self._index_stamp: float | None = None
        self._digest_lock = threading.Lock()
        self._digests: dict[tuple, _Cached] = {}
        self._version: StoreVersion | None = None  # changes with every write to the store or the index

    @property
    def store(self) -> Store:
        """Opened on first use, so building the app touches no database."""
        with self._store_lock:
            if self._store is None:
                from pgxlit.index.paths import index_paths

                store = Store(self.settings.resolved_db_url)
                # Every commit through this process's store (reviews, edits, refreshes) moves the fingerprint
                # at once; file stats catch the writes of other processes (`pgxlit load`, `pgxlit index`).
                self._version = StoreVersion(store, extra=(index_paths(self.settings).manifest,))
                self._store = store
            return self._store

    # ---- ask -----------------------------------------------------------------------------------
    def _index_mtime(self) -> float | None:
        from pgxlit.index.paths import index_paths

        path = index_paths(self.settings).manifest
        return path.stat().st_mtime if path.exists() else None

    def index_ready(self) -> bool:
        """An index exists and no `pgxlit index` is writing it."""
        from pgxlit.index.paths import index_paths, read_manifest

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
        """A cited answer: from the cache when nothing was written since, else from a worker or here."""
        key = self.answers.key(question, k, source, all_versions, self.fingerprint())
        cached = self.answers.get(key)
        if cached is not None:
            return cached
        if self.heavy is not None:
            answer = self.heavy.call("ask", question, k, source, all_versions)
        else:
            from pgxlit.index.search import SearchFilters

            answer = self.answerer().ask(question, k, SearchFilters(source=source, latest_only=not all_versions))
        self.answers.put(key, answer)
        return answer

    def fingerprint(self) -> tuple | None:
        """Commits made here, and size and mtime of the SQLite files and the index manifest: changes with
        every committed write and every re-index. None (no caching) for a database that is not a local file."""
        self.store  # noqa: B018 - opened, so its commits are counted from now on
        return self._version.token() if self._version is not None else None

    def triple_entries(self, **filters: Any) -> tuple[int, list[Any]]:
        """Store.triple_entries, in a worker when there is a pool (a listing is SQLAlchemy rows: GIL time)."""
        if self.heavy is not None:  # while the workers still load, read here rather than wait for them
            return self.heavy.call("triple_entries", filters, meanwhile=lambda: self.store.triple_entries(**filters))
        return self.store.triple_entries(**filters)

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
                # in a worker when there is a pool: a full build is seconds of Python that would hold this GIL
                built = self.heavy.call("digest_full") if self.heavy is not None else \
                    (build_digest(self.store, Selection()), version_index(self.store))
                cached = _Cached(stamp, built, time.time())
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
        if self.heavy is not None:
            self.heavy.close()
        if self._store is not None:
            self._store.close()


class AnswerCache:
    """A small LRU of answers; a key includes the store fingerprint, so a write makes old keys unreachable.
    Counts hits and misses, which `GET /api/health` reports (a load figure must say its hit rate)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(question: str, k: int | None, source: str | None, all_versions: bool, fingerprint: tuple | None
            ) -> tuple | None:
        if fingerprint is None:
            return None
        return (" ".join(question.split()), k, source, all_versions, fingerprint)

    def get(self, key: tuple | None) -> Answer | None:
        if key is None or self.size <= 0:
            return None
        with self._lock:
            answer = self._items.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: tuple | None, answer: Answer) -> None:
        if key is None or self.size <= 0:
            return
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def stats(self) -> dict[str, int]:
        return {"size": len(self._items), "hits": self.hits, "misses": self.misses}


class CheckAnswers:
    """Check answers (their JSON) by ordered drug and results, kept while the check's knowledge is the same
    object: a refresh swaps in a new one and drops them all. Why: an EHR asks again for the same order
    and patient (each order-select, each sign); a kept answer skips parsing the results and the check."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._knowledge: Any = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple, knowledge: Any, answer: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The kept answer for `key` under `knowledge`, or `answer()` kept for the next caller. Callers
        must not change what they get: it is shared."""
        if self.size <= 0:
            return answer()
        with self._lock:
            if knowledge is not self._knowledge:
                self._items.clear()
                self._knowledge = knowledge
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        value = answer()
        with self._lock:
            if knowledge is self._knowledge:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def stats(self) -> dict[str, int]:
        return {"size": len(self._items), "hits": self.hits, "misses": self.misses}
