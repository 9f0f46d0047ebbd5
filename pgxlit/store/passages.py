"""Passage bookkeeping: the search index's rows, whose ids are its vector ids.

A document whose text changed has its passages retired (their vectors are dead), and passages of
a label version older than its set's newest are flagged superseded.

Passage ids are stable: storing a passage again (same document content, kind, section, offsets and
text) reuses the id of the row that already holds it, live or retired, so an index rebuild gives
every passage the id it had and `/evidence/{id}` links keep pointing at the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pgxlit.records import Passage
from pgxlit.store.schema import LabelVersionRow, PassageRow, StoreBase


class PassageStore(StoreBase):
    """Passages written by the index build and read back by search."""

    def indexed_documents(self) -> dict[str, str]:
        """doc_key -> content hash of every document whose passages are live."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(PassageRow.doc_key, PassageRow.content_sha256).where(PassageRow.deleted.is_(False)).distinct()
            )
            return dict(rows.all())

    def add_passages(self, session: Session, content_sha256: str, passages: Iterable[Passage]) -> list[int]:
        """Store passages and return their ids (the vector ids); a triple entry's evidence id is kept.

        A passage already stored (same `passage_key`) keeps its row and id, made live again with the
        new metadata; only passages never stored before get new rows."""
        wanted = list(passages)
        if not wanted:
            return []
        pool: dict[tuple[Any, ...], list[PassageRow]] = {}
        stored = session.scalars(
            select(PassageRow)
            .where(PassageRow.doc_key.in_(sorted({p.doc_key for p in wanted})), PassageRow.content_sha256 == content_sha256)
            .order_by(PassageRow.deleted, PassageRow.id)  # live rows first, then the oldest retired one
        )
        for row in stored:
            pool.setdefault(_row_key(row), []).append(row)
        rows: list[PassageRow] = []
        for p in wanted:
            same = pool.get(passage_key(p))
            if same:
                row = same.pop(0)
                for name, value in _passage_values(p).items():
                    if name != "superseded":  # mark_superseded keeps that flag; a live index reads it meanwhile
                        setattr(row, name, value)
                row.deleted = False
            else:
                row = _passage_row(p, content_sha256)
                session.add(row)
            rows.append(row)
        session.flush()
        return [row.id for row in rows]

    def retire_passages_except(self, session: Session, keep: Iterable[int]) -> list[int]:
        """Mark deleted every live passage not in `keep` (what a finished rebuild no longer has); returns their ids."""
        kept = set(keep)
        live = session.scalars(select(PassageRow.id).where(PassageRow.deleted.is_(False)).order_by(PassageRow.id))
        gone = [pid for pid in live if pid not in kept]
        for i in range(0, len(gone), 10_000):
            session.execute(update(PassageRow).where(PassageRow.id.in_(gone[i : i + 10_000])).values(deleted=True))
        return gone

    def retire_document(self, session: Session, doc_key: str) -> list[int]:
        """Mark a document's passages deleted (its text changed or it was withdrawn); returns their ids."""
        ids = list(session.scalars(
            select(PassageRow.id).where(PassageRow.doc_key == doc_key, PassageRow.deleted.is_(False))
        ))
        if ids:
            session.execute(update(PassageRow).where(PassageRow.id.in_(ids)).values(deleted=True))
        return ids

    def mark_superseded(self, session: Session) -> int:
        """Flag passages of every label version older than its set's newest; returns how many are flagged."""
        latest = (
            select(LabelVersionRow.set_id, func.max(LabelVersionRow.version).label("latest"))
            .group_by(LabelVersionRow.set_id).subquery()
        )
        pairs = session.execute(
            select(PassageRow.id, PassageRow.version, PassageRow.superseded, latest.c.latest)
            .join(latest, latest.c.set_id == PassageRow.set_id)
            .where(PassageRow.source == "fda_label", PassageRow.deleted.is_(False))
        ).all()
        old = [pid for pid, version, _, newest in pairs if version < newest]
        flip_on = [pid for pid, version, flag, newest in pairs if version < newest and not flag]
        flip_off = [pid for pid, version, flag, newest in pairs if version >= newest and flag]
        for ids, value in ((flip_on, True), (flip_off, False)):
            for i in range(0, len(ids), 10_000):
                session.execute(update(PassageRow).where(PassageRow.id.in_(ids[i : i + 10_000])).values(superseded=value))
        return len(old)

    def passage_rows(self, live_only: bool = True) -> Iterator[tuple[Any, ...]]:
        """(id, kind, source, set_id, version, section, effective_time, year, pmid, drugs, genes,
        evidence_passage_id, superseded, deleted) in id order, streamed: the search metadata."""
        query = select(
            PassageRow.id, PassageRow.kind, PassageRow.source, PassageRow.set_id, PassageRow.version,
            PassageRow.section, PassageRow.effective_time, PassageRow.year, PassageRow.pmid, PassageRow.drugs,
            PassageRow.genes, PassageRow.evidence_passage_id, PassageRow.superseded, PassageRow.deleted,
        ).order_by(PassageRow.id)
        if live_only:
            query = query.where(PassageRow.deleted.is_(False))
        with Session(self.engine) as session:
            yield from session.execute(query.execution_options(yield_per=20_000))

    def passage_texts(self, ids: Iterable[int] | None = None) -> Iterator[tuple[int, str]]:
        """(id, text) of live passages (or of the given ids) in id order, streamed."""
        query = select(PassageRow.id, PassageRow.text).order_by(PassageRow.id)
        if ids is not None:
            query = query.where(PassageRow.id.in_(list(ids)))
        else:
            query = query.where(PassageRow.deleted.is_(False))
        with Session(self.engine) as session:
            yield from session.execute(query.execution_options(yield_per=20_000))

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Passages by id (search hits are vector ids), retired ones included."""
        wanted = list(ids)
        if not wanted:
            return {}
        with Session(self.engine) as session:
            return {row.id: _passage_from_row(row) for row in session.scalars(select(PassageRow).where(PassageRow.id.in_(wanted)))}

    def passages_of(self, doc_key: str) -> list[Passage]:
        """A document's live passages in id order."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(PassageRow).where(PassageRow.doc_key == doc_key, PassageRow.deleted.is_(False)).order_by(PassageRow.id)
            )
            return [_passage_from_row(row) for row in rows]


