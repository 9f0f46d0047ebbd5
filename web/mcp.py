"""An MCP server on the official SDK: ask, triples and check as tools, with citations intact.

`pgxlit mcp` speaks the Model Context Protocol over stdio through the SDK (`mcp`): its stdio
transport, its protocol loop (handshake, version negotiation, ping, request validation). What is
pgxlit's own lives here:

- the three tools, each with an argument model (types, bounds, lengths) checked before the tool
  runs, so a bad call comes back as a tool error the assistant can read and correct;
- their text renderings, which keep every citation;
- a guard at the transport edge: a line the SDK cannot read (not JSON, nested too deep, a batch,
  params that are not an object) gets a JSON-RPC error reply instead of silence, and the next line
  is served as usual; at end of input, requests already read are answered before the process exits.

The store, the index and the embedding model load once, on the first tool call, in a worker
thread, so the server answers `initialize` and `ping` at once.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from pgxlit import __version__
from pgxlit.records import label_date

log = logging.getLogger("pgxlit.mcp")

MAX_TOP_K = 100  # as /api/ask: more passages than this only slows the answer
MAX_QUESTION_CHARS = 2000
MAX_NAME_CHARS = 200
MAX_RESULTS_CHARS = 5000  # as /api/check
MAX_PROFILE_ENTRIES = 50
DRAIN_SECONDS = 600.0  # at end of input, how long requests already read may take to finish

INSTRUCTIONS = ("Pharmacogenomics from FDA labels and PubMed. Answers and alerts carry numbered citations; "
                "keep them when you relay an answer.")

Source = Literal["fda_label", "pubmed"]
Status = Literal["pending", "accepted", "rejected"]
ShortText = Annotated[str, Field(max_length=MAX_NAME_CHARS)]


class ToolArgs(BaseModel):
    """Strict: no unknown keys, no "5" for 5; bounds as in the JSON API."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AskArgs(ToolArgs):
    question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                   description="e.g. What should I check before prescribing abacavir?")]
    top_k: Annotated[int, Field(ge=1, le=MAX_TOP_K, description="passages to retrieve")] | SkipJsonSchema[None] = None
    source: Source | SkipJsonSchema[None] = None


class TriplesArgs(ToolArgs):
    drug: Annotated[str, Field(max_length=MAX_NAME_CHARS, description="any name")] | SkipJsonSchema[None] = None
    gene: Annotated[str, Field(max_length=50)] | SkipJsonSchema[None] = None
    source: Source | SkipJsonSchema[None] = None
    status: Status | SkipJsonSchema[None] = None
    pgx_only: bool = True
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.0
    limit: Annotated[int, Field(ge=1, le=200)] = 20


ProfileEntry = Annotated[dict[Annotated[str, Field(max_length=50)], ShortText | bool], Field(max_length=10)]


class CheckArgs(ToolArgs):
    drug: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, description="generic, brand or salt name")]
    results: Annotated[str, Field(
        max_length=MAX_RESULTS_CHARS,
        description="one result a line: 'CYP2C19 *2/*2', 'CYP2D6 poor metabolizer', 'HLA-B*57:01 positive', "
                    "'rs9923231 CT'")] | SkipJsonSchema[None] = None
    profile: Annotated[list[ProfileEntry], Field(
        max_length=MAX_PROFILE_ENTRIES,
        description='JSON entries like {"gene": "CYP2C19", "diplotype": "*2/*2"}')] | SkipJsonSchema[None] = None


class ToolError(ValueError):
    """Bad tool input; reported to the assistant as a tool result with isError, not a protocol error."""


