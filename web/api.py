"""The JSON API under /api: ask, triples, review, exports, check, digest, labels, stats, health.

Routes only translate HTTP to the stages' own functions and back. Blocking work runs in a worker
thread under `web_timeout_s`; bad input is a 4xx whose `detail` says what to change.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pgxlit import __version__
from pgxlit.web.review import ReviewError, check_action, normalise_changes
from pgxlit.web.security import api_writer

T = TypeVar("T")
SOURCES = ("fda_label", "pubmed")
# Row ids are SQL integers: anything past 64 bits is refused at the edge (422), never sent to the database.
MAX_ID = 2**63 - 1
MAX_PAGE = 1_000_000
MAX_VERSION = 1_000_000
RowId = Annotated[int, Path(ge=0, le=MAX_ID)]
FormId = Annotated[int, Field(ge=1, le=MAX_ID)]


async def run(request: Request, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any) -> T:
    """Run blocking work off the event loop; 504 when it takes longer than the configured timeout."""
    timeout = timeout or request.app.state.settings.web.timeout_s
    try:
        return await asyncio.wait_for(run_in_threadpool(fn, *args, **kwargs), timeout)
    except TimeoutError as exc:
        raise HTTPException(504, f"gave up after {timeout:.0f} s; try a narrower request") from exc


def services(request: Request) -> Any:
    return request.app.state.services


def digest_timeout(request: Request) -> float:
    """A digest over every stored label is built once and cached; it may take longer than other requests."""
    settings = request.app.state.settings
    return max(settings.web.timeout_s, settings.web.digest_timeout_s)


# ---- input helpers (shared with the pages) --------------------------------------------------------
def canonical_drug(name: str | None) -> str | None:
    """A drug as stored (generic, lower case) from any name the lexicon knows; unknown names pass as given."""
    if not name or not name.strip():
        return None
    from pgxlit.extract.lexicons import normalise_drug

    found = normalise_drug(name.strip())
    return found[1] if found else name.strip()


def canonical_gene(name: str | None) -> str | None:
    if not name or not name.strip():
        return None
    from pgxlit.extract.lexicons import normalise_gene

    found = normalise_gene(name.strip())
    return found[1] if found else name.strip().upper()


def parse_day(text: str | None, name: str = "since") -> datetime | None:
    """YYYY-MM-DD -> the start of that day (UTC); 422 for anything else."""
    if not text or not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise HTTPException(422, f"{name} is a date like 2024-05-31; got {text!r}") from exc


def read_profile(text: str | None, entries: Any, table: Any) -> Any:
    """A profile from JSON entries, or from lines such as 'CYP2C19 *2/*2', 'CYP2D6 poor metabolizer',
    'HLA-B*57:01 positive', 'rs9923231 CT' (one result a line)."""
    from pgxlit.check.profile import Profile, parse_profile, profile_from_args

    profile = Profile(())
    if entries is not None:
        profile = profile.merged(parse_profile(entries, table))
    body = (text or "").strip()
    if body.startswith(("[", "{")):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"the profile looks like JSON but is not ({exc.msg} at line {exc.lineno})") from exc
        return profile.merged(parse_profile(data, table))
    diplotypes, phenotypes, hlas = [], [], []
    for line in (x.strip() for x in body.replace(";", "\n").splitlines()):
        if not line:
            continue
        if line.upper().startswith("HLA-") or line.upper().startswith(("A*", "B*", "C*")):
            hlas.append(line)
        elif "*" in line or line.lower().startswith("rs") or "/" in line:
            diplotypes.append(line)
        else:
            phenotypes.append(line)
    return profile.merged(profile_from_args(diplotypes, phenotypes, hlas, table))


def run_check(svc: Any, drug: str, profile_text: str | None = None, entries: Any = None) -> dict[str, Any]:
    from pgxlit.check.service import UnknownDrug

    service = svc.check_service()
    profile = read_profile(profile_text, entries, service.table)
    if not profile.calls and not profile.messages:
        raise HTTPException(422, "give the patient's results, e.g. 'CYP2C19 *2/*2' or 'HLA-B*57:01 positive'")
    try:
        return service.run(drug, profile).to_json()
    except UnknownDrug as exc:
        raise HTTPException(422, str(exc)) from exc


def review_counts(store: Any) -> dict[str, int]:
    return {status: store.triple_entries(status=status, limit=1, latest_only=False)[0]
            for status in ("pending", "accepted", "rejected")}


# ---- request bodies -----------------------------------------------------------------------------
class AskBody(BaseModel):
    question: str = Field(..., min_length=1, examples=["What should I check before prescribing abacavir?"])
    top_k: int | None = Field(None, ge=1, le=100)
    source: Literal["fda_label", "pubmed"] | None = None
    all_versions: bool = False


class CheckBody(BaseModel):
    drug: str = Field(..., min_length=1, max_length=200, examples=["clopidogrel"])
    profile: list[dict[str, Any]] | dict[str, Any] | None = Field(
        None, examples=[[{"gene": "CYP2C19", "diplotype": "*2/*2"}]])
    results: str | None = Field(None, max_length=5000, description="One result a line, e.g. 'CYP2C19 *2/*2'",
                                examples=["CYP2C19 *2/*2"])


class ReviewBody(BaseModel):
    action: Literal["accept", "reject", "reset", "edit"]
    reason: str = ""
    changes: dict[str, Any] | None = Field(None, examples=[{"gene": "CYP2C19", "variant": "poor metabolizer"}])


class ClaimReviewBody(BaseModel):
    drug: str = Field(..., min_length=1, max_length=200, examples=["clopidogrel"])
    gene: str | None = Field(None, max_length=40, examples=["CYP2C19"])
    group: str = Field(..., min_length=1, max_length=200, examples=["phenotype:Poor Metabolizer"],
                       description="The claim's group key, as GET /api/review/claims lists it")
    action: Literal["accept", "reject", "reset"]
    reason: str = ""
    status: Literal["pending", "accepted", "rejected"] | None = Field(
        None, description="Only the claim's triples with this review status (default: all of them)")


class ClaimEditBody(BaseModel):
    drug: str = Field(..., min_length=1, max_length=200, examples=["simvastatin"])
    gene: str | None = Field(None, max_length=40, examples=["SLCO1B1"])
    group: str = Field(..., min_length=1, max_length=200, examples=["gene"],
                       description="The claim's group key, as GET /api/drugs/{name} or /api/review/claims list it")
    claim_action: Literal["avoid", "alternative", "dose_change", "test", "monitor", "informative"] | None = Field(
        None, description="The action the evidence compiles for the claim, when its drug–gene–group has several")
    changes: dict[str, Any] = Field(default_factory=dict, examples=[{"action": "dose_change", "severity": "warning"}],
                                    description="Any of action, severity, testing_level, group, phenotype, dose; "
                                                "null or \"\" takes that field's edit off")
    note: str | None = Field(None, max_length=2000, description="A curator's note shown with the claim")
    reason: str = Field("", max_length=1000, description="Why (required: it goes into the audit trail)")


class ClaimRevertBody(BaseModel):
    drug: str = Field(..., min_length=1, max_length=200)
    gene: str | None = Field(None, max_length=40)
    group: str = Field(..., min_length=1, max_length=200)
    claim_action: Literal["avoid", "alternative", "dose_change", "test", "monitor", "informative"] | None = None
    reason: str = Field("", max_length=1000)


def claim_write(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A claim edit or revert; ReviewError/KeyError become 422/404 whose detail says what to change."""
    try:
        return fn(*args, **kwargs)
    except ReviewError as exc:
        raise HTTPException(422, str(exc)) from exc
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc


