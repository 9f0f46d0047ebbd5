"""Curators' edits laid over compiled claims, so a correction reaches every consumer of the claims.

Claims are compiled from triples on every change, so a curator's correction of a claim (its action,
severity, testing level, patient group, dose, or a note) is kept apart (`Store.edit_claim`) and laid
over the compiled claims here: `apply_edits(claims, edits) -> claims` is pure. An edited claim says
so (`extra["curated"]`, `extra["edit"]`: who, when, why, the compiled values it replaced), so ask,
check, the drug page and review can show "edited by a curator". Editing never recompiles anything.

An edit is keyed by drug, gene and group (who the claim is about) and the action the evidence compiles
for it ("" for every claim of drug–gene–group: a group usually has one); claims an edit makes identical
are merged (one claim, each source once).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pgxlit.knowledge.compile import claim_order
from pgxlit.knowledge.groups import canonical_phenotype, describe, normalise_hla
from pgxlit.knowledge.model import ACTIONS, SEVERITIES, TESTING_LEVELS, Claim

# What a curator may set on a claim (a note is kept beside them).
EDITABLE = ("action", "severity", "testing_level", "group", "phenotype", "dose")
MAX_TEXT = 300
MAX_NOTE = 2000
# How strongly an action reads (extract.actions' scale), so an edited claim sorts and alerts as its action.
ACTION_STRENGTH = {"avoid": 5, "alternative": 4, "dose_change": 3, "monitor": 2, "informative": 0, "test": -1}
# The severity an action takes when the curator changes the action and says nothing of severity.
ACTION_SEVERITY = {"avoid": "critical", "alternative": "critical", "dose_change": "warning", "monitor": "warning",
                   "test": "info", "informative": "info"}
GROUP_KINDS = ("phenotype", "function", "deficiency", "hla", "diplotype", "allele", "variant")
FUNCTION_VALUES = ("No", "Decreased", "Increased", "Normal")
DEFICIENCY_VALUES = ("partial", "complete")


_PHENOTYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z -]{0,60}\b(?:Metabolizer|Function|Activity|Deficient|Deficiency|"
                             r"Positive|Negative|Carrier)$", re.I)


class EditError(ValueError):
    """An edit that cannot be saved; the message names the field and what is allowed."""


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = str(value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if text not in allowed:
        raise EditError(f"{name} {value!r} is one of {', '.join(allowed)}")
    return text


def _text(name: str, value: Any, most: int = MAX_TEXT) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > most:
        raise EditError(f"{name} is at most {most} characters")
    return text


def normalise_group(value: Any) -> str:
    """A group key as the knowledge layer writes it ("phenotype:Poor Metabolizer", "hla:HLA-B*57:01",
    "function:No", "deficiency:partial", "gene"); EditError names the accepted forms."""
    text = " ".join(str(value or "").split())
    if text.lower() == "gene":
        return "gene"
    kind, _, rest = text.partition(":")
    kind, rest = kind.strip().lower(), rest.strip()
    if kind not in GROUP_KINDS or not rest:
        raise EditError(f"group {text!r} is 'gene' or KIND:VALUE with KIND one of {', '.join(GROUP_KINDS)}, "
                        "e.g. 'phenotype:Poor Metabolizer', 'hla:HLA-B*57:01', 'function:No'")
    if kind == "phenotype":
        found = canonical_phenotype(rest) or (rest.title() if _PHENOTYPE_NAME.match(rest) else None)
        if found is None:
            raise EditError(f"phenotype {rest!r} is not one pgxlit knows, e.g. 'Poor Metabolizer', "
                            "'Ultrarapid Metabolizer', 'Intermediate Metabolizer'")
        return f"phenotype:{found}"
    if kind == "function":
        found = next((v for v in FUNCTION_VALUES if v.lower() == rest.lower()), None)
        if found is None:
            raise EditError(f"function is one of {', '.join(FUNCTION_VALUES)}; got {rest!r}")
        return f"function:{found}"
    if kind == "deficiency":
        if rest.lower() not in DEFICIENCY_VALUES:
            raise EditError(f"deficiency is partial or complete; got {rest!r}")
        return f"deficiency:{rest.lower()}"
    if kind == "hla":
        found = normalise_hla(rest)
        if found is None:
            raise EditError(f"HLA allele {rest!r} is written like HLA-B*57:01")
        return f"hla:{found}"
    return f"{kind}:{_text('group', rest, 200)}"


def normalise_changes(raw: Mapping[str, Any], claim: Claim) -> dict[str, Any]:
    """A curator's fields -> the edit as stored: vocabularies enforced, and what follows from them filled
    in (a new action brings its severity unless one is given; a new group its phenotype wording). A field
    set to None or "" drops that field's edit (the compiled value comes back)."""
    unknown = set(raw) - set(EDITABLE)
    if unknown:
        raise EditError(f"cannot edit {', '.join(sorted(unknown))} of a claim; editable: {', '.join(EDITABLE)} "
                        "(and a note)")
    out: dict[str, Any] = {}
    given = {k: v for k, v in raw.items() if v is not None and str(v).strip() != ""}
    for name in set(raw) - set(given):
        out[name] = None
    if "action" in given:
        out["action"] = _choice("action", given["action"], ACTIONS)
        if "severity" not in given and out["action"] != claim.action:
            out["severity"] = ACTION_SEVERITY[out["action"]]
    if "severity" in given:
        out["severity"] = _choice("severity", given["severity"], SEVERITIES)
    if "testing_level" in given:
        out["testing_level"] = _choice("testing level", given["testing_level"], TESTING_LEVELS)
    if "group" in given:
        out["group"] = normalise_group(given["group"])
        if "phenotype" not in given and out["group"] != claim.group:
            out["phenotype"] = describe(claim.gene, out["group"], claim.copies)
    if "phenotype" in given:
        out["phenotype"] = _text("phenotype", given["phenotype"])
    if "dose" in given:
        out["dose"] = _text("dose", given["dose"])
    return out


