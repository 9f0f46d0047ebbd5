"""Load files and folders straight into the store (`pgxlit load PATH…`).

Recognises openFDA label JSON (API answers and bulk download files), SPL XML
(or a DailyMed SPL zip), DailyMed history JSON and PubMed XML (efetch,
baseline and update files, gzipped or not). It streams, commits in batches,
skips and counts files it does not recognise, and reports malformed files
by name without losing what was already stored.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import BinaryIO, TypeVar

from pgxlit.config import Settings
from pgxlit.ingest.dailymed_json import parse_dailymed_history, sniff_dailymed_history
from pgxlit.ingest.openfda_json import iter_openfda_bulk, sniff_openfda
from pgxlit.ingest.pubmed_xml import iter_pubmed_xml, sniff_pubmed_root
from pgxlit.ingest.spl_xml import parse_spl_zip_or_xml, sniff_spl
from pgxlit.records import Abstract, ApiError, ParseError, PubmedDeletion
from pgxlit.store import SaveCounts, Store

T = TypeVar("T")
HEAD_BYTES = 4096
BATCH = 500
SKIP_SUFFIXES = {".md", ".txt", ".tsv", ".csv", ".pdf", ".png", ".jpg"}


@dataclass
class LoadReport:
    files_seen: int = 0
    files_loaded: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    counts: SaveCounts = field(default_factory=SaveCounts)

    def as_dict(self) -> dict[str, object]:
        return {
            "files_seen": self.files_seen,
            "files_loaded": self.files_loaded,
            "files_skipped": self.files_skipped,
            "files_failed": self.files_failed,
            "by_kind": self.by_kind,
            **self.counts.as_dict(),
            "errors": self.errors,
            "skipped": self.skipped[:50],
        }


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under the given paths, folders walked in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")  # type: ignore[return-value]


def sniff(head: bytes) -> str | None:
    """The kind of file these first bytes start, or None."""
    if head.startswith(b"PK\x03\x04"):
        return "spl"
    if sniff_openfda(head):
        return "openfda"
    if sniff_dailymed_history(head):
        return "dailymed_history"
    if sniff_spl(head):
        return "spl"
    kind = sniff_pubmed_root(head)
    if kind == "pubmed":
        return "pubmed"
    return None


def batched_until_error(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Batches of a stream; when the stream breaks, the records read so far still come out."""
    batch: list[T] = []
    try:
        for item in items:
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
    except (ParseError, ApiError):
        if batch:
            yield batch
        raise
    if batch:
        yield batch


