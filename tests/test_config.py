"""Settings: nested per stage, one flat name per setting for the environment, unknown keys refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pgxlit.config import FLAT, GROUPS, Settings, SettingsError, settings_table


@pytest.fixture(autouse=True)
def _no_ambient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path))
    monkeypatch.delenv("PGXLIT_CONFIG", raising=False)
    for flat in FLAT:
        monkeypatch.delenv(f"PGXLIT_{flat.upper()}", raising=False)


def test_toml_tables_environment_and_keywords_in_priority_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('[index]\nnprobe = 8\nkind = "hnsw"\n[web]\nmax_body_bytes = 5000\n')
    monkeypatch.setenv("PGXLIT_INDEX_NPROBE", "16")
    monkeypatch.setenv("PGXLIT_ENGINE", "ray")
    monkeypatch.setenv("PGXLIT_WEB_USER_TOKENS", '{"ann": "ann-token-0123456789"}')
    settings = Settings(web_max_body_bytes=7000)
    assert settings.index.kind == "hnsw"  # file
    assert settings.index.nprobe == 16  # environment over file
    assert settings.web.max_body_bytes == 7000  # keyword over file
    assert settings.engine.kind == "ray" and settings.web.user_tokens == {"ann": "ann-token-0123456789"}
    assert settings.resolved_db_url == f"sqlite:///{tmp_path / 'pgxlit.sqlite'}"


def test_flat_names_in_toml_and_nested_keywords_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("qa_top_k = 9\n")
    settings = Settings(check={"min_confidence": 0.5})
    assert settings.qa.top_k == 9 and settings.check.min_confidence == 0.5
    assert settings.replace(qa_top_k=3).qa.top_k == 3 and settings.qa.top_k == 9


@pytest.mark.parametrize(("toml", "named"), [
    ("[index]\nnprob = 3\n", "'index.nprob'"),
    ("index_nprbe = 3\n", "'index_nprbe'"),
    ("[indx]\nnprobe = 3\n", "'indx'"),
])
def test_unknown_keys_in_the_file_fail_naming_them(tmp_path: Path, toml: str, named: str) -> None:
    (tmp_path / "config.toml").write_text(toml)
    with pytest.raises(SettingsError, match=named) as caught:
        Settings()
    assert str(tmp_path / "config.toml") in str(caught.value) and "\n" not in str(caught.value)


def test_bad_values_and_bad_toml_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGXLIT_INDEX_NPROBE", "many")
    with pytest.raises(SettingsError, match="index.nprobe"):
        Settings()
    monkeypatch.delenv("PGXLIT_INDEX_NPROBE")
    (tmp_path / "config.toml").write_text("[index\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings()
    (tmp_path / "config.toml").unlink()
    with pytest.raises(SettingsError, match="unknown setting 'qa_topk'.*did you mean 'qa_top_k'"):
        Settings(qa_topk=3)


def test_reading_an_old_flat_attribute_says_where_it_moved() -> None:
    with pytest.raises(AttributeError, match=r"settings.index_nprobe is now settings.index.nprobe"):
        Settings().index_nprobe  # noqa: B018


def test_every_setting_is_described_and_listed_once() -> None:
    for group, model in GROUPS.items():
        for name, info in model.model_fields.items():
            assert info.description, f"{group}.{name} has no description"
    rows = settings_table(Settings(web_token="a-long-curator-token-123"))
    assert len({r["env"] for r in rows}) == len(rows) == len(FLAT) + 2
    token = next(r for r in rows if r["env"] == "PGXLIT_WEB_TOKEN")
    assert token["value"] == "set"  # secrets are never printed


def test_cli_stops_with_one_line_on_a_bad_settings_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[web]\ntokn = 'x'\n")
    env = {"PGXLIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pgxlit.cli", "stats"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: unknown setting 'web.tokn' in {tmp_path / 'config.toml'}; did you mean 'web.token'?"]


def test_web_worker_pool_settings_reach_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgxlit.web.server import create_app

    monkeypatch.setenv("PGXLIT_WEB_WORKERS", "0")
    settings = Settings(web_answer_cache=0)
    assert settings.web.workers == 0 and settings.web.queue == 32 and Settings().web.workers == 0
    app = create_app(settings)  # 0 workers: asks answered in the server process, no pool started
    assert app.state.services.heavy is None
    assert app.state.services.answers.stats()["size"] == 0
