"""Crawl the openFDA drug-label API into the store, resumably.

Paging follows the API's own rules: `limit` up to 1000 and `skip` up to
25,000; past that, the `Link: <…>; rel="next"` header with its
`search_after` cursor. Each page is stored in one transaction together with
the cursor that follows it, so a crawl killed at any point resumes where the
last committed page ended and stores every record once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from pgxlit.config import Settings
from pgxlit.ingest.pgx_terms import PGX_TERMS
from pgxlit.ingest.http import Fetched, FetchError, HttpFetcher, RateLimiter
from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.records import LabelVersion
from pgxlit.sections import PGX_QUERY_FIELDS
from pgxlit.ingest.crawl_common import CrawlReport, ProgressFn
from pgxlit.store import Store

MAX_SKIP = 25_000
MAX_LIMIT = 1_000

PGX_FIELDS = PGX_QUERY_FIELDS  # label sections searched for PGx terms (pgxlit/sections.py)

def _quote(value: str) -> str:
    cleaned = value.replace('"', " ").strip()
    if not cleaned:
        raise ValueError("empty search value")
    return f'"{cleaned}"'


def build_label_query(
    drugs: Sequence[str] = (),
    application_numbers: Sequence[str] = (),
    set_ids: Sequence[str] = (),
    pgx: bool = False,
    every_label: bool = False,
) -> str:
    """openFDA `search` text for the requested labels (clauses joined by OR); "" means all."""
    if every_label:
        return ""
    clauses: list[str] = []
    for drug in drugs:
        q = _quote(drug)
        clauses += [f"openfda.generic_name:{q}", f"openfda.brand_name:{q}", f"openfda.substance_name:{q}"]
    clauses += [f"openfda.application_number:{_quote(a.upper())}" for a in application_numbers]
    clauses += [f"set_id:{_quote(s.lower())}" for s in set_ids]
    if pgx:
        clauses.append("_exists_:pharmacogenomics")
        clauses += [f"{f}:{_quote(t)}" for f in PGX_FIELDS for t in PGX_TERMS]
    if not clauses:
        raise ValueError("say which labels to crawl: --drug, --application-number, --set-id, --pgx or --all")
    return " ".join(clauses)


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_link(fetched: Fetched) -> str | None:
    """The URL of the next page from the Link header, if the API sent one."""
    header = fetched.headers.get("link") or fetched.headers.get("Link")
    if not header:
        return None
    match = _LINK_NEXT.search(header)
    return match.group(1) if match else None


class OpenFdaCrawler:
    """Pages through one openFDA label search and stores every result once."""

    def __init__(self, store: Store, fetcher: HttpFetcher, settings: Settings) -> None:
        self.store = store
        self.fetcher = fetcher
        self.settings = settings
        self.limiter = RateLimiter(settings.ingest.openfda_rate_per_min / 60.0)
        self.endpoint = settings.ingest.openfda_url.rstrip("/") + "/drug/label.json"

    def _auth(self) -> dict[str, str]:
        key = self.settings.ingest.openfda_api_key
        return {"api_key": key} if key else {}

    def _requests_today(self) -> tuple[str, int]:
        state = self.store.crawl_state("quota:openfda")
        today = datetime.now(UTC).date().isoformat()
        return today, (state.cursor.get("count", 0) if state and state.cursor.get("day") == today else 0)

    def _check_daily_cap(self) -> None:
        if self.settings.ingest.openfda_api_key:
            return
        cap = self.settings.ingest.openfda_daily_cap_without_key
        _, used = self._requests_today()
        if used >= cap:
            raise FetchError(
                self.endpoint,
                f"openFDA allows {cap} requests a day without an API key and {used} were sent today; "
                "set PGXLIT_OPENFDA_API_KEY or wait until tomorrow (UTC).",
            )

    def _quota_cursor(self) -> dict[str, object]:
        today, used = self._requests_today()
        return {"day": today, "count": used + 1}

    def crawl(self, search: str, progress: ProgressFn | None = None) -> CrawlReport:
        key = f"openfda:label:{search or '*'}"
        report = CrawlReport(key=key)
        state = self.store.crawl_state(key)
        page_size = max(1, min(self.settings.ingest.openfda_page_size, MAX_LIMIT))
        cursor: dict[str, object] = {"skip": 0, "next_url": None}
        if state is not None and state.status == "running":
            cursor = dict(state.cursor)
            report.resumed = True
        while True:
            self._check_daily_cap()
            next_url = cursor.get("next_url")
            if next_url:
                url, params = str(next_url), self._auth()
            else:
                skip = int(cursor.get("skip", 0))
                if skip > MAX_SKIP:
                    report.notes.append(
                        f"stopped at skip={skip}: the API allows 25,000 at most and sent no search_after link"
                    )
                    break
                url = self.endpoint
                params = {"limit": page_size, **self._auth()}
                if search:
                    params["search"] = search
                if skip:
                    params["skip"] = skip
            fetched, parsed = self.fetcher.fetch(
                url, params=params, limiter=self.limiter, parse=parse_openfda_response,
                ok_statuses=(200, 404),
            )
            labels, meta = parsed
            total = int(meta.get("total", len(labels)) or 0)
            report.total = total
            report.pages += 1
            report.records_seen += len(labels)
            link = next_link(fetched)
            seen = int(cursor.get("seen", 0)) + len(labels)
            more = bool(labels) and (link is not None or seen < total)
            new_cursor: dict[str, object] = {
                "next_url": link,
                "skip": 0 if link else int(cursor.get("skip", 0)) + len(labels),
                "seen": seen,
                "total": total,
            }
            self._store_page(key, fetched, labels, new_cursor, done=not more, report=report)
            if progress:
                progress(len(labels), total)
            if not more:
                break
            cursor = new_cursor
        return report

    def _store_page(
        self,
        key: str,
        fetched: Fetched,
        labels: list[LabelVersion],
        cursor: dict[str, object],
        *,
        done: bool,
        report: CrawlReport,
    ) -> None:
        with self.store.transaction() as session:
            raw_id = self.store.save_raw(
                session, url=fetched.url, body=fetched.body, source="openfda",
                content_type=fetched.content_type, fetched_at=fetched.fetched_at, counts=report.counts,
            )
            for label in labels:
                self.store.save_label_version(session, label, raw_id, report.counts)
            self.store.set_crawl_state(session, key, cursor, done=done)
            if not self.settings.ingest.openfda_api_key:
                self.store.set_crawl_state(session, "quota:openfda", self._quota_cursor())
