"""The replay server: recorded openFDA, DailyMed and E-utilities answers over HTTP on 127.0.0.1.

The crawlers and their tests talk HTTP to this server exactly as they would to
the public APIs (same paths, same query parameters), and get back the REAL
recorded payloads from ``../shared/corpora``. This module holds only the
socket layer, routing, fault injection per request and request accounting;
each API lives in its own module (openfda, dailymed, eutils).

Served paths (``BASE`` = ``http://127.0.0.1:PORT``)::

    BASE/drug/label.json                                     openFDA drug labels
    BASE/dailymed/services/v2/spls/{setid}/history[.json]    DailyMed version history
    BASE/dailymed/services/v2/spls/{setid}.xml               newest recorded SPL of a set
    BASE/dailymed/services/v2/spls.xml?page=1                recorded SPL listing page
    BASE/dailymed/getFile.cfm?type=zip|xml&setid=…&version=… one SPL version (zip or XML)
    BASE/entrez/eutils/esearch.fcgi                          PubMed search (GET or POST)
    BASE/entrez/eutils/efetch.fcgi                           PubMed records (GET or POST)
    BASE/entrez/eutils/epost.fcgi                            store ids in a WebEnv (GET or POST)
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .common import TEXT_TYPE, Reply, require
from .dailymed import DailyMedApi, DailyMedIndex
from .eutils import EutilsApi
from .faults import FaultPlan, rate_limited_reply, server_error_reply
from .openfda import OpenFdaApi, OpenFdaIndex, openfda_error
from .pubmed_index import PubmedIndex

__all__ = ["ReplayServer", "serve_forever"]


@dataclass
class _Indexes:
    openfda: OpenFdaIndex
    dailymed: DailyMedIndex
    pubmed: PubmedIndex
    seconds: float


_INDEX_CACHE: dict[Path, _Indexes] = {}
_INDEX_LOCK = threading.Lock()


def _load_indexes(corpora: Path) -> _Indexes:
    """Build (once per process and folder) the indexes of a corpora folder."""
    root = Path(corpora).expanduser().resolve()
    with _INDEX_LOCK:
        if root in _INDEX_CACHE:
            return _INDEX_CACHE[root]
        if not root.is_dir():
            raise FileNotFoundError(
                f"replay: corpora folder not found: {root} — pass the shared corpora folder "
                "(the one holding fda/ and pubmed/, e.g. --corpora ../shared/corpora)"
            )
        fda = require(root / "fda", "FDA recordings (fda/)")
        started = time.perf_counter()
        indexes = _Indexes(OpenFdaIndex(fda), DailyMedIndex(fda), PubmedIndex(root / "pubmed"), 0.0)
        indexes.seconds = time.perf_counter() - started
        _INDEX_CACHE[root] = indexes
        return indexes


class _App:
    """Routing to the three API emulations; independent of the socket layer."""

    def __init__(self, indexes: _Indexes) -> None:
        self.openfda = OpenFdaApi(indexes.openfda)
        self.dailymed = DailyMedApi(indexes.dailymed)
        self.eutils = EutilsApi(indexes.pubmed)

    def handle(self, method: str, path: str, params: dict[str, str], host: str) -> Reply:
        if path == "/drug/label.json":
            return self.openfda.label(params, host)
        if path.startswith("/dailymed/"):
            return self.dailymed.handle(path, params)
        if path.startswith("/entrez/eutils/"):
            return self.eutils.handle(path.removeprefix("/entrez/eutils/"), params)
        if path.endswith(".json") and path.count("/") == 2:
            return openfda_error("not_found", f"replay: only /drug/label.json is recorded, not {path}")
        return Reply(404, f"replay: nothing recorded at {path}\n".encode(), TEXT_TYPE)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pgxlit-replay/1"
    server: _ReplayHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve("GET", b"")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD", b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length) if length else b"")

    def _serve(self, method: str, body: bytes) -> None:
        owner = self.server.owner
        arrived = time.monotonic()
        split = urlsplit(self.path)
        path = split.path
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        if method == "POST" and body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client = self.client_address[0]
        key = (client, method, path, tuple(sorted(params.items())))
        n, fault = owner.faults.choose(key)
        if owner.latency_ms:
            time.sleep(owner.latency_ms / 1000.0)
        if fault.kind == "429":
            reply = rate_limited_reply(path, client, owner.recent_requests(client, arrived))
        elif fault.kind == "5xx":
            reply = server_error_reply(fault.status)
        else:
            host = self.headers.get("Host") or f"{owner.host}:{owner.port}"
            try:
                reply = owner.app.handle(method, path, params, host)
            except Exception as exc:  # a bug here must not kill the connection silently
                reply = Reply(500, f"replay: internal error: {exc!r}\n".encode(), TEXT_TYPE)
            if fault.kind == "truncate" and reply.status == 200:
                reply.body = reply.body[: max(1, int(len(reply.body) * fault.cut))]
                owner.faults.record(key, faulted=True)
            else:
                owner.faults.record(key, faulted=False)
        owner.log(arrived, path, reply.status, client)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(reply.body)


class _ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: ReplayServer


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"replay: host must be a loopback address such as 127.0.0.1, got {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"replay: refusing to bind {host}; the replay server only listens on loopback (127.0.0.1)")
    return host


class ReplayServer:
    """The replay server: ``with ReplayServer(corpora) as srv: Settings(**srv.base_urls)``.

    Faults are chosen per request from ``seed`` and the request's arrival
    number, so a sequential client sees the same faults on every run.
    """

    def __init__(
        self,
        corpora: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fail_rate: float = 0.0,
        status_429_every: int = 0,
        latency_ms: int = 0,
        truncate_rate: float = 0.0,
        seed: int = 0,
        max_consecutive_faults: int = 3,
        verbose: bool = False,
    ) -> None:
        self.host = _loopback_host(host)
        self.port = port
        self.latency_ms = max(0, int(latency_ms))
        self.verbose = verbose
        self.faults = FaultPlan(fail_rate, status_429_every, truncate_rate, seed, max_consecutive_faults)
        self.indexes = _load_indexes(Path(corpora))
        self.app = _App(self.indexes)
        self.request_log: list[tuple[float, str, int]] = []
        self.request_clients: list[str] = []
        self._log_lock = threading.Lock()
        self._httpd: _ReplayHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------

    def _bind(self) -> _ReplayHTTPServer:
        if self._httpd is None:
            cls = _ReplayHTTPServer
            if ":" in self.host:
                cls = type("_ReplayHTTPServer6", (_ReplayHTTPServer,), {"address_family": socket.AF_INET6})
            httpd = cls((self.host, self.port), _Handler)
            httpd.owner = self
            self.port = httpd.server_address[1]
            self._httpd = httpd
        return self._httpd

    def start(self) -> ReplayServer:
        """Serve in a background daemon thread; returns at once, ready for requests."""
        if self._thread is not None:
            return self
        httpd = self._bind()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"replay:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serve in the calling thread until interrupted."""
        httpd = self._bind()
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()

    def stop(self) -> None:
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=5)
            self._httpd.server_close()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses and counts --------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("replay: call start() (or use `with`) before asking for the URL")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """Keyword arguments for pgxlit Settings (same names as its fields)."""
        return {
            "openfda_url": self.url,
            "dailymed_url": f"{self.url}/dailymed/services/v2",
            "dailymed_files_url": f"{self.url}/dailymed/getFile.cfm",
            "eutils_url": f"{self.url}/entrez/eutils",
        }

    @property
    def counts(self) -> dict[str, int]:
        ix = self.indexes
        return {
            "openfda_label_versions": len(ix.openfda),
            "openfda_files": ix.openfda.files_read,
            "dailymed_histories": len(ix.dailymed.histories),
            "spl_sets": len(ix.dailymed.spls),
            "spl_versions": ix.dailymed.spl_versions,
            "pubmed_articles": len(ix.pubmed),
            "pubmed_files": ix.pubmed.files_read,
        }

    @property
    def index_seconds(self) -> float:
        return self.indexes.seconds

    # --- request accounting ----------------------------------------------

    def log(self, when: float, path: str, status: int, client: str) -> None:
        with self._log_lock:
            self.request_log.append((when, path, status))
            self.request_clients.append(client)

    def recent_requests(self, client: str, now: float, window: float = 1.0) -> int:
        """Requests from `client` in the `window` seconds before `now` (this one included)."""
        with self._log_lock:
            entries = list(zip(self.request_log, self.request_clients))
        return 1 + sum(1 for (t, _, _), c in entries if c == client and now - window < t <= now)

    def max_requests_per_second(self, path_prefix: str = "", client: str | None = None,
                                window: float = 1.0) -> int:
        """Most requests seen in any `window`-second span (per client IP when `client` is given)."""
        with self._log_lock:
            times = sorted(
                t for (t, p, _), c in zip(self.request_log, self.request_clients)
                if p.startswith(path_prefix) and (client is None or c == client)
            )
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def requests_per_second_by_client(self, path_prefix: str = "") -> dict[str, int]:
        with self._log_lock:
            clients = set(self.request_clients)
        return {c: self.max_requests_per_second(path_prefix, c) for c in sorted(clients)}


def serve_forever(
    corpora: Path,
    port: int,
    *,
    fail_rate: float = 0.0,
    status_429_every: int = 0,
    latency_ms: int = 0,
    truncate_rate: float = 0.0,
    seed: int = 0,
) -> None:
    """Entry point of ``pgxlit replay``: index, print one start-up line, serve until Ctrl-C."""
    server = ReplayServer(
        Path(corpora), port=port, fail_rate=fail_rate, status_429_every=status_429_every,
        latency_ms=latency_ms, truncate_rate=truncate_rate, seed=seed,
    )
    server._bind()
    c = server.counts
    urls = server.base_urls
    print(
        f"pgxlit replay on {server.url}: openfda_url={urls['openfda_url']} dailymed_url={urls['dailymed_url']} "
        f"dailymed_files_url={urls['dailymed_files_url']} eutils_url={urls['eutils_url']} | "
        f"{c['openfda_label_versions']} openFDA label versions, {c['spl_versions']} SPL versions "
        f"({c['spl_sets']} sets), {c['dailymed_histories']} DailyMed histories, "
        f"{c['pubmed_articles']} PubMed articles | indexed in {server.index_seconds:.1f} s",
        flush=True,
    )
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
