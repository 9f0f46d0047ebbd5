"""Load files and folders straight into the store (`pgxlit load PATH…`).

Recognises openFDA label JSON (API answers and bulk download files), SPL XML
(or a DailyMed SPL zip), DailyMed history JSON and PubMed XML (efetch,
baseline and update files, gzipped or not). It streams, skips and counts files
it does not recognise, and reports a damaged file by name with the reason in one
line, then goes on with the next one.

Each file is one transaction: its records and its raw copy are stored together or
not at all, so a file that fails half-way leaves nothing behind, and the counts of a
failed file are not added to the report.
"""

from __future__ import annotations

import contextlib
import gzip
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import BinaryIO, TypeVar

import ijson
from lxml import etree
from sqlalchemy.orm import Session

from pgxlit.config import Settings
from pgxlit.ingest.dailymed_json import parse_dailymed_history, sniff_dailymed_history
from pgxlit.ingest.openfda_json import iter_openfda_bulk, parse_openfda_response, sniff_openfda
from pgxlit.ingest.pubmed_xml import iter_pubmed_xml, sniff_pubmed_root
from pgxlit.ingest.spl_xml import parse_spl_zip_or_xml, sniff_spl
from pgxlit.records import Abstract, ApiError, ParseError, PubmedDeletion
from pgxlit.store import SaveCounts, Store

T = TypeVar("T")
HEAD_BYTES = 4096
BATCH = 500
SKIP_SUFFIXES = {".md", ".txt", ".tsv", ".csv", ".pdf", ".png", ".jpg"}
FORMATS = "openFDA label JSON, SPL XML or zip, DailyMed history JSON, PubMed XML (gzipped or not)"
# What a damaged or unexpected file can raise while it is read and parsed. Anything else (a store
# error, a bug) stops the load: it is not the file's fault and every later file would fail too.
FILE_ERRORS: tuple[type[BaseException], ...] = (
    ParseError, ApiError, OSError, EOFError, zlib.error, zipfile.BadZipFile, ValueError, etree.Error,
    ijson.JSONError, RecursionError, UnicodeError,
)


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
    failures: list[dict[str, str]] = field(default_factory=list)
    note: str | None = None

    def failed(self, path: Path, reason: str) -> None:
        """Count a file that could not be loaded, with the reason in one line."""
        reason = " ".join(reason.split()) or "unreadable"
        self.files_failed += 1
        self.failures.append({"file": str(path), "reason": reason})
        self.errors.append(f"{path}: {reason}")

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "files_seen": self.files_seen,
            "files_loaded": self.files_loaded,
            "files_skipped": self.files_skipped,
            "files_failed": self.files_failed,
            "by_kind": self.by_kind,
            **self.counts.as_dict(),
            "errors": self.errors,
            "failures": self.failures,
            "skipped": self.skipped[:50],
        }
        if self.note:
            data["note"] = self.note
        return data


def failure_reason(path: Path, exc: BaseException) -> str:
    """One line saying why a file could not be loaded, without repeating its path."""
    if isinstance(exc, ParseError):
        text = exc.reason
    elif isinstance(exc, (zlib.error, EOFError, gzip.BadGzipFile)):
        text = f"damaged gzip data ({exc or 'the file ends early'}): download it again"
    elif isinstance(exc, zipfile.BadZipFile):
        text = f"damaged zip file ({exc}): download it again"
    elif isinstance(exc, RecursionError):
        text = "nested too deeply to read"
    else:
        text = str(exc) or type(exc).__name__
    for name in (str(path), str(path.resolve())):
        text = text.replace(f"{name}: ", "").replace(name, path.name)
    return " ".join(text.split())


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


