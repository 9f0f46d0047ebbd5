"""The command line as a user meets it: JSON for scripts, clear errors, nothing lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pgxlit.cli import app
from pgxlit.config import get_settings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture()
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PGXLIT_DB_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def test_load_fixtures_then_stats_json(run, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(FIXTURES, data)
    result = run("load", str(data), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["files_failed"] == 0 and report["abstracts_added"] >= 2
    stats = json.loads(run("stats", "--json").output)
    assert {"labels", "label_versions", "sections", "abstracts"} <= stats.keys()
    assert stats["labels"] >= 1 and stats["abstracts"] >= 2
    again = json.loads(run("load", str(data), "--json").output)
    assert again["label_versions_added"] == 0 and again["abstracts_added"] == 0


def test_malformed_file_is_named_and_the_rest_is_kept(run, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "pubmed_tiny.xml", data / "a_good.xml")
    good = (FIXTURES / "openfda_capecitabine_min.json").read_bytes()
    (data / "b_broken.json").write_bytes(good[: len(good) // 2])
    (data / "c_notes.txt").write_text("not data")
    result = run("load", str(data), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["files_failed"] == 1 and "b_broken.json" in report["errors"][0]
    assert report["files_skipped"] == 1
    assert json.loads(run("stats", "--json").output)["abstracts"] == 2


def test_missing_path_and_unreachable_api_give_one_clear_line(run, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("load", "/no/such/folder")
    assert result.exit_code == 1 and "no such file or folder" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("PGXLIT_OPENFDA_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("PGXLIT_HTTP_MAX_RETRIES", "1")
    monkeypatch.setenv("PGXLIT_HTTP_BACKOFF_BASE_S", "0.001")
    result = run("crawl", "labels", "--drug", "abacavir")
    assert result.exit_code == 1 and "gave up after 2 attempts" in result.output
    assert "Traceback" not in result.output


def test_crawl_needs_a_selection(run) -> None:
    result = run("crawl", "labels")
    assert result.exit_code == 1 and "--drug" in result.output


def test_labels_listing_flags_pgx_sections(run, tmp_path: Path) -> None:
    run("load", str(FIXTURES / "openfda_capecitabine_min.json"))
    rows = json.loads(run("labels", "--pgx", "--json").output)
    assert rows and rows[0]["drug"] == "CAPECITABINE"
    assert "pharmacogenomics" in rows[0]["pgx_sections"]


def test_errors_and_output_are_not_wrapped_for_scripts_and_logs(tmp_path: Path) -> None:
    """Off a terminal a long line stays one line: rich's 80-column wrapping broke paths in two for grep and logs."""
    import os
    import subprocess
    import sys

    missing = tmp_path / ("a-long-folder-name-" * 12) / "[run 1]" / "data"  # also: brackets are not markup
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGXLIT_") and k != "COLUMNS"}
    env["PGXLIT_HOME"] = str(tmp_path / "home")
    result = subprocess.run([sys.executable, "-m", "pgxlit.cli", "load", str(missing)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"error: {missing}: no such file or folder" in result.stderr.splitlines(), result.stderr


def test_console_output_keeps_long_lines_whole_when_captured(capsys: pytest.CaptureFixture[str]) -> None:
    from pgxlit.cli_common import out

    sentence = "Patients who are CYP2C19 poor metabolizers " * 8
    out.print(f"  “{sentence.strip()}”", highlight=False, markup=False)
    assert capsys.readouterr().out == f"  “{sentence.strip()}”\n"
