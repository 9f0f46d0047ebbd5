"""CDS Hooks 2.0 service: `order-select` and `order-sign` answer cited PGx cards.

Discovery at GET /cds-services; each service at POST /cds-services/{id}. The ordered drug comes
from the FHIR MedicationRequest(s) in `context.draftOrders` (for order-select, only the ones named
in `context.selections`); the patient's results from genotype/phenotype `Observation`s in the
`genotypes` prefetch. Reading the request and building cards are pure functions; the router only
does HTTP. A request that breaks the specification gets 400 with the reason.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pgxlit.check.engine import CheckResult, DrugRef
from pgxlit.check.fhir import (
    GENOTYPE_DISPLAY,
    LOINC,
    VARIANT_ASSESSMENT,
    calls_of_observation,
    profile_of_resources,
)
from pgxlit.check.genotype import INDETERMINATE, GeneCall, GenotypeTable
from pgxlit.check.profile import Profile

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PREFETCH_KEY = "genotypes"
PREFETCH_QUERY = (
    "Observation?patient={{context.patientId}}&code=" + ",".join(
        f"{LOINC}|{c}" for c in (GENOTYPE_DISPLAY, "53040-2", VARIANT_ASSESSMENT)
    )
)
SERVICES = {
    "pgxlit-order-select": {
        "hook": "order-select",
        "title": "pgxlit pharmacogenomic check (order select)",
        "description": "Cited pharmacogenomic alerts for the selected medication, from FDA labels and PubMed evidence "
                       "mined by pgxlit, against the patient's genotype results.",
        "id": "pgxlit-order-select",
        "prefetch": {PREFETCH_KEY: PREFETCH_QUERY},
        "usageRequirements": "Genotype results as FHIR Observations (LOINC 84413-4 genotype, 53040-2 phenotype, "
                             "69548-6 HLA presence) in the 'genotypes' prefetch.",
    },
    "pgxlit-order-sign": {
        "hook": "order-sign",
        "title": "pgxlit pharmacogenomic check (order sign)",
        "description": "Cited pharmacogenomic alerts for medications about to be signed.",
        "id": "pgxlit-order-sign",
        "prefetch": {PREFETCH_KEY: PREFETCH_QUERY},
        "usageRequirements": "As for pgxlit-order-select.",
    },
}


class BadRequest(ValueError):
    """A request that does not follow CDS Hooks 2.0; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Order:
    """One medication being ordered: the FHIR reference and the drug pgxlit resolved."""

    reference: str  # "MedicationRequest/123"
    text: str  # what the order called it
    drug: DrugRef | None


