"""Parse openFDA drug/label JSON (API answers and bulk downloads) into LabelVersions.

Why: openFDA is the main source of current FDA label text. Its records are
flat: one key per label section (``boxed_warning``, ``pharmacogenomics``,
``*_table`` with HTML tables) plus metadata. This module keeps the section
order, maps each key to its LOINC code and title through ``spl_sections`` and
turns the table markup into readable text, so later stages never see JSON or
HTML.

Pure: bytes or a binary stream in, records out; no network, no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import ijson
import orjson

from pgxlit.records import ApiError, LabelVersion, ParseError, Section

from .spl_sections import TABLE_SUFFIX, loinc_for_field, title_for_field
from .spl_xml import html_table_to_text, html_tables

# Keys that describe the record rather than hold label text.
METADATA_KEYS = frozenset({"set_id", "id", "version", "effective_time", "openfda", "spl_product_data_elements"})
_TITLE_MAX = 200


def _norm(s: str) -> str:
    return " ".join(s.split())


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _title(of: dict[str, Any], result: dict[str, Any]) -> str | None:
    """Title "Brand (GENERIC)" from openfda{}; else the start of spl_product_data_elements.

    spl_product_data_elements is one long line (brand, generic, then every
    ingredient), so it is only the fallback for records with an empty openfda{}.
    """
    brand = next(iter(_dedupe(_strings(of.get("brand_name")))), None)
    generic = next(iter(_dedupe(_strings(of.get("generic_name")))), None)
    if brand and generic and brand.casefold() != generic.casefold():
        return f"{brand} ({generic})"
    if brand or generic:
        return brand or generic
    for line in _strings(result.get("spl_product_data_elements")):
        first = _norm(line.split("\n", 1)[0])
        if first:
            if len(first) > _TITLE_MAX:
                first = first[:_TITLE_MAX].rsplit(" ", 1)[0] + " …"
            return first
    return None


def parse_openfda_label(result: dict, source: str) -> LabelVersion:
    """One element of an openFDA ``results`` array -> LabelVersion(source_format="openfda").

    Every list-of-strings key except metadata becomes a Section, in JSON key
    order; ``*_table`` keys (HTML tables) become " | "-separated text rows, and their tables are
    also kept parsed, as `Table` records on the section.
    """
    if not isinstance(result, dict):
        raise ParseError(source, f"label record is a {type(result).__name__}, not an object")
    set_id = result.get("set_id")
    if not isinstance(set_id, str) or not set_id.strip():
        raise ParseError(source, "label record has no set_id")
    raw_version = result.get("version")
    try:
        version = int(str(raw_version).strip())
    except ValueError:
        raise ParseError(source, f"set_id {set_id}: version is not an integer: {raw_version!r}") from None
    of = result.get("openfda")
    of = of if isinstance(of, dict) else {}

    sections: list[Section] = []
    for key, value in result.items():
        if key in METADATA_KEYS or not isinstance(value, list):
            continue
        values = _strings(value)
        is_table = key.endswith(TABLE_SUFFIX)
        rendered = (html_table_to_text(v) for v in values) if is_table else (_norm(v) for v in values)
        text = "\n\n".join(t for t in rendered if t)
        if not text:
            continue
        sections.append(
            Section(
                order=len(sections),
                text=text,
                field=key,
                loinc=loinc_for_field(key),
                title=title_for_field(key),
                is_table=is_table,
                tables=tuple(t for v in values for t in html_tables(v)) if is_table else (),
            )
        )

    eff = result.get("effective_time")
    spl_id = result.get("id")
    manufacturers = _dedupe(_strings(of.get("manufacturer_name")))
    return LabelVersion(
        set_id=set_id.strip().lower(),
        version=version,
        effective_time=eff.strip() if isinstance(eff, str) and eff.strip() else None,
        spl_id=spl_id.strip() if isinstance(spl_id, str) and spl_id.strip() else None,
        title=_title(of, result),
        generic_names=_dedupe(_strings(of.get("generic_name"))),
        brand_names=_dedupe(_strings(of.get("brand_name"))),
        application_numbers=_dedupe(_strings(of.get("application_number"))),
        manufacturer=manufacturers[0] if manufacturers else None,
        sections=tuple(sections),
        source_format="openfda",
    )


def _json_error(source: str, e: orjson.JSONDecodeError) -> ParseError:
    return ParseError(source, f"invalid JSON at char {e.pos} (line {e.lineno}, column {e.colno}): {e.msg}")


def parse_openfda_response(data: bytes, source: str) -> tuple[list[LabelVersion], dict]:
    """An openFDA drug/label API answer body -> (labels, meta).

    meta is flat: {"total", "skip", "limit", "last_updated"} as the API
    reported them. The NOT_FOUND error body is openFDA's way of saying "zero
    hits" and gives ([], {"total": 0}); any other error body raises ApiError.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise _json_error(source, e) from None
    if not isinstance(doc, dict):
        raise ParseError(source, f"expected a JSON object, got {type(doc).__name__}")
    if "error" in doc:
        err = doc["error"] if isinstance(doc["error"], dict) else {"message": doc["error"]}
        code = str(err.get("code") or "ERROR")
        if code == "NOT_FOUND":
            return [], {"total": 0}
        raise ApiError(source, f"{code}: {err.get('message', '')}")
    results = doc.get("results")
    if not isinstance(results, list):
        raise ParseError(source, "no 'results' array in the openFDA answer")
    labels: list[LabelVersion] = []
    for i, rec in enumerate(results):
        try:
            labels.append(parse_openfda_label(rec, source))
        except ParseError as e:
            raise ParseError(source, f"results[{i}]: {e.reason}") from None
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    paging = meta.get("results") if isinstance(meta.get("results"), dict) else {}
    return labels, {
        "total": paging.get("total", len(labels)),
        "skip": paging.get("skip"),
        "limit": paging.get("limit"),
        "last_updated": meta.get("last_updated"),
    }


def iter_openfda_bulk(stream: BinaryIO, source: str) -> Iterator[LabelVersion]:
    """Stream the ``results`` of an openFDA bulk file (drug-label-00NN-of-00NN.json,
    hundreds of MB) one LabelVersion at a time, in constant memory.

    Pass the binary stream (e.g. from zipfile.ZipFile.open). A file without a
    ``results`` array yields nothing.
    """
    i = 0
    try:
        for rec in ijson.items(stream, "results.item", use_float=True):
            try:
                label = parse_openfda_label(rec, source)
            except ParseError as e:
                raise ParseError(source, f"results[{i}]: {e.reason}") from None
            yield label
            i += 1
    except ijson.JSONError as e:
        raise ParseError(source, f"malformed JSON in or before results[{i}] ({i} records read): {e}") from None


_SNIFF_KEYS = re.compile(rb'"(?:meta|results)"\s*:')
_SNIFF_ERROR = re.compile(rb'^\{\s*"error"\s*:\s*\{')


def sniff_openfda(head: bytes) -> bool:
    """Do the first ~4 KB look like an openFDA answer: a JSON object with
    "meta" and/or "results" keys, or an {"error": {...}} body?"""
    h = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not h.startswith(b"{"):
        return False
    return _SNIFF_ERROR.match(h) is not None or _SNIFF_KEYS.search(h) is not None
