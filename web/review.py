"""Curator edits, validated and normalised before they reach the store; the review queue grouped by claim.

A drug or gene must be one the lexicons know (stored under its canonical name and id), a
relation and an effect one of the extraction's own vocabularies, so an edited triple looks
exactly like an extracted one to every later stage.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
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


# ---- the queue by claim -----------------------------------------------------------------------------
# A claim is drug–gene–patient group (the knowledge layer's allele-exact group key). The queue shows
# one row per claim with each of its sentences once (however many label versions, sections and set
# ids state it), and a decision on the claim reviews every triple behind those sentences.
MAX_CLAIM_TRIPLES = 5000  # triples one claim decision may touch (a form field carries their ids)
NO_GENE = "—"


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: str  # drug | gene | variant


@dataclass
class ClaimSentence:
    """One sentence of a claim and every triple (version, section, set id, abstract) that states it."""

    sentence: str
    entries: list[Any] = field(default_factory=list)

    @property
    def lead(self) -> Any:
        return self.entries[0]

    def pieces(self) -> list[tuple[str, str | None]]:
        """The sentence as (text, entity kind or None) runs, for highlighting without markup in data."""
        t = self.lead.triple
        return split_spans(self.sentence, entity_spans(self.sentence, t.drug, t.gene, t.variant))

    def places(self) -> list[str]:
        """Each place once: "FDA label v34, boxed warning" or "PubMed 123 (2019)"."""
        out: dict[str, None] = {}
        for e in self.entries:
            ev = e.triple.evidence
            if ev.source == "fda_label":
                out[f"label {(ev.set_id or '')[:8]} v{ev.version}, {(ev.section or 'label').replace('_', ' ')}"] = None
            else:
                out[f"PubMed {ev.pmid}" + (f" ({ev.year})" if ev.year else "")] = None
        return list(out)


@dataclass
class ClaimGroup:
    """One row of the queue: drug, gene and patient group, with its sentences."""

    drug: str
    gene: str | None
    group: str
    phenotype: str
    sentences: list[ClaimSentence] = field(default_factory=list)

    @property
    def entries(self) -> list[Any]:
        return [e for s in self.sentences for e in s.entries]

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.entries]

    @property
    def token(self) -> str:
        """The form value a decision posts: the ids of every triple shown in the row."""
        return ",".join(map(str, self.ids))

    @property
    def status(self) -> str:
        found = {e.review_status for e in self.entries}
        return found.pop() if len(found) == 1 else "mixed"

    @property
    def confidence(self) -> float:
        return max((e.triple.confidence for e in self.entries), default=0.0)

    @property
    def pgx(self) -> bool:
        return any(e.triple.pgx for e in self.entries)

    @property
    def in_label(self) -> bool:
        return any(e.triple.evidence.source == "fda_label" for e in self.entries)

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.drug, self.gene, self.group)

    def to_json(self) -> dict[str, Any]:
        return {"drug": self.drug, "gene": self.gene, "group": self.group, "phenotype": self.phenotype,
                "status": self.status, "confidence": self.confidence, "triple_ids": self.ids,
                "sentences": [{"sentence": s.sentence, "places": s.places(), "triple_ids": [e.id for e in s.entries],
                               "spans": [{"start": sp.start, "end": sp.end, "kind": sp.kind}
                                         for sp in entity_spans(s.sentence, s.lead.triple.drug, s.lead.triple.gene,
                                                                s.lead.triple.variant)]}
                              for s in self.sentences]}


def claim_key(drug: str, gene: str | None, variant: str | None, sentence: str) -> tuple[str, str | None, str, str]:
    """(drug, gene, group key, phenotype for a reader): the knowledge layer's group, the first one it reads."""
    from pgxlit.knowledge.groups import describe, group_keys

    if not gene:
        return drug, None, "drug", "no gene named"
    keys = group_keys(gene, variant, sentence, None)
    key, info = keys[0] if keys else ("gene", {})
    return drug, gene, key, describe(gene, key, info.get("copies"))


