"""Triples: what extraction stored for each document, the curators' review of it, and the audit log.

A re-extraction never loses a curator's work: a triple it finds again keeps its row, id and review,
and a reviewed triple it no longer finds is kept with an audit entry saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from pgxlit.records import Evidence, Triple
from pgxlit.store.schema import (
    ExtractedDocRow,
    LabelVersionRow,
    ReviewAuditRow,
    StoreBase,
    TripleRow,
    plain_fields,
    sha256_hex,
    utc_now,
)

# Fields a curator may change; the rest is where the triple was read and how sure the machine was.
EDITABLE_FIELDS = ("drug", "drug_id", "gene", "gene_id", "variant", "relation", "effect", "negated", "hedged", "pgx")


@dataclasses.dataclass(frozen=True, slots=True)
class TripleEntry:
    """A stored triple with what curation needs: its id, review status and when it was extracted."""

    id: int
    doc_key: str
    triple: Triple
    review_status: str
    created_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "doc_key": self.doc_key, "review_status": self.review_status,
                "created_at": self.created_at.isoformat() if self.created_at else None, **self.triple.to_json()}


def triple_identity(t: Triple) -> str:
    """What makes two extractions the same triple: the facts and the sentence, not offsets or confidence."""
    e = t.evidence
    parts = (t.drug, t.gene, t.variant, t.relation, t.effect, t.negated, t.hedged, e.source, e.set_id, e.version,
             e.section, e.pmid, " ".join(e.sentence.split()))
    return sha256_hex(orjson.dumps(parts))


class TripleStore(StoreBase):
    """Triples with their extraction records, review and audit: what extract writes and curators change."""

    def extraction_is_current(self, doc_key: str, content_sha256: str, extractor: str) -> bool:
        """Whether this document's stored triples came from this content and extractor, so a rerun skips it."""
        with Session(self.engine) as session:
            row = session.get(ExtractedDocRow, doc_key)
            return row is not None and row.content_sha256 == content_sha256 and row.extractor == extractor

    def extraction_states(self, doc_keys: Iterable[str]) -> dict[str, tuple[str, str]]:
        """doc_key -> (content hash, extractor) of its last extraction, for many documents in a few queries:
        what `extraction_is_current` tells for one, without a round trip per document."""
        keys = list(doc_keys)
        out: dict[str, tuple[str, str]] = {}
        with Session(self.engine) as session:
            for i in range(0, len(keys), 500):
                rows = session.execute(
                    select(ExtractedDocRow.doc_key, ExtractedDocRow.content_sha256, ExtractedDocRow.extractor)
                    .where(ExtractedDocRow.doc_key.in_(keys[i : i + 500]))
                )
                out.update((key, (sha, extractor)) for key, sha, extractor in rows)
        return out

    def replace_triples(
        self, session: Session, doc_key: str, content_sha256: str, extractor: str, triples: Iterable[Triple]
    ) -> int:
        """Swap a document's machine triples for a fresh extraction without losing curators' work.

        A stored triple that the new extraction produces again (same drug, factor, relation, effect,
        flags and sentence) keeps its row, id, review status and curator edits; only its machine
        fields (confidence, offsets, extractor, origin) are refreshed. Curated triples the extraction no
        longer produces are kept and the audit log says so; uncurated ones are replaced.
        """
        existing = list(session.scalars(select(TripleRow).where(TripleRow.doc_key == doc_key).order_by(TripleRow.id)))
        history = self._audit_keys(session, [row.id for row in existing]) if existing else {}
        by_key: dict[str, list[TripleRow]] = {}
        for row in existing:
            key = history.get(row.id, (None, False))[0] or triple_identity(_triple_from_row(row))
            by_key.setdefault(key, []).append(row)
        matched: set[int] = set()
        count = 0
        for triple in triples:
            count += 1
            rows = by_key.get(triple_identity(triple))
            if rows:
                row = rows.pop(0)
                matched.add(row.id)
                edited = history.get(row.id, (None, False))[1]
                e = triple.evidence
                row.confidence, row.start, row.end, row.extractor = triple.confidence, e.start, e.end, triple.extractor
                row.origin = triple.origin
                row.effective_time, row.year = e.effective_time, e.year
                if not edited:
                    row.drug_id, row.gene_id, row.pgx = triple.drug_id, triple.gene_id, triple.pgx
                if row.id in history:
                    self._audit(session, row, "carried_over", "extraction", f"re-extracted by {extractor}",
                                row.review_status, {}, {})
                continue
            session.add(TripleRow(doc_key=doc_key, **_triple_values(triple)))
        for row in existing:
            if row.id in matched:
                continue
            if row.review_status == "pending" and row.id not in history:
                session.delete(row)
            else:
                self._audit(session, row, "not_reextracted", "extraction",
                            f"{extractor} did not find this triple again; the curator's decision is kept",
                            row.review_status, {}, {})
        row = session.get(ExtractedDocRow, doc_key) or ExtractedDocRow(doc_key=doc_key)
        row.content_sha256, row.extractor, row.triples, row.extracted_at = content_sha256, extractor, count, utc_now()
        session.add(row)
        return count

    def replace_triples_many(
        self, session: Session, extractor: str, results: Sequence[tuple[str, str, Sequence[Triple]]]
    ) -> int:
        """`replace_triples` for a shard of documents, with one multi-row insert for those that have no rows yet.

        A backfill writes mostly documents never extracted before: nothing of theirs can carry a curator's
        decision, so their triples and extraction records go in with a few bulk statements instead of a
        lookup and an insert per row. Documents that do have stored triples take the careful path, so
        curators' reviewed rows are kept exactly as `replace_triples` keeps them. Returns the triples written.
        """
        keys = [key for key, _, _ in results]
        with_rows: set[str] = set()
        recorded: set[str] = set()
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            with_rows.update(session.scalars(select(TripleRow.doc_key).where(TripleRow.doc_key.in_(part)).distinct()))
            recorded.update(session.scalars(select(ExtractedDocRow.doc_key).where(ExtractedDocRow.doc_key.in_(part))))
        count = 0
        new_rows: list[dict[str, Any]] = []
        done: dict[str, dict[str, Any]] = {}
        now = utc_now()

        def insert_new_rows() -> None:
            session.flush()
            for i in range(0, len(new_rows), 5_000):
                session.execute(insert(TripleRow.__table__), new_rows[i : i + 5_000])
            new_rows.clear()

        for key, sha, triples in results:
            if key in with_rows:
                insert_new_rows()  # ids stay in document order, as a per-document run assigns them
                count += self.replace_triples(session, key, sha, extractor, triples)
                session.flush()
                continue
            for triple in triples:
                new_rows.append({"doc_key": key, **_triple_values(triple), "review_status": "pending",
                                 "created_at": now})
            count += len(triples)
            done[key] = {"doc_key": key, "content_sha256": sha, "extractor": extractor, "triples": len(triples),
                         "extracted_at": now}
        insert_new_rows()
        fresh = [row for key, row in done.items() if key not in recorded]
        again = [row for key, row in done.items() if key in recorded]  # extracted before, with no triples kept
        if fresh:
            session.execute(insert(ExtractedDocRow.__table__), fresh)
        if again:
            session.execute(update(ExtractedDocRow), again)
        return count

    # ---- review (curators) ---------------------------------------------------
    def _audit_keys(self, session: Session, ids: list[int]) -> dict[int, tuple[str, bool]]:
        """triple id -> (machine key of its first audit entry, whether a curator ever edited it)."""
        out: dict[int, tuple[str, bool]] = {}
        for i in range(0, len(ids), 500):
            rows = session.execute(
                select(ReviewAuditRow.triple_id, ReviewAuditRow.machine_key, ReviewAuditRow.action)
                .where(ReviewAuditRow.triple_id.in_(ids[i : i + 500])).order_by(ReviewAuditRow.id)
            )
            for tid, key, action in rows:
                first_key, edited = out.get(tid, (key, False))
                out[tid] = (first_key, edited or action == "edit")
        return out

    def _audit(self, session: Session, row: TripleRow, action: str, actor: str, reason: str, old_status: str,
               before: dict[str, Any], after: dict[str, Any]) -> None:
        keys = self._audit_keys(session, [row.id]) if row.id is not None else {}
        key = keys.get(row.id, (None, False))[0] or triple_identity(_triple_from_row(row))
        session.add(ReviewAuditRow(triple_id=row.id, doc_key=row.doc_key, machine_key=key, action=action, actor=actor,
                                   reason=reason, old_status=old_status, new_status=row.review_status,
                                   before=before, after=after, at=utc_now()))

    def review(self, ids: Iterable[int], action: str, actor: str, reason: str = "",
               changes: dict[str, Any] | None = None) -> list[TripleEntry]:
        """Accept, reject, reset (to pending) or edit triples in one transaction, each with an audit entry.

        `changes` (edit only) are already validated column values; an edit leaves the triple accepted.
        """
        status = {"accept": "accepted", "reject": "rejected", "reset": "pending", "edit": "accepted"}.get(action)
        if status is None:
            raise ValueError(f"review action is accept, reject, reset or edit; got {action!r}")
        if action == "edit" and not changes:
            raise ValueError("an edit needs at least one changed field")
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            raise ValueError("no triple ids given")
        with self.transaction() as session:
            rows = {row.id: row for row in session.scalars(select(TripleRow).where(TripleRow.id.in_(wanted)))}
            missing = [i for i in wanted if i not in rows]
            if missing:
                raise KeyError(f"no triple with id {', '.join(map(str, missing))}")
            for tid in wanted:
                row = rows[tid]
                # The key is taken before the edit, so re-extraction still recognises the triple.
                keys = self._audit_keys(session, [tid])
                key = keys.get(tid, (None, False))[0] or triple_identity(_triple_from_row(row))
                old_status = row.review_status
                before: dict[str, Any] = {}
                after: dict[str, Any] = {}
                for name, value in (changes or {}).items():
                    if name not in EDITABLE_FIELDS:
                        raise ValueError(f"{name!r} cannot be edited; editable: {', '.join(EDITABLE_FIELDS)}")
                    if getattr(row, name) != value:
                        before[name], after[name] = getattr(row, name), value
                        setattr(row, name, value)
                if action == "edit" and not after and old_status == status:
                    continue  # nothing changed: no audit noise
                row.review_status = status
                session.add(ReviewAuditRow(triple_id=tid, doc_key=row.doc_key, machine_key=key, action=action,
                                           actor=actor, reason=reason, old_status=old_status, new_status=status,
                                           before=before, after=after, at=utc_now()))
            session.flush()
            return [_entry_from_row(rows[i]) for i in wanted]

    def triple_entry(self, triple_id: int) -> TripleEntry | None:
        """One stored triple with its id and review status, for a curator's page."""
        with Session(self.engine) as session:
            row = session.get(TripleRow, triple_id)
            return _entry_from_row(row) if row is not None else None

    def triple_entries(
        self,
        *,
        drug: str | None = None,
        gene: str | None = None,
        source: str | None = None,
        status: str | None = None,
        pgx: bool | None = None,
        min_confidence: float = 0.0,
        max_confidence: float = 1.0,
        since: datetime | None = None,
        latest_only: bool = True,
        limit: int | None = 100,
        offset: int = 0,
    ) -> tuple[int, list[TripleEntry]]:
        """(how many match, one page of them): the curator's queue, newest extraction first, with ids."""
        with Session(self.engine) as session:
            query = _triple_query(drug, gene, source, pgx, min_confidence, latest_only).where(
                TripleRow.confidence <= max_confidence)
            if status:
                query = query.where(TripleRow.review_status == status)
            if since is not None:
                query = query.where(TripleRow.created_at >= since)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            query = query.order_by(TripleRow.confidence.desc(), TripleRow.id).offset(offset)
            if limit:
                query = query.limit(limit)
            return total, [_entry_from_row(row) for row in session.scalars(query)]

    def audit_log(self, triple_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Who changed what and when, newest first (one triple's history, or everyone's)."""
        with Session(self.engine) as session:
            query = (
                select(ReviewAuditRow, TripleRow.drug, TripleRow.gene, TripleRow.variant)
                .outerjoin(TripleRow, TripleRow.id == ReviewAuditRow.triple_id)
                .order_by(ReviewAuditRow.id.desc()).limit(limit)
            )
            if triple_id is not None:
                query = query.where(ReviewAuditRow.triple_id == triple_id)
            return [
                {"id": r.id, "triple_id": r.triple_id, "doc_key": r.doc_key, "action": r.action, "actor": r.actor,
                 "reason": r.reason, "old_status": r.old_status, "new_status": r.new_status, "before": r.before,
                 "after": r.after, "at": r.at.isoformat() if r.at else None,
                 "triple": " – ".join(x for x in (drug, gene, variant) if x) if drug else None}
                for r, drug, gene, variant in session.execute(query)
            ]

    def triples(
        self,
        *,
        drug: str | None = None,
        gene: str | None = None,
        source: str | None = None,
        pgx: bool | None = None,
        min_confidence: float = 0.0,
        limit: int | None = None,
        latest_only: bool = True,
        exclude_rejected: bool = False,
    ) -> list[Triple]:
        """Triples, most confident first; by default only from the latest version of each label.

        `exclude_rejected` leaves out what a curator rejected (answers and alerts should not stand on it)."""
        with Session(self.engine) as session:
            query = _triple_query(drug, gene, source, pgx, min_confidence, latest_only)
            if exclude_rejected:
                query = query.where(TripleRow.review_status != "rejected")
            query = query.order_by(TripleRow.confidence.desc(), TripleRow.id)
            if limit:
                query = query.limit(limit)
            return [_triple_from_row(row) for row in session.scalars(query)]

    def extracted_triples(self, doc_key: str) -> list[Triple] | None:
        """The triples extraction stored for one document in id order (rejected ones too), or None when it
        was never extracted: the digest tells "no triples found" from "not extracted yet"."""
        with Session(self.engine) as session:
            if session.get(ExtractedDocRow, doc_key) is None:
                return None
            rows = session.scalars(select(TripleRow).where(TripleRow.doc_key == doc_key).order_by(TripleRow.id))
            return [_triple_from_row(row) for row in rows]

    def triple_entries_in_order(self, *, pgx: bool | None = None, latest_only: bool = True,
                                drugs: Iterable[str] | None = None) -> list[TripleEntry]:
        """Every matching triple with its review status, in id (extraction) order, with no paging and no
        confidence cut: what compiling knowledge from the whole store reads. `drugs` (any case) limits it
        to those drugs' triples, so a review recompiles only the drugs it touched."""
        with Session(self.engine) as session:
            query = _triple_query(None, None, None, pgx, None, latest_only)
            if drugs is not None:
                wanted = sorted({d.lower() for d in drugs})
                if not wanted:
                    return []
                query = query.where(func.lower(TripleRow.drug).in_(wanted))
            return [_entry_from_row(row) for row in session.scalars(query.order_by(TripleRow.id))]

    def reviewed_drugs_since(self, audit_id: int | None) -> tuple[int | None, set[str]]:
        """(the latest audit id, the lower-cased drugs of the triples reviewed after `audit_id`, before
        and after an edit): which drugs' knowledge a run of reviews changed."""
        with Session(self.engine) as session:
            query = (select(ReviewAuditRow.id, ReviewAuditRow.before, ReviewAuditRow.after, TripleRow.drug)
                     .outerjoin(TripleRow, TripleRow.id == ReviewAuditRow.triple_id).order_by(ReviewAuditRow.id))
            if audit_id is not None:
                query = query.where(ReviewAuditRow.id > audit_id)
            last, drugs = audit_id, set()
            for rid, before, after, drug in session.execute(query):
                last = rid
                for name in (drug, (before or {}).get("drug"), (after or {}).get("drug")):
                    if name:
                        drugs.add(str(name).lower())
            return last, drugs

    def triples_of(self, doc_keys: Iterable[str]) -> dict[str, list[Triple]]:
        """Triples grouped by document, for indexing them beside their passages (rejected ones left out)."""
        keys = list(doc_keys)
        out: dict[str, list[Triple]] = {k: [] for k in keys}
        with Session(self.engine) as session:
            for i in range(0, len(keys), 500):
                rows = session.scalars(
                    select(TripleRow).where(TripleRow.doc_key.in_(keys[i : i + 500]), TripleRow.review_status != "rejected")
                    .order_by(TripleRow.id)
                )
                for row in rows:
                    out[row.doc_key].append(_triple_from_row(row))
        return out



# Triple fields the triples table has a column for; a field added to the record without a column
# (and a migration) is not stored, and reads back as the record's default.
_TRIPLE_COLUMNS = frozenset(TripleRow.__mapper__.column_attrs.keys())


def _triple_values(triple: Triple) -> dict[str, object]:
    """A triple and its evidence as column values of one triples row."""
    values = {k: v for k, v in plain_fields(triple, skip=("evidence",)).items() if k in _TRIPLE_COLUMNS}
    return values | plain_fields(triple.evidence)


# Worked out once: dataclasses.fields() per row was a fifth of a knowledge refresh.
_EVIDENCE_FIELDS = tuple(f.name for f in dataclasses.fields(Evidence))
_TRIPLE_FIELDS = tuple(f.name for f in dataclasses.fields(Triple) if f.name != "evidence" and f.name in _TRIPLE_COLUMNS)


def _triple_from_row(row: TripleRow) -> Triple:
    evidence = Evidence(**{name: getattr(row, name) for name in _EVIDENCE_FIELDS})
    values = {name: getattr(row, name) for name in _TRIPLE_FIELDS}
    values["origin"] = values.get("origin") or "unknown"
    return Triple(**values, evidence=evidence)



def _triple_query(drug: str | None, gene: str | None, source: str | None, pgx: bool | None,
                  min_confidence: float | None, latest_only: bool) -> Any:
    """The filters every triple listing shares; by default only the latest version of each label."""
    query = select(TripleRow)
    if min_confidence is not None:
        query = query.where(TripleRow.confidence >= min_confidence)
    if latest_only:
        latest = (
            select(LabelVersionRow.set_id, func.max(LabelVersionRow.version).label("v"))
            .group_by(LabelVersionRow.set_id).subquery()
        )
        query = query.outerjoin(latest, latest.c.set_id == TripleRow.set_id).where(
            (TripleRow.source != "fda_label") | (TripleRow.version == latest.c.v)
        )
    if drug:
        query = query.where(func.lower(TripleRow.drug) == drug.lower())
    if gene:
        query = query.where(func.upper(TripleRow.gene) == gene.upper())
    if source:
        query = query.where(TripleRow.source == source)
    if pgx is not None:
        query = query.where(TripleRow.pgx.is_(pgx))
    return query


def _entry_from_row(row: TripleRow) -> TripleEntry:
    return TripleEntry(row.id, row.doc_key, _triple_from_row(row), row.review_status or "pending", row.created_at)
