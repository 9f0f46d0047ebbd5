"""A check asked again (same drug and results) while the check's knowledge is unchanged is answered from
what was kept, with the same JSON; a review that changes the knowledge drops what was kept (issue 15:
checks under 16 clients)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_web_world import TOKEN, build_world

from pgxlit.web.server import create_app

WRITE = {"Authorization": f"Bearer {TOKEN}", "X-Curator": "Check Cache"}
ORDER = {"drug": "clopidogrel", "results": "CYP2C19 *2/*2"}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


def test_a_repeated_check_is_kept_until_the_knowledge_changes(world: dict[str, Any]) -> None:
    settings = world["settings"].replace(check_refresh_seconds=0.0)
    client = TestClient(create_app(settings, workers=0), raise_server_exceptions=False)
    client.post("/api/check", json=ORDER)  # compiles the knowledge (the first check is not kept)
    first = client.post("/api/check", json=ORDER)
    stats = client.get("/health").json()["check_cache"]
    again = client.post("/api/check", json=ORDER)
    assert first.status_code == again.status_code == 200 and first.json()["alerts"]
    assert again.content == first.content
    after = client.get("/health").json()["check_cache"]
    assert after["hits"] == stats["hits"] + 1 and after["misses"] == stats["misses"]
    other = client.post("/api/check", json={"drug": "clopidogrel", "results": "CYP2C19 *1/*1"})
    assert other.status_code == 200 and other.json() != first.json()  # another result is another answer

    service = client.app.state.check_service
    before = service.knowledge
    triple = next(t for t in client.get("/api/triples", params={"drug": "clopidogrel", "limit": 50}).json()["items"]
                  if t["review_status"] == "pending")
    for action in ("reject", "reset"):
        assert client.post(f"/api/triples/{triple['id']}/review", json={"action": action, "reason": "cache"},
                           headers=WRITE).status_code == 200
        service.knowledge  # noqa: B018 - starts the background refresh (check.refresh_seconds is 0)
        assert service.wait_for_refresh(120)
    assert service.knowledge is not before  # the reviews gave new knowledge
    misses = client.get("/health").json()["check_cache"]["misses"]
    fresh = client.post("/api/check", json=ORDER)
    assert fresh.status_code == 200 and client.get("/health").json()["check_cache"]["misses"] == misses + 1
    assert fresh.json() == first.json()  # rejected, then put back: the same answer, computed again
    client.app.state.services.close()
