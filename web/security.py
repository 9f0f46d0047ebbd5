"""Who may write: curator tokens, signed session cookies and CSRF tokens.

Reads are open. A write proves itself either with `Authorization: Bearer <token>` (scripts; a
browser never sends it on its own, so no CSRF risk) or with the session cookie that signing in
with a token sets, plus the CSRF token every form carries (a cross-site form post has the
cookie but cannot read the CSRF token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import HTTPException, Request

SESSION_COOKIE = "pgxlit_session"
SESSION_SECONDS = 12 * 3600
MIN_TOKEN_CHARS = 16
MIN_TOKEN_DISTINCT = 8
_NAME = re.compile(r"^[\w .@'-]{1,80}$")


def same(a: str | bytes | None, b: str | bytes | None) -> bool:
    """Constant-time equality that never raises: client values may hold any character."""
    if a is None or b is None:
        return False
    left = a.encode("utf-8", "surrogateescape") if isinstance(a, str) else a
    right = b.encode("utf-8", "surrogateescape") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def weak_token_reason(token: str) -> str | None:
    """Why a configured curator token is too easy to guess, or None when it is strong enough."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"is {len(token)} characters; use at least {MIN_TOKEN_CHARS}"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"uses only {len(set(token))} distinct characters; use at least {MIN_TOKEN_DISTINCT}"
    return None


class Throttle:
    """Failed sign-ins and Bearer tokens per client: after `limit` failures inside `window_s`
    the client waits (429 with Retry-After) until the oldest failure leaves the window."""

    def __init__(self, limit: int = 10, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        seen = self._failures.setdefault(client, deque())
        while seen and now - seen[0] > self.window_s:
            seen.popleft()
        return seen

    def check(self, client: str) -> None:
        """Raise 429 when this client has used up its failures."""
        now = time.monotonic()
        with self._lock:
            seen = self._recent(client, now)
            if len(seen) >= self.limit:
                wait = max(1, int(self.window_s - (now - seen[0])) + 1)
                raise HTTPException(429, f"too many failed sign-ins or tokens from this client; try again in {wait} s",
                                    headers={"Retry-After": str(wait)})

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # forget idle clients so memory stays flat
                for key in [k for k, v in self._failures.items() if not v][:5_000]:
                    del self._failures[key]


class RevokedSessions:
    """Session ids ended by logout, kept until they would have expired anyway.

    Kept in a small JSON file beside the store when one is given, so a configured signing secret
    (sessions that outlive a restart) does not bring logged-out sessions back after a restart.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()
        if path and path.exists():
            try:
                self._ids = {str(k): int(v) for k, v in json.loads(path.read_text()).items()}
            except (ValueError, OSError, AttributeError):
                self._ids = {}

    def revoke(self, session_id: str, expires: int) -> None:
        with self._lock:
            now = int(time.time())
            self._ids = {k: v for k, v in self._ids.items() if v > now}
            self._ids[session_id] = expires
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self._ids))
                os.replace(tmp, self.path)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._ids


@dataclass
class Auth:
    """Token checks and signing with one per-process (or configured) secret."""

    token: str
    user_tokens: dict[str, str] = field(default_factory=dict)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    revoked: RevokedSessions = field(default_factory=RevokedSessions)
    throttle: Throttle = field(default_factory=Throttle)

    def actor_for(self, token: str | None, name: str | None) -> str | None:
        """The curator a token speaks for: a personal token names its owner, the shared one the name given."""
        if not token:
            return None
        for user, user_token in self.user_tokens.items():
            if same(token, user_token):
                return user
        if same(token, self.token):
            return clean_name(name)
        return None

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def _token_mark(self, actor: str) -> str:
        """A short keyed fingerprint of the token the curator signed in with: rotating that token
        (personal or shared) ends every session it opened, with no session table to clean."""
        token = self.user_tokens.get(actor, self.token)
        return self._sign(b"token:" + token.encode("utf-8", "surrogateescape"))[:16]

    def session_cookie(self, actor: str) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"a": actor, "n": secrets.token_hex(8), "t": self._token_mark(actor),
                                                    "e": int(time.time()) + SESSION_SECONDS}).encode()).decode()
        return f"{body}.{self._sign(body.encode())}"

    def _session(self, cookie: str | None) -> dict[str, object] | None:
        if not cookie or "." not in cookie or not cookie.isascii():
            return None
        body, sig = cookie.rsplit(".", 1)
        if not same(sig, self._sign(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("a"), str):
            return None
        if not isinstance(data.get("e"), int) or data["e"] <= time.time():
            return None
        if str(data.get("n")) in self.revoked or not same(str(data.get("t")), self._token_mark(data["a"])):
            return None
        return data

    def read_session(self, cookie: str | None) -> str | None:
        """The signed-in curator, or None for a missing, forged, expired, logged-out or rotated-token cookie."""
        data = self._session(cookie)
        return str(data["a"]) if data else None

    def end_session(self, cookie: str | None) -> None:
        """Logout: this cookie (and its CSRF token) stops working on the server, not only in the browser."""
        data = self._session(cookie)
        if data:
            self.revoked.revoke(str(data["n"]), int(str(data["e"])))

    def csrf_token(self, cookie: str | None) -> str:
        """Bound to the session, so a token copied from another session is worthless."""
        return self._sign(b"csrf:" + (cookie or "anonymous").encode("utf-8", "surrogateescape"))

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and same(token, self.csrf_token(cookie))


def clean_name(name: str | None) -> str:
    """A curator name fit for the audit log; refused rather than silently changed."""
    text = " ".join((name or "").split())
    if not text:
        raise HTTPException(422, "give your name: the audit log records who changed what")
    if not _NAME.match(text):
        raise HTTPException(422, "a curator name is 1-80 letters, digits, spaces or . @ ' -")
    return text


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def api_writer(request: Request) -> str:
    """The curator of an API write (Bearer token, or a browser session with its CSRF header)."""
    auth: Auth = request.app.state.auth
    token = bearer(request)
    if token is not None:
        auth.throttle.check(client_key(request))
        actor = auth.actor_for(token, request.headers.get("x-curator"))
        if actor is None:
            auth.throttle.failed(client_key(request))
            raise HTTPException(403, "this token is not valid for writes (see PGXLIT_WEB_TOKEN)")
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    actor = auth.read_session(cookie)
    if actor is None:
        raise HTTPException(401, "writes need a curator token: send 'Authorization: Bearer <token>' "
                                 "and 'X-Curator: <your name>'")
    if not auth.csrf_ok(cookie, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    return actor


def form_writer(request: Request, csrf: str | None) -> str:
    """The curator of a form post: a signed-in session and the form's CSRF token."""
    auth: Auth = request.app.state.auth
    cookie = request.cookies.get(SESSION_COOKIE)
    actor = auth.read_session(cookie)
    if actor is None:
        raise HTTPException(401, "sign in with your curator token first")
    if not auth.csrf_ok(cookie, csrf):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page and try again")
    return actor
