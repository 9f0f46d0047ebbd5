"""The openFDA ``search`` language (Lucene-like), compiled to a predicate on one recorded result.

Why here and not in ingest: the crawler only writes ``search`` strings, it
never has to read one. The replay must answer them the way api.fda.gov does:
fields with ``.exact`` and identifiers match whole values, name-like
``openfda.*`` fields match a word or phrase, adjacent clauses are OR'ed,
``_exists_:``, ``[A TO B]`` ranges and a trailing ``*`` wildcard work.
Pure: text in, a function of a result object out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .common import SearchSyntaxError, phrase_regex

__all__ = ["Matcher", "compile_search"]

Matcher = Callable[[dict[str, Any]], bool]

# Identifiers compared as whole values; the name-like openfda fields are
# analysed (tokenised) by the real API, so without `.exact` they match a word
# or phrase inside the value, as api.fda.gov does.
_OPENFDA_EXACT = {"set_id", "id", "version", "effective_time"}
_OPENFDA_ANALYSED = {
    "openfda.generic_name", "openfda.brand_name", "openfda.substance_name",
    "openfda.manufacturer_name", "openfda.pharm_class_epc", "openfda.pharm_class_moa",
    "openfda.pharm_class_pe", "openfda.pharm_class_cs", "openfda.route", "openfda.product_type",
}

_FIELD_PREFIX = re.compile(r"([A-Za-z_][\w.\-]*):")
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT", "!": "NOT"}


@dataclass(frozen=True, slots=True)
class _Clause:
    """One leaf of a search: a term, phrase, range or _exists_ test on a field (None: any field)."""

    field: str | None
    kind: str  # "term" | "phrase" | "range" | "exists"
    value: Any


class _LuceneParser:
    """Recursive descent over tokens: OR (explicit or adjacent) binds looser than AND/NOT; field:(…) groups."""

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
    pattern = phrase_regex(text)
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



def compile_search(search: str) -> Matcher:
    """A predicate telling whether a recorded openFDA result matches `search`; SearchSyntaxError if unreadable."""
    node = _LuceneParser(search).parse()
    return lambda obj: _lucene_eval(node, obj)
