"""Fuzzing every entry point a client or a file reaches (issue 16): each HTTP endpoint the OpenAPI
schema lists, CDS Hooks bodies, the MCP server over its real pipes, and `pgxlit load` inputs.

The properties: no 500 (no exception type reaches a client), the MCP process answers a ping after
every line and never reports an internal error, the loader never raises on a file's content and
keeps honest counts, and every call finishes in bounded time. Budget: about 90 s for the file."""

from __future__ import annotations

import copy
import gzip
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_check_fixtures import FIXTURES, fill_store

from pgxlit.config import Settings
from pgxlit.store import Store
from pgxlit.web.server import create_app

TOKEN = "fuzz-Zq8v1x9L0ngEnough-Tok3n-7731"
REQUEST_S = 30.0  # a bound no request may pass, on a loaded shared 2-core machine (first uses warmed up)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
CDS_REQUEST = json.loads((FIXTURES / "cds_order_select_clopidogrel.json").read_text(encoding="utf-8"))
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

BIG_INTS = st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**30)])
TEXT = st.text(max_size=40) | st.sampled_from(["", " ", "é", "\u202e", "\x00", "%", "../..", "*2/*2", "null",
                                               "2024-13-45", "CYP2C19 *2/", "=HYPERLINK(1)", "a" * 3000])
SCALARS = st.none() | st.booleans() | BIG_INTS | st.integers() | st.floats(allow_nan=False) | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)


def _deep(n: int) -> str:
    return '{"a": ' * n + "1" + "}" * n


