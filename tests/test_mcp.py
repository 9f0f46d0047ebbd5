"""The MCP server: JSON-RPC over stdio, ask/triples/check as tools with their citations, on the small real store."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
import typer
from test_web_world import PLAVIX_SET, build_world
from typer.testing import CliRunner

from pgxlit.web.mcp import INVALID_PARAMS, METHOD_NOT_FOUND, PARSE_ERROR, McpServer, PgxlitTools


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """The small real store of test_web_world (built once per test process)."""
    return build_world()


@pytest.fixture(scope="module")
def server(world: dict[str, Any]) -> McpServer:
    return McpServer(PgxlitTools(world["settings"]))


def _call(server: McpServer, name: str, arguments: dict[str, Any], msg_id: int = 7) -> dict[str, Any]:
    reply = server.handle({"jsonrpc": "2.0", "id": msg_id, "method": "tools/call",
                           "params": {"name": name, "arguments": arguments}})
    assert reply is not None and reply["id"] == msg_id
    return reply["result"]


def test_handshake_and_tool_list(server: McpServer) -> None:
    init = server.handle({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                          "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                                     "clientInfo": {"name": "test", "version": "0"}}})
    assert init["result"]["protocolVersion"] == "2025-03-26"
    assert init["result"]["capabilities"]["tools"] == {"listChanged": False}
    assert init["result"]["serverInfo"]["name"] == "pgxlit"
    newer = server.handle({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"protocolVersion": "2099-01-01"}})
    assert newer["result"]["protocolVersion"] == "2025-06-18"  # the newest we speak
    assert server.handle({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None
    tools = server.handle({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})["result"]["tools"]
    assert [t["name"] for t in tools] == ["ask", "triples", "check"]
    assert all(t["inputSchema"]["type"] == "object" and t["description"] for t in tools)
    assert server.handle({"jsonrpc": "2.0", "id": 4, "method": "ping"})["result"] == {}


def test_ask_keeps_its_citations(server: McpServer) -> None:
    result = _call(server, "ask", {"question": "Does CYP2C19 status change clopidogrel dosing?"})
    assert result["isError"] is False
    data, text = result["structuredContent"], result["content"][0]["text"]
    assert not data["refused"] and data["citations"]
    used = {int(k) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", data["answer"]) for k in group.split(", ")}
    assert used == {c["key"] for c in data["citations"]}
    for c in data["citations"]:
        assert f"\n[{c['key']}] " in text
        assert c["url"] in text and c["text"] in text
    assert "Sources:" in text and PLAVIX_SET in text
    refused = _call(server, "ask", {"question": "What should I check before prescribing zorblatinib?"})
    assert refused["structuredContent"]["refused"] and refused["content"][0]["text"].startswith("I found no evidence")


def test_triples_and_check_tools(server: McpServer) -> None:
    triples = _call(server, "triples", {"drug": "Plavix", "gene": "CYP2C19", "limit": 3})
    items = triples["structuredContent"]["items"]
    assert len(items) == 3 and all(t["drug"] == "clopidogrel" and t["pgx"] for t in items)
    assert items[0]["evidence"]["sentence"] in triples["content"][0]["text"]
    check = _call(server, "check", {"drug": "clopidogrel", "results": "CYP2C19 *2/*2"})
    alert = check["structuredContent"]["alerts"][0]
    assert alert["severity"] == "critical" and alert["citations"]
    assert check["content"][0]["text"].startswith("CRITICAL") and "[1] FDA label set id" in check["content"][0]["text"]
    by_profile = _call(server, "check", {"drug": "clopidogrel", "profile": [{"gene": "CYP2C19", "diplotype": "*2/*2"}]})
    assert by_profile["structuredContent"]["alerts"][0]["phenotype"] == alert["phenotype"]


def test_errors_are_reported_not_raised(server: McpServer) -> None:
    assert _call(server, "check", {"drug": "zorblatinib", "results": "CYP2C19 *2/*2"})["isError"] is True
    assert _call(server, "ask", {"question": " "})["isError"] is True
    assert _call(server, "triples", {"limit": 5000})["isError"] is True
    unknown = server.handle({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "delete_all"}})
    assert unknown["error"]["code"] == INVALID_PARAMS
    assert server.handle({"jsonrpc": "2.0", "id": 10, "method": "resources/list"})["error"]["code"] == METHOD_NOT_FOUND
    assert server.handle({"id": 11, "method": "tools/list"})["error"]["code"] == -32600
    out = io.StringIO()
    server.serve(io.StringIO('not json\n\n{"jsonrpc": "2.0", "id": 12, "method": "ping"}\n'), out)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert replies[0]["error"]["code"] == PARSE_ERROR and replies[1] == {"jsonrpc": "2.0", "id": 12, "result": {}}


def test_the_mcp_command_speaks_only_protocol_on_stdout(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from pgxlit.config import get_settings
    from pgxlit.web.cli import register

    app, eval_app = typer.Typer(), typer.Typer()
    register(app, eval_app)
    app.command("noop")(lambda: None)  # two commands, so `mcp` is addressed by name as in the real CLI
    settings = world["settings"]
    monkeypatch.setenv("PGXLIT_HOME", str(settings.home))
    monkeypatch.setenv("PGXLIT_DB_URL", settings.resolved_db_url)
    get_settings.cache_clear()
    try:
        lines = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "ask", "arguments": {"question": "What should I check before prescribing abacavir?"}}},
        ]
        result = CliRunner().invoke(app, ["mcp"], input="".join(json.dumps(x) + "\n" for x in lines))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in replies] == [1, 2]
    answer = replies[1]["result"]["structuredContent"]
    assert not answer["refused"] and answer["citations"][0]["url"].startswith("https://dailymed.nlm.nih.gov/")
