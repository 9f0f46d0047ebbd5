"""The store's tables, engine creation and the transaction every part of the store shares.

SQLAlchemy 2 over SQLite (WAL, one file) by default; any SQLAlchemy URL works. Only the store
package imports these table classes: every other stage reads and writes through `Store` methods.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    event,
    inspect,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def utc_now() -> datetime:
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
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
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
    # The section's tables as parsed (records.Table as JSON); NULL in stores made before tables were
    # parsed, until the same label is loaded again (`add_missing_columns` adds the column to them).
    tables: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


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
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


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
    # germline | somatic | unknown (NULL in stores made before origins were kept: read as unknown)
    origin: Mapped[str | None] = mapped_column(String(16), nullable=True)
    review_status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


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
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)


class ClaimEditRow(Base):
    """One curator change to a compiled claim (drug–gene–group and the action the evidence compiles for it),
    or its revert; rows are only ever added.

    The newest row of a claim is its current edit; a revert row (`reverted`, no changes) puts the claim
    back to what the evidence compiles. Old stores get this table on open (`create_all` makes new tables)."""

    __tablename__ = "claim_edits"
    id: Mapped[int] = mapped_column(primary_key=True)
    drug: Mapped[str] = mapped_column(String(200), index=True)  # canonical lower-case generic name
    gene: Mapped[str] = mapped_column(String(64), default="")  # "" for a claim without a gene
    group_key: Mapped[str] = mapped_column(String(200))  # the knowledge layer's group: "phenotype:Poor Metabolizer"
    # the compiled action it is about ("" any); nullable: added to claim_edits tables made without it
    claim_action: Mapped[str | None] = mapped_column(String(24), default="", nullable=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> new value (full set, not a diff)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> compiled value when edited
    note: Mapped[str] = mapped_column(Text, default="")
    reverted: Mapped[bool] = mapped_column(Boolean, default=False)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)


class ExtractedDocRow(Base):
    """Which document was extracted from which content by which extractor, so reruns skip it."""

    __tablename__ = "extracted_docs"
    doc_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    extractor: Mapped[str] = mapped_column(String(64))
    triples: Mapped[int] = mapped_column(Integer)
    extracted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


def sha256_hex(data: bytes) -> str:
    """The content address of raw bytes (and of records, once serialized)."""
    return hashlib.sha256(data).hexdigest()


def plain_fields(record: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
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


# Nullable columns added to a table after stores were created with it: (table, column). `create_all`
# makes new tables only, so `add_missing_columns` adds these to an existing SQLite or Postgres store.
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (("sections", "tables"), ("triples", "origin"),
                                               ("claim_edits", "claim_action"))


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the ADDED_COLUMNS an older store lacks (ALTER TABLE ... ADD COLUMN, NULL for old rows);
    returns "table.column" for each one added. Safe to run on every start: present columns are left alone."""
    inspector = inspect(engine)
    added: list[str] = []
    for table_name, column_name in ADDED_COLUMNS:
        if not inspector.has_table(table_name):
            continue
        present = {c["name"] for c in inspector.get_columns(table_name)}
        if column_name in present:
            continue
        column = Base.metadata.tables[table_name].columns[column_name]
        kind = column.type.compile(dialect=engine.dialect)
        with engine.begin() as conn:
            conn.execute(sql_text(f'ALTER TABLE {table_name} ADD COLUMN "{column_name}" {kind}'))
        added.append(f"{table_name}.{column_name}")
    return added


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; a SQLite file gets its folder and the WAL pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class StoreBase:
    """The engine and the transaction that every part of `Store` works through."""

    url: str
    engine: Engine

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic unit of work: all of it is stored, or none of it."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session
