"""A crawl killed with SIGKILL midway resumes and ends with the same store as an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pgxlit.replay.server import ReplayServer
from pgxlit.store import Store

QUERY = "warfarin OR clopidogrel OR CYP2D6"


def _env(server: ReplayServer, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGXLIT_")}
    env.update({
        "PGXLIT_HOME": str(home),
        "PGXLIT_OPENFDA_URL": server.base_urls["openfda_url"],
        "PGXLIT_DAILYMED_URL": server.base_urls["dailymed_url"],
        "PGXLIT_DAILYMED_FILES_URL": server.base_urls["dailymed_files_url"],
        "PGXLIT_EUTILS_URL": server.base_urls["eutils_url"],
        "PGXLIT_EUTILS_RATE_PER_SEC": "1000",
        "PGXLIT_OPENFDA_RATE_PER_MIN": "600000",
        "PGXLIT_EUTILS_BATCH_SIZE": "25",
        "PGXLIT_OPENFDA_PAGE_SIZE": "5",
        "PGXLIT_HTTP_BACKOFF_BASE_S": "0.001",
    })
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pgxlit.cli", *args]


def _cursor(db: Path, key: str) -> dict | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("select cursor from crawl_state where key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return json.loads(row[0]) if row else None


def _kill_midway(cmd: list[str], env: dict[str, str], db: Path, key: str, progressed) -> None:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cursor = _cursor(db, key)
            if cursor and progressed(cursor):
                break
            if proc.poll() is not None:
                pytest.fail("the crawl finished before it could be killed; slow the replay down")
            time.sleep(0.05)
        else:
            pytest.fail("the crawl made no progress")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


def _complete_and_compare(cmd: list[str], server: ReplayServer, killed_home: Path, clean_home: Path) -> Store:
    subprocess.run(cmd, env=_env(server, killed_home), check=True, capture_output=True, timeout=300)
    subprocess.run(cmd, env=_env(server, clean_home), check=True, capture_output=True, timeout=300)
    resumed = Store(f"sqlite:///{killed_home / 'pgxlit.sqlite'}")
    clean = Store(f"sqlite:///{clean_home / 'pgxlit.sqlite'}")
    a, b = resumed.stats(), clean.stats()
    a.pop("raw_responses"), b.pop("raw_responses")  # a killed run may have kept a page it re-fetched
    assert a == b
    assert {lv.key: lv for lv in resumed.label_versions()} == {lv.key: lv for lv in clean.label_versions()}
    return resumed


def test_pubmed_crawl_resumes_after_sigkill(shared: Path, tmp_path: Path) -> None:
    with ReplayServer(shared / "corpora", latency_ms=60) as server:
        killed, clean = tmp_path / "killed", tmp_path / "clean"
        cmd = _cli("crawl", "pubmed", "--query", QUERY, "--json")
        _kill_midway(cmd, _env(server, killed), killed / "pgxlit.sqlite", f"pubmed:{QUERY}",
                     lambda c: c.get("retstart", 0) >= 100)
        partial = _cursor(killed / "pgxlit.sqlite", f"pubmed:{QUERY}")
        assert partial is not None and 100 <= partial["retstart"] < partial["count"]
        store = _complete_and_compare(cmd, server, killed, clean)
        assert store.stats()["pubmed_records"] == partial["count"]
        assert store.crawl_state(f"pubmed:{QUERY}").status == "done"


def test_label_crawl_resumes_after_sigkill(shared: Path, tmp_path: Path) -> None:
    with ReplayServer(shared / "corpora", latency_ms=60) as server:
        killed, clean = tmp_path / "killed", tmp_path / "clean"
        cmd = _cli("crawl", "labels", "--all", "--json")
        _kill_midway(cmd, _env(server, killed), killed / "pgxlit.sqlite", "openfda:label:*",
                     lambda c: c.get("seen", 0) >= 40)
        store = _complete_and_compare(cmd, server, killed, clean)
        assert store.stats()["label_versions"] == 199