def _where(c: dict[str, Any]) -> str:
    if c.get("source") == "pubmed":
        return f"PubMed {c.get('pmid')}" + (f" ({c['year']})" if c.get("year") else "") + f": {c.get('title') or ''}"
    when = c.get("effective_time") or ""
    date = f", effective {label_date(when)}" if len(when) == 8 else ""
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
    """The three tools over one `Services` (store, answerer and check built on first use, then kept)."""

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

    def ask(self, args: AskArgs) -> tuple[str, dict[str, Any]]:
        question = " ".join(args.question.split())
        if not question:
            raise ToolError("question is required: ask in words, e.g. 'What should I check before prescribing "
                            "abacavir?'")
        try:
            answer = self.services.ask(question, args.top_k, args.source)
        except FileNotFoundError as exc:
            raise ToolError(str(exc)) from exc
        data = answer.to_json()
        return answer_text(data), data

    def triples(self, args: TriplesArgs) -> tuple[str, dict[str, Any]]:
        from pgxlit.web.api import canonical_drug, canonical_gene

        total, entries = self.services.store.triple_entries(
            drug=canonical_drug(args.drug), gene=canonical_gene(args.gene), source=args.source,
            status=args.status, pgx=True if args.pgx_only else None, min_confidence=args.min_confidence,
            limit=args.limit)
        items = [e.to_json() for e in entries]
        return triples_text(items, total), {"total": total, "items": items}

    def check(self, args: CheckArgs) -> tuple[str, dict[str, Any]]:
        from fastapi import HTTPException

        from pgxlit.web.api import run_check

        drug = args.drug.strip()
        if not drug:
            raise ToolError("drug is required (generic, brand or salt name)")
        try:
            result = run_check(self.services, drug, args.results, args.profile)
        except HTTPException as exc:
            raise ToolError(str(exc.detail)) from exc
        return check_text(result), result

    def close(self) -> None:
        self.services.close()


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    args: type[ToolArgs]
    run: Callable[[PgxlitTools, Any], tuple[str, dict[str, Any]]]


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("ask", "Ask pgxlit",
             "Answer a pharmacogenomics question from FDA drug labels and PubMed abstracts. Every answer "
             "sentence ends with numbered citations [n]; the sources list says where each was read "
             "(label set id, version, section, date, DailyMed/PubMed link). Refuses when nothing supports "
             "an answer. Quote the citations when you use the answer.",
             AskArgs, PgxlitTools.ask),
    ToolSpec("triples", "Drug-gene triples",
             "Extracted drug-gene(-variant) relations with their effect, confidence, curator review "
             "status and evidence sentence with its source. Filter by drug (any name), gene, source, "
             "review status.",
             TriplesArgs, PgxlitTools.triples),
    ToolSpec("check", "Prescribing check",
             "Check an ordered drug against a patient's pharmacogenomic results: cited alerts (action, "
             "severity, recommendation from the evidence, FDA label / PubMed citations) and an explanation.",
             CheckArgs, PgxlitTools.check),
)
TOOLS_BY_NAME = {t.name: t for t in TOOLS}


def input_schema(args: type[ToolArgs]) -> dict[str, Any]:
    """The JSON Schema of a tool's arguments, without pydantic's generated titles and null defaults."""
    schema = args.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        if prop.get("default", 0) is None:
            del prop["default"]
    return schema


def explain(exc: ValidationError) -> str:
    """Pydantic's errors as 'field: problem' for an assistant to act on; union branches folded together."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        if error["msg"] == "Input should be None":  # the optional branch of `X | None`: says nothing useful
            continue
        path = ".".join(str(p) for p in error["loc"] if not (isinstance(p, str) and ("-" in p or p in _BRANCHES)))
        problems.setdefault(path or "arguments", error["msg"])
    return "; ".join(f"{path}: {msg}" for path, msg in problems.items())


_BRANCHES = {"str", "bool", "int", "float", "none", "list", "dict"}


def tool_result(text: str, data: dict[str, Any] | None = None, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=data,
                                is_error=error)


def build_server(tools: Callable[[], PgxlitTools]) -> Server[Any]:
    """The SDK server with pgxlit's tools; `tools` is called (in a worker thread) on each tool call."""

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, title=t.title, description=t.description, input_schema=input_schema(t.args))
            for t in TOOLS])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = TOOLS_BY_NAME.get(params.name)
        if spec is None:
            raise MCPError(code=types.INVALID_PARAMS,
                           message=f"unknown tool {params.name!r}; tools: {', '.join(TOOLS_BY_NAME)}")
        try:
            args = spec.args.model_validate(params.arguments or {})
        except ValidationError as exc:
            return tool_result(f"{spec.name}: bad arguments: {explain(exc)}", error=True)
        try:
            text, data = await anyio.to_thread.run_sync(lambda: spec.run(tools(), args))
        except ValueError as exc:  # ToolError and the stages' own input errors
            return tool_result(str(exc), error=True)
        except Exception as exc:  # noqa: BLE001 - a tool failure must not end the session
            log.exception("tool %s failed", spec.name)
            return tool_result(f"{spec.name} failed ({type(exc).__name__}); the server log (stderr) has the details",
                               error=True)
        return tool_result(text, data)

    server: Server[Any] = Server("pgxlit", version=__version__, title="pgxlit pharmacogenomics",
                                 instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool)
    server.middleware.append(_explain_invalid_params)
    return server


