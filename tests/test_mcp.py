"""The MCP server on the official SDK: tools with their citations on the small real store, and `pgxlit mcp`
run as a process surviving every malformed line a tester sent it (issue 16, item 1)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from test_web_world import PLAVIX_SET, build_world

from pgxlit.web.mcp import LazyTools, build_server

PGXLIT = Path(sys.executable).with_name("pgxlit")
INVALID_REQUEST, INVALID_PARAMS, PARSE_ERROR = -32600, -32602, -32700
INITIALIZE = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """The small real store of test_web_world (built once per test process)."""
    return build_world()


def _with_client(world: dict[str, Any], body: Callable[[Client, LazyTools], Awaitable[None]]) -> LazyTools:
    """Run `body` against the SDK server over the SDK's in-memory transport (handshake included)."""
    tools = LazyTools(world["settings"])

    async def main() -> None:
        async with Client(build_server(tools), mode="legacy") as client:
            await body(client, tools)

    anyio.run(main)
    return tools


def _text(result: Any) -> str:
    return result.content[0].text


# ---- tools, in process ---------------------------------------------------------------------------
def test_handshake_tool_list_and_lazy_models(world: dict[str, Any]) -> None:
    async def body(client: Client, tools: LazyTools) -> None:
        assert client.server_info is not None and client.server_info.name == "pgxlit"
        assert client.server_capabilities.tools is not None and client.server_capabilities.tools.list_changed is False
        listed = (await client.list_tools()).tools
        assert [t.name for t in listed] == ["ask", "triples", "check"]
        assert all(t.input_schema["type"] == "object" and t.description for t in listed)
        ask = listed[0].input_schema
        assert ask["required"] == ["question"] and ask["additionalProperties"] is False
        assert (ask["properties"]["top_k"]["minimum"], ask["properties"]["top_k"]["maximum"]) == (1, 100)
        assert ask["properties"]["question"]["maxLength"] == 2000
        assert tools._tools is None  # nothing loaded for the handshake or the listing
        await client.call_tool("triples", {"drug": "Plavix", "limit": 1})
        first = tools._tools
        await client.call_tool("triples", {"drug": "Plavix", "limit": 1})
        assert first is not None and tools._tools is first  # built once, then kept

    _with_client(world, body)


