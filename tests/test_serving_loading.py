"""While the ask workers are still loading their index and model, a triple listing is answered by the
server process from the store, never an empty list or a timeout (the flaky hardening test of issue 16:
its first listing waited behind a loading worker under load)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_web_world import build_world

from pgxlit.web.server import create_app


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


@pytest.fixture()
def client(world: dict[str, Any]) -> Iterator[TestClient]:
    # a request timeout shorter than any worker's loading (spawn, imports, index, model, a warm-up ask):
    # a listing that waited for the worker would answer 504
    app = create_app(world["settings"].replace(web_timeout_s=2.0), workers=1, queue=4)
    try:
        yield TestClient(app, raise_server_exceptions=False)
    finally:
        app.state.services.close()  # stops the worker process this test started


def test_a_listing_is_answered_while_the_worker_loads(client: TestClient, world: dict[str, Any]) -> None:
    pool = client.app.state.services.heavy
    pool.start()  # a spawned worker imports and loads the index and model: seconds, not microseconds
    assert not pool.ready()
    reply = client.get("/api/triples", params={"status": "pending", "limit": 3})
    assert reply.status_code == 200
    total, items = world["store"].triple_entries(status="pending", limit=3)
    assert reply.json()["total"] == total > 0
    assert [i["id"] for i in reply.json()["items"]] == [e.id for e in items]
