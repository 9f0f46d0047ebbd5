"""Ask workers while they load and where they run: while they are still loading their index and model,
a triple listing is answered by the server process from the store, never an empty list or a timeout
(the flaky hardening test of issue 16: its first listing waited behind a loading worker under load);
with web.split_cpus the workers run on the CPUs the server process leaves them (issue 15)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_web_load import _app
from test_web_world import build_world

from pgxlit.web.heavy import split_cpus


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


def _one_worker(world: dict[str, Any], **overrides: Any) -> Iterator[TestClient]:
    yield from _app({**world, "settings": world["settings"].replace(**overrides)}, workers=1, queue=4)


@pytest.fixture()
def impatient(world: dict[str, Any]) -> Iterator[TestClient]:
    """A request timeout shorter than any worker's loading (spawn, imports, index, model, a warm-up
    ask): a listing that waited for the worker would answer 504."""
    yield from _one_worker(world, web_timeout_s=2.0)


def test_a_listing_is_answered_while_the_worker_loads(impatient: TestClient, world: dict[str, Any]) -> None:
    pool = impatient.app.state.services.heavy
    pool.start()  # a spawned worker imports and loads the index and model: seconds, not microseconds
    assert not pool.ready()
    reply = impatient.get("/api/triples", params={"status": "pending", "limit": 3})
    assert reply.status_code == 200
    total, items = world["store"].triple_entries(status="pending", limit=3)
    assert reply.json()["total"] == total > 0
    assert [i["id"] for i in reply.json()["items"]] == [e.id for e in items]


def test_workers_run_on_the_cpus_the_server_leaves_them(world: dict[str, Any]) -> None:
    """web.split_cpus (for machines where SCHED_IDLE workers are not allowed): the server process keeps the
    first CPU, the workers get the others."""
    split = split_cpus()
    if split is None:
        pytest.skip("one CPU: nothing to split")
    for client in _one_worker(world, web_split_cpus=True):
        assert client.post("/api/ask", json={"question": "What should I check before prescribing abacavir?"}
                           ).status_code == 200
        [pid] = client.get("/health").json()["workers"]["pids"]
        server_cpus, worker_cpus = split
        assert client.app.state.services.heavy.server_cpus == server_cpus
        assert os.sched_getaffinity(pid) == worker_cpus and not server_cpus & worker_cpus
