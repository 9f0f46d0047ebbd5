"""The fetcher's retry, backoff and rate-limit rules, against scripted HTTP answers."""

from __future__ import annotations

import httpx
import pytest

from pgxlit.config import Settings
from pgxlit.ingest.http import FetchError, HttpFetcher, RateLimiter, redact, retry_after_seconds
from pgxlit.records import ParseError


def _fetcher(answers: list, sleeps: list[float], retries: int = 4) -> HttpFetcher:
    calls = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(calls)
        if isinstance(answer, Exception):
            raise answer
        return answer

    settings = Settings(http_max_retries=retries, http_backoff_base_s=0.01, db_url="sqlite://")
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpFetcher(settings, client=client, sleep=sleeps.append)


def test_429_honours_retry_after_then_succeeds() -> None:
    sleeps: list[float] = []
    f = _fetcher([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=b"ok")], sleeps)
    fetched, _ = f.fetch("http://127.0.0.1/x")
    assert fetched.body == b"ok"
    assert sleeps == [7.0]
    assert f.requests_sent == 2


def test_5xx_and_timeouts_are_retried_with_growing_backoff() -> None:
    sleeps: list[float] = []
    answers = [httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(500), httpx.Response(200, content=b"x")]
    fetched, _ = _fetcher(answers, sleeps).fetch("http://127.0.0.1/x")
    assert fetched.status == 200
    assert len(sleeps) == 3
    assert sleeps[2] > sleeps[0]


def test_unparsable_body_is_fetched_again() -> None:
    def parse(body: bytes, source: str) -> int:
        if body != b"complete":
            raise ParseError(source, "truncated")
        return 1

    sleeps: list[float] = []
    f = _fetcher([httpx.Response(200, content=b"compl"), httpx.Response(200, content=b"complete")], sleeps)
    _, parsed = f.fetch("http://127.0.0.1/x", parse=parse)
    assert parsed == 1


def test_client_error_fails_at_once_with_the_url() -> None:
    f = _fetcher([httpx.Response(400, content=b'{"error":{"code":"BAD_REQUEST"}}')], [])
    with pytest.raises(FetchError, match="BAD_REQUEST") as info:
        f.fetch("http://127.0.0.1/drug/label.json", params={"api_key": "secret", "search": "x"})
    assert "secret" not in str(info.value)
    assert info.value.status == 400


def test_gives_up_after_the_retry_budget() -> None:
    f = _fetcher([httpx.Response(500)] * 3, [], retries=2)
    with pytest.raises(FetchError, match="gave up after 3 attempts"):
        f.fetch("http://127.0.0.1/x")


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert now[0] == pytest.approx(1.05)  # 5 requests at 4/s take a second, plus the margin
    limiter.hold_off(10)
    limiter.wait()
    assert now[0] >= 11.0


def test_redact_and_retry_after() -> None:
    assert "REDACTED" in redact("https://api.fda.gov/drug/label.json?api_key=abc&limit=1")
    assert "abc" not in redact("https://api.fda.gov/drug/label.json?api_key=abc&limit=1")
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_params_merge_with_a_link_that_has_its_own_query() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    settings = Settings(db_url="sqlite://")
    fetcher = HttpFetcher(settings, client=httpx.Client(transport=httpx.MockTransport(handler)))
    fetcher.fetch("http://127.0.0.1/drug/label.json?limit=5&search_after=0%3Dabc", params={"api_key": "k"})
    assert "search_after=0%3Dabc" in seen[0] and "api_key=k" in seen[0] and "limit=5" in seen[0]
