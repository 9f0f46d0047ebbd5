"""Parse DailyMed v2 web-service answers: SPL version history and the SPL listing.

Why: openFDA only holds the current label version. DailyMed's
``/spls/{setid}/history`` lists every published version of a set, which tells
the crawler which older SPL documents to fetch, and ``/spls.xml`` pages list
the sets themselves. Both answers are small; this module turns them into
LabelHistoryEntry rows / plain dicts plus the paging fields.

DailyMed writes absent paging values as the *string* "null"; those become None.
Pure: bytes in, records out.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from lxml import etree

from pgxlit.records import ApiError, LabelHistoryEntry, ParseError

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DATE = re.compile(r"^\s*([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),\s*(\d{4})\s*$")


def iso_date(value: Any) -> str | None:
    """DailyMed's "May 02, 2019" -> "2019-05-02" (locale-independent); None if absent."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null")):
        return None
    m = _DATE.match(str(value))
    if not m or m.group(1).lower() not in _MONTHS:
        raise ValueError(f"unrecognised date {value!r}")
    month, day, year = _MONTHS[m.group(1).lower()], int(m.group(2)), int(m.group(3))
    if not 1 <= day <= 31:
        raise ValueError(f"unrecognised date {value!r}")
    return f"{year:04d}-{month:02d}-{day:02d}"


def _null(v: Any) -> Any:
    if isinstance(v, str) and v.strip().lower() in ("null", ""):
        return None
    return v


def _int(v: Any) -> int | None:
    v = _null(v)
    if v is None:
        return None
    try:
        return int(str(v).strip())
    except ValueError:
        return None


def _paging(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "total_pages": _int(meta.get("total_pages")),
        "current_page": _int(meta.get("current_page")),
        "next_page_url": _null(meta.get("next_page_url")),
        "total_elements": _int(meta.get("total_elements")),
    }


def parse_dailymed_history(data: bytes, source: str) -> tuple[list[LabelHistoryEntry], dict]:
    """``/spls/{setid}/history(.json)`` body -> (entries newest first as given, paging).

    paging = {"total_pages", "current_page", "next_page_url", "total_elements"}.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ParseError(source, f"invalid JSON at char {e.pos} (line {e.lineno}, column {e.colno}): {e.msg}") from None
    if not isinstance(doc, dict):
        raise ParseError(source, f"expected a JSON object, got {type(doc).__name__}")
    if "data" not in doc:
        # No recorded DailyMed error body exists; treat any data-less object
        # carrying an error/message as the service speaking, the rest as garbage.
        for key in ("error", "errors", "message"):
            if key in doc:
                raise ApiError(source, f"{key}: {doc[key]}")
        raise ParseError(source, "no 'data' object in the DailyMed history answer")
    body = doc["data"]
    spl = body.get("spl") if isinstance(body, dict) else None
    history = body.get("history") if isinstance(body, dict) else None
    if not isinstance(spl, dict) or not isinstance(history, list):
        raise ParseError(source, "DailyMed history answer lacks data.spl or data.history")
    set_id = spl.get("setid")
    if not isinstance(set_id, str) or not set_id.strip():
        raise ParseError(source, "data.spl.setid missing")
    title = spl.get("title") if isinstance(spl.get("title"), str) else None
    entries: list[LabelHistoryEntry] = []
    for i, row in enumerate(history):
        if not isinstance(row, dict):
            raise ParseError(source, f"data.history[{i}] is not an object")
        version = _int(row.get("spl_version"))
        if version is None:
            raise ParseError(source, f"data.history[{i}].spl_version is not an integer: {row.get('spl_version')!r}")
        try:
            published = iso_date(row.get("published_date"))
        except ValueError as e:
            raise ParseError(source, f"data.history[{i}]: {e}") from None
        entries.append(LabelHistoryEntry(set_id.strip().lower(), version, published, title))
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return entries, _paging(meta)


_SNIFF_HISTORY = re.compile(rb'"(?:spl_version|history)"\s*:')


def sniff_dailymed_history(head: bytes) -> bool:
    """Does the start look like a DailyMed history answer ({"data": {"spl":…, "history": […]}})?"""
    h = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return h.startswith(b"{") and b'"data"' in h and _SNIFF_HISTORY.search(h) is not None


def _child_text(el: etree._Element, name: str) -> str | None:
    c = el.find(name)
    if c is None or c.text is None:
        return None
    return " ".join(c.text.split()) or None


def parse_spls_page(data: bytes, source: str) -> tuple[list[dict], dict]:
    """One ``/spls.xml`` listing page -> ([{setid, spl_version, title, published_date}], paging).

    setid lower-cased, spl_version int, published_date ISO. paging as in
    parse_dailymed_history.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        line, col = e.position if e.position else (e.lineno, None)
        raise ParseError(source, f"malformed XML at line {line}, column {col}: {e.msg}") from None
    if root.tag != "spls":
        if root.tag in ("error", "errors"):
            raise ApiError(source, " ".join("".join(root.itertext()).split()))
        raise ParseError(source, f"expected <spls>, got <{root.tag}>")
    entries: list[dict] = []
    for i, spl in enumerate(root.iterfind("spl")):
        setid = _child_text(spl, "setid")
        version = _int(_child_text(spl, "spl_version"))
        if not setid or version is None:
            raise ParseError(source, f"spl[{i}] lacks setid or spl_version")
        try:
            published = iso_date(_child_text(spl, "published_date"))
        except ValueError as e:
            raise ParseError(source, f"spl[{i}]: {e}") from None
        entries.append(
            {"setid": setid.lower(), "spl_version": version, "title": _child_text(spl, "title"), "published_date": published}
        )
    meta_el = root.find("metadata")
    meta = {c.tag: (c.text or "").strip() for c in meta_el if isinstance(c.tag, str)} if meta_el is not None else {}
    return entries, _paging(meta)
