"""Polite HTTP fetching: client-side rate limits, retries with backoff, provenance.

The fetcher only moves bytes. A caller may hand it a parse function: a body
that fails to parse (a truncated transfer, say) is fetched again, and the
parsed value comes back beside the raw bytes so nothing is parsed twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from pgxlit import __version__
from pgxlit.config import Settings
from pgxlit.records import ParseError, RemoteError

T = TypeVar("T")

USER_AGENT = f"pgxlit/{__version__} (+https://github.com/pgxlit/pgxlit)"
SECRET_PARAMS = ("api_key",)


class FetchError(RemoteError):
    """A request that failed for good; the message names the URL and what to do."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Fetched:
    """Raw bytes with their provenance (the URL never carries a secret)."""

    url: str
    status: int
    body: bytes
    content_type: str | None
    fetched_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)


class RateLimiter:
    """Spaces requests at least 1/rate seconds apart; safe to share between threads.

    A 5% margin keeps network jitter from pushing a burst over the published limit.
    """

    MARGIN = 1.05

    def __init__(
        self,
        rate_per_sec: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_sec <= 0:
            raise ValueError("rate_per_sec must be positive")
        self.interval = self.MARGIN / rate_per_sec
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def hold_off(self, seconds: float) -> None:
        """Push the next slot back, e.g. after a 429 with Retry-After."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


def redact(url: str) -> str:
    """The URL as stored and shown: secrets replaced, so keys never reach the database or logs."""
    parsed = httpx.URL(url)
    params = [
        (k, "REDACTED" if k in SECRET_PARAMS else v) for k, v in parsed.params.multi_items()
    ]
    return str(parsed.copy_with(query=urlencode(params).encode() if params else None))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse Retry-After as seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


class HttpFetcher:
    """GET/POST with retries on 429, 5xx, timeouts, dropped connections and unparsable bodies."""

    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        settings: Settings,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(settings.http.timeout_s),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.requests_sent = 0
        self.retries = 0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        base = self.settings.http.backoff_base_s * (2**attempt)
        return min(self.settings.http.backoff_max_s, base * (0.5 + self._rng.random()))

    def fetch(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        limiter: RateLimiter | None = None,
        parse: Callable[[bytes, str], T] | None = None,
        ok_statuses: tuple[int, ...] = (200,),
    ) -> tuple[Fetched, T | None]:
        """Fetch until a good answer or retries run out; return the bytes and their parse."""
        last_reason = "no attempt made"
        last_status: int | None = None
        # Merge, never replace: a next-page link already carries its own query string.
        full_url = httpx.URL(url).copy_merge_params(dict(params)) if params else httpx.URL(url)
        shown_url = redact(str(full_url))
        for attempt in range(self.settings.http.max_retries + 1):
            if attempt:
                self.retries += 1
            if limiter:
                limiter.wait()
            self.requests_sent += 1
            try:
                if data is not None:
                    response = self.client.post(full_url, data=data)
                else:
                    response = self.client.get(full_url)
                body = response.content
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_reason, last_status = f"{type(exc).__name__}: {exc}", None
                self._sleep(self._backoff(attempt))
                continue
            status = response.status_code
            last_status = status
            if status in self.RETRY_STATUSES:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(wait, self.settings.http.backoff_max_s) if wait is not None else None
                last_reason = f"HTTP {status}"
                if limiter and wait:
                    limiter.hold_off(wait)
                self._sleep(wait if wait is not None else self._backoff(attempt))
                continue
            if status not in ok_statuses:
                snippet = body[:300].decode("utf-8", "replace")
                raise FetchError(shown_url, f"HTTP {status}: {snippet}", status)
            fetched = Fetched(
                url=shown_url,
                status=status,
                body=body,
                content_type=response.headers.get("Content-Type"),
                fetched_at=datetime.now(UTC),
                headers=dict(response.headers),
            )
            if parse is None:
                return fetched, None
            try:
                return fetched, parse(body, shown_url)
            except ParseError as exc:
                last_reason = f"unparsable body ({exc.reason})"
                self._sleep(self._backoff(attempt))
                continue
        raise FetchError(
            shown_url,
            f"gave up after {self.settings.http.max_retries + 1} attempts; last: {last_reason}. "
            "Check the base URL with `pgxlit doctor`, or try again later.",
            last_status,
        )
