"""The versioned store: raw responses, label versions, sections, abstracts, crawl state.

SQLAlchemy 2 over SQLite (WAL, one file) by default; any SQLAlchemy URL works.
Every write goes through `Store.transaction()`, and every save is idempotent:
loading the same bytes or records twice adds nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import zstandard
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from pgxlit.records import (
    Abstract,
    AbstractSection,
    Evidence,
    LabelHistoryEntry,
    LabelVersion,
    Passage,
    Section,
    Triple,
)


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class RawResponse(Base):
    """Response bytes exactly as fetched or read, compressed, so we can re-parse offline."""

    __tablename__ = "raw_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))  # openfda, spl, dailymed_history, pubmed, ...
    content_type: Mapped[str | None] = mapped_column(String(100))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    size: Mapped[int] = mapped_column(Integer)
    body_zst: Mapped[bytes] = mapped_column(LargeBinary)


class LabelVersionRow(Base):
    __tablename__ = "label_versions"
    __table_args__ = (UniqueConstraint("set_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    effective_time: Mapped[str | None] = mapped_column(String(8))
    spl_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    generic_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    brand_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    application_numbers: Mapped[list[str]] = mapped_column(JSON, default=list)
    manufacturer: Mapped[str | None] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String(16))
    content_sha256: Mapped[str] = mapped_column(String(64))
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_responses.id"))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    sections: Mapped[list[SectionRow]] = relationship(
        back_populates="label_version", order_by="SectionRow.order", cascade="all, delete-orphan"
    )


class SectionRow(Base):
    __tablename__ = "sections"
    id: Mapped[int] = mapped_column(primary_key=True)
    label_version_id: Mapped[int] = mapped_column(ForeignKey("label_versions.id"), index=True)
    order: Mapped[int] = mapped_column("ord", Integer)
    field: Mapped[str | None] = mapped_column(String(100))
    loinc: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    is_table: Mapped[bool] = mapped_column(Boolean, default=False)
    label_version: Mapped[LabelVersionRow] = relationship(back_populates="sections")


class LabelHistoryRow(Base):
    """A version DailyMed lists for a set, whether or not its text is stored yet."""

    __tablename__ = "label_history"
    __table_args__ = (UniqueConstraint("set_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    published_date: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str | None] = mapped_column(Text)


class AbstractRow(Base):
    """One PubMed record; its revisions hold the text as each fetch saw it."""

    __tablename__ = "abstracts"
    pmid: Mapped[str] = mapped_column(String(16), primary_key=True)
    current_revision_id: Mapped[int | None] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    has_text: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AbstractRevisionRow(Base):
    __tablename__ = "abstract_revisions"
    __table_args__ = (UniqueConstraint("pmid", "content_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    pmid: Mapped[str] = mapped_column(ForeignKey("abstracts.pmid"), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    pmid_version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    journal: Mapped[str | None] = mapped_column(Text)
    pub_year: Mapped[int | None] = mapped_column(Integer)
    pub_date: Mapped[str | None] = mapped_column(String(10))
    date_revised: Mapped[str | None] = mapped_column(String(10))
    mesh_terms: Mapped[list[str]] = mapped_column(JSON)
    chemicals: Mapped[list[str]] = mapped_column(JSON)
    publication_types: Mapped[list[str]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    doi: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_responses.id"))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class TripleRow(Base):
    """An extracted triple with its evidence; review fields are for curators."""

    __tablename__ = "triples"
    id: Mapped[int] = mapped_column(primary_key=True)
    doc_key: Mapped[str] = mapped_column(String(128), index=True)  # "label:<set_id>:<version>" or "pubmed:<pmid>"
    drug: Mapped[str] = mapped_column(String(200), index=True)
    drug_id: Mapped[str | None] = mapped_column(String(64))
    gene: Mapped[str | None] = mapped_column(String(64), index=True)
    gene_id: Mapped[str | None] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(32))
    effect: Mapped[str] = mapped_column(String(16))
    negated: Mapped[bool] = mapped_column(Boolean, default=False)
    hedged: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float]
    pgx: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16))
    set_id: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(String(100))
    effective_time: Mapped[str | None] = mapped_column(String(8))
    pmid: Mapped[str | None] = mapped_column(String(16))
    year: Mapped[int | None] = mapped_column(Integer)
    sentence: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    extractor: Mapped[str] = mapped_column(String(64))
    review_status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ReviewAuditRow(Base):
    """One curator action (or an extraction carrying it over) on one triple; rows are only ever added."""

    __tablename__ = "review_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    triple_id: Mapped[int] = mapped_column(Integer, index=True)
    doc_key: Mapped[str] = mapped_column(String(128), index=True)
    machine_key: Mapped[str] = mapped_column(String(64), index=True)  # identity of the triple as extracted
    action: Mapped[str] = mapped_column(String(24))  # accept | reject | edit | reset | carried_over | not_reextracted
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    old_status: Mapped[str] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class ExtractedDocRow(Base):
    """Which document was extracted from which content by which extractor, so reruns skip it."""

    __tablename__ = "extracted_docs"
    doc_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    extractor: Mapped[str] = mapped_column(String(64))
    triples: Mapped[int] = mapped_column(Integer)
    extracted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PassageRow(Base):
    """A searchable window of sentences (or a triple pointing at one); its id is the vector id."""

    __tablename__ = "passages"
    id: Mapped[int] = mapped_column(primary_key=True)
    doc_key: Mapped[str] = mapped_column(String(128), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8), default="passage")  # passage | triple
    source: Mapped[str] = mapped_column(String(16))
    set_id: Mapped[str | None] = mapped_column(String(64), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    section: Mapped[str | None] = mapped_column(String(100))
    section_title: Mapped[str | None] = mapped_column(String(300))
    effective_time: Mapped[str | None] = mapped_column(String(8))
    pmid: Mapped[str | None] = mapped_column(String(16))
    year: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    sentence_starts: Mapped[list[int]] = mapped_column(JSON, default=list)  # offsets within `text`
    drugs: Mapped[str] = mapped_column(Text, default="")  # "|"-joined canonical names
    genes: Mapped[str] = mapped_column(Text, default="")  # "|"-joined HGNC symbols
    evidence_passage_id: Mapped[int | None] = mapped_column(Integer)  # for kind == "triple"
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)  # an older version of its label
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)  # its document changed; vector is dead


class CrawlStateRow(Base):
    """Where a named crawl stopped, so the next run resumes or goes incremental."""

    __tablename__ = "crawl_state"
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclasses.dataclass
class SaveCounts:
    """What one load or crawl step changed in the store."""

    raw_added: int = 0
    label_versions_added: int = 0
    label_versions_unchanged: int = 0
    label_versions_conflicting: int = 0
    abstracts_added: int = 0
    abstracts_revised: int = 0
    abstracts_unchanged: int = 0
    abstracts_deleted: int = 0

    def add(self, other: SaveCounts) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _content_hash(record: Any) -> str:
    payload = orjson.dumps(dataclasses.asdict(record), option=orjson.OPT_SORT_KEYS)
    return sha256_hex(payload)


_compressor = zstandard.ZstdCompressor(level=9)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    """Typed reads and idempotent writes over one database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic unit of work: all of it is stored, or none of it."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # ---- raw responses -------------------------------------------------
    def save_raw(
        self,
        session: Session,
        *,
        url: str,
        body: bytes,
        source: str,
        content_type: str | None = None,
        fetched_at: datetime | None = None,
        counts: SaveCounts | None = None,
    ) -> int:
        digest = sha256_hex(body)
        existing = session.scalar(select(RawResponse.id).where(RawResponse.sha256 == digest))
        if existing is not None:
            return existing
        row = RawResponse(
            sha256=digest,
            url=url,
            source=source,
            content_type=content_type,
            fetched_at=fetched_at or _now(),
            size=len(body),
            body_zst=_compressor.compress(body),
        )
        session.add(row)
        session.flush()
        if counts is not None:
            counts.raw_added += 1
        return row.id

    def raw_body(self, raw_id: int) -> bytes:
        with Session(self.engine) as session:
            row = session.get(RawResponse, raw_id)
            if row is None:
                raise KeyError(f"no raw response with id {raw_id}")
            return zstandard.ZstdDecompressor().decompress(row.body_zst)

    # ---- labels ----------------------------------------------------------
    def save_label_version(
        self, session: Session, label: LabelVersion, raw_id: int | None, counts: SaveCounts
    ) -> None:
        """Store a label version once; a second copy with other content is counted, not stored."""
        digest = _content_hash(label)
        existing = session.scalar(
            select(LabelVersionRow).where(
                LabelVersionRow.set_id == label.set_id, LabelVersionRow.version == label.version
            )
        )
        if existing is not None:
            if existing.content_sha256 == digest:
                counts.label_versions_unchanged += 1
            else:
                counts.label_versions_conflicting += 1
            return
        row = LabelVersionRow(
            content_sha256=digest,
            raw_id=raw_id,
            sections=[SectionRow(**_plain_fields(section)) for section in label.sections],
            **_plain_fields(label, skip=("sections",)),
        )
        session.add(row)
        session.flush()
        counts.label_versions_added += 1

    def save_history(self, session: Session, entries: Iterable[LabelHistoryEntry]) -> int:
        """Remember which versions exist for a set; returns how many were new."""
        added = 0
        for entry in entries:
            found = session.scalar(
                select(LabelHistoryRow.id).where(
                    LabelHistoryRow.set_id == entry.set_id, LabelHistoryRow.version == entry.version
                )
            )
            if found is None:
                session.add(
                    LabelHistoryRow(
                        set_id=entry.set_id,
                        version=entry.version,
                        published_date=entry.published_date,
                        title=entry.title,
                    )
                )
                added += 1
        session.flush()
        return added

    def stored_versions(self, set_id: str) -> set[int]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(LabelVersionRow.version).where(LabelVersionRow.set_id == set_id.lower())
            )
            return set(rows)

    def label_versions(self, set_id: str | None = None) -> list[LabelVersion]:
        """Stored label versions (with sections), oldest first within a set."""
        with Session(self.engine) as session:
            query = select(LabelVersionRow).order_by(LabelVersionRow.set_id, LabelVersionRow.version)
            if set_id:
                query = query.where(LabelVersionRow.set_id == set_id.lower())
            return [_label_from_row(row) for row in session.scalars(query)]

    def label_version(self, set_id: str, version: int) -> LabelVersion | None:
        """One stored label version with its sections (a citation shows its section in full)."""
        with Session(self.engine) as session:
            row = session.scalar(select(LabelVersionRow).where(
                LabelVersionRow.set_id == set_id.lower(), LabelVersionRow.version == version))
            return _label_from_row(row) if row is not None else None

    # ---- abstracts -------------------------------------------------------
    def save_abstract(
        self, session: Session, abstract: Abstract, raw_id: int | None, counts: SaveCounts
    ) -> None:
        """Add a PMID, or a new revision when its content changed; identical copies add nothing."""
        digest = _content_hash(abstract)
        head = session.get(AbstractRow, abstract.pmid)
        if head is not None:
            same = session.scalar(
                select(AbstractRevisionRow.id).where(
                    AbstractRevisionRow.pmid == abstract.pmid,
                    AbstractRevisionRow.content_sha256 == digest,
                )
            )
            if same is not None and not head.deleted:
                counts.abstracts_unchanged += 1
                return
            if same is not None:
                head.deleted = False
                head.current_revision_id = same
                counts.abstracts_revised += 1
                return
        else:
            head = AbstractRow(pmid=abstract.pmid)
            session.add(head)
            session.flush()
        revision = AbstractRevisionRow(
            content_sha256=digest, raw_id=raw_id, **_plain_fields(abstract, skip=("abstract_text", "has_text"))
        )
        session.add(revision)
        session.flush()
        if head.current_revision_id is None:
            counts.abstracts_added += 1
        else:
            counts.abstracts_revised += 1
        head.current_revision_id = revision.id
        head.deleted = False
        head.has_text = abstract.has_text
        head.updated_at = _now()

    def delete_abstracts(self, session: Session, pmids: Iterable[str], counts: SaveCounts) -> None:
        """Mark PMIDs withdrawn by PubMed; their revisions stay for the record."""
        for pmid in pmids:
            head = session.get(AbstractRow, pmid)
            if head is not None and not head.deleted:
                head.deleted = True
                counts.abstracts_deleted += 1

    def abstract(self, pmid: str) -> Abstract | None:
        with Session(self.engine) as session:
            head = session.get(AbstractRow, pmid)
            if head is None or head.deleted or head.current_revision_id is None:
                return None
            rev = session.get(AbstractRevisionRow, head.current_revision_id)
            return _abstract_from_row(rev) if rev else None

    def abstract_revision_count(self, pmid: str) -> int:
        with Session(self.engine) as session:
            return session.scalar(
                select(func.count()).where(AbstractRevisionRow.pmid == pmid)
            ) or 0

    # ---- triples -----------------------------------------------------------
    def extraction_is_current(self, doc_key: str, content_sha256: str, extractor: str) -> bool:
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
        fields (confidence, offsets, extractor) are refreshed. Curated triples the extraction no
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
                row.effective_time, row.year = e.effective_time, e.year
                if not edited:
                    row.drug_id, row.gene_id, row.pgx = triple.drug_id, triple.gene_id, triple.pgx
                if row.id in history:
                    self._audit(session, row, "carried_over", "extraction", f"re-extracted by {extractor}",
                                row.review_status, {}, {})
                continue
            values = _plain_fields(triple, skip=("evidence",))
            session.add(TripleRow(doc_key=doc_key, **values, **_plain_fields(triple.evidence)))
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
        row.content_sha256, row.extractor, row.triples, row.extracted_at = content_sha256, extractor, count, _now()
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
        now = _now()

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
                new_rows.append({"doc_key": key, **_plain_fields(triple, skip=("evidence",)),
                                 **_plain_fields(triple.evidence), "review_status": "pending", "created_at": now})
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
                                   before=before, after=after, at=_now()))

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
                                           before=before, after=after, at=_now()))
            session.flush()
            return [_entry_from_row(rows[i]) for i in wanted]

    def triple_entry(self, triple_id: int) -> TripleEntry | None:
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

    def documents_for_extraction(self) -> Iterator[tuple[str, str, Any]]:
        """(doc_key, content hash, record) for the latest stored text of every label version and abstract."""
        with Session(self.engine) as session:
            ids = list(session.scalars(select(LabelVersionRow.id).order_by(LabelVersionRow.id)))
        for label_id in ids:
            with Session(self.engine) as session:
                row = session.get(LabelVersionRow, label_id)
                yield f"label:{row.set_id}:{row.version}", row.content_sha256, _label_from_row(row)
        with Session(self.engine) as session:
            heads = list(
                session.execute(
                    select(AbstractRow.pmid, AbstractRow.current_revision_id)
                    .where(AbstractRow.deleted.is_(False), AbstractRow.has_text.is_(True))
                    .order_by(AbstractRow.pmid)
                )
            )
        for start in range(0, len(heads), 500):
            chunk = heads[start : start + 500]
            with Session(self.engine) as session:
                revs = session.scalars(
                    select(AbstractRevisionRow).where(AbstractRevisionRow.id.in_([r for _, r in chunk]))
                )
                for rev in sorted(revs, key=lambda r: r.pmid):
                    yield f"pubmed:{rev.pmid}", rev.content_sha256, _abstract_from_row(rev)

    def count_documents(self) -> int:
        with Session(self.engine) as session:
            labels = session.scalar(select(func.count()).select_from(LabelVersionRow)) or 0
            abstracts = session.scalar(
                select(func.count()).select_from(AbstractRow).where(
                    AbstractRow.deleted.is_(False), AbstractRow.has_text.is_(True)
                )
            ) or 0
            return labels + abstracts

    # ---- crawl state -----------------------------------------------------
    def crawl_state(self, key: str) -> CrawlStateRow | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(CrawlStateRow, key)

    def set_crawl_state(
        self, session: Session, key: str, cursor: dict[str, Any], *, done: bool = False
    ) -> None:
        """Record progress inside the same transaction as the records it covers."""
        row = session.get(CrawlStateRow, key)
        if row is None:
            row = CrawlStateRow(key=key)
            session.add(row)
        row.cursor = cursor
        row.status = "done" if done else "running"
        row.updated_at = _now()
        if done:
            row.last_success_at = _now()

    # ---- passages (the search index's rows) ------------------------------
    def indexed_documents(self) -> dict[str, str]:
        """doc_key -> content hash of every document whose passages are live."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(PassageRow.doc_key, PassageRow.content_sha256).where(PassageRow.deleted.is_(False)).distinct()
            )
            return dict(rows.all())

    def add_passages(self, session: Session, content_sha256: str, passages: Iterable[Passage]) -> list[int]:
        """Insert passages (ids assigned here become vector ids); a triple entry's evidence id is kept."""
        rows = [_passage_row(p, content_sha256) for p in passages]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]

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

    def delete_all_passages(self, session: Session) -> None:
        session.execute(delete(PassageRow))

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
        wanted = list(ids)
        if not wanted:
            return {}
        with Session(self.engine) as session:
            return {row.id: _passage_from_row(row) for row in session.scalars(select(PassageRow).where(PassageRow.id.in_(wanted)))}

    def passages_of(self, doc_key: str) -> list[Passage]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(PassageRow).where(PassageRow.doc_key == doc_key, PassageRow.deleted.is_(False)).order_by(PassageRow.id)
            )
            return [_passage_from_row(row) for row in rows]

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

    # ---- figures ---------------------------------------------------------
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


