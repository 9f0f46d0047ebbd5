"""`pgxlit ask` through a running `pgxlit serve` of the same store, with a real server on 127.0.0.1 (uvicorn,
the test_web_world store): forwarded when the server's /api/health names the same store, answered locally
when it names another store, when nothing listens, and with --local."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_web_world import build_world
from typer.testing import CliRunner

from pgxlit.config import Settings, get_settings
from pgxlit.qa.remote import find_server, store_id

QUESTION = "What should I check before prescribing abacavir?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


@pytest.fixture(scope="module")
def server(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    import uvicorn

    from pgxlit.web.server import create_app

    app = create_app(world["settings"], workers=0)  # answers in the server process: no worker start-up here
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "app": app}
    srv.should_exit = True
    thread.join(10)
    app.state.services.close()


def _asked_server(server: dict[str, Any]) -> int:
    """Questions the server answered (its answer cache counts every ask as a hit or a miss)."""
    stats = server["app"].state.services.answers.stats()
    return stats["hits"] + stats["misses"]


def _ask(monkeypatch: pytest.MonkeyPatch, settings: Settings, server_url: str, *args: str) -> Any:
    from pgxlit.cli import app

    monkeypatch.setenv("PGXLIT_HOME", str(settings.home))
    monkeypatch.setenv("PGXLIT_DB_URL", settings.resolved_db_url)
    monkeypatch.setenv("PGXLIT_WEB_SERVER_URL", server_url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["ask", *args])
    finally:
        get_settings.cache_clear()


def test_health_names_the_store_and_the_cli_forwards_to_it(world: dict[str, Any], server: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    health = httpx.get(f"{server['url']}/api/health", timeout=10).json()
    assert health["store"] == store_id(world["settings"].resolved_db_url) is not None

    before = _asked_server(server)
    forwarded = _ask(monkeypatch, world["settings"], server["url"], QUESTION, "--json")
    assert forwarded.exit_code == 0, forwarded.output
    assert _asked_server(server) == before + 1  # the server answered it
    assert "answered by the pgxlit server" in forwarded.stderr
    remote = json.loads(forwarded.stdout)

    local = _ask(monkeypatch, world["settings"], server["url"], QUESTION, "--json", "--local")
    assert local.exit_code == 0, local.output
    assert _asked_server(server) == before + 1  # --local: not sent
    here = json.loads(local.stdout)
    assert remote["citations"] and [c["passage_id"] for c in remote["citations"]] == \
        [c["passage_id"] for c in here["citations"]]
    assert set(remote["citations"][0]) == set(here["citations"][0])  # the same JSON either way
    assert remote["answer"] == here["answer"]

    text = _ask(monkeypatch, world["settings"], server["url"], QUESTION)  # the printed answer, through the server
    assert text.exit_code == 0 and "[1]" in text.stdout and _asked_server(server) == before + 2


def test_another_store_is_answered_locally(world: dict[str, Any], server: dict[str, Any], tmp_path: Path) -> None:
    other = Settings(home=tmp_path, db_url=f"sqlite:///{tmp_path / 'other.sqlite'}",
                     web_server_url=server["url"])
    from pgxlit.store import Store

    Store(other.resolved_db_url).close()  # an empty store of its own
    assert store_id(other.resolved_db_url) != store_id(world["settings"].resolved_db_url)
    assert find_server(other) is None
    same = world["settings"].replace(web_server_url=server["url"])
    assert find_server(same) is not None
    # the same file under another path (a symlink) is the same store
    link = tmp_path / "link.sqlite"
    link.symlink_to(Path(world["settings"].resolved_db_url.removeprefix("sqlite:///")))
    assert find_server(Settings(home=tmp_path, db_url=f"sqlite:///{link}", web_server_url=server["url"])) is not None


def test_no_server_is_answered_locally_at_once(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    nothing = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    assert find_server(world["settings"].replace(web_server_url=nothing)) is None
    assert find_server(world["settings"].replace(web_server_url="")) is None
    result = _ask(monkeypatch, world["settings"], nothing, QUESTION, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["citations"] and "answered by" not in result.stderr