# ---- HTTP: every endpoint in the OpenAPI schema ---------------------------------------------------------
@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app over a small real store (fixture labels and triples; no index, so asks answer 503)."""
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'fuzz.sqlite'}"
    store = Store(url)
    fill_store(store)
    store.close()
    app = create_app(Settings(home=folder / "home", db_url=url, web_token=TOKEN))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/api/health", "/api/stats", "/api/triples", "/api/digest", "/api/labels", "/cds-services"):
            client.get(path)  # first uses load the store, the check's knowledge and the digest: not timed
        client.post("/api/check", json={"drug": "clopidogrel", "results": "CYP2C19 *2/*2"})
        client.post("/cds-services/pgxlit-order-select", json=CDS_REQUEST)
        yield client


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(method, path, parameters by name, body properties) of every operation in the schema."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    schemas = spec.get("components", {}).get("schemas", {})
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = {p["name"]: p for p in op.get("parameters", [])}
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in body:
                body = schemas[body["$ref"].rsplit("/", 1)[-1]]
            ops.append((method.upper(), path, params, body.get("properties", {})))
    return ops


def _value_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = schema.get("type") or next((s.get("type") for s in schema.get("anyOf", []) if s.get("type") != "null"), None)
    typed = {"integer": BIG_INTS | st.integers(-5, 5000), "number": st.floats(allow_nan=False) | BIG_INTS,
             "boolean": st.booleans(), "string": TEXT, "array": st.lists(TEXT, max_size=3)}.get(kind, JSON)
    return typed | SCALARS  # the right type most of the time, any type some of the time


@st.composite
def http_requests(draw: st.DrawFn, ops: list) -> tuple[str, str, dict[str, Any], Any, dict[str, str]]:
    method, path, params, props = draw(st.sampled_from(ops))
    url = path
    query: dict[str, Any] = {}
    for name, p in params.items():
        value = draw(_value_for(p.get("schema", {})))
        if p["in"] == "path":
            url = url.replace("{" + name + "}", quote(str(value), safe="") or "x")
        elif draw(st.booleans()):
            query[name] = value if not isinstance(value, (dict, list)) else json.dumps(value)
    body: Any = None
    if method == "POST":
        body = draw(st.fixed_dictionaries({}, optional={k: _value_for(v) for k, v in props.items()}) | JSON)
    headers = {}
    if draw(st.booleans()) and path != "/api/refresh":  # a valid token on writes, except the real background refresh
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Curator": draw(TEXT.filter(str.isascii)) or "fuzz"}
    return method, url, {k: v for k, v in query.items() if v is not None}, body, headers


def _no_500(reply: Any, started: float, what: str) -> None:
    assert reply.status_code < 500 or reply.status_code in (503, 504), f"{what}: {reply.status_code} {reply.text[:300]}"
    assert time.perf_counter() - started < REQUEST_S, f"{what}: took {time.perf_counter() - started:.1f} s"


def test_every_endpoint_answers_without_500(app_client: TestClient) -> None:
    ops = _operations(app_client)
    assert len(ops) >= 20

    @FUZZ
    @given(http_requests(ops))
    def one(request: tuple[str, str, dict[str, Any], Any, dict[str, str]]) -> None:
        method, url, query, body, headers = request
        started = time.perf_counter()
        reply = app_client.request(method, url, params=query, json=body, headers=headers)
        _no_500(reply, started, f"{method} {url} params={query!r} json={body!r:.300}")

    one()


@pytest.mark.parametrize("raw", [_deep(5000).encode(), b"{" * 100_000, b'{"question": "\xff\xfe"}', b"[]" * 10,
                                 b'{"drug": "Plavix", "results": ' + b"[" * 3000 + b"]" * 3000 + b"}"])
def test_raw_bodies_on_every_post(app_client: TestClient, raw: bytes) -> None:
    for method, path, params, _ in _operations(app_client):
        if method != "POST" or path == "/api/refresh":
            continue
        url = path.replace("{triple_id}", "1").replace("{service_id}", "pgxlit-order-select")
        started = time.perf_counter()
        reply = app_client.post(url, content=raw, headers={"content-type": "application/json",
                                                           "Authorization": f"Bearer {TOKEN}", "X-Curator": "f"})
        _no_500(reply, started, f"POST {url} {raw[:60]!r}")


# ---- CDS Hooks: real request, random FHIR-ish mutations --------------------------------------------------
def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


FHIR_VALUES = JSON | st.sampled_from([
    {"resourceType": "Bundle", "entry": "x"}, {"resourceType": "Observation"}, {"resourceType": 5},
    {"valueString": 5}, {"component": "x"}, {"valueCodeableConcept": {"coding": [None]}}, "*2/*2/*3",
    "HLA-B*57:01 maybe", {"medication": "str"}, [{"resource": None}], {"resourceType": "Patient", "id": []},
])


@st.composite
def cds_bodies(draw: st.DrawFn) -> Any:
    body = copy.deepcopy(CDS_REQUEST)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        where = draw(st.sampled_from(paths))
        value = copy.deepcopy(draw(FHIR_VALUES))  # never mutate the shared sampled examples
        if not where:
            return value
        parent = body
        for step in where[:-1]:
            parent = parent[step]
        parent[where[-1]] = value
    return body


def test_cds_hooks_bodies_never_500(app_client: TestClient) -> None:
    assert app_client.post("/cds-services/pgxlit-order-select", json=CDS_REQUEST).status_code == 200

    @FUZZ
    @given(cds_bodies(), st.sampled_from(["pgxlit-order-select", "pgxlit-order-sign"]))
    def one(body: Any, service: str) -> None:
        started = time.perf_counter()
        reply = app_client.post(f"/cds-services/{service}", json=body)
        _no_500(reply, started, f"POST /cds-services/{service} json={json.dumps(body)[:400]}")
        if reply.status_code == 200:
            assert isinstance(reply.json().get("cards"), list)

    one()


# ---- MCP: random JSON-RPC lines into `pgxlit mcp` -------------------------------------------------------
METHODS = st.sampled_from(["initialize", "ping", "tools/list", "tools/call", "notifications/initialized",
                           "resources/list", "prompts/get", "nope", ""])
TOOL_ARGS = st.fixed_dictionaries({}, optional={
    "question": TEXT, "top_k": BIG_INTS | st.integers(), "source": TEXT, "drug": TEXT, "gene": TEXT,
    "results": TEXT | st.lists(TEXT, max_size=3), "profile": JSON, "limit": BIG_INTS, "pgx_only": SCALARS,
    "min_confidence": SCALARS, "status": TEXT,
}) | JSON


@st.composite
def mcp_lines(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.text(max_size=60).filter(lambda s: "\n" not in s and "\r" not in s))
    if shape == 1:
        return "[" + ",".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}) for i in range(draw(st.integers(0, 3)))) + "]"
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "1.0", 2])), "method": draw(METHODS)}
    if draw(st.booleans()):
        message["id"] = draw(st.integers(1, 10**6) | TEXT | st.none() | BIG_INTS)
    if message["method"] == "tools/call" and draw(st.booleans()):
        message["params"] = {"name": draw(st.sampled_from(["ask", "triples", "check", "x"]) | JSON),
                             "arguments": draw(TOOL_ARGS)}
    elif draw(st.booleans()):
        message["params"] = draw(JSON)
    return json.dumps(message)


def test_mcp_server_survives_random_lines(tmp_path: Path) -> None:
    from test_mcp import INITIALIZE, INITIALIZED, McpProcess

    url = f"sqlite:///{tmp_path / 'mcp.sqlite'}"
    store = Store(url)
    fill_store(store)
    store.close()
    process = McpProcess({"PGXLIT_HOME": str(tmp_path / "home"), "PGXLIT_DB_URL": url})
    seen: list[str] = []
    try:
        process.send(INITIALIZE)
        assert process.reply()["result"]["serverInfo"]["name"] == "pgxlit"
        process.send(INITIALIZED)

        @FUZZ
        @given(mcp_lines())
        def one(line: str) -> None:
            seen.append(line)
            started = time.perf_counter()
            process.send(line)
            msg_id = f"ping-{len(seen)}"
            process.send({"jsonrpc": "2.0", "id": msg_id, "method": "ping"})
            replies = process.replies_until(msg_id, timeout=60)
            assert time.perf_counter() - started < 60
            for reply in replies:
                assert reply.get("error", {}).get("code") != -32603, f"internal error for {line[:300]}: {reply}"

        one()
    finally:
        code, stderr = process.finish()
    assert code == 0 and "Traceback" not in stderr, stderr[-3000:]


# ---- `pgxlit load`: random bytes and truncated real files -----------------------------------------------
def _real_files() -> list[Path]:
    picks = [*sorted((SHARED / "fda" / "openfda" / "labels").glob("*.json"))[:2],
             *sorted((SHARED / "fda" / "dailymed" / "history").glob("*.json"))[:1],
             *sorted((SHARED / "fda" / "spl").glob("*/*.xml"))[:1],
             *sorted((SHARED / "pubmed").rglob("*.xml"))[:2],
             FIXTURES.parent / "pubmed_tiny.xml", FIXTURES.parent / "openfda_capecitabine_min.json"]
    return [p for p in picks if p.is_file()]


@st.composite
def damaged_files(draw: st.DrawFn, sources: list[Path]) -> tuple[str, bytes]:
    if not sources or draw(st.integers(0, 3)) == 0:
        head = draw(st.sampled_from([b"", b"\x1f\x8b\x08\x00", b"PK\x03\x04", b'{"results": ', b"<?xml version='1.0'?>\n<PubmedArticleSet>", b'{"data": {"spl": {}, "history": ']))
        return draw(st.sampled_from(["x.json", "x.xml", "x.xml.gz", "x.zip"])), head + draw(st.binary(max_size=300))
    source = draw(st.sampled_from(sources))
    data = source.read_bytes()
    cut = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        return source.name + ".gz", gzip.compress(data)[: draw(st.integers(0, 200)) - 200 or None]
    if draw(st.booleans()) and cut:
        at = draw(st.integers(0, len(cut) - 1))
        cut = cut[:at] + bytes([draw(st.integers(0, 255))]) + cut[at + 1 :]
    return source.name, cut


def test_load_never_raises_on_damaged_files(tmp_path: Path) -> None:
    from pgxlit.ingest.load import Loader

    sources = _real_files()
    assert sources, f"no real files found under {SHARED}"
    store = Store(f"sqlite:///{tmp_path / 'load.sqlite'}")
    good = tmp_path / "good.xml"
    shutil.copy(FIXTURES.parent / "pubmed_tiny.xml", good)
    counter = iter(range(10**9))

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(damaged_files(sources), min_size=1, max_size=3))
    def one(files: list[tuple[str, bytes]]) -> None:
        folder = tmp_path / f"case{next(counter)}"
        folder.mkdir()
        for i, (name, data) in enumerate(files):
            (folder / f"{i}_{name}").write_bytes(data)
        shutil.copy(good, folder / "zz_good.xml")
        started = time.perf_counter()
        report = Loader(store, Settings(home=tmp_path)).load([folder])
        assert time.perf_counter() - started < 30
        assert report.files_seen == report.files_loaded + report.files_skipped + report.files_failed
        assert report.files_loaded >= 1  # the good file always loads
        assert len(report.failures) == report.files_failed
        assert all("\n" not in f["reason"] and f["reason"] for f in report.failures)
        shutil.rmtree(folder)

    try:
        one()
    finally:
        store.close()


def test_random_folder_through_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command on a folder of random files: a failure line per bad file, exit 1, no traceback."""
    from typer.testing import CliRunner

    from pgxlit.cli import app
    from pgxlit.config import get_settings

    rng = random.Random(16)
    folder = tmp_path / "mess"
    folder.mkdir()
    for i, name in enumerate(["a.json", "b.xml.gz", "c.xml", "d.zip", "e.json.gz"]):
        (folder / f"{i}{name}").write_bytes(bytes([0x1F, 0x8B, 8, 0]) * (i % 2) + rng.randbytes(200))
    shutil.copy(FIXTURES.parent / "pubmed_tiny.xml", folder / "good.xml")
    monkeypatch.setenv("PGXLIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PGXLIT_DB_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["load", str(folder), "--json"])
    finally:
        get_settings.cache_clear()
    assert "Traceback" not in result.output
    report = json.loads(result.output)
    assert report["files_loaded"] == 1 and report["abstracts_added"] == 2
    assert result.exit_code == (1 if report["files_failed"] else 0)
