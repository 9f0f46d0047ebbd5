"""Store reads a long-lived answerer repeats, kept until the store changes.

Why: in a worker that answers question after question, the same drug's label triples (which genes
its PGx triples name, the triples behind a drug-gene pair) were read back from SQLite for every
ask: a third of an uncached ask's CPU. `StoreVersion` is a token that changes with every write to
the store (commits made through this process's engine, and the size and mtime of the SQLite file
and its write-ahead log for writes by other processes, e.g. the web server's reviews), cheap
enough to take on every read (two `stat` calls). `ReadMemo` keeps results under that token.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory or non-SQLite database."""
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    return Path(url.removeprefix("sqlite:///"))


class StoreVersion:
    """A token that changes with every committed write to the store (and to `extra` files, e.g. an index
    manifest). None when the database is not a local file: then nothing may be cached."""

    def __init__(self, store: Any, extra: Iterable[Path] = ()) -> None:
        from sqlalchemy import event

        self._db = sqlite_path(str(store.url))
        self._extra = tuple(extra)
        self._commits = 0
        # Commits through this process's engine move the token at once (a stat may not see a write made
        # within the file system's timestamp resolution); the file stats catch other processes' writes.
        event.listen(store.engine, "commit", self._committed)

    def _committed(self, _connection: Any) -> None:
        self._commits += 1

    def token(self) -> tuple[Any, ...] | None:
        if self._db is None:
            return None
        parts: list[Any] = [self._commits]
        for path in (self._db, self._db.with_name(self._db.name + "-wal"), *self._extra):
            try:
                st = path.stat()
                parts.append((st.st_size, st.st_mtime_ns))
            except OSError:
                parts.append(None)
        return tuple(parts)


class ReadMemo:
    """Results of store reads by key, dropped whole when the store's version token changes; bounded (LRU).
    Values are shared between callers: they must not be mutated."""

    def __init__(self, version: StoreVersion, size: int = 4096) -> None:
        self.version = version
        self.size = size
        self._token: tuple[Any, ...] | None = None
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def many(self, kind: str, ids: Iterable[int], read: Callable[[list[int]], dict[int, T]]) -> dict[int, T]:
        """Values for many ids (keys `(kind, id)`): the kept ones, and one `read` of the rest (outside
        the lock); ids `read` does not return are not kept."""
        wanted = list(ids)
        token = self.version.token()
        if token is None:
            return read(wanted)
        found: dict[int, T] = {}
        with self._lock:
            if token != self._token:
                self._items.clear()
                self._token = token
            for i in wanted:
                value = self._items.get((kind, i))
                if value is not None:
                    self._items.move_to_end((kind, i))
                    found[i] = value
            self.hits += len(found)
            self.misses += len(wanted) - len(found)
        missing = [i for i in wanted if i not in found]
        if missing:
            fresh = read(missing)
            found.update(fresh)
            with self._lock:
                if self._token == token:
                    for i, value in fresh.items():
                        self._items[(kind, i)] = value
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
        return found

    def get(self, key: Any, read: Callable[[], T]) -> T:
        """The cached result for `key`, or `read()` (outside the lock) kept for the next caller."""
        token = self.version.token()
        if token is None:
            return read()
        with self._lock:
            if token != self._token:
                self._items.clear()
                self._token = token
            elif key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = read()
        with self._lock:
            if self._token == token:  # another thread saw a newer version meanwhile: this value is not kept
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value
