"""`pgxlit index --rebuild` never takes the live index away: it builds beside it and swaps atomically,
keeps passage ids (so evidence links keep working), and a rebuild killed with SIGKILL leaves the live
index answering and resumes."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pgxlit.config import Settings
from pgxlit.ingest.pubmed_xml import parse_pubmed_xml
from pgxlit.records import Abstract
from pgxlit.store import SaveCounts, Store

REPO = Path(__file__).resolve().parents[1]
PUBMED = REPO / "corpora" / "snapshot" / "pubmed"
QUERY = "CYP2C19 poor metabolizers clopidogrel"


def _abstracts(n: int) -> list[Abstract]:
    out: list[Abstract] = []
    for path in sorted(PUBMED.glob("*.xml.gz")):
        out += [r for r in parse_pubmed_xml(gzip.decompress(path.read_bytes()), path.name) if isinstance(r, Abstract)]
    return [a for a in out if a.has_text][:n]


def _home(tmp_path: Path, n: int) -> tuple[Settings, Store]:
    home = tmp_path / "home"
    settings = Settings(home=home, index_kind="flat", index_shard_passages=32)
    store = Store(settings.resolved_db_url)
    with store.transaction() as session:
        for a in _abstracts(n):
            store.save_abstract(session, a, None, SaveCounts())
    return settings, store


def _live(store: Store) -> dict[int, tuple]:
    return {pid: (p.doc_key, p.kind, p.start, p.end, p.text) for pid, p in
            store.passages(row[0] for row in store.passage_rows()).items()}


def test_rebuild_answers_throughout_and_keeps_passage_ids(tmp_path: Path) -> None:
    from pgxlit.index.build import index_paths, update_index
    from pgxlit.index.search import Searcher

    settings, store = _home(tmp_path, 30)
    try:
        first = update_index(store, settings)
        assert first["vectors"] == first["passages_added"] > 50
        link = settings.home / "index"
        assert link.is_symlink()
        before = _live(store)
        old_folder = index_paths(settings).folder
        hits_before = [h.passage.id for h in Searcher(store, settings).search(QUERY, k=5)]

        answered: list[int] = []
        errors: list[BaseException] = []
        done = threading.Event()

        def rebuild() -> None:
            try:
                update_index(store, settings, rebuild=True)
            except BaseException as exc:  # noqa: BLE001 - reported to the test below
                errors.append(exc)
            finally:
                done.set()

        worker = threading.Thread(target=rebuild)
        worker.start()
        while not done.is_set():  # the live index answers during the whole rebuild
            searcher = Searcher(store, settings)
            hits = searcher.search(QUERY, k=5)
            assert hits and all(h.passage.text for h in hits)
            answered.append(len(hits))
        worker.join()
        assert not errors, errors
        assert len(answered) >= 2
        assert index_paths(settings).folder != old_folder and old_folder.exists()  # swapped; previous kept
        assert _live(store) == before  # same ids for the same passages
        assert [h.passage.id for h in Searcher(store, settings).search(QUERY, k=5)] == hits_before
        assert not (settings.home / "index-generations" / "building").exists()
    finally:
        store.close()


def test_a_changed_window_retires_old_passages_after_the_swap_and_old_links_still_open(tmp_path: Path) -> None:
    from pgxlit.index.build import update_index

    settings, store = _home(tmp_path, 20)
    try:
        update_index(store, settings)
        # An index from before generations lived in a plain folder: the rebuild moves it aside once.
        link = settings.home / "index"
        real = link.resolve()
        link.unlink()
        shutil.copytree(real, link)
        before = _live(store)
        wider = Settings(home=settings.home, index_kind="flat", index_window_sentences=5)
        report = update_index(store, wider, rebuild=True)
        after = _live(store)
        assert link.is_symlink() and report["rebuilt"] is True
        kept = sorted(p.name for p in (settings.home / "index-generations").iterdir())
        assert len(kept) == 2 and kept[1].startswith("legacy-") and link.resolve().name == kept[0]  # live + previous
        assert report["passages_retired"] == len(set(before) - set(after)) > 0
        kept = set(before) & set(after)
        assert all(before[i] == after[i] for i in kept)
        old = sorted(set(before) - set(after))
        assert {i: p.text for i, p in store.passages(old).items()} == {i: before[i][4] for i in old}
        incremental = update_index(store, wider)  # nothing new: the incremental run adds and retires nothing
        assert incremental["passages_added"] == 0 and incremental["passages_retired"] == 0
    finally:
        store.close()


def _index_cli(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PGXLIT_HOME": str(home), "PGXLIT_INDEX_KIND": "flat", "PGXLIT_INDEX_SHARD_PASSAGES": "16"}
    env.pop("PGXLIT_DB_URL", None)
    return subprocess.Popen([sys.executable, "-m", "pgxlit.cli", "index", "--json", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_rebuild_killed_while_embedding_leaves_the_live_index_and_resumes(tmp_path: Path) -> None:
    from pgxlit.index.paths import index_paths, read_manifest
    from pgxlit.index.search import Searcher

    settings, store = _home(tmp_path, 40)
    try:
        first = _index_cli(settings.home)
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err[-2000:]
        live_manifest = read_manifest(index_paths(settings))
        assert index_paths(settings).metadata.exists()  # the search metadata is saved with the build
        before = _live(store)

        building = settings.home / "index-generations" / "building"
        proc = _index_cli(settings.home, "--rebuild")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            manifest = read_manifest(type(index_paths(settings))(building)) if (building / "manifest.json").exists() else None
            if manifest and manifest.get("phase") == "embedding":
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the rebuild finished before it could be killed: " + proc.stderr.read()[-500:]
        time.sleep(0.3)  # well inside the embedding
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

        assert read_manifest(index_paths(settings)) == live_manifest  # the live index was never touched
        assert Searcher(store, settings).search(QUERY, k=5)
        assert _live(store) == before
        assert building.exists()

        again = _index_cli(settings.home, "--rebuild")
        out, err = again.communicate(timeout=600)
        assert again.returncode == 0, err[-2000:]
        report = json.loads(out)
        assert report["resumed"] is True and report["passage_ids_kept"] == len(before)
        assert _live(store) == before
        assert report["vectors"] == live_manifest["vectors"]
        assert not building.exists()
    finally:
        store.close()


