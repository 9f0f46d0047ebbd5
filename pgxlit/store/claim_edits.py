"""Curators' edits of compiled claims: what a curator set a claim's action, severity, testing level,
phenotype or note to, who did it, when and why, and the reverts.

A claim is compiled from triples every time, so an edit cannot live on the claim: it is kept here
keyed by the claim's drug, gene and group (the knowledge layer's identity of who a claim is about)
and laid over the compiled claims by `pgxlit.knowledge.edits`. Rows are only ever added: the newest
row of a claim is its current edit, a revert row ends it, and the whole history is the audit trail.
The store checks no vocabulary (it imports no stage); callers validate first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pgxlit.store.figures import FigureStore
from pgxlit.store.schema import ClaimEditRow, utc_now


@dataclass(frozen=True, slots=True)
class ClaimEdit:
    """One row of a claim's edit history; `changes` is the claim's whole overlay from then on."""

    id: int
    drug: str
    gene: str | None
    group: str
    claim_action: str  # the compiled action the edit is about; "" for every claim of drug–gene–group
    changes: dict[str, Any]
    before: dict[str, Any]
    note: str
    reverted: bool
    actor: str
    reason: str
    at: datetime | None

    @property
    def claim_key(self) -> tuple[str, str | None, str, str]:
        return (self.drug, self.gene, self.group, self.claim_action)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "drug": self.drug, "gene": self.gene, "group": self.group, "claim_action": self.claim_action or None,
                "changes": self.changes,
                "before": self.before, "note": self.note, "reverted": self.reverted, "actor": self.actor,
                "reason": self.reason, "at": self.at.isoformat() if self.at else None}


def _key_filter(query: Any, drug: str, gene: str | None, group: str, claim_action: str | None) -> Any:
    return query.where(func.lower(ClaimEditRow.drug) == drug.lower(), ClaimEditRow.gene == (gene or ""),
                       ClaimEditRow.group_key == group, ClaimEditRow.claim_action == (claim_action or ""))


def _edit(row: ClaimEditRow) -> ClaimEdit:
    at = row.at.replace(tzinfo=UTC) if row.at is not None and row.at.tzinfo is None else row.at  # SQLite drops it
    return ClaimEdit(row.id, row.drug, row.gene or None, row.group_key, row.claim_action or "", dict(row.changes or {}), dict(row.before or {}),
                     row.note or "", bool(row.reverted), row.actor, row.reason or "", at)


class ClaimEditStore(FigureStore):
    """Claim edits with their history; their stamp is part of `triples_stamp`, so every cache of
    compiled knowledge (claims cache, check service, drug pages, review queue) sees an edit."""

    def edit_claim(self, drug: str, gene: str | None, group: str, changes: dict[str, Any], actor: str,
                   reason: str = "", note: str | None = None, before: dict[str, Any] | None = None,
                   claim_action: str | None = None) -> ClaimEdit:
        """Record a curator's edit of one claim; it is merged over the claim's current edit (a value of
        None drops that field's edit). `before` is the compiled claim's values, for the audit trail.
        `note` None keeps the current note, "" clears it."""
        with self.transaction() as session:
            current = self._current(session, drug, gene, group, claim_action)
            merged = dict(current.changes) if current else {}
            for name, value in changes.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            kept_note = (current.note if current else "") if note is None else note
            if not merged and not kept_note:
                raise ValueError("an edit sets at least one field or a note")
            row = ClaimEditRow(drug=drug.lower(), gene=gene or "", group_key=group, claim_action=claim_action or "",
                               changes=merged,
                               before=dict(before or {}), note=kept_note, reverted=False, actor=actor, reason=reason,
                               at=utc_now())
            session.add(row)
            session.flush()
            return _edit(row)

    def revert_claim_edit(self, drug: str, gene: str | None, group: str, actor: str, reason: str = "",
                          claim_action: str | None = None) -> ClaimEdit:
        """Put a claim back to what its evidence compiles; KeyError when it has no current edit."""
        with self.transaction() as session:
            current = self._current(session, drug, gene, group, claim_action)
            if current is None:
                what = f" ({claim_action})" if claim_action else ""
                raise KeyError(f"the claim {drug} – {gene or 'no gene'} – {group}{what} has no curator edit to revert")
            row = ClaimEditRow(drug=drug.lower(), gene=gene or "", group_key=group, claim_action=claim_action or "",
                               changes={},
                               before=dict(current.changes), note="", reverted=True, actor=actor, reason=reason,
                               at=utc_now())
            session.add(row)
            session.flush()
            return _edit(row)

    def _current(self, session: Session, drug: str, gene: str | None, group: str,
                 claim_action: str | None) -> ClaimEdit | None:
        row = session.scalars(_key_filter(select(ClaimEditRow), drug, gene, group, claim_action)
                              .order_by(ClaimEditRow.id.desc()).limit(1)).first()
        return None if row is None or row.reverted else _edit(row)

    def claim_edit(self, drug: str, gene: str | None, group: str, claim_action: str | None = None) -> ClaimEdit | None:
        """One claim's current edit, or None (never edited, or reverted)."""
        with Session(self.engine) as session:
            return self._current(session, drug, gene, group, claim_action)

    def current_claim_edits(self, drugs: set[str] | None = None) -> list[ClaimEdit]:
        """Every claim's current edit (the newest row of each claim, unless it is a revert), oldest first;
        `drugs` (lower case) limits it to those drugs."""
        with Session(self.engine) as session:
            newest = (select(func.max(ClaimEditRow.id))
                      .group_by(func.lower(ClaimEditRow.drug), ClaimEditRow.gene, ClaimEditRow.group_key,
                                ClaimEditRow.claim_action))
            query = select(ClaimEditRow).where(ClaimEditRow.id.in_(newest), ClaimEditRow.reverted.is_(False))
            if drugs is not None:
                if not drugs:
                    return []
                query = query.where(func.lower(ClaimEditRow.drug).in_(sorted(drugs)))
            return [_edit(row) for row in session.scalars(query.order_by(ClaimEditRow.id))]

    def claim_edit_log(self, drug: str | None = None, gene: str | None = None, group: str | None = None,
                       claim_action: str | None = None, limit: int = 200) -> list[ClaimEdit]:
        """The edit history, newest first: everyone's, one drug's, or one claim's (drug, gene and group)."""
        with Session(self.engine) as session:
            query = select(ClaimEditRow).order_by(ClaimEditRow.id.desc()).limit(limit)
            if drug is not None and group is not None:
                query = query.where(func.lower(ClaimEditRow.drug) == drug.lower(), ClaimEditRow.gene == (gene or ""),
                                    ClaimEditRow.group_key == group)
                if claim_action is not None:
                    query = query.where(ClaimEditRow.claim_action == claim_action)
            elif drug is not None:
                query = query.where(func.lower(ClaimEditRow.drug) == drug.lower())
            return [_edit(row) for row in session.scalars(query)]

    def claim_edits_stamp(self) -> tuple[int, int | None]:
        """(rows, newest row id): changes with every edit and revert."""
        with Session(self.engine) as session:
            count, newest = session.execute(select(func.count(ClaimEditRow.id), func.max(ClaimEditRow.id))).one()
        return int(count or 0), newest

    def claim_edited_drugs_since(self, edit_id: int | None) -> tuple[int | None, set[str]]:
        """(the newest edit id, the lower-cased drugs edited or reverted after `edit_id`): which drugs'
        claims a run of edits changed."""
        with Session(self.engine) as session:
            query = select(ClaimEditRow.id, ClaimEditRow.drug).order_by(ClaimEditRow.id)
            if edit_id is not None:
                query = query.where(ClaimEditRow.id > edit_id)
            last, drugs = edit_id, set()
            for rid, drug in session.execute(query):
                last = rid
                drugs.add(drug.lower())
            return last, drugs

    def triples_stamp(self) -> tuple[Any, ...]:
        """FigureStore's stamp with the claim edits folded into its review part (an edit is a curator's
        review of a claim): the same five parts, so what reads them (knowledge.base) is unchanged, and
        exactly FigureStore's stamp while no claim was ever edited."""
        rows, docs, labels, by_status, audit = super().triples_stamp()
        edits = self.claim_edits_stamp()
        return (rows, docs, labels, [*by_status, ("claim_edits", *edits)] if edits[0] else by_status, audit)
