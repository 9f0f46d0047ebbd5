"""Figures over the whole store: the counts `pgxlit stats` prints, and change stamps, cheap values that
change whenever what a cache was built from changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pgxlit.store.schema import (
    AbstractRevisionRow,
    AbstractRow,
    ExtractedDocRow,
    LabelHistoryRow,
    LabelVersionRow,
    RawResponse,
    ReviewAuditRow,
    SectionRow,
    StoreBase,
    TripleRow,
)


class FigureStore(StoreBase):
    """Counts and change stamps read by the CLI, the web service and the knowledge cache."""

    def stats(self) -> dict[str, int]:
        """Counts a user (and `pgxlit stats --json`) reads."""
        with Session(self.engine) as session:
            labels = session.scalar(select(func.count(func.distinct(LabelVersionRow.set_id)))) or 0
            versions = session.scalar(select(func.count()).select_from(LabelVersionRow)) or 0
            sections = session.scalar(select(func.count()).select_from(SectionRow)) or 0
            abstracts = (
                session.scalar(
                    select(func.count())
                    .select_from(AbstractRow)
                    .where(AbstractRow.has_text.is_(True), AbstractRow.deleted.is_(False))
                )
                or 0
            )
            pubmed_records = (
                session.scalar(
                    select(func.count()).select_from(AbstractRow).where(AbstractRow.deleted.is_(False))
                )
                or 0
            )
            revisions = session.scalar(select(func.count()).select_from(AbstractRevisionRow)) or 0
            raw = session.scalar(select(func.count()).select_from(RawResponse)) or 0
            history = session.scalar(select(func.count()).select_from(LabelHistoryRow)) or 0
            triples = session.scalar(select(func.count()).select_from(TripleRow)) or 0
            return {
                "labels": labels,
                "label_versions": versions,
                "sections": sections,
                "abstracts": abstracts,
                "pubmed_records": pubmed_records,
                "abstract_revisions": revisions,
                "raw_responses": raw,
                "label_history_entries": history,
                "triples": triples,
            }

    def labels_stamp(self) -> tuple[Any, ...]:
        """(label versions, their highest row id, extracted documents, the last extraction time): changes when
        a label version arrives or a document is (re-)extracted, so a cached digest knows it is stale."""
        with Session(self.engine) as session:
            labels = session.execute(select(func.count(LabelVersionRow.id), func.max(LabelVersionRow.id))).one()
            docs = session.execute(select(func.count(), func.max(ExtractedDocRow.extracted_at))).one()
        return (*labels, *docs)

    def triples_stamp(self) -> tuple[Any, ...]:
        """Changes whenever triples are added, replaced or reviewed, or label versions arrive: what knowledge
        compiled from the triples is keyed on. Review is seen through the status counts and the audit log's
        last id (an edit of an accepted triple changes no status)."""
        with Session(self.engine) as session:
            row = session.execute(
                select(func.count(TripleRow.id), func.max(TripleRow.id),
                       func.sum(func.length(TripleRow.review_status)), func.max(TripleRow.created_at))
            ).one()
            docs = session.execute(select(func.count(), func.max(ExtractedDocRow.extracted_at))).one()
            labels = session.execute(select(func.count(LabelVersionRow.id), func.max(LabelVersionRow.id))).one()
            reviewed = session.execute(
                select(TripleRow.review_status, func.count()).group_by(TripleRow.review_status)
            ).all()
            audit = session.execute(select(func.max(ReviewAuditRow.id))).scalar()
        return (tuple(row), tuple(docs), tuple(labels), sorted(map(tuple, reviewed)), audit)