class Loader:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def load(self, paths: Iterable[Path], progress: Callable[[Path], None] | None = None) -> LoadReport:
        report = LoadReport()
        files = iter_files(paths)
        ahead = None
        if self.settings.load_workers > 1:
            # PubMed baseline/update files are parsed by worker processes a few files ahead of the
            # one writer; files are still written in sorted order, so an update's deletions land last.
            files, ahead = _ParseAhead.over(files, self.settings.load_workers)
        self._ahead = ahead
        try:
            self._load_files(files, report, progress)
        finally:
            if ahead is not None:
                ahead.close()
        return report

    def _load_files(self, files: Iterable[Path], report: LoadReport, progress: Callable[[Path], None] | None) -> None:
        for path in files:
            report.files_seen += 1
            if progress:
                progress(path)
            if path.suffix.lower() in SKIP_SUFFIXES:
                report.files_skipped += 1
                report.skipped.append(f"{path}: not a data file")
                continue
            try:
                with _open(path) as stream:
                    head = stream.read(HEAD_BYTES)
                kind = sniff(head)
                if kind is None:
                    report.files_skipped += 1
                    report.skipped.append(f"{path}: not a format pgxlit loads")
                    continue
                getattr(self, f"_load_{kind}")(path, report)
                report.files_loaded += 1
                report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
            except (ParseError, ApiError, OSError, EOFError) as exc:
                report.files_failed += 1
                report.errors.append(f"{path}: {exc}" if str(path) not in str(exc) else str(exc))

    def _raw(self, session, path: Path, source: str, counts: SaveCounts) -> int | None:
        if path.stat().st_size > self.settings.raw_max_bytes:
            return None
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return self.store.save_raw(
            session, url=path.resolve().as_uri(), body=path.read_bytes(), source=source,
            fetched_at=mtime, counts=counts,
        )

    def _load_openfda(self, path: Path, report: LoadReport) -> None:
        with self.store.transaction() as session:
            raw_id = self._raw(session, path, "openfda", report.counts)
        with _open(path) as stream:
            for batch in batched_until_error(iter_openfda_bulk(stream, str(path)), BATCH):
                with self.store.transaction() as session:
                    for label in batch:
                        self.store.save_label_version(session, label, raw_id, report.counts)

    def _load_spl(self, path: Path, report: LoadReport) -> None:
        with _open(path) as stream:
            data = stream.read()
        label = parse_spl_zip_or_xml(data, str(path))
        with self.store.transaction() as session:
            raw_id = self._raw(session, path, "spl", report.counts)
            self.store.save_label_version(session, label, raw_id, report.counts)

    def _load_dailymed_history(self, path: Path, report: LoadReport) -> None:
        with _open(path) as stream:
            entries, _meta = parse_dailymed_history(stream.read(), str(path))
        with self.store.transaction() as session:
            self._raw(session, path, "dailymed_history", report.counts)
            self.store.save_history(session, entries)

    def _load_pubmed(self, path: Path, report: LoadReport) -> None:
        counts = report.counts
        with self.store.transaction() as session:
            raw_id = self._raw(session, path, "pubmed", counts)
        parsed = self._ahead.result(path) if getattr(self, "_ahead", None) is not None else None
        with contextlib.ExitStack() as stack:
            if parsed is None:
                records: Iterable[Abstract | PubmedDeletion] = iter_pubmed_xml(stack.enter_context(_open(path)), str(path))
            else:
                records, error = parsed
                if error is not None:
                    records = _then_raise(records, ParseError(*error))
            for batch in batched_until_error(records, BATCH):
                with self.store.transaction() as session:
                    for record in batch:
                        if isinstance(record, PubmedDeletion):
                            self.store.delete_abstracts(session, record.pmids, counts)
                        elif isinstance(record, Abstract):
                            self.store.save_abstract(session, record, raw_id, counts)


def parse_pubmed_file(path: Path) -> tuple[list[Abstract | PubmedDeletion], tuple[str, str] | None]:
    """Every record of one PubMed XML file, and (source, reason) of the parse error that stopped it:
    records before the error still count. (ParseError itself does not survive pickling.)"""
    records: list[Abstract | PubmedDeletion] = []
    try:
        with _open(path) as stream:
            records.extend(iter_pubmed_xml(stream, str(path)))
    except ParseError as exc:
        return records, (exc.source, exc.reason)
    return records, None


def _then_raise(records: list[T], error: Exception) -> Iterator[T]:
    yield from records
    raise error


class _ParseAhead:
    """Parse PubMed XML files in worker processes a bounded number of files ahead of the writer."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        self.window = workers + 1
        self.futures: dict[Path, Future[tuple[list[Abstract | PubmedDeletion], tuple[str, str] | None]]] = {}

    @classmethod
    def over(cls, files: Iterable[Path], workers: int) -> tuple[Iterator[Path], _ParseAhead]:
        ahead = cls(workers)
        return ahead._walk(list(files)), ahead

    def _walk(self, files: list[Path]) -> Iterator[Path]:
        pubmed = [p for p in files if p.name.lower().endswith((".xml", ".xml.gz")) and _looks_pubmed(p)]
        queued = iter(pubmed)
        for path in files:
            while len(self.futures) < self.window:
                nxt = next(queued, None)
                if nxt is None:
                    break
                self.futures[nxt] = self.pool.submit(parse_pubmed_file, nxt)
            yield path
            self.futures.pop(path, None)  # skipped or failed before parsing: drop its result

    def result(self, path: Path) -> tuple[list[Abstract | PubmedDeletion], tuple[str, str] | None] | None:
        future = self.futures.get(path)
        return future.result() if future is not None else None

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def _looks_pubmed(path: Path) -> bool:
    try:
        with _open(path) as stream:
            return sniff(stream.read(HEAD_BYTES)) == "pubmed"
    except (OSError, EOFError):
        return False


def load_paths(store: Store, settings: Settings, paths: Iterable[Path]) -> LoadReport:
    return Loader(store, settings).load(paths)


__all__ = ["LoadReport", "Loader", "iter_files", "load_paths", "sniff"]