_NUMBERING = re.compile(r"^\s*\d+(?:\.\d+)*\s+(?=[A-Z])")  # "7.4 Warfarin ..." and "7.5 Warfarin ..." are one sentence


def group_by_claim(entries: Iterable[Any]) -> list[ClaimGroup]:
    """Triples -> claims, each sentence once; PGx label claims first, then the most confident. Pure."""
    from pgxlit.knowledge.facts import same_sentence_key

    groups: dict[tuple[str, str | None, str], ClaimGroup] = {}
    sentences: dict[tuple[Any, ...], ClaimSentence] = {}
    for e in entries:
        t = e.triple
        drug, gene, key, phenotype = claim_key(t.drug, t.gene, t.variant, t.evidence.sentence)
        group = groups.get((drug, gene, key))
        if group is None:
            group = groups[(drug, gene, key)] = ClaimGroup(drug, gene, key, phenotype)
        skey = (drug, gene, key, same_sentence_key(_NUMBERING.sub("", t.evidence.sentence)))
        found = sentences.get(skey)
        if found is None:
            found = sentences[skey] = ClaimSentence(t.evidence.sentence)
            group.sentences.append(found)
        found.entries.append(e)
    for group in groups.values():
        for s in group.sentences:
            s.entries.sort(key=lambda e: (e.triple.evidence.source != "fda_label", -(e.triple.evidence.version or 0),
                                          -e.triple.confidence, e.id))
        group.sentences.sort(key=lambda s: -max(e.triple.confidence for e in s.entries))
    return sorted(groups.values(), key=lambda g: (not g.pgx, not g.in_label, -g.confidence, g.drug, g.gene or "",
                                                  g.group))


