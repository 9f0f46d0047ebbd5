"""`pgxlit ask` through a running `pgxlit serve`: the server has the index and model loaded already.

Why: a one-shot ask in a new process loads the index, the encoder and the claims (about 2 s); a running
server answers in tens of milliseconds. The question is forwarded only when the server serves the
same store as this process's settings (`store_id`: the SQLite file's device and inode, so another
user's or another checkout's server never answers for this store), and the server answers
`/api/health` within `web.connect_timeout_s`; otherwise the caller answers locally. Standard
library HTTP only, so looking for a server costs a new process no imports.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

from pgxlit.qa.reads import sqlite_path


def store_id(url: str) -> str | None:
    """Which store a database URL names, comparable between processes: a SQLite file by device and inode
    (the same file under any path or symlink), another database by its URL without password. None for a
    SQLite file that does not exist or an in-memory database."""
    path = sqlite_path(url)
    if path is None:
        if url.startswith("sqlite"):
            return None
        safe = re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", url)
        return "url:" + hashlib.sha256(safe.encode()).hexdigest()[:16]
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"sqlite:{st.st_dev}:{st.st_ino}"


class Server:
    """A running pgxlit server found to serve this store; `ask` returns the API's answer JSON."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def ask(self, question: str, top_k: int | None, source: str | None, all_versions: bool) -> dict[str, Any]:
        body = {"question": question, "all_versions": all_versions,
                **({"top_k": top_k} if top_k is not None else {}), **({"source": source} if source else {})}
        request = urllib.request.Request(f"{self.url}/api/ask", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            if exc.code == 422:  # the question itself: the same answer locally
                raise ValueError(detail) from exc
            raise ServerUnavailable(f"the server at {self.url} answered {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise ServerUnavailable(f"the server at {self.url} did not answer: {exc}") from exc
        for citation in answer.get("citations") or ():
            citation.pop("evidence_url", None)  # the web page's link: the same JSON as a local answer
        return answer


class ServerUnavailable(RuntimeError):
    """The server stopped answering (busy, restarting, gone): the caller answers locally instead."""


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(exc.read()).get("detail")
    except (OSError, ValueError, AttributeError):
        detail = None
    return "; ".join(map(str, detail)) if isinstance(detail, list) else str(detail or exc.reason)


def find_server(settings: Any) -> Server | None:
    """The configured server (`web.server_url`) when it answers /api/health in time and serves the same
    store as `settings`; None otherwise (no server, another store, an older server without a store id)."""
    url = (settings.web.server_url or "").strip()
    if not url or url.lower() in ("none", "off"):
        return None
    mine = store_id(settings.resolved_db_url)
    if mine is None:
        return None
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/health",  # noqa: S310 - configured URL
                                    timeout=settings.web.connect_timeout_s) as response:
            health = json.loads(response.read())
    except (OSError, ValueError):
        return None
    if not isinstance(health, dict) or health.get("store") != mine or not health.get("index"):
        return None
    return Server(url, settings.web.timeout_s + 5)
