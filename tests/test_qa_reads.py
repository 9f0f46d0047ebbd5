"""Repeated store reads are kept until the store changes: through this process's engine, or a write to
the SQLite file by another connection (another process: the web server's reviews seen by a worker)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pgxlit.qa.reads import ReadMemo, StoreVersion
from pgxlit.store import Store


def _counting_read(log: list[int], value: str):  # noqa: ANN202 - a test helper
    def read() -> str:
        log.append(1)
        return value
    return read


def test_kept_until_this_process_commits(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    memo = ReadMemo(StoreVersion(store))
    reads: list[int] = []
    assert memo.get("k", _counting_read(reads, "a")) == "a"
    assert memo.get("k", _counting_read(reads, "b")) == "a"  # kept: nothing was written
    assert len(reads) == 1 and memo.hits == 1
    with store.transaction() as s:
        store.set_crawl_state(s, "pubmed:q", {"retstart": 200})
    assert memo.get("k", _counting_read(reads, "b")) == "b"  # a commit drops what was kept
    assert len(reads) == 2


def test_a_write_by_another_connection_drops_the_memo(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = Store(f"sqlite:///{path}")
    memo = ReadMemo(StoreVersion(store))
    reads: list[int] = []
    memo.get("k", _counting_read(reads, "a"))
    other = sqlite3.connect(path)  # not through the store's engine, as another process writes
    other.execute("CREATE TABLE written_elsewhere (x INTEGER)")
    other.execute("INSERT INTO written_elsewhere VALUES (1)")
    other.commit()
    other.close()
    assert memo.get("k", _counting_read(reads, "b")) == "b" and len(reads) == 2


def test_nothing_kept_for_a_database_that_is_not_a_file() -> None:
    memo = ReadMemo(StoreVersion(Store("sqlite:///:memory:")))
    reads: list[int] = []
    memo.get("k", _counting_read(reads, "a"))
    memo.get("k", _counting_read(reads, "a"))
    assert len(reads) == 2


def test_bounded(tmp_path: Path) -> None:
    memo = ReadMemo(StoreVersion(Store(f"sqlite:///{tmp_path / 's.sqlite'}")), size=2)
    reads: list[int] = []
    for key in ("a", "b", "c"):
        memo.get(key, _counting_read(reads, key))
    memo.get("a", _counting_read(reads, "a"))  # the oldest was let go
    assert len(reads) == 4
