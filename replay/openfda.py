"""openFDA ``/drug/label.json`` replayed: every recorded label version, searched, sorted and paged.

Results are served as the exact byte slices of the recorded files; only the
``meta`` block and the ``Link`` paging header are computed, in the shapes the
recorded answers show. Limits, error bodies and ``search_after`` cursors
follow api.fda.gov.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from .common import Reply, SearchSyntaxError, int_param, json_bytes, require
from .openfda_query import compile_search

__all__ = ["OPENFDA_MAX_LIMIT", "OPENFDA_MAX_SKIP", "LabelRecord", "OpenFdaApi", "OpenFdaIndex", "openfda_error"]

OPENFDA_MAX_LIMIT = 1000
OPENFDA_MAX_SKIP = 25000

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
        """Sort and cursor key: (set_id lower-cased, version number, version as recorded)."""
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
        openfda = require(fda_root / "openfda", "openFDA recordings (fda/openfda)")
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
        matches = compile_search(search)
        hits = [i for i, rec in enumerate(self.records) if matches(rec.obj)]
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


def openfda_error(kind: str, message: str | None = None) -> Reply:
    """An openFDA error body (``not_found``, ``limit``, ``skip``, ``rate``, else BAD_REQUEST with `message`)."""
    status, code, default = _OPENFDA_ERRORS.get(kind, (400, "BAD_REQUEST", ""))
    body = json_bytes({"error": {"code": code, "message": message or default}})
    return Reply(status, body, "application/json; charset=utf-8")


class OpenFdaApi:
    """``/drug/label.json``: search, sort, limit/skip and search_after paging over an OpenFdaIndex."""

    def __init__(self, index: OpenFdaIndex) -> None:
        self.fda = index

    def label(self, params: dict[str, str], host: str) -> Reply:
        """One answer page; `host` is echoed in the ``Link: rel="next"`` header as the real API does."""
        try:
            limit = int_param(params, "limit", 1)
            skip = int_param(params, "skip", 0)
        except SearchSyntaxError as exc:
            return openfda_error("bad", str(exc))
        if limit > OPENFDA_MAX_LIMIT:
            return openfda_error("limit")
        if skip > OPENFDA_MAX_SKIP:
            return openfda_error("skip")
        if limit < 0 or skip < 0:
            return openfda_error("bad", "limit and skip must not be negative")
        if params.get("count"):
            return openfda_error("bad", "replay: count queries are not recorded; use search/limit/skip")
        search = params.get("search")
        try:
            hits = self.fda.search(search)
            sort_spec = self._sort(params.get("sort"))
        except SearchSyntaxError as exc:
            return openfda_error("bad", f"Invalid search: {exc}")
        records = [self.fda.records[i] for i in hits]
        if sort_spec is not None:
            records.sort(key=sort_spec[0], reverse=sort_spec[1])
        total = len(records)
        if total == 0:
            return openfda_error("not_found")
        cursor_fn = sort_spec[0] if sort_spec else (lambda r: r.key)
        after = params.get("search_after")
        if after:
            try:
                start = self._after(records, after, cursor_fn, sort_spec[1] if sort_spec else False)
            except SearchSyntaxError as exc:
                return openfda_error("bad", str(exc))
            remaining = records[start:]
        else:
            remaining = records
        page = remaining[skip:skip + limit]
        if not page and limit > 0:
            return openfda_error("not_found")
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
        return Reply(200, body, "application/json; charset=utf-8", headers)

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