def _label_from_row(row: LabelVersionRow) -> LabelVersion:
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(LabelVersion)}
    for name in ("generic_names", "brand_names", "application_numbers"):
        values[name] = tuple(values[name] or ())
    section_fields = [f.name for f in dataclasses.fields(Section)]
    values["sections"] = tuple(Section(**{n: getattr(s, n) for n in section_fields}) for s in row.sections)
    return LabelVersion(**values)


def _plain_fields(record: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A record's fields as column values: tuples become lists, nested records dicts."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        if f.name in skip:
            continue
        value = getattr(record, f.name)
        if isinstance(value, tuple):
            value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
        values[f.name] = value
    return values


def _triple_from_row(row: TripleRow) -> Triple:
    evidence = Evidence(**{f.name: getattr(row, f.name) for f in dataclasses.fields(Evidence)})
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(Triple) if f.name != "evidence"}
    return Triple(**values, evidence=evidence)


def _abstract_from_row(rev: AbstractRevisionRow) -> Abstract:
    values = {f.name: getattr(rev, f.name) for f in dataclasses.fields(Abstract)}
    values["sections"] = tuple(AbstractSection(**s) for s in rev.sections)
    for name in ("mesh_terms", "chemicals", "publication_types", "keywords"):
        values[name] = tuple(values[name] or ())
    return Abstract(**values)


