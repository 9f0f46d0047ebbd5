"""A first, lexical notion of "this label text is about pharmacogenomics".

Used to pick labels to crawl (`--pgx`) and to flag PGx sections in listings
until the extraction stage gives a measured answer.
"""

from __future__ import annotations

import re

from pgxlit.records import LabelVersion

PGX_TERMS = (
    "pharmacogenomic", "poor metabolizer", "CYP2D6", "CYP2C19", "CYP2C9", "HLA-B",
    "HLA-A", "DPYD", "TPMT", "NUDT15", "UGT1A1", "G6PD", "VKORC1", "SLCO1B1",
)
_PATTERN = re.compile("|".join(re.escape(t) for t in PGX_TERMS), re.IGNORECASE)


def pgx_terms_in(text: str) -> set[str]:
    """The PGx terms a text mentions, upper-cased."""
    return {m.group(0).upper() for m in _PATTERN.finditer(text)}


def pgx_fields(label: LabelVersion) -> list[str]:
    """Sections of a label that carry PGx content (by field, LOINC or terms)."""
    found = []
    for section in label.sections:
        name = section.field or section.loinc or section.title or f"#{section.order}"
        name = name.removesuffix("_table")
        if section.field == "pharmacogenomics" or section.loinc == "66106-6" or _PATTERN.search(section.text):
            if name not in found:
                found.append(name)
    return found