async def _explain_invalid_params(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
    """The SDK rejects malformed params with a bare 'Invalid request parameters': say which field and why."""
    try:
        return await call_next(ctx)
    except ValidationError as exc:
        raise MCPError(code=types.INVALID_PARAMS, message=f"invalid params for {ctx.method}: {explain(exc)}") from None


# ---- the transport edge: lines the SDK cannot read -----------------------------------------------
def reply_to_unreadable(exc: Exception) -> types.JSONRPCError | None:
    """The JSON-RPC error for a line the SDK's transport could not read; None for a broken notification.

    The transport hands over only the exception, but pydantic's errors carry the decoded message,
    so the reply names the request's id whenever the line had one.
    """
    if not isinstance(exc, ValidationError):
        return _error(None, types.PARSE_ERROR, f"could not read the line ({type(exc).__name__}: {exc})")
    errors = exc.errors()
    bad_json = next((e for e in errors if e["type"] == "json_invalid"), None)
    if bad_json is not None:
        return _error(None, types.PARSE_ERROR, f"the line is not JSON ({bad_json['msg']}); send one JSON-RPC "
                                               "message a line")
    message = next((e["input"] for e in errors if len(e["loc"]) == 1
                    or (e["type"] == "missing" and isinstance(e["input"], dict))), None)
    if isinstance(message, list):
        what = "an empty batch" if not message else "a batch"
        return _error(None, types.INVALID_REQUEST, f"{what} is not served: MCP dropped JSON-RPC batches; send one "
                                                   "message a line")
    if not isinstance(message, dict):
        return _error(None, types.INVALID_REQUEST, "expected a JSON-RPC 2.0 message (a JSON object)")
    msg_id = message.get("id")
    valid_id = msg_id if isinstance(msg_id, str) or (isinstance(msg_id, int) and not isinstance(msg_id, bool)) \
        else None
    if "id" not in message and isinstance(message.get("method"), str):
        log.warning("dropped a malformed %r notification", message["method"])
        return None
    problems = {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in errors
                if e["loc"][:1] == ("JSONRPCRequest",) and len(e["loc"]) > 1}
    if set(problems) == {"params"}:
        return _error(valid_id, types.INVALID_PARAMS, f"params of {message.get('method')!r} must be a JSON object")
    detail = "; ".join(f"{k}: {v}" for k, v in problems.items()) or "not a request, notification or response"
    return _error(valid_id, types.INVALID_REQUEST, f"invalid JSON-RPC 2.0 message: {detail}")


def _error(msg_id: str | int | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=msg_id, error=types.ErrorData(code=code, message=message))


@dataclass
class _Outstanding:
    """Ids of requests read but not yet answered, so end of input can wait for their answers."""

    ids: set[Any] = field(default_factory=set)
    empty: anyio.Event = field(default_factory=anyio.Event)

    def add(self, msg_id: Any) -> None:
        self.ids.add(str(msg_id))
        self.empty = anyio.Event()

    def discard(self, msg_id: Any) -> None:
        self.ids.discard(str(msg_id))
        if not self.ids:
            self.empty.set()


async def _relay_readable(source: Any, sink: MemoryObjectSendStream[Any], write: Any,
                          outstanding: _Outstanding) -> None:
    """Pass readable messages to the server; answer unreadable lines here; drain at end of input."""
    async with sink:
        async for item in source:
            if isinstance(item, Exception):
                reply = reply_to_unreadable(item)
                if reply is not None:
                    await write.send(SessionMessage(reply))
                continue
            message = item.message
            if isinstance(message, types.JSONRPCRequest):
                outstanding.add(message.id)
            elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
                outstanding.discard((message.params or {}).get("requestId"))  # a cancelled request gets no answer
            await sink.send(item)
        if outstanding.ids:
            with anyio.move_on_after(DRAIN_SECONDS):
                await outstanding.empty.wait()


class _AnswerTracker:
    """The server's write stream, noting each answer so the relay knows what is still outstanding."""

    def __init__(self, inner: Any, outstanding: _Outstanding) -> None:
        self.inner, self.outstanding = inner, outstanding

    async def send(self, item: SessionMessage) -> None:
        await self.inner.send(item)
        if isinstance(item.message, types.JSONRPCResponse | types.JSONRPCError):
            self.outstanding.discard(item.message.id)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def close(self) -> None:
        self.inner.close()

    async def __aenter__(self) -> _AnswerTracker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def serve(server: Server[Any], read: Any, write: Any) -> None:
    """Serve one connection over the SDK's stream pair, with unreadable lines answered and a drain at EOF."""
    outstanding = _Outstanding()
    sink: MemoryObjectSendStream[Any]
    guarded: MemoryObjectReceiveStream[Any]
    sink, guarded = anyio.create_memory_object_stream(0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_relay_readable, read, sink, write, outstanding)
        await server.run(guarded, _AnswerTracker(write, outstanding), server.create_initialization_options())
        tg.cancel_scope.cancel()


class LazyTools:
    """Builds `PgxlitTools` on the first tool call (thread-safe), so the handshake never waits on it."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._tools: PgxlitTools | None = None

    def __call__(self) -> PgxlitTools:
        with self._lock:
            if self._tools is None:
                self._tools = PgxlitTools(self.settings)
            return self._tools

    def close(self) -> None:
        with self._lock:
            if self._tools is not None:
                self._tools.close()


def run_stdio(settings: Any) -> None:
    """`pgxlit mcp`: serve until the client closes stdin; diagnostics go to stderr, never to the protocol."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="pgxlit mcp: %(levelname)s %(message)s")
    tools = LazyTools(settings)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await serve(build_server(tools), read, write)

    try:
        anyio.run(main)
    finally:
        tools.close()
