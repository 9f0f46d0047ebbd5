"""Documents as fetched and as parsed: raw responses, label versions and their history, abstracts
and their revisions, and where each crawl stopped.

Every save is idempotent: loading the same bytes or records twice adds nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
import zstandard
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from pgxlit.records import Abstract, AbstractSection, LabelHistoryEntry, LabelVersion, Section, Table
from pgxlit.store.schema import (
    AbstractRevisionRow,
    AbstractRow,
    CrawlStateRow,
    LabelHistoryRow,
    LabelVersionRow,
    RawResponse,
    SectionRow,
    StoreBase,
    plain_fields,
    sha256_hex,
    utc_now,
)


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



def _content_hash(record: Any) -> str:
    return sha256_hex(orjson.dumps(dataclasses.asdict(record), option=orjson.OPT_SORT_KEYS))


def _label_hash(label: LabelVersion) -> str:
    """A label version's content address, without its parsed tables: they are a second reading of
    the markup its text already renders, so a store loaded before tables were parsed holds the
    same label (and loading it again fills the tables in) instead of a conflicting copy."""
    payload = dataclasses.asdict(label)
    for section in payload["sections"]:
        section.pop("tables", None)
    return sha256_hex(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS))


def _backfill_tables(row: LabelVersionRow, label: LabelVersion) -> None:
    """Give the sections of a label stored before tables were parsed their tables."""
    if len(row.sections) != len(label.sections):
        return
    for stored, section in zip(row.sections, label.sections, strict=True):
        if stored.tables is None and stored.order == section.order:
            stored.tables = plain_fields(section)["tables"]


_compressor = zstandard.ZstdCompressor(level=9)


@dataclasses.dataclass(frozen=True, slots=True)
class CrawlState:
    """Where a named crawl stopped: its cursor, and whether its last run finished."""

    key: str
    cursor: dict[str, Any]
    status: str  # running | done
    last_success_at: datetime | None
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class StoredResponse:
    """One raw response as fetched, decompressed, with where and when it came from."""

    id: int
    sha256: str
    url: str
    source: str
    content_type: str | None
    fetched_at: datetime
    size: int
    body: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class LabelVersionSummary:
    """A stored label version without its text: enough to plan which versions to compare."""

    row_id: int
    set_id: str
    version: int
    effective_time: str | None
    title: str | None
    generic_names: tuple[str, ...]
    brand_names: tuple[str, ...]
    application_numbers: tuple[str, ...]
    manufacturer: str | None


def _lenient_names(raw: str | None) -> tuple[str, ...]:
    """A JSON list of names as stored; a damaged value reads as no names (loading the version reports it)."""
    try:
        value = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


class DocumentStore(StoreBase):
    """Raw responses, label versions, abstracts and crawl state: what ingest writes and later stages read."""

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
        """Keep response bytes once (by content hash) so any stage can be re-parsed offline; returns its id."""
        digest = sha256_hex(body)
        existing = session.scalar(select(RawResponse.id).where(RawResponse.sha256 == digest))
        if existing is not None:
            return existing
        row = RawResponse(sha256=digest, url=url, source=source, content_type=content_type,
                          fetched_at=fetched_at or utc_now(), size=len(body), body_zst=_compressor.compress(body))
        session.add(row)
        session.flush()
        if counts is not None:
            counts.raw_added += 1
        return row.id

    def raw_body(self, raw_id: int) -> bytes:
        """The bytes of one raw response as fetched, for re-parsing offline."""
        with Session(self.engine) as session:
            row = session.get(RawResponse, raw_id)
            if row is None:
                raise KeyError(f"no raw response with id {raw_id}")
            return zstandard.ZstdDecompressor().decompress(row.body_zst)

    def raw_responses(self) -> Iterator[StoredResponse]:
        """Every raw response, oldest fetch first, streamed: what a snapshot bundle writes out."""
        decompress = zstandard.ZstdDecompressor().decompress
        query = select(RawResponse).order_by(RawResponse.fetched_at, RawResponse.id).execution_options(yield_per=200)
        with Session(self.engine) as session:
            for raw in session.scalars(query):
                yield StoredResponse(raw.id, raw.sha256, raw.url, raw.source, raw.content_type, raw.fetched_at,
                                     raw.size, decompress(raw.body_zst))

    # ---- labels ----------------------------------------------------------
    def save_label_version(
        self, session: Session, label: LabelVersion, raw_id: int | None, counts: SaveCounts
    ) -> None:
        """Store a label version once; a second copy with other content is counted, not stored."""
        digest = _label_hash(label)
        existing = session.scalar(
            select(LabelVersionRow).where(
                LabelVersionRow.set_id == label.set_id, LabelVersionRow.version == label.version
            )
        )
        if existing is not None:
            if existing.content_sha256 == digest:
                counts.label_versions_unchanged += 1
                _backfill_tables(existing, label)
            else:
                counts.label_versions_conflicting += 1
            return
        row = LabelVersionRow(
            content_sha256=digest,
            raw_id=raw_id,
            sections=[SectionRow(**plain_fields(section)) for section in label.sections],
            **plain_fields(label, skip=("sections",)),
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
                session.add(LabelHistoryRow(set_id=entry.set_id, version=entry.version,
                                            published_date=entry.published_date, title=entry.title))
                added += 1
        session.flush()
        return added

    def stored_versions(self, set_id: str) -> set[int]:
        """Versions of a set already stored, so a history crawl fetches only the missing ones."""
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

    def label_version_summaries(self) -> list[LabelVersionSummary]:
        """Every stored label version's metadata by set id then version, without loading any section text
        (the digest plans a long history this way); names stored damaged read as none, so one bad row
        spoils nothing here and `label_version_by_row` names it when it is loaded."""
        cols = (LabelVersionRow.id, LabelVersionRow.set_id, LabelVersionRow.version, LabelVersionRow.effective_time,
                LabelVersionRow.title, cast(LabelVersionRow.generic_names, Text),
                cast(LabelVersionRow.brand_names, Text), cast(LabelVersionRow.application_numbers, Text),
                LabelVersionRow.manufacturer)
        with Session(self.engine) as session:
            return [
                LabelVersionSummary(row[0], row[1], row[2], row[3], row[4], _lenient_names(row[5]),
                                    _lenient_names(row[6]), _lenient_names(row[7]), row[8])
                for row in session.execute(select(*cols).order_by(LabelVersionRow.set_id, LabelVersionRow.version))
            ]

    def label_version_by_row(self, row_id: int) -> LabelVersion | None:
        """The label version a summary points at, with its sections in order; None once it is gone.

        A damaged row raises whatever reading it raises, for the caller to name it and carry on."""
        with Session(self.engine) as session:
            row = session.get(LabelVersionRow, row_id)
            return _label_from_row(row) if row is not None else None

    def label_generic_names(self) -> dict[tuple[str, int], tuple[str, ...]]:
        """(set id, version) -> the generic names its label gives, to tell a label's own drug from others it names."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(LabelVersionRow.set_id, LabelVersionRow.version, LabelVersionRow.generic_names))
            return {(set_id, version): tuple(names or ()) for set_id, version, names in rows}

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
            content_sha256=digest, raw_id=raw_id, **plain_fields(abstract, skip=("abstract_text", "has_text"))
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
        head.updated_at = utc_now()

    def delete_abstracts(self, session: Session, pmids: Iterable[str], counts: SaveCounts) -> None:
        """Mark PMIDs withdrawn by PubMed; their revisions stay for the record."""
        for pmid in pmids:
            head = session.get(AbstractRow, pmid)
            if head is not None and not head.deleted:
                head.deleted = True
                counts.abstracts_deleted += 1

    def abstract(self, pmid: str) -> Abstract | None:
        """The current revision of a PMID, or None when it is unknown, withdrawn or has no revision."""
        with Session(self.engine) as session:
            head = session.get(AbstractRow, pmid)
            if head is None or head.deleted or head.current_revision_id is None:
                return None
            rev = session.get(AbstractRevisionRow, head.current_revision_id)
            return _abstract_from_row(rev) if rev else None

    def abstract_revision_count(self, pmid: str) -> int:
        """How many distinct texts of a PMID were stored: an abstract revised by PubMed has more than one."""
        with Session(self.engine) as session:
            return session.scalar(
                select(func.count()).where(AbstractRevisionRow.pmid == pmid)
            ) or 0

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
        """Label versions plus live abstracts with text: the total an extraction run reports progress against."""
        with Session(self.engine) as session:
            labels = session.scalar(select(func.count()).select_from(LabelVersionRow)) or 0
            abstracts = session.scalar(
                select(func.count()).select_from(AbstractRow).where(
                    AbstractRow.deleted.is_(False), AbstractRow.has_text.is_(True)
                )
            ) or 0
            return labels + abstracts

    # ---- crawl state -----------------------------------------------------
    def crawl_state(self, key: str) -> CrawlState | None:
        """Where the named crawl (or digest mark) stopped, or None when it never ran."""
        with Session(self.engine) as session:
            row = session.get(CrawlStateRow, key)
            if row is None:
                return None
            return CrawlState(row.key, dict(row.cursor or {}), row.status, row.last_success_at, row.updated_at)

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
        row.updated_at = utc_now()
        if done:
            row.last_success_at = utc_now()


def _label_from_row(row: LabelVersionRow) -> LabelVersion:
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(LabelVersion)}
    for name in ("generic_names", "brand_names", "application_numbers"):
        values[name] = tuple(values[name] or ())
    section_fields = [f.name for f in dataclasses.fields(Section)]
    values["sections"] = tuple(
        Section(**{n: getattr(s, n) for n in section_fields if n != "tables"},
                tables=tuple(Table.from_json(t) for t in s.tables or ()))
        for s in row.sections
    )
    return LabelVersion(**values)



def _abstract_from_row(rev: AbstractRevisionRow) -> Abstract:
    values = {f.name: getattr(rev, f.name) for f in dataclasses.fields(Abstract)}
    values["sections"] = tuple(AbstractSection(**s) for s in rev.sections)
    for name in ("mesh_terms", "chemicals", "publication_types", "keywords"):
        values[name] = tuple(values[name] or ())
    return Abstract(**values)