def normalise_note(note: Any) -> str | None:
    """The note as stored; None when none was given (the current note stays)."""
    return None if note is None else _text("note", note, MAX_NOTE)


def compiled_values(claim: Claim) -> dict[str, Any]:
    """The editable fields as the evidence compiles them (what an edit's audit row calls `before`)."""
    return {name: getattr(claim, name) for name in EDITABLE}


def edited(claim: Claim, edit: Any) -> Claim:
    """One claim with one edit laid over it, marked curated. Pure."""
    changes = {k: v for k, v in edit.changes.items() if k in EDITABLE and v is not None}
    action = changes.get("action", claim.action)
    values: dict[str, Any] = dict(changes)
    if action != claim.action:
        values["rank"] = ACTION_STRENGTH.get(action, claim.rank)
        values["no_change"] = False if action != "informative" else claim.no_change
        if action != "dose_change" and "dose" not in changes:
            values["dose"] = None
    label_rank = list(claim.extra.get("label_rank") or [])
    if label_rank:
        label_rank[0] = values.get("rank", claim.rank)
        if len(label_rank) > 2:
            label_rank[2] = True  # a curator's decision outranks the machine's reading of its group
    at = edit.at.isoformat() if getattr(edit, "at", None) else None
    extra = {**claim.extra, "label_rank": label_rank, "curated": True,
             "edit": {"id": edit.id, "by": edit.actor, "at": at, "reason": edit.reason, "note": edit.note,
                      "changed": {k: [getattr(claim, k), v] for k, v in changes.items() if getattr(claim, k) != v},
                      "claim": {"drug": claim.drug, "gene": claim.gene, "group": claim.group, "action": claim.action}}}
    return replace(claim, **values, review_status="accepted", extra=extra)


def _merged(claims: list[Claim]) -> list[Claim]:
    """Claims an edit made identical become one (the first, strongest), each source sentence once."""
    out: dict[tuple[Any, ...], Claim] = {}
    for c in claims:
        kept = out.get(c.key)
        if kept is None:
            out[c.key] = c
            continue
        seen = {x.sentence for x in kept.citations}
        citations = kept.citations + tuple(x for x in c.citations if x.sentence not in seen)
        pmids = {p.pmid for x in citations for p in x.places if p.source == "pubmed" and p.pmid}
        out[c.key] = replace(kept, citations=citations, literature_count=len(pmids),
                             status="label" if "label" in (kept.status, c.status) else kept.status)
    return list(out.values())