def parse_token(token: str) -> list[int]:
    """"12,13,14" (a claim row's ids) -> [12, 13, 14]; ReviewError for anything else."""
    parts = [p for p in token.replace(" ", "").split(",") if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ReviewError("a claim is a comma-separated list of triple ids")
    ids = [int(p) for p in parts]
    if len(ids) > MAX_CLAIM_TRIPLES or any(i < 1 or i > 2**63 - 1 for i in ids):
        raise ReviewError(f"a claim decision covers at most {MAX_CLAIM_TRIPLES} triples with valid ids")
    return ids


# ---- entity highlighting ---------------------------------------------------------------------------
def _variant_pattern(text: str) -> re.Pattern[str] | None:
    words = [re.escape(w) for w in re.split(r"[\s_-]+", text.strip()) if w]
    if not words:
        return None
    body = r"[\s-]+".join(words)
    body = re.sub(r"metaboli[sz]er", r"metaboli[sz]ers?", body, flags=re.I)
    return re.compile(rf"(?<![\w*]){body}(?![\w])", re.I)


def _variant_forms(gene: str | None, variant: str) -> list[str]:
    v = variant.split(":", 1)[1] if gene and variant.startswith(f"{gene}:") else variant
    forms = [v]
    if gene and v.upper().startswith(gene.upper()):
        forms.append(v[len(gene):].strip())
    if "*" in v:
        forms.append(v[v.index("*"):])
    return [f for f in dict.fromkeys(forms) if len(f) >= 2]


@lru_cache(maxsize=1)
def _matcher() -> Any:
    from pgxlit.extract.lexicons import DictionaryMatcher

    return DictionaryMatcher()


def entity_spans(sentence: str, drug: str, gene: str | None, variant: str | None) -> list[Span]:
    """Where the triple's drug (any of its names), gene and variant are written in the sentence."""
    found: list[Span] = []
    for m in _matcher().find(sentence):
        name = (m.norm or "").split("|")[-1]
        if m.label == "DRUG" and name.lower() == drug.lower():
            found.append(Span(m.start, m.end, "drug"))
        elif m.label == "GENE" and gene and name == gene:
            found.append(Span(m.start, m.end, "gene"))
    if variant:
        for form in _variant_forms(gene, variant):
            pattern = _variant_pattern(form)
            hits = [Span(m.start(), m.end(), "variant") for m in pattern.finditer(sentence)] if pattern else []
            if hits:
                found += hits
                break
    out: list[Span] = []
    for s in sorted(found, key=lambda s: (s.start, -(s.end - s.start))):
        if out and s.start < out[-1].end:
            continue
        out.append(s)
    return out


def split_spans(text: str, spans: list[Span]) -> list[tuple[str, str | None]]:
    """Text cut at the spans: [("plain", None), ("CYP2C19", "gene"), ...]."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for s in spans:
        if s.start > pos:
            out.append((text[pos : s.start], None))
        out.append((text[s.start : s.end], s.kind))
        pos = s.end
    if pos < len(text):
        out.append((text[pos:], None))
    return out


# ---- the store edge --------------------------------------------------------------------------------
_queue_lock = threading.Lock()
_queue_cache: dict[tuple[Any, ...], tuple[Any, list[ClaimGroup]]] = {}


def claim_queue(store: Any, **filters: Any) -> list[ClaimGroup]:
    """Every claim whose triples match `filters` (Store.triple_entries' own), kept until triples change."""
    stamp = store.triples_stamp()
    key = (id(store), tuple(sorted((k, str(v)) for k, v in filters.items())))
    with _queue_lock:
        hit = _queue_cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    _total, entries = store.triple_entries(**filters, limit=None)
    groups = group_by_claim(entries)
    with _queue_lock:
        if len(_queue_cache) > 16:
            _queue_cache.clear()
        _queue_cache[key] = (stamp, groups)
    return groups


def claim_triple_ids(store: Any, drug: str, gene: str | None, group: str, status: str | None = None) -> list[int]:
    """Every triple of one claim (latest label versions and abstracts), optionally only those with `status`."""
    _total, entries = store.triple_entries(drug=drug, gene=gene, status=status, limit=None)
    wanted = (drug, gene, group)
    return [e.id for e in entries if e.triple.gene == gene and claim_key(e.triple.drug, e.triple.gene, e.triple.variant,
                                                                           e.triple.evidence.sentence)[:3] == wanted]


# ---- curators edit the claim itself ------------------------------------------------------------------
# A claim's action, severity, testing level, patient group, dose or a note, corrected by a curator: kept
# in the store by the claim's (drug, gene, group) with its history, and laid over the compiled claims by
# pgxlit.knowledge.edits, so ask, check, drug pages and review all say the corrected thing.
@dataclass(frozen=True)
class ClaimEditor:
    """What the edit form of one claim row shows: the claim as it reads now and its current edit."""

    drug: str
    gene: str | None
    group: str
    claim: Any  # the knowledge Claim as every consumer reads it (edit laid over), or None: nothing compiles
    edit: Any  # the store's current ClaimEdit, or None

    @property
    def editable(self) -> bool:
        return self.claim is not None

    @property
    def claim_action(self) -> str | None:
        """The action the evidence compiles for the claim: what an edit of it names (even once edited)."""
        from pgxlit.knowledge.edits import compiled_key

        return compiled_key(self.claim)[3] if self.claim is not None else None

    def to_json(self) -> dict[str, Any] | None:
        """The claim as it reads, the action an edit names it by, and its current edit; None: nothing compiles."""
        if self.claim is None:
            return None
        c = self.claim
        return {"action": c.action, "severity": c.severity, "testing_level": c.testing_level, "group": c.group,
                "phenotype": c.phenotype, "dose": c.dose, "status": c.status, "claim_action": self.claim_action,
                **c.curation(), "note": self.edit.note if self.edit is not None else None}


def _kb(store: Any, settings: Any) -> Any:
    from pgxlit.web.drug_summary import knowledge_base

    return knowledge_base(store, settings)


def _claims(store: Any, settings: Any, drug: str, gene: str | None, group: str,
            claim_action: str | None) -> tuple[list[Any], list[Any]]:
    """(the key's claims as the evidence compiles them, the same as every consumer reads them now);
    KeyError naming where to look when nothing compiles for the key, ReviewError when the key has claims
    of several actions and none was named."""
    from pgxlit.knowledge.edits import find_claims
    from pgxlit.knowledge.model import Claim

    kb = _kb(store, settings)
    entry = kb.cache.get(drug.lower()) or {}
    compiled = find_claims([Claim.from_json(c) for c in entry.get("claims", ())], gene, group, claim_action)
    what = f" ({claim_action})" if claim_action else ""
    if not compiled:
        raise KeyError(f"no claim {drug} – {gene or 'no gene'} – {group}{what} is compiled from the stored evidence; "
                       f"`pgxlit drug {drug}` (or GET /api/drugs/{drug}) lists its claims with their groups")
    actions = sorted({c.action for c in compiled})
    if len(actions) > 1:
        raise ReviewError(f"{drug} – {gene or 'no gene'} – {group} has claims with actions {', '.join(actions)}: "
                          "name the one you edit (claim_action)")
    return compiled, find_claims(kb.claims_for(drug), gene, group, claim_action or actions[0]) or compiled


def apply_claim_edit(store: Any, settings: Any, drug: str, gene: str | None, group: str, changes: dict[str, Any],
                     note: str | None, reason: str, actor: str, claim_action: str | None = None) -> dict[str, Any]:
    """Validate and save a curator's edit of one claim; returns the edit and the claim as it now reads.
    ReviewError: a value outside the vocabularies or no reason; KeyError: no such compiled claim."""
    from pgxlit.knowledge.edits import EditError, apply_edits, compiled_values, normalise_changes, normalise_note

    why = check_action("edit", reason)
    compiled, current = _claims(store, settings, drug, gene, group, claim_action)
    try:
        values = normalise_changes(changes or {}, compiled[0])
        text = normalise_note(note)
    except EditError as exc:
        raise ReviewError(str(exc)) from exc
    if not values and text is None:
        raise ReviewError("an edit sets at least one of action, severity, testing_level, group, phenotype, dose, "
                          "or a note")
    lead = compiled[0]
    try:
        saved = store.edit_claim(lead.drug, lead.gene, lead.group, values, actor, why, text, compiled_values(current[0]),
                                 claim_action=lead.action)
    except ValueError as exc:
        raise ReviewError(str(exc)) from exc
    now, _ = apply_edits({lead.drug: compiled}, [saved])
    return {"edit": saved.to_json(), "claims": [c.to_json() for c in now[lead.drug]]}


def revert_claim(store: Any, settings: Any, drug: str, gene: str | None, group: str, reason: str,
                 actor: str, claim_action: str | None = None) -> dict[str, Any]:
    """Take a claim's edit off (it reads as its evidence compiles again); KeyError when it has none."""
    why = check_action("edit", reason)
    if not claim_action:  # the one edited action of this drug–gene–group, when there is one
        found = [e for e in store.current_claim_edits({drug.lower()}) if e.claim_key[1:3] == (gene or None, group)]
        if len(found) > 1:
            raise ReviewError(f"{drug} – {gene or 'no gene'} – {group} has edits of the claims "
                              f"{', '.join(e.claim_action for e in found)}: name the one you revert (claim_action)")
        claim_action = found[0].claim_action if found else None
    saved = store.revert_claim_edit(drug, gene, group, actor, why, claim_action)
    return {"edit": saved.to_json()}


def claim_editors(store: Any, settings: Any, groups: Iterable[ClaimGroup]) -> dict[tuple[str, str | None, str],
                                                                                   ClaimEditor]:
    """The edit form of each queue row: its compiled claim (strongest of the key) and current edit."""
    from pgxlit.knowledge.edits import compiled_key, find_claims

    rows = list(groups)
    kb = _kb(store, settings)
    edits = {e.claim_key: e for e in store.current_claim_edits({g.drug.lower() for g in rows})}
    out = {}
    for g in rows:
        found = find_claims(kb.claims_for(g.drug), g.gene, g.group)
        lead = found[0] if found else None
        action = compiled_key(lead)[3] if lead is not None else ""
        out[g.key] = ClaimEditor(g.drug, g.gene, g.group, lead, edits.get((g.drug.lower(), g.gene, g.group, action)))
    return out