# ---- reading the request (pure) ---------------------------------------------------------------
def _require(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise BadRequest(f"{where}.{key} is required")
    value = obj[key]
    if not isinstance(value, kind):
        raise BadRequest(f"{where}.{key} must be {'an object' if kind is dict else 'a ' + kind.__name__}")
    return value


def _codings(concept: Any) -> list[dict[str, Any]]:
    return [c for c in (concept or {}).get("coding", []) if isinstance(c, dict)] if isinstance(concept, dict) else []


def _concept_text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return concept["text"].strip()
    for c in _codings(concept):
        if isinstance(c.get("display"), str) and c["display"].strip():
            return c["display"].strip()
    return None


def order_of(resource: dict[str, Any], resolve_name: Callable[[str], DrugRef | None],
             resolve_rxnorm: Callable[[str], DrugRef | None]) -> Order:
    """The drug of one MedicationRequest (R4 medicationCodeableConcept or R5 medication.concept)."""
    ref = f"MedicationRequest/{resource.get('id', '')}"
    for key, kind in (("medicationCodeableConcept", "a CodeableConcept object"), ("medication", "a CodeableReference object"),
                      ("medicationReference", "a Reference object")):
        if key in resource and resource[key] is not None and not isinstance(resource[key], dict):
            raise BadRequest(f"{ref}: {key} must be {kind}, not {type(resource[key]).__name__}")
    medication = resource.get("medication") or {}
    concept = resource.get("medicationCodeableConcept") or medication.get("concept")
    if concept is None and isinstance(resource.get("medicationReference"), dict):
        concept = {"text": resource["medicationReference"].get("display")}
    if concept is None and isinstance(medication.get("reference"), dict):
        concept = {"text": medication["reference"].get("display")}
    if not isinstance(concept, dict):
        raise BadRequest(f"{ref} has no medicationCodeableConcept (pgxlit cannot follow medication references)")
    if "coding" in concept and not isinstance(concept["coding"], list):
        raise BadRequest(f"{ref}: the medication's coding must be a list of Coding objects")
    if "text" in concept and concept["text"] is not None and not isinstance(concept["text"], str):
        raise BadRequest(f"{ref}: the medication's text must be a string")
    drug = None
    for c in _codings(concept):
        if c.get("system") == RXNORM and c.get("code"):
            drug = resolve_rxnorm(str(c["code"]))
            if drug:
                break
    text = _concept_text(concept) or ""
    if drug is None:
        for name in [text, *[c["display"] for c in _codings(concept) if isinstance(c.get("display"), str)]]:
            if name and (drug := resolve_name(name)):
                break
    return Order(reference=ref, text=text or ref, drug=drug)


def orders_of(body: dict[str, Any], hook: str, resolve_name: Callable[[str], DrugRef | None],
              resolve_rxnorm: Callable[[str], DrugRef | None]) -> list[Order]:
    """Validate the hook's context and return the medications it orders."""
    context = _require(body, "context", dict, "request")
    for key in ("userId", "patientId"):
        _require(context, key, str, "context")
    bundle = _require(context, "draftOrders", dict, "context")
    if bundle.get("resourceType") != "Bundle":
        raise BadRequest("context.draftOrders must be a FHIR Bundle")
    selections: list[str] | None = None
    if hook == "order-select":
        selections = _require(context, "selections", list, "context")
        if not all(isinstance(s, str) for s in selections):
            raise BadRequest("context.selections must be a list of references such as 'MedicationRequest/123'")
    orders = []
    if "entry" in bundle and bundle["entry"] is not None and not isinstance(bundle["entry"], list):
        raise BadRequest("context.draftOrders.entry must be a list")
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
            continue
        if selections is not None and f"MedicationRequest/{resource.get('id')}" not in selections:
            continue
        orders.append(order_of(resource, resolve_name, resolve_rxnorm))
    return orders


def call_of_observation(obs: dict[str, Any], table: GenotypeTable) -> GeneCall:
    """One genotype/phenotype/HLA Observation -> its first call; GenotypeError says why it cannot be read."""
    return calls_of_observation(obs, table)[0]


def profile_of(body: dict[str, Any], table: GenotypeTable) -> Profile:
    """The patient's calls from the prefetch; unreadable Observations are kept as unread results."""
    prefetch = body.get("prefetch")
    if prefetch is None:
        raise BadRequest(f"prefetch.{PREFETCH_KEY} is required: pgxlit does not query FHIR servers itself")
    if not isinstance(prefetch, dict):
        raise BadRequest("prefetch must be an object")
    if PREFETCH_KEY not in prefetch:
        raise BadRequest(f"prefetch.{PREFETCH_KEY} is required (template: {PREFETCH_QUERY})")
    found = prefetch[PREFETCH_KEY]
    if found is not None and (not isinstance(found, dict) or found.get("resourceType") not in ("Bundle", "Observation")):
        raise BadRequest(f"prefetch.{PREFETCH_KEY} must be a FHIR Bundle or Observation (or null when the EHR has none)")
    if isinstance(found, dict) and found.get("resourceType") == "Bundle" and "entry" in found \
            and not isinstance(found["entry"], list):
        raise BadRequest(f"prefetch.{PREFETCH_KEY}.entry must be a list")
    return profile_of_resources(found, table) if found is not None else Profile(())


def validate_envelope(body: Any, service_id: str) -> str:
    """The hook the request is for, after the checks every CDS Hooks request must pass."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    service = SERVICES.get(service_id)
    if service is None:
        raise BadRequest(f"no service {service_id!r}")
    hook = _require(body, "hook", str, "request")
    if hook != service["hook"]:
        raise BadRequest(f"service {service_id} answers hook {service['hook']!r}, not {hook!r}")
    instance = _require(body, "hookInstance", str, "request")
    try:
        uuid.UUID(instance)
    except ValueError as exc:
        raise BadRequest("hookInstance must be a UUID") from exc
    if "fhirServer" in body and not isinstance(body["fhirServer"], str):
        raise BadRequest("fhirServer must be a URL string")
    return hook


# ---- cards (pure) ---------------------------------------------------------------------------
_OFFER_BEFORE = re.compile(
    r"(?:consider(?:ing)?|use|using|switch(?:ing)? to|choose|select|prescribe|recommend(?:ed)?|such as|e\.g\.,?|"
    r"including|alternatives?(?: therapies| agents| drugs)?(?: such as| like|,| include| including)?|or)\s+(?:[\w-]+\s+){0,4}$",
    re.I,
)
_NOT_OFFER_BEFORE = re.compile(r"(?:alternative to|instead of|rather than|avoid(?:ing)?|not|than)\s+(?:[\w-]+\s+){0,2}$", re.I)


def alternatives_named(texts: list[str], ordered: DrugRef) -> list[str]:
    """Drugs the evidence offers in place of the ordered one ("consider prasugrel or ticagrelor").

    "Avoid X as an alternative to Y" offers neither; drug classes are not orderable.
    """
    from pgxlit.extract.lexicons import DictionaryMatcher, load_lexicons

    matcher = DictionaryMatcher(genes=False)
    lex = load_lexicons()
    found: list[str] = []
    for text in texts:
        if not re.search(r"\b(alternatives?|another|instead|switch|consider)\b", text, re.I):
            continue
        for m in matcher.find(text):
            pid, name = (m.norm or "|").split("|", 1)
            entry = lex.drugs_by_id.get(pid)
            before = text[max(0, m.start - 80):m.start]
            if (not name or name == ordered.name or name in found or (entry is not None and entry.kind == "class")
                    or _NOT_OFFER_BEFORE.search(before) or not _OFFER_BEFORE.search(before)):
                continue
            found.append(name)
    return found


def _alternatives(alert: dict[str, Any], ordered: DrugRef) -> list[str]:
    if alert["action"] not in ("alternative", "avoid"):
        return []
    texts = [alert["recommendation"]] + [c["sentence"] for c in alert["citations"] if c.get("sentence")]
    return alternatives_named(texts, ordered)


def _links(alert: dict[str, Any]) -> list[dict[str, str]]:
    links, seen = [], set()
    for c in alert["citations"]:
        if c["url"] in seen:
            continue
        seen.add(c["url"])
        label = (f"FDA label (DailyMed) {c['set_id'][:8]} v{c['version']}" if c["source"] == "fda_label"
                 else f"PubMed {c['pmid']}")
        links.append({"label": label, "url": c["url"], "type": "absolute"})
        if len(links) == 5:
            break
    return links


def cards_for(order: Order, result: CheckResult, patient_id: str,
              rxnorm_of: Callable[[str], str | None] = lambda _n: None,
              is_safe: Callable[[str], bool] = lambda _n: True) -> list[dict[str, Any]]:
    """CDS Hooks cards for one order: one per alert that asks for something (not 'no action').

    An alternative is suggested only when the evidence names it and `is_safe` finds no
    warning for it in the same patient: a card must not swap one alert for another.
    """
    cards = []
    for alert in result.alerts:
        if alert["action"] == "no action":
            continue
        suggestions = []
        if order.drug is not None:
            for name in _alternatives(alert, order.drug):
                if not is_safe(name):
                    continue
                code = rxnorm_of(name)
                concept: dict[str, Any] = {"text": name}
                if code:
                    concept["coding"] = [{"system": RXNORM, "code": code, "display": name}]
                suggestions.append({
                    "label": f"Replace {order.drug.name} with {name} (named in the evidence)",
                    "uuid": str(uuid.uuid4()),
                    "actions": [
                        {"type": "delete", "description": f"Remove the {order.drug.name} order",
                         "resourceId": [order.reference]},
                        {"type": "create", "description": f"Order {name} instead",
                         "resource": {"resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
                                      "subject": {"reference": f"Patient/{patient_id}"},
                                      "medicationCodeableConcept": concept}},
                    ],
                })
            if alert["action"] == "avoid":
                suggestions.append({
                    "label": f"Cancel the {order.drug.name} order", "uuid": str(uuid.uuid4()),
                    "actions": [{"type": "delete", "description": f"Remove the {order.drug.name} order",
                                 "resourceId": [order.reference]}],
                })
        card: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "summary": alert["summary"][:140],
            "indicator": alert["severity"],
            "detail": alert["detail"],
            "source": {"label": "pgxlit (FDA label and PubMed evidence)", "url": alert["citations"][0]["url"]}
            if alert["citations"] else {"label": "pgxlit"},
            "links": _links(alert),
        }
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = "at-most-one"
        if alert["severity"] == "critical":
            card["overrideReasons"] = [
                {"code": "benefit-outweighs-risk", "system": "https://pgxlit.invalid/override", "display": "Benefit outweighs risk"},
                {"code": "result-disputed", "system": "https://pgxlit.invalid/override", "display": "Genotype result disputed"},
            ]
        cards.append(card)
    return cards


def unread_cards(profile: Profile) -> list[dict[str, Any]]:
    """An info card for every result that could not be read or reads as Indeterminate.

    An empty card list tells an EHR "no concern": it must never be the answer for a patient
    whose result pgxlit did not read.
    """
    cards = []
    for u in profile.unread:
        summary = (f"{u.gene} result {u.value!r} could not be read" if u.gene else f"A result ({u.value!r}) could not be read")
        cards.append({
            "uuid": str(uuid.uuid4()),
            "summary": summary[:140],
            "indicator": "info",
            "detail": f"{u.message}. Check the result as the laboratory reported it (docs/check.md lists the forms "
                      f"pgxlit reads).",
            "source": {"label": "pgxlit (genotype reading)"},
        })
    for call in profile.calls:
        if call.phenotype != INDETERMINATE:
            continue
        why = "; ".join(call.notes) or call.derivation
        cards.append({
            "uuid": str(uuid.uuid4()),
            "summary": f"{call.gene} {call.diplotype or ''} is Indeterminate; no PGx check was done for this gene"[:140],
            "indicator": "info",
            "detail": f"{call.gene} {call.diplotype or call.entry}: {why}. No phenotype can be assigned from CPIC's tables, "
                      f"so no PGx check was done for this gene.",
            "source": {"label": "pgxlit (CPIC allele function tables)", "url": "https://cpicpgx.org"},
        })
    return cards


# ---- HTTP -------------------------------------------------------------------------------------
def create_router(get_service: Callable[[], Any]) -> APIRouter:
    """The CDS Hooks endpoints; `get_service` returns the process's CheckService (built lazily)."""
    router = APIRouter(tags=["CDS Hooks"])

    @router.get("/cds-services")
    def discovery() -> dict[str, Any]:
        return {"services": list(SERVICES.values())}

    @router.post("/cds-services/{service_id}")
    async def call_service(service_id: str, request: Request) -> JSONResponse:
        from pgxlit.check.service import drug_by_rxnorm, rxnorm_of

        if service_id not in SERVICES:
            return JSONResponse({"error": f"no CDS service {service_id!r}; see /cds-services"}, status_code=404)
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
        except RecursionError:
            return JSONResponse({"error": "the request body is nested too deeply"}, status_code=400)
        service = get_service()
        try:
            hook = validate_envelope(body, service_id)
            orders = orders_of(body, hook, service.resolve, drug_by_rxnorm)
            profile = profile_of(body, service.table)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except (TypeError, AttributeError, KeyError, RecursionError) as exc:  # a shape no check above foresaw
            return JSONResponse({"error": f"the request could not be read as CDS Hooks 2.0 with FHIR resources "
                                          f"({type(exc).__name__}); see /cds-services for what each service needs"},
                                status_code=400)
        cards: list[dict[str, Any]] = []
        patient = body["context"]["patientId"]
        for order in orders:
            if order.drug is None:
                continue
            result = service.run(order.drug, profile)

            def is_safe(name: str) -> bool:
                other = service.run(name, profile)
                return not any(a["severity"] in ("critical", "warning") for a in other.alerts)

            cards.extend(cards_for(order, result, patient, rxnorm_of, is_safe))
        if any(order.drug is not None for order in orders):
            cards.extend(unread_cards(profile))
        return JSONResponse({"cards": cards})

    return router
