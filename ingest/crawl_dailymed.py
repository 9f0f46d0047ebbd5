"""Crawl DailyMed's version history of labels, and the SPL text of each version.

`/spls/{setid}/history` lists every published version of a set. The newest
version's SPL comes from `/spls/{setid}.xml`; older ones from DailyMed's
download endpoint (`getFile.cfm?type=zip&setid=…&version=…`, a zip with the
SPL XML inside). Versions already in the store are not fetched again, so a
second run fetches only what is new.
"""

from __future__ import annotations

from collections.abc import Sequence

from pgxlit.config import Settings
from pgxlit.ingest.crawl_common import CrawlReport, ProgressFn
from pgxlit.ingest.dailymed_json import parse_dailymed_history
from pgxlit.ingest.http import Fetched, FetchError, HttpFetcher, RateLimiter
from pgxlit.ingest.spl_xml import parse_spl_zip_or_xml
from pgxlit.records import LabelHistoryEntry, LabelVersion
from pgxlit.store import Store


class DailyMedCrawler:
    def __init__(self, store: Store, fetcher: HttpFetcher, settings: Settings) -> None:
        self.store = store
        self.fetcher = fetcher
        self.settings = settings
        self.limiter = RateLimiter(settings.ingest.dailymed_rate_per_sec)
        self.base = settings.ingest.dailymed_url.rstrip("/")

    def history(self, set_id: str) -> tuple[list[LabelHistoryEntry], list[Fetched]]:
        """Every version DailyMed lists for a set, following its pages."""
        entries: list[LabelHistoryEntry] = []
        pages: list[Fetched] = []
        page = 1
        while True:
            fetched, parsed = self.fetcher.fetch(
                f"{self.base}/spls/{set_id}/history.json",
                params={"page": page} if page > 1 else None,
                limiter=self.limiter,
                parse=parse_dailymed_history,
            )
            found, meta = parsed
            entries += found
            pages.append(fetched)
            total_pages = int(meta.get("total_pages") or 1)
            if page >= total_pages or not found:
                return entries, pages
            page += 1

    def fetch_version(self, set_id: str, version: int, latest: bool) -> tuple[Fetched, LabelVersion]:
        if latest:
            url, params = f"{self.base}/spls/{set_id}.xml", None
        else:
            url = self.settings.ingest.dailymed_files_url
            params = {"type": "zip", "setid": set_id, "version": version}
        return self.fetcher.fetch(url, params=params, limiter=self.limiter, parse=parse_spl_zip_or_xml)

    def _fetch_and_store(
        self, set_id: str, version: int | None, *, latest: bool, report: CrawlReport,
        progress: ProgressFn | None,
    ) -> None:
        """One SPL version into the store; a version DailyMed cannot serve is noted, not fatal."""
        try:
            fetched, label = self.fetch_version(set_id, version or 0, latest=latest)
        except FetchError as exc:
            if exc.status == 404:
                report.notes.append(f"{set_id} v{version or 'current'}: not available from DailyMed")
                return
            raise
        report.records_seen += 1
        if label.set_id != set_id or (version is not None and label.version != version):
            report.notes.append(
                f"{set_id} v{version or 'current'}: DailyMed sent {label.set_id} v{label.version}; stored as sent"
            )
        with self.store.transaction() as session:
            raw_id = self.store.save_raw(
                session, url=fetched.url, body=fetched.body, source="spl",
                content_type=fetched.content_type, fetched_at=fetched.fetched_at, counts=report.counts,
            )
            self.store.save_label_version(session, label, raw_id, report.counts)
        if progress:
            progress(1, None)

    def crawl(self, set_ids: Sequence[str], progress: ProgressFn | None = None) -> CrawlReport:
        report = CrawlReport(key="dailymed:history")
        for raw_set_id in set_ids:
            set_id = raw_set_id.strip().lower()
            try:
                entries, pages = self.history(set_id)
            except FetchError as exc:
                if exc.status != 404:
                    raise
                # No history for this set: the current version is still worth having.
                report.notes.append(f"{set_id}: DailyMed has no history; fetched the current SPL only")
                self._fetch_and_store(set_id, None, latest=True, report=report, progress=progress)
                continue
            report.pages += len(pages)
            with self.store.transaction() as session:
                for fetched in pages:
                    self.store.save_raw(
                        session, url=fetched.url, body=fetched.body, source="dailymed_history",
                        content_type=fetched.content_type, fetched_at=fetched.fetched_at,
                        counts=report.counts,
                    )
                self.store.save_history(session, entries)
            have = self.store.stored_versions(set_id)
            newest = max((e.version for e in entries), default=None)
            wanted = sorted(e.version for e in entries if e.version not in have)
            report.total = (report.total or 0) + len(wanted)
            for version in wanted:
                self._fetch_and_store(set_id, version, latest=version == newest, report=report, progress=progress)
            with self.store.transaction() as session:
                self.store.set_crawl_state(session, f"dailymed:history:{set_id}", {"versions": len(entries)}, done=True)
        return report
