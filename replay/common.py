"""Pieces every API emulation of the replay server shares: the reply type, errors, small parsers.

Kept apart so openfda.py, dailymed.py and eutils.py need nothing from each
other, and the HTTP layer (server.py) needs nothing from their internals.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "JSON_TYPE",
    "TEXT_TYPE",
    "XML_TYPE",
    "Reply",
    "SearchSyntaxError",
    "int_param",
    "json_bytes",
    "phrase_regex",
    "require",
]

XML_TYPE = "text/xml; charset=UTF-8"
JSON_TYPE = "application/json; charset=UTF-8"
TEXT_TYPE = "text/plain; charset=utf-8"


class SearchSyntaxError(ValueError):
    """A ``search`` (openFDA) or ``term`` (PubMed) the replay cannot parse."""


@dataclass(slots=True)
class Reply:
    """One HTTP answer, independent of the socket layer so the emulations stay pure."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def require(path: Path, what: str) -> Path:
    """`path`, or a FileNotFoundError that says which recordings are missing and how to point at them."""
    if not path.exists():
        raise FileNotFoundError(
            f"replay: {what} not found at {path} — point --corpora at the shared corpora folder "
            "(the one holding fda/ and pubmed/, e.g. ../shared/corpora)"
        )
    return path


def phrase_regex(text: str) -> re.Pattern[str]:
    """Case-insensitive phrase on word boundaries; a trailing ``*`` is a prefix wildcard.

    Both openFDA's analysed fields and PubMed's untagged terms match words, not
    substrings, so one matcher serves both query languages.
    """
    words = [w for w in (w.strip(",;") for w in text.lower().split()) if w]
    if not words:
        raise SearchSyntaxError("empty search term")
    wildcard = words[-1].endswith("*") and len(words[-1]) > 1
    if wildcard:
        words[-1] = words[-1].rstrip("*")
    body = r"\s+".join(re.escape(w) for w in words)
    tail = r"\w*" if wildcard else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)")


def json_bytes(obj: Any, indent: int | None = 2) -> bytes:
    """JSON as the recorded APIs print it (indented, UTF-8 kept as is)."""
    return json.dumps(obj, indent=indent, ensure_ascii=False).encode("utf-8")


def int_param(params: dict[str, str], name: str, default: int) -> int:
    """A whole-number query parameter; blank means `default`."""
    value = params.get(name, "")
    if value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SearchSyntaxError(f"{name} must be a whole number, got {value!r}") from None