class BulkReviewBody(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(..., min_length=1, max_length=1000)
    action: Literal["accept", "reject", "reset"]
    reason: str = ""


def apply_review(store: Any, ids: list[int], action: str, reason: str, actor: str,
                 changes: dict[str, Any] | None = None) -> list[Any]:
    """Validate, normalise and save one review action; ReviewError/KeyError become 422/404."""
    try:
        why = check_action(action, reason)
        values = normalise_changes(changes or {}) if action == "edit" else None
        if action == "edit" and not values:
            raise ReviewError("an edit changes at least one of drug, gene, variant, relation, effect, flags")
        return store.review(ids, action, actor, why, values)
    except ReviewError as exc:
        raise HTTPException(422, str(exc)) from exc
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc


def create_api() -> APIRouter:
    """The /api router; the app supplies `services`, `settings` and `auth` on its state."""
    api = APIRouter(prefix="/api")

    @api.get("/health", tags=["meta"])
    def health(request: Request) -> dict[str, Any]:
        """Is the service up, is there an index to answer from, and which store does it serve (`store`: the
        id `pgxlit ask` compares with its own store before sending its question here)?"""
        from pgxlit.qa.remote import store_id

        svc = services(request)
        return {"status": "ok", "version": __version__, "index": svc.index_ready(),
                "store": store_id(svc.settings.resolved_db_url)}

    @api.get("/stats", tags=["meta"])
    async def stats(request: Request) -> dict[str, Any]:
        """What the store holds, and how far review has come."""
        svc = services(request)

        def work() -> dict[str, Any]:
            return {**svc.store.stats(), "review": review_counts(svc.store)}

        return await run(request, work)

    @api.post("/ask", tags=["ask"])
    async def ask(request: Request, body: AskBody) -> dict[str, Any]:
        """A cited answer from FDA labels and PubMed abstracts, or a refusal with its reason."""
        limit = request.app.state.settings.web.max_question_chars
        question = " ".join(body.question.split())
        if not question:
            raise HTTPException(422, "ask a question, e.g. 'What should I check before prescribing abacavir?'")
        if len(question) > limit:
            raise HTTPException(422, f"a question is at most {limit} characters")
        svc = services(request)
        try:
            answer = await run(request, svc.ask, question, body.top_k, body.source, body.all_versions)
        except FileNotFoundError as exc:
            raise HTTPException(503, str(exc)) from exc
        data = answer.to_json()
        for c in data["citations"]:
            c["evidence_url"] = f"/api/evidence/{c['passage_id']}" if c.get("passage_id") else None
        return data

    @api.get("/evidence/{passage_id}", tags=["ask"])
    async def evidence(request: Request, passage_id: RowId, sentence: str = "") -> dict[str, Any]:
        """A cited sentence inside its label section or abstract, with version, date and source link."""
        view = await run(request, services(request).evidence, passage_id, sentence[:2000])
        if view is None:
            raise HTTPException(404, f"no passage {passage_id}")
        return view

    @api.get("/drugs/{name}", tags=["drugs"])
    async def drug(request: Request, name: Annotated[str, Path(max_length=200)]) -> Any:
        """One drug's claims (gene, phenotype, action, severity, testing level, status, citations) and what
        was searched; 404 with `suggestions` for a name nothing stored knows."""
        from pgxlit.web.drug_summary import UnknownDrug, drug_summary

        svc = services(request)
        try:
            summary = await run(request, drug_summary, svc.store, svc.settings, name)
        except UnknownDrug as exc:
            return JSONResponse({"detail": str(exc), "suggestions": list(exc.suggestions)}, status_code=404)
        return summary.to_json()

    @api.get("/triples", tags=["triples"])
    async def triples(
        request: Request,
        drug: str | None = None, gene: str | None = None,
        source: Literal["fda_label", "pubmed"] | None = None,
        status: Literal["pending", "accepted", "rejected"] | None = None,
        pgx: bool | None = None,
        min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
        max_confidence: Annotated[float, Query(ge=0, le=1)] = 1.0,
        since: Annotated[str | None, Query(description="Extracted on or after this day, YYYY-MM-DD")] = None,
        all_versions: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        """Extracted triples with their evidence and review status, most confident first."""
        day = parse_day(since)
        svc = services(request)  # a listing runs in a worker process when the server has them
        total, items = await run(request, svc.triple_entries, drug=canonical_drug(drug), gene=canonical_gene(gene),
                                 source=source, status=status, pgx=pgx, min_confidence=min_confidence,
                                 max_confidence=max_confidence, since=day, latest_only=not all_versions,
                                 limit=limit, offset=offset)
        return {"total": total, "offset": offset, "items": [e.to_json() for e in items]}

    @api.get("/triples/{triple_id}", tags=["triples"])
    async def triple(request: Request, triple_id: RowId) -> dict[str, Any]:
        """One triple with its whole review history."""
        store = services(request).store
        entry = await run(request, store.triple_entry, triple_id)
        if entry is None:
            raise HTTPException(404, f"no triple with id {triple_id}")
        return {**entry.to_json(), "history": await run(request, store.audit_log, triple_id)}

    @api.post("/triples/{triple_id}/review", tags=["review"])
    async def review_one(request: Request, triple_id: RowId, body: ReviewBody,
                         actor: Annotated[str, Depends(api_writer)]) -> dict[str, Any]:
        """Accept, reject, reset or edit one triple (needs a curator token)."""
        store = services(request).store
        done = await run(request, apply_review, store, [triple_id], body.action, body.reason, actor, body.changes)
        return done[0].to_json()

    @api.post("/review", tags=["review"])
    async def review_many(request: Request, body: BulkReviewBody,
                          actor: Annotated[str, Depends(api_writer)]) -> dict[str, Any]:
        """The same action on many triples at once, all or none (needs a curator token)."""
        store = services(request).store
        done = await run(request, apply_review, store, body.ids, body.action, body.reason, actor)
        return {"updated": len(done), "items": [e.to_json() for e in done]}

    @api.get("/review/claims", tags=["review"])
    async def review_claims(
        request: Request, drug: str | None = None, gene: str | None = None,
        source: Literal["fda_label", "pubmed"] | None = None,
        status: Literal["pending", "accepted", "rejected"] | None = "pending",
        limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        """The review queue grouped by claim (drug, gene, patient group): each sentence once, with its triples,
        and `claim`: the compiled claim as every consumer reads it (null when none compiles), with its
        `claim_action` (what POST /api/review/claim/edit names) and whether a curator edited it."""
        from pgxlit.web.review import claim_editors, claim_queue

        svc = services(request)
        claims = await run(request, claim_queue, svc.store, drug=canonical_drug(drug),
                           gene=canonical_gene(gene), source=source, status=status)
        shown = claims[offset : offset + limit]
        editors = await run(request, claim_editors, svc.store, svc.settings, shown)
        return {"total": len(claims), "offset": offset,
                "items": [{**c.to_json(), "claim": editors[c.key].to_json()} for c in shown]}

    @api.post("/review/claim", tags=["review"])
    async def review_claim(request: Request, body: ClaimReviewBody,
                           actor: Annotated[str, Depends(api_writer)]) -> dict[str, Any]:
        """Accept, reject or reset one claim: every triple behind its sentences, each with its own audit entry
        (needs a curator token)."""
        from pgxlit.web.review import claim_triple_ids

        store = services(request).store
        drug, gene = canonical_drug(body.drug) or body.drug, canonical_gene(body.gene)
        ids = await run(request, claim_triple_ids, store, drug, gene, body.group, body.status)
        if not ids:
            raise HTTPException(404, f"no triple of the claim {drug} – {gene or 'no gene'} – {body.group}"
                                     f"{' with status ' + body.status if body.status else ''}; "
                                     "GET /api/review/claims lists the claims")
        done = await run(request, apply_review, store, ids, body.action, body.reason, actor)
        return {"updated": len(done), "triple_ids": ids, "items": [e.to_json() for e in done]}

    @api.post("/review/claim/edit", tags=["review"])
    async def edit_claim(request: Request, body: ClaimEditBody,
                         actor: Annotated[str, Depends(api_writer)]) -> dict[str, Any]:
        """Correct a claim itself (action, severity, testing level, patient group, dose, a note): ask, check,
        drug pages and review read the corrected claim, marked as edited by a curator; the audit trail keeps
        who, when, the old and new values and why (needs a curator token)."""
        from pgxlit.web.review import apply_claim_edit

        svc = services(request)
        drug, gene = canonical_drug(body.drug) or body.drug, canonical_gene(body.gene)
        return await run(request, claim_write, apply_claim_edit, svc.store, svc.settings, drug, gene, body.group,
                         body.changes, body.note, body.reason, actor, body.claim_action)

    @api.post("/review/claim/revert", tags=["review"])
    async def revert_claim(request: Request, body: ClaimRevertBody,
                           actor: Annotated[str, Depends(api_writer)]) -> dict[str, Any]:
        """Take a curator's edit off a claim: it reads as its evidence compiles again (the edit stays in the
        audit trail; needs a curator token)."""
        from pgxlit.web.review import revert_claim as revert

        svc = services(request)
        drug, gene = canonical_drug(body.drug) or body.drug, canonical_gene(body.gene)
        return await run(request, claim_write, revert, svc.store, svc.settings, drug, gene, body.group, body.reason,
                         actor, body.claim_action)

    @api.get("/review/claim/edits", tags=["review"])
    async def claim_edits(request: Request, drug: str | None = None, gene: str | None = None,
                          group: str | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 200
                          ) -> list[dict[str, Any]]:
        """Curators' claim edits and reverts, newest first: everyone's, one drug's, or one claim's (drug, gene
        and group)."""
        store = services(request).store
        found = await run(request, store.claim_edit_log, canonical_drug(drug), canonical_gene(gene), group,
                          None, limit)
        return [e.to_json() for e in found]

    @api.get("/audit", tags=["review"])
    async def audit(request: Request, triple_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict[str, Any]]:
        """Who changed what and when, newest first."""
        return await run(request, services(request).store.audit_log, triple_id, limit)

    @api.get("/export/accepted.{fmt}", tags=["review"])
    async def export(request: Request, fmt: str, drug: str | None = None, gene: str | None = None,
                     source: Literal["fda_label", "pubmed"] | None = None) -> Response:
        """Accepted triples as TSV (PharmGKB-like columns), JSON or BioC XML."""
        from pgxlit.web import export as ex

        if fmt not in ("tsv", "json", "xml"):
            raise HTTPException(404, "exports are accepted.tsv, accepted.json and accepted.xml (BioC)")
        store = services(request).store
        _total, items = await run(request, store.triple_entries, drug=canonical_drug(drug), gene=canonical_gene(gene),
                                  source=source, status="accepted", latest_only=False, limit=None)
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        if fmt == "tsv":
            body, media = ex.to_tsv(items), "text/tab-separated-values; charset=utf-8"
        elif fmt == "json":
            body, media = ex.to_json(items), "application/json"
        else:
            body, media = ex.to_bioc(items, stamp), "application/xml"
        return PlainTextResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="pgxlit-accepted-{stamp}.{fmt}"'})

    @api.post("/check", tags=["check"])
    async def check(request: Request, body: CheckBody) -> dict[str, Any]:
        """An ordered drug against a patient's PGx results: cited alerts and the explanation."""
        service = request.app.state.check_service
        if service is not None and service.ready and service.known(body.drug) is not None:
            # a few dictionary lookups on loaded knowledge: answered on the event loop, without the hop to a
            # worker thread and back (each a wait for the GIL and a core under load); the same order and
            # results again, while the knowledge is the same, are answered from what was kept
            key = (body.drug, body.results, json.dumps(body.profile, sort_keys=True) if body.profile else None)
            return request.app.state.check_answers.get(
                key, service.knowledge, lambda: run_check(services(request), body.drug, body.results, body.profile))
        return await run(request, run_check, services(request), body.drug, body.results, body.profile)

    @api.get("/digest", tags=["digest"])
    async def digest(
        request: Request,
        since: Annotated[str | None, Query(description="Label versions effective on or after YYYY-MM-DD")] = None,
        drug: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
        pgx_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    ) -> dict[str, Any]:
        """Label changes between stored versions, PGx changes first, each citing both versions."""
        day = parse_day(since)
        result = await run(request, services(request).digest, day.strftime("%Y%m%d") if day else None,
                           tuple(drug), pgx_only, timeout=digest_timeout(request))
        data = result.to_json()
        data["changes"] = data["changes"][:limit]
        return data

    @api.post("/refresh", tags=["refresh"], status_code=202)
    def refresh(request: Request, actor: Annotated[str, Depends(api_writer)]) -> dict[str, Any]:
        """Extract new or changed documents and update the index, in the background (needs a curator token)."""
        state = request.app.state.refresh.start(actor)
        if state is None:
            raise HTTPException(409, "a refresh is already running; GET /api/refresh shows its progress")
        return state

    @api.get("/refresh", tags=["refresh"])
    def refresh_status(request: Request) -> dict[str, Any]:
        """The state of the last refresh: idle, running, done (with counts) or failed (with the reason)."""
        return request.app.state.refresh.snapshot()

    @api.get("/labels", tags=["labels"])
    async def labels(request: Request, drug: str | None = None) -> list[dict[str, Any]]:
        """Stored labels (one row per set id, its newest version) whose names contain `drug`."""
        from pgxlit.digest.source import version_index

        metas = await run(request, version_index, services(request).store)
        latest: dict[str, Any] = {}
        for m in metas:
            latest.setdefault(m.set_id, []).append(m)
        rows = []
        needle = (drug or "").strip().lower()
        for set_id, ms in latest.items():
            m = max(ms, key=lambda x: x.version)
            names = [*m.generic_names, *m.brand_names]
            if needle and not any(needle in n.lower() for n in names):
                continue
            rows.append({"set_id": set_id, "title": m.title, "generic_names": list(m.generic_names),
                         "brand_names": list(m.brand_names), "latest_version": m.version,
                         "effective_time": m.effective_time, "versions": sorted(x.version for x in ms)})
        return sorted(rows, key=lambda r: ((r["generic_names"] or [r["title"] or ""])[0].lower(), r["set_id"]))

    @api.get("/labels/{set_id}/versions", tags=["labels"])
    async def label_versions(request: Request, set_id: str) -> list[dict[str, Any]]:
        """Every stored version of one label, oldest first."""
        from pgxlit.digest.source import version_index

        metas = await run(request, version_index, services(request).store)
        rows = [{"set_id": m.set_id, "version": m.version, "effective_time": m.effective_time, "title": m.title,
                 "manufacturer": m.manufacturer} for m in metas if m.set_id == set_id.lower()]
        if not rows:
            raise HTTPException(404, f"no stored label with set id {set_id}")
        return rows

    @api.get("/labels/{set_id}/diff", tags=["labels"])
    async def label_diff(request: Request, set_id: str, old: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
                         new: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None
                         ) -> dict[str, Any]:
        """What changed between two stored versions of a label (default: the last two)."""
        try:
            pair, changes = await run(request, services(request).label_diff, set_id, old, new)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        return {**pair.to_json(), "changes": [c.to_json() for c in changes]}

    return api
