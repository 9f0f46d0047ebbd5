"""What the digest reads from and writes to the store (the I/O edge of this stage).

The digest needs label-version metadata without loading every section, one version at a time
(memory stays flat however long the history), the stored triples of exactly two versions, and a
"last run" mark; `Store` offers each of these, and this module turns damaged rows into named errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pgxlit.records import LabelVersion, Triple
from pgxlit.store import LabelVersionSummary, Store

LAST_RUN_KEY = "digest:last_run"


# A stored label version without its text: enough to plan which pairs to diff.
VersionMeta = LabelVersionSummary


class CorruptVersion(ValueError):
    """A stored label version that cannot be read or has no text; the message names it."""


def version_index(store: Store) -> list[VersionMeta]:
    """Every stored label version's metadata, by set id then version; one damaged row spoils nothing."""
    return store.label_version_summaries()


def load_version(store: Store, meta: VersionMeta) -> LabelVersion:
    """One label version with its sections; CorruptVersion when it cannot be read or holds no text."""
    where = f"label {meta.set_id} version {meta.version}"
    try:
        label = store.label_version_by_row(meta.row_id)
        if label is None:
            raise CorruptVersion(f"{where}: no longer in the store")
        for s in label.sections:
            if not isinstance(s.text, str):
                raise CorruptVersion(f"{where}: section {s.order} has no text")
    except CorruptVersion:
        raise
    except Exception as exc:  # a damaged row: name it and let the rest of the digest go on
        raise CorruptVersion(f"{where}: unreadable ({type(exc).__name__}: {exc})") from None
    if not any(s.text.strip() for s in label.sections):
        raise CorruptVersion(f"{where}: stored without any section text (re-load or re-crawl it)")
    return label


def stored_triples(store: Store, set_id: str, version: int) -> list[Triple] | None:
    """The triples extraction stored for one label version, or None when it was never extracted."""
    return store.extracted_triples(f"label:{set_id}:{version}")


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
