"""What the digest reads from and writes to the store (the I/O edge of this stage).

Why its own queries: the digest needs label-version metadata without loading every section,
one version at a time (memory stays flat however long the history), the stored triples of
exactly two versions, and a "last run" mark — none of which `Store` offers as such.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from pgxlit.records import Evidence, LabelVersion, Section, Triple
from pgxlit.store import ExtractedDocRow, LabelVersionRow, SectionRow, Store, TripleRow

LAST_RUN_KEY = "digest:last_run"


@dataclasses.dataclass(frozen=True, slots=True)
class VersionMeta:
    """A stored label version without its text: enough to plan which pairs to diff."""

    row_id: int
    set_id: str
    version: int
    effective_time: str | None
    title: str | None
    generic_names: tuple[str, ...]
    brand_names: tuple[str, ...]
    application_numbers: tuple[str, ...]
    manufacturer: str | None


class CorruptVersion(ValueError):
    """A stored label version that cannot be read or has no text; the message names it."""


def _names(raw: str | None) -> tuple[str, ...]:
    """A JSON list of names as stored; a damaged value reads as no names (loading the version reports it)."""
    try:
        value = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def version_index(store: Store) -> list[VersionMeta]:
    """Every stored label version's metadata, by set id then version; one damaged row spoils nothing."""
    cols = (LabelVersionRow.id, LabelVersionRow.set_id, LabelVersionRow.version, LabelVersionRow.effective_time,
            LabelVersionRow.title, cast(LabelVersionRow.generic_names, Text), cast(LabelVersionRow.brand_names, Text),
            cast(LabelVersionRow.application_numbers, Text), LabelVersionRow.manufacturer)
    out = []
    with Session(store.engine) as session:
        for row in session.execute(select(*cols).order_by(LabelVersionRow.set_id, LabelVersionRow.version)):
            out.append(VersionMeta(row[0], row[1], row[2], row[3], row[4], _names(row[5]), _names(row[6]),
                                   _names(row[7]), row[8]))
    return out


def load_version(store: Store, meta: VersionMeta) -> LabelVersion:
    """One label version with its sections; CorruptVersion when it cannot be read or holds no text."""
    where = f"label {meta.set_id} version {meta.version}"
    try:
        with Session(store.engine) as session:
            row = session.get(LabelVersionRow, meta.row_id)
            if row is None:
                raise CorruptVersion(f"{where}: no longer in the store")
            sections = []
            for s in session.scalars(select(SectionRow).where(SectionRow.label_version_id == meta.row_id)
                                     .order_by(SectionRow.order)):
                if not isinstance(s.text, str):
                    raise CorruptVersion(f"{where}: section {s.order} has no text")
                sections.append(Section(order=s.order, text=s.text, field=s.field, loinc=s.loinc, title=s.title,
                                        is_table=bool(s.is_table)))
            label = LabelVersion(
                set_id=row.set_id, version=row.version, effective_time=row.effective_time, spl_id=row.spl_id,
                title=row.title, generic_names=meta.generic_names, brand_names=meta.brand_names,
                application_numbers=meta.application_numbers, manufacturer=row.manufacturer,
                sections=tuple(sections), source_format=row.source_format,
            )
    except CorruptVersion:
        raise
    except Exception as exc:  # a damaged row: name it and let the rest of the digest go on
        raise CorruptVersion(f"{where}: unreadable ({type(exc).__name__}: {exc})") from None
    if not any(s.text.strip() for s in label.sections):
        raise CorruptVersion(f"{where}: stored without any section text (re-load or re-crawl it)")
    return label


def stored_triples(store: Store, set_id: str, version: int) -> list[Triple] | None:
    """The triples extraction stored for one label version, or None when it was never extracted."""
    doc_key = f"label:{set_id}:{version}"
    with Session(store.engine) as session:
        if session.get(ExtractedDocRow, doc_key) is None:
            return None
        rows = session.scalars(select(TripleRow).where(TripleRow.doc_key == doc_key))
        out = []
        for row in rows:
            evidence = Evidence(**{f.name: getattr(row, f.name) for f in dataclasses.fields(Evidence)})
            values = {f.name: getattr(row, f.name) for f in dataclasses.fields(Triple) if f.name != "evidence"}
            out.append(Triple(**values, evidence=evidence))
        return out


def last_run_key(drugs: tuple[str, ...] = (), pgx_only: bool = False) -> str:
    """One mark per selection, so a `--pgx-only --drug X` cron job and a full one never eat each other's changes."""
    key = LAST_RUN_KEY
    if drugs:
        key += ":drugs=" + ",".join(sorted({d.strip().lower() for d in drugs}))
    return key + (":pgx-only" if pgx_only else "")


def last_run(store: Store, key: str = LAST_RUN_KEY) -> dict[str, Any] | None:
    """The mark the previous `--last-run` digest of this selection left: {"max_row_id", "at"}, or None."""
    row = store.crawl_state(key)
    return dict(row.cursor) if row is not None and row.cursor else None


def mark_run(store: Store, max_row_id: int, key: str = LAST_RUN_KEY) -> None:
    """Remember that every label version up to this row id has been digested for this selection."""
    with store.transaction() as session:
        store.set_crawl_state(session, key, {"max_row_id": max_row_id, "at": datetime.now(UTC).isoformat()}, done=True)
