"""Curator edits, validated and normalised before they reach the store.

A drug or gene must be one the lexicons know (stored under its canonical name and id), a
relation and an effect one of the extraction's own vocabularies, so an edited triple looks
exactly like an extracted one to every later stage.
"""

from __future__ import annotations

from typing import Any

from pgxlit.records import EFFECTS

ACTIONS = ("accept", "reject", "reset", "edit")
STATUSES = ("pending", "accepted", "rejected")
MAX_VARIANT_CHARS = 200
MAX_REASON_CHARS = 1000


class ReviewError(ValueError):
    """An edit or action that cannot be saved; the message names the field and what is allowed."""


def relation_types() -> tuple[str, ...]:
    from pgxlit.extract.relation_model import RELATION_TYPES

    return tuple(RELATION_TYPES)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ReviewError(f"{name} is true or false; got {value!r}")


def normalise_changes(raw: dict[str, Any]) -> dict[str, Any]:
    """Edited fields -> store values: names normalised to lexicon ids, vocabularies enforced."""
    from pgxlit.extract.lexicons import normalise_drug, normalise_gene

    out: dict[str, Any] = {}
    unknown = set(raw) - {"drug", "gene", "variant", "relation", "effect", "negated", "hedged", "pgx"}
    if unknown:
        raise ReviewError(f"cannot edit {', '.join(sorted(unknown))}; editable: drug, gene, variant, relation, "
                          "effect, negated, hedged, pgx")
    if "drug" in raw:
        text = " ".join(str(raw["drug"] or "").split())
        found = normalise_drug(text) if text else None
        if found is None:
            raise ReviewError(f"drug {text!r} is not in pgxlit's drug lexicon; use a generic or brand name")
        out["drug_id"], out["drug"] = found
    if "gene" in raw:
        text = " ".join(str(raw["gene"] or "").split())
        if text:
            found = normalise_gene(text)
            if found is None:
                raise ReviewError(f"gene {text!r} is not an HGNC symbol or alias pgxlit knows")
            out["gene_id"], out["gene"] = found
        else:
            out["gene_id"], out["gene"] = None, None
    if "variant" in raw:
        text = " ".join(str(raw["variant"] or "").split())
        if len(text) > MAX_VARIANT_CHARS:
            raise ReviewError(f"variant is at most {MAX_VARIANT_CHARS} characters")
        out["variant"] = text or None
    if "relation" in raw:
        allowed = relation_types()
        value = str(raw["relation"]).strip()
        match = next((r for r in allowed if r.lower() == value.lower()), None)
        if match is None:
            raise ReviewError(f"relation {value!r} is one of {', '.join(allowed)}")
        out["relation"] = match
    if "effect" in raw:
        value = str(raw["effect"]).strip().lower()
        if value not in EFFECTS:
            raise ReviewError(f"effect {value!r} is one of {', '.join(EFFECTS)}")
        out["effect"] = value
    for name in ("negated", "hedged", "pgx"):
        if name in raw:
            out[name] = _flag(name, raw[name])
    return out


def check_action(action: str, reason: str) -> str:
    """The action and its reason as they will be logged; rejections and edits must say why."""
    if action not in ACTIONS:
        raise ReviewError(f"action is one of {', '.join(ACTIONS)}; got {action!r}")
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON_CHARS:
        raise ReviewError(f"a reason is at most {MAX_REASON_CHARS} characters")
    if action in ("reject", "edit") and not text:
        raise ReviewError(f"say why you {action} (the reason goes into the audit log)")
    return text