def _triple_query(drug: str | None, gene: str | None, source: str | None, pgx: bool | None,
                  min_confidence: float, latest_only: bool) -> Any:
    """The filters every triple listing shares; by default only the latest version of each label."""
    query = select(TripleRow).where(TripleRow.confidence >= min_confidence)
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


def _passage_row(p: Passage, content_sha256: str) -> PassageRow:
    return PassageRow(
        doc_key=p.doc_key, content_sha256=content_sha256, kind=p.kind, source=p.source, set_id=p.set_id,
        version=p.version, section=p.section, section_title=p.section_title, effective_time=p.effective_time,
        pmid=p.pmid, year=p.year, title=p.title, text=p.text, start=p.start, end=p.end,
        sentence_starts=list(p.sentence_starts), drugs="|".join(p.drugs), genes="|".join(p.genes),
        evidence_passage_id=p.evidence_passage_id, superseded=p.superseded,
    )


def _passage_from_row(row: PassageRow) -> Passage:
    return Passage(
        doc_key=row.doc_key, source=row.source, text=row.text, start=row.start, end=row.end,
        sentence_starts=tuple(row.sentence_starts or (0,)), set_id=row.set_id, version=row.version,
        section=row.section, section_title=row.section_title, effective_time=row.effective_time, pmid=row.pmid,
        year=row.year, title=row.title, drugs=tuple(x for x in row.drugs.split("|") if x),
        genes=tuple(x for x in row.genes.split("|") if x), kind=row.kind, id=row.id, superseded=row.superseded,
        evidence_passage_id=row.evidence_passage_id,
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


def _entry_from_row(row: TripleRow) -> TripleEntry:
    return TripleEntry(row.id, row.doc_key, _triple_from_row(row), row.review_status or "pending", row.created_at)
