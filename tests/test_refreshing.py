"""knowledge.base.Refreshing, the one refresh mechanism of the long-lived readers (check service, web answerer):
readers are answered at once from what is held while one background thread builds the next value."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pgxlit.knowledge.base import Refreshing


class Source:
    """A value that changes when told to; its refresh can be held half-way to see what readers get meanwhile."""

    def __init__(self) -> None:
        self.version = 1
        self.loads = 0
        self.refreshes = 0
        self.saved: list[Any] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()
        self.fail = False

    def load(self) -> dict[str, int]:
        self.loads += 1
        return {"version": self.version}

    def refresh(self, current: dict[str, int]) -> dict[str, int] | None:
        self.refreshes += 1
        self.entered.set()
        self.hold.wait(30)
        if self.fail:
            raise RuntimeError("the store went away")
        return None if current["version"] == self.version else {"version": self.version}


@pytest.fixture()
def source() -> Source:
    return Source()


def _live(source: Source, every: float = 0.0) -> Refreshing[dict[str, int]]:
    return Refreshing(source.load, source.refresh, lambda: every, name="test-refresh", saved=source.saved.append)


def test_readers_get_the_held_value_until_the_refresh_swaps_in(source: Source) -> None:
    live = _live(source)
    first = live.get()
    assert first == {"version": 1} and source.loads == 1
    source.version = 2
    source.hold.clear()  # the next refresh stops half-way
    assert live.get() is first  # starts the refresh, answers at once
    assert source.entered.wait(30)
    assert live.get() is first and live.get() is first  # still building: no second refresh is started
    assert source.refreshes == 1
    source.hold.set()
    assert live.wait(30)
    assert live.get() == {"version": 2} and source.saved == [{"version": 2}]  # swapped, then saved
    assert source.loads == 1  # never loaded again: refreshed


def test_nothing_changed_keeps_the_same_value_and_saves_nothing(source: Source) -> None:
    live = _live(source)
    first = live.get()
    live.get()
    assert live.wait(30) and source.refreshes == 1
    assert live.get() is first and source.saved == []


def test_no_refresh_before_the_interval(source: Source) -> None:
    live = _live(source, every=3600.0)
    live.get()
    source.version = 2
    assert live.get() == {"version": 1} and live.wait(30) and source.refreshes == 0


def test_a_failed_refresh_keeps_serving_and_the_next_look_retries(source: Source) -> None:
    live = _live(source)
    first = live.get()
    source.version, source.fail = 2, True
    live.get()
    assert live.wait(30) and live.get() is first
    source.fail = False
    assert live.wait(30)
    live.get()
    assert live.wait(30) and live.get() == {"version": 2}


def test_a_synchronous_replace_wins_over_a_running_refresh(source: Source) -> None:
    live = _live(source)
    live.get()
    source.version = 2
    source.hold.clear()
    live.get()
    assert source.entered.wait(30)
    rebuilt = live.replace(lambda: {"version": 99})
    source.hold.set()
    assert live.wait(30)
    assert live.get() is rebuilt and source.saved == []  # the refresh's older value was dropped
