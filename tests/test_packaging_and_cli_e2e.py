"""The distribution installs under one namespace, and the CLI works end to end over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_installs_stage_folders_under_pgxlit(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("pgxlit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {n for n in tops if not n.endswith(".dist-info")} == {"pgxlit"}, tops
    for module in ("pgxlit/ingest/load.py", "pgxlit/ingest/spl_sections.tsv", "pgxlit/corpora/lexicons/genes.tsv.gz", "pgxlit/extract/__init__.py",
                   "pgxlit/index/__init__.py", "pgxlit/qa/__init__.py", "pgxlit/cli/main.py"):
        assert module in names
    # The wheel alone (no source tree on the path) imports and finds its packaged table.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import pgxlit.ingest.spl_sections as s, pgxlit.extract.lexicons as x; "
            "print(s.field_for_loinc('66106-6'), x.load_lexicons(x.default_dir()).normalise_gene('CYP2D6')[1])")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
                         env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.stdout.strip() == "pharmacogenomics CYP2D6", out.stderr


def test_replay_command_serves_a_crawl(shared: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGXLIT_")}
    env["PGXLIT_HOME"] = str(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "pgxlit.cli", "replay", "--corpora", str(shared / "corpora"), "--port", "0",
         "--status-429-every", "3"],
        env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = server.stdout.readline()
        urls = dict(re.findall(r"(\w+_url)=(\S+)", line))
        assert set(urls) == {"openfda_url", "dailymed_url", "dailymed_files_url", "eutils_url"}, line
        for key, value in urls.items():
            env[f"PGXLIT_{key.upper()}"] = value
        env["PGXLIT_HTTP_BACKOFF_MAX_S"] = "0.05"
        crawl = subprocess.run(
            [sys.executable, "-m", "pgxlit.cli", "crawl", "labels", "--drug", "abacavir", "--json"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert crawl.returncode == 0, crawl.stderr
        assert json.loads(crawl.stdout)["label_versions_added"] == 8
        doctor = subprocess.run([sys.executable, "-m", "pgxlit.cli", "doctor", "--json"],
                                env=env, capture_output=True, text=True, timeout=120)
        checks = json.loads(doctor.stdout)
        assert "HTTP 200" in checks["openfda"] and checks["store"]["label_versions"] == 8
    finally:
        server.terminate()
        server.wait(timeout=10)