def passage_key(p: Passage) -> tuple[Any, ...]:
    """Where a passage comes from and what it says: equal keys are the same passage (one id) across builds."""
    return (p.doc_key, p.kind, p.section, p.start, p.end, p.evidence_passage_id, p.text)


def _row_key(row: PassageRow) -> tuple[Any, ...]:
    return (row.doc_key, row.kind, row.section, row.start, row.end, row.evidence_passage_id, row.text)


def _passage_values(p: Passage) -> dict[str, Any]:
    return dict(
        doc_key=p.doc_key, kind=p.kind, source=p.source, set_id=p.set_id,
        version=p.version, section=p.section, section_title=p.section_title, effective_time=p.effective_time,
        pmid=p.pmid, year=p.year, title=p.title, text=p.text, start=p.start, end=p.end,
        sentence_starts=list(p.sentence_starts), drugs="|".join(p.drugs), genes="|".join(p.genes),
        evidence_passage_id=p.evidence_passage_id, superseded=p.superseded,
    )


def _passage_row(p: Passage, content_sha256: str) -> PassageRow:
    return PassageRow(content_sha256=content_sha256, **_passage_values(p))


def _passage_from_row(row: PassageRow) -> Passage:
    return Passage(
        doc_key=row.doc_key, source=row.source, text=row.text, start=row.start, end=row.end,
        sentence_starts=tuple(row.sentence_starts or (0,)), set_id=row.set_id, version=row.version,
        section=row.section, section_title=row.section_title, effective_time=row.effective_time, pmid=row.pmid,
        year=row.year, title=row.title, drugs=tuple(x for x in row.drugs.split("|") if x),
        genes=tuple(x for x in row.genes.split("|") if x), kind=row.kind, id=row.id, superseded=row.superseded,
        evidence_passage_id=row.evidence_passage_id,
    )

