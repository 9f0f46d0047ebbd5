"""An MCP server over stdio: ask, triples and check as tools, with citations intact.

The Model Context Protocol is JSON-RPC 2.0, one message a line on stdin/stdout: `initialize`,
`tools/list` and `tools/call` are all an assistant needs to use pgxlit. `McpServer.handle` is
pure dispatch (message in, reply or None out), so tests drive it without a pipe; `serve` is the
stdio loop. Nothing but protocol messages is written to stdout.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from pgxlit import __version__

PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602

TOOLS: list[dict[str, Any]] = [
    {
        "name": "ask",
        "title": "Ask pgxlit",
        "description": "Answer a pharmacogenomics question from FDA drug labels and PubMed abstracts. Every answer "
                       "sentence ends with numbered citations [n]; the sources list says where each was read "
                       "(label set id, version, section, date, DailyMed/PubMed link). Refuses when nothing supports "
                       "an answer. Quote the citations when you use the answer.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "question": {"type": "string", "description": "e.g. What should I check before prescribing abacavir?"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 100},
                "source": {"type": "string", "enum": ["fda_label", "pubmed"]},
            },
            "required": ["question"],
        },
    },
    {
        "name": "triples",
        "title": "Drug-gene triples",
        "description": "Extracted drug-gene(-variant) relations with their effect, confidence, curator review "
                       "status and evidence sentence with its source. Filter by drug (any name), gene, source, "
                       "review status.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "drug": {"type": "string"}, "gene": {"type": "string"},
                "source": {"type": "string", "enum": ["fda_label", "pubmed"]},
                "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]},
                "pgx_only": {"type": "boolean", "default": True},
                "min_confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
            },
        },
    },
    {
        "name": "check",
        "title": "Prescribing check",
        "description": "Check an ordered drug against a patient's pharmacogenomic results: cited alerts (action, "
                       "severity, recommendation from the evidence, FDA label / PubMed citations) and an explanation.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "drug": {"type": "string", "description": "generic, brand or salt name"},
                "results": {"type": "string",
                            "description": "one result a line: 'CYP2C19 *2/*2', 'CYP2D6 poor metabolizer', "
                                           "'HLA-B*57:01 positive', 'rs9923231 CT'"},
                "profile": {"type": "array", "items": {"type": "object"},
                            "description": 'JSON entries like {"gene": "CYP2C19", "diplotype": "*2/*2"}'},
            },
            "required": ["drug"],
        },
    },
]


class ToolError(ValueError):
    """Bad tool input; reported to the assistant as a tool result with isError, not a protocol error."""


def _where(c: dict[str, Any]) -> str:
    if c.get("source") == "pubmed":
        return f"PubMed {c.get('pmid')}" + (f" ({c['year']})" if c.get("year") else "") + f": {c.get('title') or ''}"
    when = c.get("effective_time") or ""
    date = f", effective {when[:4]}-{when[4:6]}-{when[6:]}" if len(when) == 8 else ""
    return (f"FDA label {c.get('title') or ''} — set id {c.get('set_id')}, version {c.get('version')}, "
            f"{c.get('section_title') or c.get('section')}{date}")


def answer_text(data: dict[str, Any]) -> str:
    """The answer as an assistant should relay it: claims with [n], then the numbered sources."""
    if data.get("refused"):
        return data["answer"]
    lines = [data["answer"], "", "Sources:"]
    for c in data["citations"]:
        lines.append(f"[{c['key']}] {_where(c)} <{c['url']}>")
        lines.append(f"    \"{c['text']}\"")
    return "\n".join(lines)


def triples_text(items: list[dict[str, Any]], total: int) -> str:
    lines = [f"{total} triple(s); showing {len(items)}, most confident first."]
    for t in items:
        e = t["evidence"]
        where = (f"FDA label set id {e['set_id']} v{e['version']}, {e['section']}" if e["source"] == "fda_label"
                 else f"PubMed {e['pmid']}")
        factor = " ".join(x for x in (t["gene"], t["variant"]) if x)
        lines.append(f"- {t['drug']} — {factor}: {t['relation']}, {t['effect']}"
                     f"{' (negated)' if t['negated'] else ''}; confidence {t['confidence']:.2f}; "
                     f"review {t['review_status']}; {where}: \"{e['sentence']}\"")
    return "\n".join(lines)


def check_text(result: dict[str, Any]) -> str:
    lines = [f"{m}" for m in result.get("messages", [])]
    if not result["alerts"]:
        lines.append(f"No PGx alert for {result['drug']}. Genes considered: "
                     f"{', '.join(result['genes_considered']) or 'none'}.")
    for a in result["alerts"]:
        lines.append(f"{a['severity'].upper()}: {a['summary']}")
        lines.append(f"  Recommendation: {a['recommendation']}")
        for n, c in enumerate(a["citations"][:4], start=1):
            where = (f"FDA label set id {c['set_id']} v{c['version']}, {c.get('section_title') or c['section']}"
                     if c["source"] == "fda_label" else f"PubMed {c['pmid']}")
            lines.append(f"  [{n}] {where} <{c.get('url')}>: \"{c['sentence']}\"")
    lines += [f"· {x}" for x in result.get("explanation", [])]
    return "\n".join(lines)


class PgxlitTools:
    """The three tools over one `Services` (store, answerer and check loaded once per process)."""

    def __init__(self, settings: Any) -> None:
        from pgxlit.web.services import Services

        lock = threading.Lock()
        holder: dict[str, Any] = {}

        def check_service() -> Any:
            with lock:
                if "svc" not in holder:
                    from pgxlit.check.service import CheckService

                    holder["svc"] = CheckService(settings)
                return holder["svc"]

        self.services = Services(settings, check_service)

    def ask(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        question = " ".join(str(args.get("question") or "").split())
        if not question:
            raise ToolError("question is required")
        source = args.get("source")
        if source not in (None, "fda_label", "pubmed"):
            raise ToolError("source is fda_label or pubmed")
        try:
            answer = self.services.ask(question, args.get("top_k"), source)
        except FileNotFoundError as exc:
            raise ToolError(str(exc)) from exc
        data = answer.to_json()
        return answer_text(data), data

    def triples(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from pgxlit.web.api import canonical_drug, canonical_gene

        limit = int(args.get("limit") or 20)
        if not 1 <= limit <= 200:
            raise ToolError("limit is 1 to 200")
        status = args.get("status")
        if status not in (None, "pending", "accepted", "rejected"):
            raise ToolError("status is pending, accepted or rejected")
        total, entries = self.services.store.triple_entries(
            drug=canonical_drug(args.get("drug")), gene=canonical_gene(args.get("gene")), source=args.get("source"),
            status=status, pgx=True if args.get("pgx_only", True) else None,
            min_confidence=float(args.get("min_confidence") or 0.0), limit=limit)
        items = [e.to_json() for e in entries]
        return triples_text(items, total), {"total": total, "items": items}

    def check(self, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from fastapi import HTTPException

        from pgxlit.web.api import run_check

        drug = str(args.get("drug") or "").strip()
        if not drug:
            raise ToolError("drug is required")
        try:
            result = run_check(self.services, drug, args.get("results"), args.get("profile"))
        except HTTPException as exc:
            raise ToolError(str(exc.detail)) from exc
        return check_text(result), result


class McpServer:
    """JSON-RPC dispatch for the MCP methods pgxlit serves."""

    def __init__(self, tools: Any, log: Callable[[str], None] = lambda line: None) -> None:
        self.tools = tools
        self.log = log
        self.handlers: dict[str, Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]] = {
            "ask": tools.ask, "triples": tools.triples, "check": tools.check}

    def handle(self, message: Any) -> dict[str, Any] | None:
        """One request in, its response out; None for notifications."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
            return _error(message.get("id") if isinstance(message, dict) else None, INVALID_REQUEST,
                          "expected a JSON-RPC 2.0 request")
        method, params, msg_id = message["method"], message.get("params") or {}, message.get("id")
        if "id" not in message:  # a notification (e.g. notifications/initialized): never answered
            return None
        if method == "initialize":
            asked = params.get("protocolVersion")
            version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
            return _result(msg_id, {
                "protocolVersion": version, "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "pgxlit", "title": "pgxlit pharmacogenomics", "version": __version__},
                "instructions": "Pharmacogenomics from FDA labels and PubMed. Answers and alerts carry numbered "
                                "citations; keep them when you relay an answer."})
        if method == "ping":
            return _result(msg_id, {})
        if method == "tools/list":
            return _result(msg_id, {"tools": TOOLS})
        if method == "tools/call":
            name = params.get("name")
            handler = self.handlers.get(name)
            if handler is None:
                return _error(msg_id, INVALID_PARAMS, f"unknown tool {name!r}; tools: ask, triples, check")
            args = params.get("arguments") or {}
            if not isinstance(args, dict):
                return _error(msg_id, INVALID_PARAMS, "arguments must be an object")
            try:
                text, data = handler(args)
            except (ToolError, ValueError) as exc:
                return _result(msg_id, {"content": [{"type": "text", "text": str(exc)}], "isError": True})
            except Exception as exc:  # noqa: BLE001 - a tool failure must not end the session
                self.log(f"tool {name} failed: {type(exc).__name__}: {exc}")
                return _result(msg_id, {"content": [{"type": "text", "text": f"{name} failed: {type(exc).__name__}"}],
                                        "isError": True})
            return _result(msg_id, {"content": [{"type": "text", "text": text}], "structuredContent": data,
                                    "isError": False})
        return _error(msg_id, METHOD_NOT_FOUND, f"method {method!r} is not supported")

    def serve(self, stdin: IO[str], stdout: IO[str]) -> None:
        """Read one JSON-RPC message a line until end of input; answer each on one line."""
        for line in stdin:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except json.JSONDecodeError as exc:
                reply: Any = _error(None, PARSE_ERROR, f"not JSON: {exc.msg}")
            else:
                if isinstance(message, list):  # a batch (older protocol versions)
                    reply = [r for r in (self.handle(m) for m in message) if r is not None] or None
                else:
                    reply = self.handle(message)
            if reply is not None:
                stdout.write(json.dumps(reply, ensure_ascii=False, default=str) + "\n")
                stdout.flush()


def _result(msg_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "result": result}


def _error(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def run_stdio(settings: Any) -> None:
    """`pgxlit mcp`: serve until the client closes stdin; diagnostics go to stderr."""
    protocol_out = sys.stdout
    sys.stdout = sys.stderr  # a library that prints while loading must not corrupt the protocol stream
    try:
        server = McpServer(PgxlitTools(settings), log=lambda line: print(line, file=sys.stderr, flush=True))
        server.serve(sys.stdin, protocol_out)
    finally:
        sys.stdout = protocol_out
