"""Server-rendered pages: Ask, Curator review, Digest, Check. Every page works without JavaScript;
web/static/app.js only opens citations in place and confirms bulk actions.

Templates autoescape everything: label and abstract text is data, never markup.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from pgxlit import __version__
from pgxlit.knowledge.model import ACTIONS, SEVERITIES, TESTING_LEVELS
from pgxlit.records import label_date
from pgxlit.web.api import (
    MAX_PAGE,
    FormId,
    RowId,
    apply_review,
    canonical_drug,
    canonical_gene,
    digest_timeout,
    parse_day,
    review_counts,
    run,
    run_check,
)
from pgxlit.web.security import SESSION_COOKIE, Auth, client_key, form_writer

HERE = Path(__file__).resolve().parent
ANON_COOKIE = "pgxlit_anon"
FLASH_COOKIE = "pgxlit_flash"
CLAIM_PAGE = 25  # claims per review page
CLAIM_SENTENCES = 4  # sentences shown open per claim; the rest fold
# The claim vocabularies a curator's edit form offers (the knowledge layer's own).
CLAIM_VOCAB = {"action": ACTIONS, "severity": SEVERITIES, "testing_level": TESTING_LEVELS}
DIGEST_PAGE = 15  # label updates per digest page
MAX_LITERATURE_CELLS = 150  # literature-only rows on a drug page; the JSON has them all
EXAMPLES = ("What should I check before prescribing abacavir?", "Does CYP2C19 status change clopidogrel dosing?",
            "How should codeine be used in CYP2D6 ultrarapid metabolizers?")

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
                   lstrip_blocks=True)


def isodate(value: str | None) -> str:
    """YYYYMMDD as labels publish it -> YYYY-MM-DD; anything else as it is."""
    return label_date(str(value or "")) or ""


_env.filters["isodate"] = isodate
templates = Jinja2Templates(env=_env)


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _csrf_cookie(request: Request) -> tuple[str, str | None]:
    """(cookie the CSRF token is bound to, a new anonymous cookie to set or None)."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return session, None
    anon = request.cookies.get(ANON_COOKIE)
    if anon:
        return anon, None
    fresh = secrets.token_urlsafe(18)
    return fresh, fresh


def _flash(auth: Auth, message: str) -> str:
    body = base64.urlsafe_b64encode(message[:300].encode()).decode()
    return f"{body}.{auth.csrf_token('flash:' + body)}"


def _read_flash(auth: Auth, cookie: str | None) -> str | None:
    """The message the previous redirect left, only when this server signed it: a link cannot put
    text on a page (no `?msg=`)."""
    if not cookie or "." not in cookie or not cookie.isascii():
        return None
    body, sig = cookie.rsplit(".", 1)
    if not auth.csrf_ok("flash:" + body, sig):
        return None
    try:
        return base64.urlsafe_b64decode(body.encode()).decode()
    except ValueError:
        return None


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    auth: Auth = request.app.state.auth
    bound, fresh = _csrf_cookie(request)
    actor = auth.read_session(request.cookies.get(SESSION_COOKIE))
    flash = request.cookies.get(FLASH_COOKIE)
    response = templates.TemplateResponse(request, name, {
        "actor": actor, "csrf": auth.csrf_token(bound), "version": __version__, "path": request.url.path,
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "msg": _read_flash(auth, flash), **context}, status_code=status)
    if fresh:
        response.set_cookie(ANON_COOKIE, fresh, httponly=True, samesite="strict",
                            secure=request.app.state.secure_cookies)
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def _back(request: Request, url: str | None, default: str, msg: str | None = None) -> RedirectResponse:
    """Redirect to a local page only (never to another site), with an optional message for the next page."""
    parts = urlsplit(url or "")
    local = url and not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//")
    response = RedirectResponse(url if local else default, status_code=303)
    if msg:
        response.set_cookie(FLASH_COOKIE, _flash(request.app.state.auth, msg), httponly=True, samesite="strict",
                            max_age=60, secure=request.app.state.secure_cookies)
    return response