class Loader:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def load(self, paths: Iterable[Path], progress: Callable[[Path], None] | None = None) -> LoadReport:
        """Load every file under `paths`; a file that fails is reported and skipped, the rest still load."""
        paths = list(paths)
        report = LoadReport()
        files = iter_files(paths)
        ahead = None
        if self.settings.ingest.load_workers > 1:
            # PubMed baseline/update files are parsed by worker processes a few files ahead of the
            # one writer; files are still written in sorted order, so an update's deletions land last.
            files, ahead = _ParseAhead.over(files, self.settings.ingest.load_workers)
        self._ahead = ahead
        try:
            self._load_files(files, report, progress)
        finally:
            if ahead is not None:
                ahead.close()
        if report.files_loaded == 0 and report.files_failed == 0:
            where = ", ".join(str(p) for p in paths)
            report.note = f"no loadable files in {where}: pgxlit loads {FORMATS}"
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
                if path.stat().st_size == 0:
                    report.failed(path, "empty file (0 bytes): nothing to load; fetch it again")
                    continue
                with _open(path) as stream:
                    head = stream.read(HEAD_BYTES)
                if not head.strip():
                    report.failed(path, "empty once decompressed (or only blanks): nothing to load; fetch it again")
                    continue
                kind = sniff(head)
                if kind is None:
                    report.files_skipped += 1
                    report.skipped.append(f"{path}: not a format pgxlit loads")
                    continue
                counts = SaveCounts()
                with self.store.transaction() as session:
                    getattr(self, f"_load_{kind}")(session, path, counts)
            except FILE_ERRORS as exc:
                report.failed(path, failure_reason(path, exc))
                continue
            report.counts.add(counts)
            report.files_loaded += 1
            report.by_kind[kind] = report.by_kind.get(kind, 0) + 1

    def _raw(self, session: Session, path: Path, source: str, counts: SaveCounts) -> int | None:
        if path.stat().st_size > self.settings.ingest.raw_max_bytes:
            return None
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return self.store.save_raw(
            session, url=path.resolve().as_uri(), body=path.read_bytes(), source=source,
            fetched_at=mtime, counts=counts,
        )

    def _load_openfda(self, session: Session, path: Path, counts: SaveCounts) -> None:
        raw_id = self._raw(session, path, "openfda", counts)
        read = 0
        with _open(path) as stream:
            for batch in _batched(iter_openfda_bulk(stream, str(path)), BATCH):
                for label in batch:
                    self.store.save_label_version(session, label, raw_id, counts)
                read += len(batch)
                _release(session)
        if read == 0:
            # A stream of no labels is either an empty answer ({"results": []}, NOT_FOUND) or a file
            # whose shape is wrong ({"results": "x"}, an error body): the strict parser tells which.
            with _open(path) as stream:
                parse_openfda_response(stream.read(), str(path))

    def _load_spl(self, session: Session, path: Path, counts: SaveCounts) -> None:
        with _open(path) as stream:
            data = stream.read()
        label = parse_spl_zip_or_xml(data, str(path))
        raw_id = self._raw(session, path, "spl", counts)
        self.store.save_label_version(session, label, raw_id, counts)

    def _load_dailymed_history(self, session: Session, path: Path, counts: SaveCounts) -> None:
        with _open(path) as stream:
            entries, _meta = parse_dailymed_history(stream.read(), str(path))
        self._raw(session, path, "dailymed_history", counts)
        self.store.save_history(session, entries)

    def _load_pubmed(self, session: Session, path: Path, counts: SaveCounts) -> None:
        raw_id = self._raw(session, path, "pubmed", counts)
        parsed = self._ahead.result(path) if getattr(self, "_ahead", None) is not None else None
        with contextlib.ExitStack() as stack:
            if parsed is None:
                records: Iterable[Abstract | PubmedDeletion] = iter_pubmed_xml(stack.enter_context(_open(path)), str(path))
            else:
                records, error = parsed
                if error is not None:
                    raise _rebuilt_error(error)
            for batch in _batched(records, BATCH):
                for record in batch:
                    if isinstance(record, PubmedDeletion):
                        self.store.delete_abstracts(session, record.pmids, counts)
                    elif isinstance(record, Abstract):
                        self.store.save_abstract(session, record, raw_id, counts)
                _release(session)


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _release(session: Session) -> None:
    """Write a batch to the open transaction and forget its objects, so memory stays flat over a big file."""
    session.flush()
    session.expunge_all()


def parse_pubmed_file(path: Path) -> tuple[list[Abstract | PubmedDeletion], tuple[str, str, str] | None]:
    """Every record of one PubMed XML file, or the (kind, source, reason) of the error that stopped it.

    Runs in a worker process: errors travel as plain tuples (ParseError does not survive pickling)."""
    records: list[Abstract | PubmedDeletion] = []
    try:
        with _open(path) as stream:
            records.extend(iter_pubmed_xml(stream, str(path)))
    except ParseError as exc:
        return [], ("parse", exc.source, exc.reason)
    except ApiError as exc:
        return [], ("api", str(path), str(exc))
    except FILE_ERRORS as exc:
        return [], ("parse", str(path), failure_reason(path, exc))
    return records, None


def _rebuilt_error(error: tuple[str, str, str]) -> Exception:
    kind, source, reason = error
    return ParseError(source, reason) if kind == "parse" else ApiError(source, reason)


class _ParseAhead:
    """Parse PubMed XML files in worker processes a bounded number of files ahead of the writer."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        self.window = workers + 1
        self.futures: dict[Path, Future[tuple[list[Abstract | PubmedDeletion], tuple[str, str, str] | None]]] = {}

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

    def result(self, path: Path) -> tuple[list[Abstract | PubmedDeletion], tuple[str, str, str] | None] | None:
        future = self.futures.get(path)
        return future.result() if future is not None else None

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def _looks_pubmed(path: Path) -> bool:
    try:
        with _open(path) as stream:
            return sniff(stream.read(HEAD_BYTES)) == "pubmed"
    except FILE_ERRORS:
        return False  # the writer reads it again and reports why


def load_paths(store: Store, settings: Settings, paths: Iterable[Path]) -> LoadReport:
    return Loader(store, settings).load(paths)


__all__ = ["LoadReport", "Loader", "iter_files", "load_paths", "sniff"]
