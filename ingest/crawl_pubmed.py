"""Crawl PubMed through NCBI E-utilities: esearch with history, then efetch in batches.

Etiquette as NCBI asks: `tool` and `email` on every request, `api_key` when
set, at most 3 requests a second (10 with a key). The cursor (retstart) is
committed with each batch, so a killed crawl resumes; an expired WebEnv is
renewed by searching again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pgxlit.config import Settings
from pgxlit.ingest.crawl_common import CrawlReport, ProgressFn
from pgxlit.ingest.http import Fetched, HttpFetcher, RateLimiter
from pgxlit.ingest.pubmed_xml import parse_esearch, parse_pubmed_xml
from pgxlit.records import Abstract, ApiError, PubmedDeletion, SearchResult
from pgxlit.store import Store


LONG_TERM = 1500


class PubMedCrawler:
    def __init__(self, store: Store, fetcher: HttpFetcher, settings: Settings) -> None:
        self.store = store
        self.fetcher = fetcher
        self.settings = settings
        self.limiter = RateLimiter(settings.resolved_eutils_rate)
        self.base = settings.ingest.eutils_url.rstrip("/")

    def _etiquette(self) -> dict[str, str]:
        params = {"tool": self.settings.ingest.ncbi_tool}
        if self.settings.ingest.ncbi_email:
            params["email"] = self.settings.ingest.ncbi_email
        if self.settings.ingest.ncbi_api_key:
            params["api_key"] = self.settings.ingest.ncbi_api_key
        return params

    def search(self, query: str, mindate: str | None = None) -> tuple[Fetched, SearchResult]:
        params = {"db": "pubmed", "term": query, "usehistory": "y", "retmax": 0, **self._etiquette()}
        if mindate:
            params.update({"datetype": "edat", "mindate": mindate, "maxdate": "3000"})
        url = f"{self.base}/esearch.fcgi"
        if len(query) > LONG_TERM:
            # NCBI asks for POST when the term is long (e.g. thousands of PMIDs).
            return self.fetcher.fetch(url, data=params, limiter=self.limiter, parse=parse_esearch)
        return self.fetcher.fetch(url, params=params, limiter=self.limiter, parse=parse_esearch)

    def _efetch(self, result: SearchResult, retstart: int, retmax: int) -> tuple[Fetched, list]:
        params = {
            "db": "pubmed", "retmode": "xml", "WebEnv": result.webenv, "query_key": result.query_key,
            "retstart": retstart, "retmax": retmax, **self._etiquette(),
        }
        return self.fetcher.fetch(
            f"{self.base}/efetch.fcgi", params=params, limiter=self.limiter, parse=parse_pubmed_xml
        )

    def crawl(self, query: str, max_records: int | None = None, progress: ProgressFn | None = None) -> CrawlReport:
        key = f"pubmed:{query}"
        report = CrawlReport(key=key)
        state = self.store.crawl_state(key)
        retstart = 0
        mindate = None
        if state is not None and state.status == "running":
            retstart = int(state.cursor.get("retstart", 0))
            mindate = state.cursor.get("mindate")
            report.resumed = True
        elif state is not None and state.last_success_at is not None:
            # Incremental: only records added to PubMed since the last complete run.
            mindate = state.last_success_at.strftime("%Y/%m/%d")
        _, result = self.search(query, mindate)
        if result.errors:
            report.notes += list(result.errors)
        wanted = result.count if max_records is None else min(result.count, max_records)
        report.total = wanted
        batch = max(1, self.settings.ingest.eutils_batch_size)
        if wanted == 0 or retstart >= wanted:
            with self.store.transaction() as session:
                cursor = {"retstart": retstart, "count": result.count, "mindate": mindate}
                self.store.set_crawl_state(session, key, cursor, done=True)
            return report
        while retstart < wanted:
            size = min(batch, wanted - retstart)
            try:
                fetched, records = self._efetch(result, retstart, size)
            except ApiError as exc:
                # WebEnv sessions expire after a while: search again and carry on.
                report.notes.append(f"renewed the search after: {exc.message}")
                _, result = self.search(query, mindate)
                fetched, records = self._efetch(result, retstart, size)
            report.pages += 1
            report.records_seen += sum(isinstance(r, Abstract) for r in records)
            retstart += size
            done = retstart >= wanted
            with self.store.transaction() as session:
                raw_id = self.store.save_raw(
                    session, url=fetched.url, body=fetched.body, source="pubmed",
                    content_type=fetched.content_type, fetched_at=fetched.fetched_at,
                    counts=report.counts,
                )
                for record in records:
                    if isinstance(record, PubmedDeletion):
                        self.store.delete_abstracts(session, record.pmids, report.counts)
                    else:
                        self.store.save_abstract(session, record, raw_id, report.counts)
                cursor = {
                    "retstart": retstart, "count": result.count, "mindate": mindate,
                    "at": datetime.now(UTC).isoformat(),
                }
                self.store.set_crawl_state(session, key, cursor, done=done)
            if progress:
                progress(size, wanted)
        return report
