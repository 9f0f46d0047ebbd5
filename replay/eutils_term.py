"""The PubMed ``term`` language of ESearch, evaluated against the recorded articles.

Why here and not in ingest: the crawler only writes terms; the replay must
read them the way PubMed does: AND/OR/NOT left to right, parentheses,
field tags (``[ti]``, ``[mh]``, ``[dp]`` ranges…), quoted phrases, and a
translation stack and error list in PubMed's shapes. Matching a single tagged
phrase is the caller's job (a `Lookup`), so this module stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .common import SearchSyntaxError

__all__ = ["Leaf", "Lookup", "PubmedQuery", "TermParser", "date_range", "parse_date"]

# (internal tag, text) -> PMIDs matching that one leaf of a term.
Lookup = Callable[[str, str], frozenset[int]]


def parse_date(text: str, end: bool) -> tuple[int, int, int]:
    """'2015', '2015/03', '2015-03-02' -> (y, m, d); a missing part is the first (or, with `end`, last) of its range."""
    parts = [int(p) for p in re.split(r"[/\-.]", text.strip()) if p.isdigit()]
    if not parts:
        raise SearchSyntaxError(f"not a date: {text!r}")
    year = parts[0]
    month = parts[1] if len(parts) > 1 else (12 if end else 1)
    day = parts[2] if len(parts) > 2 else (31 if end else 1)
    return (year, month, day)


def date_range(text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """'2015:2018' or '2015' -> (first day, last day), both included."""
    if ":" in text:
        lo, hi = text.split(":", 1)
        return parse_date(lo, False), parse_date(hi, True)
    return parse_date(text, False), parse_date(text, True)


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
class Leaf:
    """One tagged phrase of a term, with the PMIDs it matched (for the translation stack)."""

    text: str
    tag: str  # internal tag: all/pmid/mh/ti/tiab/dp/nm/kw, or "?" for an unknown field
    field_name: str
    quoted: bool
    given: str  # as the user wrote it, for ErrorList
    hits: frozenset[int] = frozenset()

    def term(self) -> str:
        """The leaf as PubMed's QueryTranslation writes it, e.g. '"warfarin"[Title]'."""
        plain = self.text.endswith("*") or self.tag in ("dp", "pmid")
        shown = self.text if plain else f'"{self.text}"'
        return f"{shown}[{self.field_name}]"


@dataclass(slots=True)
class PubmedQuery:
    """A parsed term: matching PMIDs and what ESearch reports about it."""

    ids: set[int]
    translation: str
    stack: list[Any]
    not_found: list[str]
    fields_not_found: list[str]


class TermParser:
    """PubMed-like boolean: AND/OR/NOT evaluated left to right, parentheses, tags, phrases."""

    def __init__(self, term: str, lookup: Lookup, default_tag: str | None = None) -> None:
        self.lookup = lookup
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

    def parse(self) -> PubmedQuery:
        if not self.tokens:
            raise SearchSyntaxError("empty term")
        ids, text, stack = self._expr()
        if self.pos < len(self.tokens):
            raise SearchSyntaxError("unbalanced parentheses")
        return PubmedQuery(ids, text, stack, self.not_found, self.fields_not_found)

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
            leaf = Leaf(text, "?", name, quoted, given)
            return set(), leaf.term(), [leaf]
        if internal == "dp" and ":" in text:
            lo, hi = (p.strip() for p in text.split(":", 1))
            hits = self.lookup("dp", f"{lo}:{hi}")
            if not hits:
                self.not_found.append(given)
            lo_leaf = Leaf(lo, "dp", name, False, given, self.lookup("dp", lo))
            hi_leaf = Leaf(hi, "dp", name, False, given, self.lookup("dp", hi))
            return set(hits), f"{lo}[{name}] : {hi}[{name}]", [lo_leaf, hi_leaf, "RANGE"]
        hits = self.lookup(internal, text)
        if not hits:
            self.not_found.append(given)
        leaf = Leaf(text, internal, name, quoted, given, hits)
        return set(hits), leaf.term(), [leaf]

