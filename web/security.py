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
import re
import secrets
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

SESSION_COOKIE = "pgxlit_session"
SESSION_SECONDS = 12 * 3600
_NAME = re.compile(r"^[\w .@'-]{1,80}$")


@dataclass
class Auth:
    """Token checks and signing with one per-process (or configured) secret."""

    token: str
    user_tokens: dict[str, str] = field(default_factory=dict)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def actor_for(self, token: str | None, name: str | None) -> str | None:
        """The curator a token speaks for: a personal token names its owner, the shared one the name given."""
        if not token:
            return None
        for user, user_token in self.user_tokens.items():
            if hmac.compare_digest(token.encode(), user_token.encode()):
                return user
        if hmac.compare_digest(token.encode(), self.token.encode()):
            return clean_name(name)
        return None

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def session_cookie(self, actor: str) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"a": actor, "n": secrets.token_hex(8),
                                                    "e": int(time.time()) + SESSION_SECONDS}).encode()).decode()
        return f"{body}.{self._sign(body.encode())}"

    def read_session(self, cookie: str | None) -> str | None:
        """The signed-in curator, or None for a missing, forged or expired cookie."""
        if not cookie or "." not in cookie:
            return None
        body, sig = cookie.rsplit(".", 1)
        if not hmac.compare_digest(sig, self._sign(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
        except (ValueError, json.JSONDecodeError):
            return None
        return data["a"] if data.get("e", 0) > time.time() else None

    def csrf_token(self, cookie: str | None) -> str:
        """Bound to the session, so a token copied from another session is worthless."""
        return self._sign(b"csrf:" + (cookie or "anonymous").encode())

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(token, self.csrf_token(cookie))


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


def api_writer(request: Request) -> str:
    """The curator of an API write (Bearer token, or a browser session with its CSRF header)."""
    auth: Auth = request.app.state.auth
    token = bearer(request)
    if token is not None:
        actor = auth.actor_for(token, request.headers.get("x-curator"))
        if actor is None:
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
