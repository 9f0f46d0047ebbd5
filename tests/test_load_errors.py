"""`pgxlit load` on damaged folders: a bad file is named and skipped, nothing of it is stored,
the rest of the folder loads, counts are honest and the exit code says something failed."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgxlit.cli import app
from pgxlit.config import Settings, get_settings
from pgxlit.ingest.load import Loader
from pgxlit.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT_PUBMED = Path(__file__).resolve().parents[1] / "corpora" / "snapshot" / "pubmed"
CORRUPT_GZIP = b"\x1f\x8b\x08\x00garbage" + b"\x00garbage" * 50


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PGXLIT_DB_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def _good_folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "pubmed_tiny.xml", data / "a_pubmed.xml")
    shutil.copy(FIXTURES / "openfda_capecitabine_min.json", data / "c_label.json")
    return data


def _load(tmp_path: Path, folder: Path, workers: int = 1, name: str = "s.sqlite") -> tuple[dict, Store]:
    store = Store(f"sqlite:///{tmp_path / name}")
    return Loader(store, Settings(home=tmp_path, load_workers=workers)).load([folder]).as_dict(), store


def _raw_urls(store: Store) -> list[str]:
    return [raw.url for raw in store.raw_responses()]


def test_corrupt_gzip_is_named_and_skipped_and_the_rest_loads(run, tmp_path: Path) -> None:
    data = _good_folder(tmp_path)
    (data / "b_broken.xml.gz").write_bytes(CORRUPT_GZIP)
    result = run("load", str(data))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "zlib" not in result.output
    lines = [line for line in result.output.splitlines() if "b_broken.xml.gz" in line]
    assert len(lines) == 1 and "damaged gzip data" in lines[0], result.output
    stats = json.loads(run("stats", "--json").output)
    assert stats["abstracts"] == 2 and stats["label_versions"] >= 1


def test_json_report_lists_failures_with_reasons_and_honest_counts(run, tmp_path: Path) -> None:
    data = _good_folder(tmp_path)
    (data / "b_broken.xml.gz").write_bytes(CORRUPT_GZIP)
    (data / "d_shape.json").write_text('{"results": "x"}')
    result = run("load", str(data), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["files_seen"] == 4 and report["files_loaded"] == 2 and report["files_failed"] == 2
    failed = {Path(f["file"]).name: f["reason"] for f in report["failures"]}
    assert set(failed) == {"b_broken.xml.gz", "d_shape.json"}
    assert "results" in failed["d_shape.json"]
    assert report["by_kind"] == {"pubmed": 1, "openfda": 1}
    assert report["raw_added"] == 2  # the two good files only


def test_a_failed_file_leaves_nothing_in_the_store(tmp_path: Path) -> None:
    """Records read before the damage and the file's raw copy are rolled back together."""
    data = tmp_path / "data"
    data.mkdir()
    whole = gzip.decompress(sorted(SNAPSHOT_PUBMED.glob("*.xml.gz"))[0].read_bytes())
    cut = whole[: int(len(whole) * 0.8)]
    assert cut.count(b"<PubmedArticle>") > 5  # many whole records precede the cut
    (data / "truncated.xml").write_bytes(cut)
    (data / "truncated_gzip.xml.gz").write_bytes(gzip.compress(whole)[:-200])
    (data / "shape.json").write_text('{"results": [{"set_id": "abc", "version": "x"}]}')
    report, store = _load(tmp_path, data)
    try:
        assert report["files_failed"] == 3 and report["files_loaded"] == 0
        assert report["abstracts_added"] == 0 and report["raw_added"] == 0
        assert store.stats()["abstracts"] == 0 and store.stats()["label_versions"] == 0
        assert _raw_urls(store) == []
        reasons = " | ".join(report["errors"])
        assert "malformed XML" in reasons and "damaged" in reasons and "version is not an integer" in reasons
    finally:
        store.close()


@pytest.mark.parametrize(("name", "body", "reason"), [
    ("results_string.json", b'{"results": "x"}', "results"),
    ("results_numbers.json", b'{"meta": {}, "results": [1, 2]}', "not an object"),
    ("no_set_id.json", b'{"results": [{"version": "1"}]}', "no set_id"),
    ("error_body.json", b'{"error": {"code": "SERVER_ERROR", "message": "boom"}}', "SERVER_ERROR"),
    ("meta_only.json", b'{"meta": {"results": {"total": 3}}}', "results"),
    ("history_shape.json", b'{"data": {"spl": {"setid": "x"}, "history": 5}}', "data.history"),
    ("truncated.json", b'{"results": [{"set_id": "a", "version": "1", "indications', "malformed JSON"),
    ("empty.json", b"", "empty file"),
    ("empty_gzip.xml.gz", gzip.compress(b""), "empty"),
    ("header_only.xml.gz", gzip.compress(b"<PubmedArticleSet><PubmedArticle>")[:12], "damaged gzip"),
    ("not_pubmed.xml", b"<?xml version='1.0'?>\n<PubmedArticleSet><PubmedArticle><MedlineCitation>", "malformed XML"),
])
def test_each_bad_shape_is_a_failure_with_a_reason(tmp_path: Path, name: str, body: bytes, reason: str) -> None:
    data = _good_folder(tmp_path)
    (data / name).write_bytes(body)
    report, store = _load(tmp_path, data)
    try:
        assert report["files_failed"] == 1, report
        assert report["files_loaded"] == 2
        failure = report["failures"][0]
        assert Path(failure["file"]).name == name
        assert reason in failure["reason"] and "\n" not in failure["reason"]
        assert not any(url.endswith(name) for url in _raw_urls(store))
    finally:
        store.close()


def test_empty_answers_are_loaded_not_failed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "not_found.json").write_text('{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}')
    (data / "no_hits.json").write_text('{"meta": {"results": {"total": 0}}, "results": []}')
    (data / "empty_set.xml").write_text("<?xml version='1.0'?>\n<PubmedArticleSet></PubmedArticleSet>\n")
    report, store = _load(tmp_path, data)
    store.close()
    assert report["files_failed"] == 0 and report["files_loaded"] == 3 and "note" not in report


def test_a_folder_with_nothing_loadable_says_so(run, tmp_path: Path) -> None:
    data = tmp_path / "notes"
    data.mkdir()
    (data / "README.md").write_text("# notes")
    (data / "other.json").write_text('{"hello": "world"}')
    result = run("load", str(data))
    assert result.exit_code == 1
    assert "no loadable files in" in result.output and "PubMed XML" in result.output
    report = json.loads(run("load", str(data), "--json").output)
    assert report["files_loaded"] == 0 and report["files_skipped"] == 2 and "no loadable files" in report["note"]


def test_parse_ahead_workers_report_the_same_failures(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SNAPSHOT_PUBMED, data)
    (data / "aa_corrupt.xml.gz").write_bytes(CORRUPT_GZIP)
    whole = gzip.decompress(sorted(SNAPSHOT_PUBMED.glob("*.xml.gz"))[1].read_bytes())
    (data / "zz_cut.xml.gz").write_bytes(gzip.compress(whole[: len(whole) // 2]))
    serial, one = _load(tmp_path, data, 1, "serial.sqlite")
    parallel, two = _load(tmp_path, data, 2, "parallel.sqlite")
    try:
        assert serial == parallel
        assert serial["files_failed"] == 2 and serial["files_loaded"] == len(list(SNAPSHOT_PUBMED.glob("*.xml.gz")))
        assert one.stats() == two.stats()
        assert not any("aa_corrupt" in u or "zz_cut" in u for u in _raw_urls(one) + _raw_urls(two))
    finally:
        one.close()
        two.close()