def _digest_view(digest: Any, per_pair: int = 10) -> list[dict[str, Any]]:
    """Label updates with the changes to show side by side (PGx first), from the digest's own helpers."""
    from pgxlit.digest.model import TIERS
    from pgxlit.digest.render import DAILYMED_SETID_URL, shown_changes, side_runs

    out = []
    for pair in digest.pairs:
        shown, left = shown_changes(pair, per_pair)
        if not shown:
            continue
        items = [{"c": c, "tier": TIERS[c.tier], "old": side_runs(c)[0], "new": side_runs(c)[1]} for c in shown]
        out.append({"p": pair, "shown": items, "left": left, "pgx": sum(c.pgx_relevant for c in pair.changes),
                    "old_date": label_date(pair.old.effective_time), "new_date": label_date(pair.new.effective_time),
                    "url": DAILYMED_SETID_URL.format(set_id=pair.new.set_id)})
    return out


def create_pages() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/ask", status_code=307)

    # ---- ask ---------------------------------------------------------------------------------
    @pages.get("/ask")
    async def ask_page(request: Request, q: str = "", source: str = "") -> Response:
        svc = request.app.state.services
        question = " ".join(q.split())
        answer, problem = None, None
        limit = request.app.state.settings.web.max_question_chars
        if len(question) > limit:
            problem = f"a question is at most {limit} characters"
        elif question:
            try:
                answer = await run(request, svc.ask, question, None, source if source in ("fda_label", "pubmed")
                                   else None)
            except FileNotFoundError as exc:
                problem = str(exc)
        return render(request, "ask.html", q=question, source=source, answer=answer, problem=problem,
                      examples=EXAMPLES, lines=_answer_lines(answer) if answer else [],
                      bottom=_answer_lines(answer, getattr(answer, "bottom_line", "")) if answer else [])

    @pages.get("/evidence/{passage_id}")
    async def evidence_page(request: Request, passage_id: RowId, sentence: str = "", partial: bool = False) -> Response:
        view = await run(request, request.app.state.services.evidence, passage_id, sentence[:2000])
        if view is None:
            raise HTTPException(404, f"no passage {passage_id}")
        return render(request, "_evidence.html" if partial else "evidence.html", e=view)

    # ---- drug summary ------------------------------------------------------------------------
    @pages.get("/drug")
    async def drug_index(request: Request, name: str = "") -> Response:
        if name.strip():
            return RedirectResponse(f"/drug/{quote(name.strip()[:200], safe='')}", status_code=303)
        from pgxlit.web.drug_summary import knowledge_base

        svc = request.app.state.services
        kb = await run(request, knowledge_base, svc.store, svc.settings)
        drugs = [d for d in kb.drugs() if any(c.status == "label" for c in kb.claims_for(d))]
        return render(request, "drug.html", s=None, asked="", drugs=drugs)

    @pages.get("/drug/{name}")
    async def drug_page(request: Request, name: Annotated[str, PathParam(max_length=200)]) -> Response:
        from pgxlit.web.drug_summary import UnknownDrug, drug_summary

        svc = request.app.state.services
        try:
            summary = await run(request, drug_summary, svc.store, svc.settings, name)
        except UnknownDrug as exc:
            return render(request, "drug.html", status=404, s=None, asked=exc.name, unknown=str(exc),
                          suggestions=exc.suggestions)
        return render(request, "drug.html", s=summary, asked=name, max_literature=MAX_LITERATURE_CELLS)

    # ---- review ------------------------------------------------------------------------------
    @pages.get("/review")
    async def review_page(
        request: Request, drug: str = "", gene: str = "", source: str = "", status: str = "pending",
        min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
        max_confidence: Annotated[float, Query(ge=0, le=1)] = 1.0,
        since: str = "", pgx: str = "", page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    ) -> Response:
        from pgxlit.web.review import claim_editors, claim_queue

        store = request.app.state.services.store
        day = parse_day(since)
        claims = await run(
            request, claim_queue, store, drug=canonical_drug(drug), gene=canonical_gene(gene),
            source=source if source in ("fda_label", "pubmed") else None,
            status=status if status in ("pending", "accepted", "rejected") else None,
            pgx={"yes": True, "no": False}.get(pgx), min_confidence=min_confidence, max_confidence=max_confidence,
            since=day)
        counts = await run(request, review_counts, store)
        filters = {"drug": drug, "gene": gene, "source": source, "status": status, "min_confidence": min_confidence,
                   "max_confidence": max_confidence, "since": since, "pgx": pgx}
        export_query = urlencode({k: v for k, v in (("drug", drug), ("gene", gene), ("source", source)) if v})
        total = len(claims)
        shown = claims[(page - 1) * CLAIM_PAGE : page * CLAIM_PAGE]
        editors = await run(request, claim_editors, store, request.app.state.settings, shown)
        return render(request, "review.html", claims=shown, total=total, triples=sum(len(c.ids) for c in claims),
                      editors=editors, vocab=CLAIM_VOCAB,
                      page=page, pages=max(1, -(-total // CLAIM_PAGE)), f=filters, counts=counts,
                      export_query=export_query, max_sentences=CLAIM_SENTENCES,
                      page_query=lambda n: urlencode({**filters, "page": n}))

    @pages.post("/review/bulk")
    async def review_bulk(
        request: Request, csrf: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "", ids: Annotated[list[FormId], Form()] = [],  # noqa: B006
        claims: Annotated[list[str], Form()] = [],  # noqa: B006 - each "12,13,14": one claim's triples
        single: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "/review",
    ) -> Response:
        from pgxlit.web.review import ReviewError, parse_token

        actor = form_writer(request, csrf)
        if single:  # a row's own button: "accept:123" (a triple) or "accept:12,13,14" (a claim's triples)
            action, _, one = single.partition(":")
            ids, claims = [], [one]
        try:
            for token in claims:
                ids = [*ids, *parse_token(token)]
        except ReviewError as exc:
            return _back(request, back, "/review", f"not saved: {exc}")
        ids = list(dict.fromkeys(ids))
        if not ids:
            return _back(request, back, "/review", "select at least one claim")
        try:
            done = await run(request, apply_review, request.app.state.services.store, ids, action, reason, actor)
        except HTTPException as exc:
            if exc.status_code in (404, 422):
                return _back(request, back, "/review", f"not saved: {exc.detail}")
            raise
        verb = {"accept": "accepted", "reject": "rejected", "reset": "returned to pending"}.get(action, action)
        what = f"{len(claims)} claim{'s' if len(claims) != 1 else ''}: " if claims else ""
        return _back(request, back, "/review", f"{what}{len(done)} triple{'s' if len(done) != 1 else ''} {verb}")

    @pages.get("/review/triple/{triple_id}")
    async def triple_page(request: Request, triple_id: RowId) -> Response:
        from pgxlit.records import EFFECTS
        from pgxlit.web.review import relation_types

        store = request.app.state.services.store
        entry = await run(request, store.triple_entry, triple_id)
        if entry is None:
            raise HTTPException(404, f"no triple with id {triple_id}")
        history = await run(request, store.audit_log, triple_id)
        return render(request, "triple.html", t=entry, history=history, relations=relation_types(), effects=EFFECTS)

    @pages.post("/review/triple/{triple_id}")
    async def triple_save(
        request: Request, triple_id: RowId, csrf: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "", drug: Annotated[str, Form()] = "", gene: Annotated[str, Form()] = "",
        variant: Annotated[str, Form()] = "", relation: Annotated[str, Form()] = "",
        effect: Annotated[str, Form()] = "", negated: Annotated[str, Form()] = "",
        hedged: Annotated[str, Form()] = "", pgx: Annotated[str, Form()] = "",
    ) -> Response:
        actor = form_writer(request, csrf)
        store = request.app.state.services.store
        changes = None
        if action == "edit":
            changes = {"drug": drug, "gene": gene, "variant": variant, "relation": relation, "effect": effect,
                       "negated": bool(negated), "hedged": bool(hedged), "pgx": bool(pgx)}
            entry = store.triple_entry(triple_id)
            if entry is None:
                raise HTTPException(404, f"no triple with id {triple_id}")
            now = entry.triple
            # only what the curator changed: an untouched field is not re-normalised
            same = {"drug": now.drug, "gene": now.gene or "", "variant": now.variant or "", "relation": now.relation,
                    "effect": now.effect, "negated": now.negated, "hedged": now.hedged, "pgx": now.pgx}
            changes = {k: v for k, v in changes.items() if v != same[k]}
        here = f"/review/triple/{triple_id}"
        try:
            await run(request, apply_review, store, [triple_id], action, reason, actor, changes)
        except HTTPException as exc:
            if exc.status_code == 422:
                return _back(request, here, here, f"not saved: {exc.detail}")
            raise
        return _back(request, here, here, "saved")

    @pages.post("/review/claim/edit")
    async def claim_edit_save(
        request: Request, csrf: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "/review",
        drug: Annotated[str, Form()] = "", gene: Annotated[str, Form()] = "", group: Annotated[str, Form()] = "",
        claim_action: Annotated[str, Form()] = "", op: Annotated[str, Form()] = "edit",
        action: Annotated[str, Form()] = "", severity: Annotated[str, Form()] = "",
        testing_level: Annotated[str, Form()] = "", phenotype: Annotated[str, Form()] = "",
        dose: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
    ) -> Response:
        """The edit form of a claim row: only the fields the curator changed are saved (or the edit reverted)."""
        from pgxlit.web.api import claim_write
        from pgxlit.web.review import apply_claim_edit, claim_editors, revert_claim

        actor = form_writer(request, csrf)
        svc = request.app.state.services
        name, symbol = canonical_drug(drug) or drug, canonical_gene(gene)
        what = f"{name} – {symbol or 'no gene'} – {group}"
        try:
            if op == "revert":
                await run(request, claim_write, revert_claim, svc.store, svc.settings, name, symbol, group, reason,
                          actor, claim_action or None)
                return _back(request, back, "/review", f"{what}: edit taken off, the claim reads as compiled")
            from pgxlit.web.review import ClaimGroup

            editor = (await run(request, claim_editors, svc.store, svc.settings,
                                [ClaimGroup(name, symbol, group, "")])).get((name, symbol, group))
            now = editor.claim if editor is not None else None
            given = {"action": action, "severity": severity, "testing_level": testing_level, "phenotype": phenotype,
                     "dose": dose}
            shown = {k: (getattr(now, k, None) or "") for k in given}
            changes = {k: v for k, v in given.items() if v.strip() != str(shown[k])}
            current_note = editor.edit.note if editor is not None and editor.edit is not None else ""
            text = note if note.strip() != current_note else None
            await run(request, claim_write, apply_claim_edit, svc.store, svc.settings, name, symbol, group, changes,
                      text, reason, actor, claim_action or None)
        except HTTPException as exc:
            if exc.status_code in (404, 422):
                return _back(request, back, "/review", f"not saved: {exc.detail}")
            raise
        return _back(request, back, "/review", f"{what}: saved, edited by {actor}")

    @pages.get("/review/audit")
    async def audit_page(request: Request, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> Response:
        store = request.app.state.services.store
        rows = await run(request, store.audit_log, None, limit)
        claim_rows = await run(request, store.claim_edit_log, None, None, None, None, limit)
        return render(request, "audit.html", rows=rows, claim_rows=claim_rows)

    @pages.post("/login")
    async def login(request: Request, token: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                    csrf: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "/review") -> Response:
        auth: Auth = request.app.state.auth
        bound = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
        if not auth.csrf_ok(bound, csrf):
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page and try again")
        auth.throttle.check(client_key(request))
        actor = auth.actor_for(token.strip(), name)
        if actor is None:
            auth.throttle.failed(client_key(request))
            return _back(request, back, "/review", "that token is not valid (ask whoever runs pgxlit serve)")
        response = _back(request, back, "/review", f"signed in as {actor}")
        response.set_cookie(SESSION_COOKIE, auth.session_cookie(actor), httponly=True, samesite="strict",
                            max_age=12 * 3600, secure=request.app.state.secure_cookies)
        return response

    @pages.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        form_writer(request, csrf)
        request.app.state.auth.end_session(request.cookies.get(SESSION_COOKIE))
        response = _back(request, "/review", "/review", "signed out")
        response.delete_cookie(SESSION_COOKIE)
        return response

    # ---- digest ------------------------------------------------------------------------------
    @pages.get("/digest")
    async def digest_page(request: Request, since: str = "", drug: str = "", pgx_only: bool = False,
                          page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
        day = parse_day(since)
        drugs = tuple(d.strip() for d in drug.split(",") if d.strip())
        digest = await run(request, request.app.state.services.digest, day.strftime("%Y%m%d") if day else None,
                           drugs, pgx_only, timeout=digest_timeout(request))
        summary = digest.to_json()["summary"]
        pairs = _digest_view(digest)
        pages = max(1, -(-len(pairs) // DIGEST_PAGE))
        query = {"since": since, "drug": drug, "pgx_only": "true" if pgx_only else "false"}
        return render(request, "digest.html", d=digest, s=summary, since=since, drug=drug, pgx_only=pgx_only,
                      pairs=pairs[(page - 1) * DIGEST_PAGE : page * DIGEST_PAGE], page=page, pages=pages,
                      page_query=lambda n: urlencode({**query, "page": n}))

    @pages.get("/digest.html")
    async def digest_standalone(request: Request, since: str = "", drug: str = "", pgx_only: bool = False) -> Response:
        """The digest's own self-contained HTML (for e-mail or printing)."""
        from pgxlit.digest.render import render_html

        day = parse_day(since)
        drugs = tuple(d.strip() for d in drug.split(",") if d.strip())
        digest = await run(request, request.app.state.services.digest, day.strftime("%Y%m%d") if day else None,
                           drugs, pgx_only, timeout=digest_timeout(request))
        return HTMLResponse(render_html(digest))

    # ---- check -------------------------------------------------------------------------------
    @pages.get("/check")
    async def check_page(request: Request, drug: str = "", results: str = "") -> Response:
        result, problem = None, None
        if drug.strip() and results.strip():
            try:
                result = await run(request, run_check, request.app.state.services, drug.strip(), results)
            except HTTPException as exc:
                if exc.status_code != 422:
                    raise
                problem = exc.detail
        elif drug.strip() or results.strip():
            problem = "give both the drug and the patient's results"
        return render(request, "check.html", drug=drug, results=results, result=result, problem=problem)

    return pages


def _answer_lines(answer: Any, text: str | None = None) -> list[list[tuple[str, Any]]]:
    """Each answer line (or each line of `text`, e.g. the bottom line) as text pieces and citation
    keys, so the template links [n] without parsing HTML."""
    import re

    by_key = {c.key: c for c in answer.citations}
    out = []
    for line in (answer.answer if text is None else text).splitlines():
        pieces: list[tuple[str, Any]] = []
        pos = 0
        for m in re.finditer(r"\[(\d+(?:\s*,\s*\d+)*)\]", line):
            pieces.append(("text", line[pos : m.start()]))
            pieces.append(("cites", [by_key[int(k)] for k in m.group(1).split(",") if int(k) in by_key]))
            pos = m.end()
        pieces.append(("text", line[pos:]))
        out.append(pieces)
    return out