def test_ask_keeps_its_citations(world: dict[str, Any]) -> None:
    async def body(client: Client, tools: LazyTools) -> None:
        result = await client.call_tool("ask", {"question": "Does CYP2C19 status change clopidogrel dosing?"})
        assert result.is_error is False
        data, text = result.structured_content, _text(result)
        assert data is not None and not data["refused"] and data["citations"]
        used = {int(k) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", data["answer"]) for k in group.split(", ")}
        assert used == {c["key"] for c in data["citations"]}
        for c in data["citations"]:
            assert f"\n[{c['key']}] " in text
            assert c["url"] in text and c["text"] in text
        assert "Sources:" in text and PLAVIX_SET in text
        refused = await client.call_tool("ask", {"question": "What should I check before prescribing zorblatinib?"})
        assert refused.structured_content["refused"] and _text(refused).startswith("I found no evidence")

    _with_client(world, body)


def test_triples_and_check_tools(world: dict[str, Any]) -> None:
    async def body(client: Client, tools: LazyTools) -> None:
        triples = await client.call_tool("triples", {"drug": "Plavix", "gene": "CYP2C19", "limit": 3})
        items = triples.structured_content["items"]
        assert len(items) == 3 and all(t["drug"] == "clopidogrel" and t["pgx"] for t in items)
        assert items[0]["evidence"]["sentence"] in _text(triples)
        check = await client.call_tool("check", {"drug": "clopidogrel", "results": "CYP2C19 *2/*2"})
        alert = check.structured_content["alerts"][0]
        assert alert["severity"] == "critical" and alert["citations"]
        assert _text(check).startswith("CRITICAL") and "[1] FDA label set id" in _text(check)
        by_profile = await client.call_tool("check", {"drug": "clopidogrel",
                                                      "profile": [{"gene": "CYP2C19", "diplotype": "*2/*2"}]})
        assert by_profile.structured_content["alerts"][0]["phenotype"] == alert["phenotype"]

    _with_client(world, body)


def test_bad_tool_calls_are_reported_not_raised(world: dict[str, Any]) -> None:
    async def body(client: Client, tools: LazyTools) -> None:
        unknown_drug = await client.call_tool("check", {"drug": "zorblatinib", "results": "CYP2C19 *2/*2"})
        assert unknown_drug.is_error is True and "zorblatinib" in _text(unknown_drug)
        assert (await client.call_tool("ask", {"question": " "})).is_error is True
        cases = {
            ("triples", '{"limit": 5000}'): "limit: Input should be less than or equal to 200",
            ("triples", '{"min_confidence": "high"}'): "min_confidence: Input should be a valid number",
            ("ask", '{"question": "x", "top_k": "5"}'): "top_k: Input should be a valid integer",
            ("ask", '{"question": "x", "top_k": true}'): "top_k: Input should be a valid integer",
            ("ask", '{"question": "x", "k": 5}'): "k: Extra inputs are not permitted",
            ("ask", '{"question": "' + "x" * 2001 + '"}'): "question: String should have at most 2000 characters",
            ("check", '{"drug": "clopidogrel", "profile": [{"gene": ["CYP2C19"]}]}'): "profile.0.gene:",
            ("check", '{"drug": "clopidogrel", "profile": ' + json.dumps([{"gene": "G"}] * 51) + "}"):
                "profile: List should have at most 50 items",
        }
        for (name, arguments), problem in cases.items():
            result = await client.call_tool(name, json.loads(arguments))
            assert result.is_error is True and problem in _text(result), (name, arguments, _text(result))
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("delete_all", {})
        assert unknown.value.error.code == INVALID_PARAMS and "tools: ask, triples, check" in unknown.value.error.message

    tools = _with_client(world, body)
    assert tools._tools is not None  # the valid calls above did reach the store


# ---- `pgxlit mcp` as a process: malformed lines ----------------------------------------------------
class McpProcess:
    """`pgxlit mcp` over real pipes: send lines, read replies as they come, close stdin to end it."""

    def __init__(self, env: dict[str, str]) -> None:
        if not PGXLIT.exists():
            pytest.skip(f"the pgxlit command is not installed next to {sys.executable}")
        self.proc = subprocess.Popen([str(PGXLIT), "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8", env={**os.environ, **env})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self._stderr_reader = threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or ()), daemon=True)
        self._stderr_reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any] | list[Any] | str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
        self.proc.stdin.flush()

    def reply(self, timeout: float = 120) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"pgxlit mcp ended early: {self.finish()[1][-2000:]}"
        return json.loads(line)  # every line on stdout is one protocol message

    def replies_until(self, msg_id: Any, timeout: float = 120) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while not got or got[-1].get("id") != msg_id:
            got.append(self.reply(timeout))
        return got

    def handshake(self) -> None:
        self.send(INITIALIZE)
        assert self.reply()["result"]["serverInfo"]["name"] == "pgxlit"
        self.send(INITIALIZED)

    def ping_answered(self, msg_id: str = "after") -> list[dict[str, Any]]:
        """Ping after the bad input: the server is alive and answers; the replies before it are returned."""
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": "ping"})
        got = self.replies_until(msg_id)
        assert got[-1] == {"jsonrpc": "2.0", "id": msg_id, "result": {}}
        return got[:-1]

    def finish(self) -> tuple[int, str]:
        """Close stdin; the process must end by itself, cleanly."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=120)
        self._stderr_reader.join(timeout=10)
        return code, "".join(self.stderr)


@pytest.fixture
def mcp_process(tmp_path: Path) -> Any:
    process = McpProcess({"PGXLIT_HOME": str(tmp_path), "PGXLIT_DB_URL": f"sqlite:///{tmp_path / 'pgxlit.sqlite'}"})
    yield process
    if process.proc.poll() is None:
        code, stderr = process.finish()
        assert code == 0 and "Traceback" not in stderr, stderr


def _only_error(replies: list[dict[str, Any]], msg_id: Any, code: int) -> str:
    assert len(replies) == 1 and replies[0]["id"] == msg_id and replies[0]["error"]["code"] == code, replies
    return replies[0]["error"]["message"]


def test_initialize_with_params_not_an_object_then_ping(mcp_process: McpProcess) -> None:
    mcp_process.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": "x"})
    assert "must be a JSON object" in _only_error(mcp_process.ping_answered(), 1, INVALID_PARAMS)
    mcp_process.handshake()  # a proper handshake still works afterwards
    assert mcp_process.ping_answered("again") == []


@pytest.mark.parametrize("params", [["ask", {"question": "x"}], "ask"], ids=["list", "string"])
def test_tools_call_params_not_an_object(mcp_process: McpProcess, params: Any) -> None:
    mcp_process.handshake()
    mcp_process.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params})
    assert "'tools/call' must be a JSON object" in _only_error(mcp_process.ping_answered(), 2, INVALID_PARAMS)


def test_tool_name_as_a_list(mcp_process: McpProcess) -> None:
    mcp_process.handshake()
    mcp_process.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": ["ask"]}})
    assert "name: Input should be a valid string" in _only_error(mcp_process.ping_answered(), 3, INVALID_PARAMS)


def test_batches_are_refused_and_the_next_request_answered(mcp_process: McpProcess) -> None:
    mcp_process.handshake()
    mcp_process.send([{"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": "x"},
                      {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": ["ask"]}},
                      {"jsonrpc": "2.0", "id": 6, "method": "ping"}])
    assert "batch" in _only_error(mcp_process.ping_answered(), None, INVALID_REQUEST)


def test_an_empty_batch_gets_an_error(mcp_process: McpProcess) -> None:
    mcp_process.send([])
    assert "empty batch" in _only_error(mcp_process.ping_answered(), None, INVALID_REQUEST)


def test_a_line_nested_200k_deep(mcp_process: McpProcess) -> None:
    mcp_process.send('{"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"x": ' + "[" * 200_000 +
                     "]" * 200_000 + "}}")
    assert "recursion limit" in _only_error(mcp_process.ping_answered(), None, PARSE_ERROR)
    mcp_process.send("not json")
    assert "not JSON" in _only_error(mcp_process.ping_answered("then"), None, PARSE_ERROR)


@pytest.mark.parametrize(("top_k", "problem"), [(-5, "greater than or equal to 1"), (10**9, "less than or equal to 100")])
def test_top_k_out_of_bounds_is_rejected(mcp_process: McpProcess, top_k: int, problem: str) -> None:
    mcp_process.handshake()
    mcp_process.send({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                      "params": {"name": "ask", "arguments": {"question": "abacavir?", "top_k": top_k}}})
    result = mcp_process.replies_until(8)[-1]["result"]
    assert result["isError"] is True and f"top_k: Input should be {problem}" in result["content"][0]["text"]
    assert mcp_process.ping_answered() == []


# ---- `pgxlit mcp` as a process: a real session -----------------------------------------------------
def test_the_mcp_command_speaks_only_protocol_and_answers_before_exiting(world: dict[str, Any]) -> None:
    settings = world["settings"]
    process = McpProcess({"PGXLIT_HOME": str(settings.home), "PGXLIT_DB_URL": settings.resolved_db_url})
    process.send({**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": "2099-01-01"}})
    assert process.reply()["result"]["protocolVersion"] == LATEST_HANDSHAKE_VERSION  # the newest we speak
    process.send(INITIALIZED)
    process.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                  "params": {"name": "ask", "arguments": {"question": "What should I check before prescribing abacavir?"}}})
    process.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                  "params": {"name": "check", "arguments": {"drug": "abacavir", "results": "HLA-B*57:01 positive"}}})
    code, stderr = process.finish()  # end of input right away: requests already read are still answered
    replies = []
    while (line := process.lines.get(timeout=10)) is not None:
        replies.append(json.loads(line))
    assert code == 0 and "Traceback" not in stderr, stderr
    by_id = {r["id"]: r["result"] for r in replies}
    assert sorted(by_id) == [2, 3], replies
    answer = by_id[2]["structuredContent"]
    assert not answer["refused"] and answer["citations"][0]["url"].startswith("https://dailymed.nlm.nih.gov/")
    assert by_id[3]["structuredContent"]["alerts"] and by_id[3]["isError"] is False
