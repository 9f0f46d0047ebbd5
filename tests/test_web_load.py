"""Behaviour under load, on the small real store of test_web_world: asks run in worker processes,
so a check is answered while an ask is still being worked on; a full pool answers 503 with
Retry-After; a dead worker is replaced; cached answers are dropped by any write.

No timing thresholds: "slow" is a real slow path (a fresh worker process loading the index and the
embedding model takes seconds, a check takes milliseconds), and each assertion is about order.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_web_world import TOKEN, build_world

from pgxlit.web.server import create_app

QUESTION = "What should I check before prescribing abacavir?"
WRITE = {"Authorization": f"Bearer {TOKEN}", "X-Curator": "Load Test"}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    return build_world()


def _app(world: dict[str, Any], **options: Any) -> Iterator[TestClient]:
    app = create_app(world["settings"], **options)
    try:
        yield TestClient(app, raise_server_exceptions=False)
    finally:
        app.state.services.close()  # stops the worker processes this test started


@pytest.fixture()
def one_worker(world: dict[str, Any]) -> Iterator[TestClient]:
    """One worker, no waiting room: a second heavy request while one runs is refused."""
    yield from _app(world, workers=1, queue=0)


def _ask_in_background(client: TestClient, body: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def ask() -> None:
        result["response"] = client.post("/api/ask", json=body)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread, result


def _wait_in_flight(client: TestClient, n: int) -> None:
    pool = client.app.state.services.heavy
    deadline = time.monotonic() + 60
    while pool.in_flight < n:
        assert time.monotonic() < deadline, "the ask never reached the worker pool"
        time.sleep(0.01)


def test_check_and_503_while_an_ask_is_in_flight(one_worker: TestClient) -> None:
    order = {"drug": "clopidogrel", "results": "CYP2C19 *2/*2"}
    assert one_worker.post("/api/check", json=order).status_code == 200  # the check's knowledge is compiled
    # the first ask starts the worker process, which loads the index and model before answering
    thread, result = _ask_in_background(one_worker, {"question": QUESTION, "top_k": 100})
    _wait_in_flight(one_worker, 1)
    check = one_worker.post("/api/check", json=order)
    assert check.status_code == 200 and check.json()["alerts"]
    assert thread.is_alive() and one_worker.app.state.services.heavy.in_flight == 1  # answered beside the ask

    busy = one_worker.post("/api/ask", json={"question": "Does CYP2C19 status change clopidogrel dosing?"})
    assert busy.status_code == 503
    assert int(busy.headers["retry-after"]) >= 1 and "retry" in busy.json()["detail"]
    listing = one_worker.get("/api/triples", params={"limit": 5})  # listings share the pool: refused too
    assert listing.status_code == 503 and "retry-after" in listing.headers

    thread.join(120)
    answer = result["response"]
    assert answer.status_code == 200 and answer.json()["citations"]
    again = one_worker.post("/api/ask", json={"question": "Does CYP2C19 status change clopidogrel dosing?"})
    assert again.status_code == 200  # the pool has room again
    assert one_worker.get("/api/triples", params={"limit": 5}).json()["items"]


def test_loaded_ask_workers_yield_the_cores_to_the_server(one_worker: TestClient) -> None:
    """Once loaded, every thread of a worker (faiss's and ONNX Runtime's too) runs under SCHED_IDLE
    (web.worker_idle, the default), so a check in the server process preempts an ask at once."""
    assert one_worker.app.state.settings.web.worker_idle
    assert one_worker.post("/api/ask", json={"question": QUESTION}).status_code == 200  # the worker has loaded
    [pid] = one_worker.get("/health").json()["workers"]["pids"]
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) > 1  # the pool's and the libraries' threads, not only the main one
    assert {os.sched_getscheduler(t) for t in threads} == {os.SCHED_IDLE}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the server process keeps the normal class


def test_without_idle_class_workers_take_a_lower_priority(world: dict[str, Any]) -> None:
    """web.worker_idle off: the worker's priority drops by web.worker_nice instead."""
    for client in _app({**world, "settings": world["settings"].replace(web_worker_idle=False)}, workers=1, queue=0):
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
        [pid] = client.get("/health").json()["workers"]["pids"]
        nice = client.app.state.settings.web.worker_nice
        assert nice > 0 and os.sched_getscheduler(pid) == os.SCHED_OTHER
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + nice


def test_a_dead_worker_is_replaced(one_worker: TestClient) -> None:
    assert one_worker.post("/api/ask", json={"question": QUESTION}).status_code == 200
    [pid] = one_worker.get("/health").json()["workers"]["pids"]
    os.kill(pid, signal.SIGKILL)  # the worker process this test's app started
    lost = one_worker.post("/api/ask", json={"question": "Does CYP2C19 status change clopidogrel dosing?"})
    assert lost.status_code == 503 and "restarted" in lost.json()["detail"]
    back = one_worker.post("/api/ask", json={"question": "Does CYP2C19 status change clopidogrel dosing?"})
    assert back.status_code == 200 and back.json()["citations"]
    assert one_worker.get("/health").json()["workers"]["pids"] != [pid]


def test_cached_answers_are_dropped_by_a_write(world: dict[str, Any]) -> None:
    for client in _app(world, workers=0):  # in this process: the cache does not depend on the pool
        first = client.post("/api/ask", json={"question": QUESTION}).json()
        stats = client.get("/health").json()["answer_cache"]
        assert client.post("/api/ask", json={"question": f"  {QUESTION} "}).json() == first
        after = client.get("/health").json()["answer_cache"]
        assert after["hits"] == stats["hits"] + 1 and after["misses"] == stats["misses"]

        pending = client.get("/api/triples", params={"status": "pending", "limit": 1}).json()["items"][0]["id"]
        for action in ("accept", "reset"):  # a review changes the store: the next ask is answered anew
            r = client.post(f"/api/triples/{pending}/review", json={"action": action, "reason": "cache test"},
                            headers=WRITE)
            assert r.status_code == 200
            client.post("/api/ask", json={"question": QUESTION})
            now = client.get("/health").json()["answer_cache"]
            assert now["misses"] == after["misses"] + 1 and now["hits"] == after["hits"]
            after = now
        other = client.post("/api/ask", json={"question": QUESTION, "top_k": 3})  # options are part of the key
        assert other.status_code == 200 and client.get("/health").json()["answer_cache"]["misses"] == after["misses"] + 1
