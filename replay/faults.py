"""Fault injection for the replay server: 5xx, 429 with Retry-After, latency and truncated bodies.

Why deterministic: request n's fate depends only on (seed, n), so a sequential
crawler sees the same faults on every run and a retry or resume bug can be
reproduced. At most ``max_consecutive_faults`` faults hit the same request in a
row, so a client that retries always gets through.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from http import HTTPStatus

from .common import TEXT_TYPE, Reply
from .openfda import openfda_error

__all__ = ["Fault", "FaultPlan", "rate_limited_reply", "server_error_reply"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What happens to one request; `cut` is the kept fraction of a truncated body."""

    kind: str  # "none" | "429" | "5xx" | "truncate"
    status: int = 0
    cut: float = 1.0


class FaultPlan:
    """Deterministic per-request fault choice: request n's fate depends only on (seed, n)."""

    def __init__(self, fail_rate: float, status_429_every: int, truncate_rate: float, seed: int,
                 max_consecutive_faults: int) -> None:
        for name, rate in (("fail_rate", fail_rate), ("truncate_rate", truncate_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"replay: {name} must be between 0 and 1, got {rate}")
        if status_429_every < 0:
            raise ValueError(f"replay: status_429_every must be >= 0, got {status_429_every}")
        self.fail_rate = fail_rate
        self.status_429_every = status_429_every
        self.truncate_rate = truncate_rate
        self.seed = seed
        self.max_consecutive = max(0, max_consecutive_faults)
        self._count = 0
        self._streaks: dict[tuple, int] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether any fault is configured at all."""
        return bool(self.fail_rate or self.status_429_every or self.truncate_rate)

    def choose(self, request_key: tuple) -> tuple[int, Fault]:
        """(arrival number, fault) for the next request; `request_key` identifies retries of the same request."""
        with self._lock:
            self._count += 1
            n = self._count
            if not self.active or self._streaks.get(request_key, 0) >= self.max_consecutive:
                self._streaks.pop(request_key, None)
                return n, Fault("none")
        rng = random.Random(f"pgxlit-replay/{self.seed}/{n}")
        fail_draw, status_draw, trunc_draw, cut_draw = (rng.random() for _ in range(4))
        if self.status_429_every and n % self.status_429_every == 0:
            fault = Fault("429", 429)
        elif fail_draw < self.fail_rate:
            fault = Fault("5xx", 500 if status_draw < 0.5 else 503)
        elif trunc_draw < self.truncate_rate:
            fault = Fault("truncate", cut=0.3 + 0.6 * cut_draw)
        else:
            fault = Fault("none")
        if fault.kind in ("429", "5xx"):
            self.record(request_key, faulted=True)
        return n, fault

    def record(self, request_key: tuple, faulted: bool) -> None:
        """Count a faulted answer towards the request's streak, or end the streak on a clean one."""
        with self._lock:
            if faulted:
                self._streaks[request_key] = self._streaks.get(request_key, 0) + 1
                if len(self._streaks) > 100_000:
                    self._streaks.clear()
            else:
                self._streaks.pop(request_key, None)


def rate_limited_reply(path: str, client: str, recent: int) -> Reply:
    """The 429 body each API sends (NCBI's JSON, DailyMed's plain text, openFDA's error), with Retry-After."""
    headers = {"Retry-After": "1"}
    if path.startswith("/entrez/"):
        body = json.dumps({"error": "API rate limit exceeded", "api-key": client,
                           "count": str(recent), "limit": "3"}).encode()
        return Reply(429, body, "application/json", headers)
    if path.startswith("/dailymed/"):
        return Reply(429, b"429 Too Many Requests\n", TEXT_TYPE, headers)
    reply = openfda_error("rate")
    reply.headers.update(headers)
    return reply


def server_error_reply(status: int) -> Reply:
    """A bare 500/503, as a gateway in front of the real APIs sends it."""
    return Reply(status, f"{status} {HTTPStatus(status).phrase}\n".encode(), TEXT_TYPE)