def apply_edits(claims: Mapping[str, list[Claim]], edits: Iterable[Any]) -> tuple[dict[str, list[Claim]], set[str]]:
    """(claims by drug with every current edit laid over them, the drugs whose claims an edit changed).
    Pure: `claims` is left as it is; drugs without an edit keep their list object. An edit whose claim
    the evidence no longer compiles changes nothing (it is still listed by the store)."""
    by_key: dict[tuple[str, str | None, str, str], Any] = {}
    for e in edits:
        by_key[(e.drug.lower(), e.gene or None, e.group, e.claim_action or "")] = e  # newest wins
    drugs = {k[0] for k in by_key}
    out = dict(claims)
    touched: set[str] = set()
    for drug in drugs & set(claims):
        changed = False
        fresh = []
        for c in claims[drug]:
            e = by_key.get((drug, c.gene or None, c.group, c.action)) or by_key.get((drug, c.gene or None, c.group, ""))
            if e is None:
                fresh.append(c)
                continue
            fresh.append(edited(c, e))
            changed = True
        if changed:
            out[drug] = sorted(_merged(fresh), key=claim_order)
            touched.add(drug)
    return out, touched


def compiled_key(claim: Claim) -> tuple[str, str | None, str, str]:
    """(drug, gene, group, action) as the evidence compiled them: what an edit is keyed by, even after it
    changed them."""
    key = (claim.extra.get("edit") or {}).get("claim") or {}
    return (key.get("drug", claim.drug), key.get("gene", claim.gene) or None, key.get("group", claim.group),
            key.get("action", claim.action))


def find_claims(claims: Iterable[Claim], gene: str | None, group: str, action: str | None = None) -> list[Claim]:
    """A drug's claims of one compiled gene, group and (when given) action: what an edit of that key
    changes, edited or not."""
    return [c for c in claims if compiled_key(c)[1:3] == (gene or None, group)
            and (not action or compiled_key(c)[3] == action)]


def with_store_edits(kb: Any, store: Any, drugs: Iterable[str] | None = None) -> Any:
    """`kb` (a KnowledgeBase fresh from the compiler) with the store's current edits laid over it, only
    those of `drugs` when given (the rest of `kb` is already laid over). The I/O edge of this module:
    one small read of the edits table; `kb.edited` records which edits each drug carries."""
    wanted = None if drugs is None else {d.lower() for d in drugs}
    edits = store.current_claim_edits(wanted)
    claims, _touched = apply_edits(kb.claims, edits)
    applied = {d: ids for d, ids in kb.edited.items() if wanted is not None and d not in wanted}
    applied.update(edit_ids(edits))
    return replace(kb, claims=claims, edited=applied)


def edit_ids(edits: Iterable[Any]) -> dict[str, tuple[int, ...]]:
    """drug -> the ids of its current edits: what tells whether a drug's edits changed since a compile."""
    out: dict[str, list[int]] = {}
    for e in edits:
        out.setdefault(e.drug.lower(), []).append(e.id)
    return {d: tuple(sorted(ids)) for d, ids in out.items()}


def changed_edit_drugs(kb: Any, store: Any) -> set[str]:
    """Drugs whose current edits differ from those laid over `kb` (an edit or a revert since)."""
    now = edit_ids(store.current_claim_edits())
    return {d for d in set(now) | set(kb.edited) if now.get(d) != kb.edited.get(d)}


def without_edits(stamp: tuple[Any, ...]) -> tuple[Any, ...]:
    """`Store.triples_stamp` without its claim-edit entry: what the claims as compiled (the on-disk cache)
    depend on. Edits are laid over the cache, never written into it, so an edit leaves the cache valid."""
    if len(stamp) != 5:
        return stamp
    rows, docs, labels, by_status, audit = stamp
    return (rows, docs, labels, [s for s in by_status if tuple(s)[:1] != ("claim_edits",)], audit)
