"""LOINC section code <-> openFDA field name <-> display title.

Why: openFDA names label sections by field (``boxed_warning``), SPL XML by
LOINC code (``34066-1``). Both parsers map through this one table so that a
section means the same thing whichever format a label version came from.

The table ships as package data (``spl_sections.tsv`` next to this module) and
is compiled from openFDA's own ``openfda/spl/data/sections.csv`` by
:func:`build_sections_table`, using the same naming rule as openFDA's
``spl_to_json.js`` (so the field names are the JSON keys the API returns),
plus a few hand fixes listed in ``_HAND_FIXES``.
"""

from __future__ import annotations

import csv
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

TABLE_FILE = "spl_sections.tsv"
TABLE_SUFFIX = "_table"  # openFDA puts the HTML tables of section X in field X_table
UNCLASSIFIED_LOINC = "42229-5"

ORIGIN = (
    "FDA/openfda repository, openfda/spl/data/sections.csv at commit "
    "2c152208aaa02323696d904e94a1d114e66247ec "
    "(US-government public data, CC0: https://open.fda.gov/license/)"
)
REBUILD_COMMAND = (
    ".venv/bin/python -c \"from pgxlit.ingest.spl_sections import build_sections_table as b; "
    "b('../shared/corpora/fda/reference/openfda_spl_sections.csv', 'ingest/spl_sections.tsv', "
    "schema_path='../shared/corpora/fda/reference/openfda_druglabel_schema.json')\""
)

# loinc -> (field or None to keep the derived one, title or None to keep the CSV name)
_HAND_FIXES: dict[str, tuple[str | None, str | None]] = {
    # sections.csv says "Warnings and cautions"; openFDA's JSON key is
    # warnings_and_cautions, but the LOINC name, openFDA's loinc.csv and the
    # label heading all say "Warnings and Precautions".
    "43685-7": (None, "Warnings and Precautions"),
}
# Derived fields that openFDA's schema (last changed 2020-11) does not list yet.
_NOT_IN_SCHEMA_OK = {"cellular_therapy"}


class SectionRow(NamedTuple):
    loinc: str
    openfda_field: str
    title: str


def openfda_field_name(name: str) -> str:
    """openFDA's spl_to_json.js rule: first ':' dropped, ' & ' -> ' and ',
    first '/' -> ' or ', spaces -> '_', lower case, spl_unclassified renamed."""
    n = name.replace(":", "", 1).replace(" & ", " and ").replace("/", " or ", 1)
    n = n.replace(" ", "_").lower()
    return n.replace("spl_unclassified", "spl_unclassified_section")


def _read_csv_rows(csv_path: Path) -> list[SectionRow]:
    rows: list[SectionRow] = []
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for rec in csv.reader(fh, skipinitialspace=True):
            if not rec or not rec[0].strip() or rec[0].strip().lower() == "loinc":
                continue
            code = rec[0].strip()
            # sections.csv is not quoted: "Cleaning, Disinfecting, ..." splits
            # into several columns. openFDA names the field from the first
            # column only (-> "cleaning", "route"); the title keeps them all.
            field = openfda_field_name(rec[1].strip())
            title = ", ".join(c.strip() for c in rec[1:] if c.strip())
            fix_field, fix_title = _HAND_FIXES.get(code, (None, None))
            rows.append(SectionRow(code, fix_field or field, fix_title or title))
    return rows


def build_sections_table(
    csv_path: str | Path, out_path: str | Path, *, schema_path: str | Path | None = None
) -> list[SectionRow]:
    """Rebuild ``spl_sections.tsv`` from openFDA's sections.csv.

    With ``schema_path`` (openFDA's druglabel_schema.json) every derived field
    must be a schema property, so a naming mismatch fails the rebuild instead
    of silently producing a field the API never returns.
    """
    rows = _read_csv_rows(Path(csv_path))
    codes = [r.loinc for r in rows]
    fields = [r.openfda_field for r in rows]
    if len(set(codes)) != len(codes) or len(set(fields)) != len(fields):
        raise ValueError(f"{csv_path}: duplicate LOINC code or field name")
    if schema_path is not None:
        props = json.loads(Path(schema_path).read_text(encoding="utf-8"))["properties"]
        missing = [f for f in fields if f not in props and f not in _NOT_IN_SCHEMA_OK]
        if missing:
            raise ValueError(f"fields not in the openFDA schema: {missing}")
    lines = [
        "# LOINC section code <-> openFDA drug/label field <-> display title.",
        f"# Origin: {ORIGIN}.",
        "# Field names follow openFDA's spl_to_json.js naming rule and were checked against",
        "# schemas/druglabel_schema.json and 216 recorded openFDA responses. Hand fixes: 43685-7 title.",
        f"# Rebuilt with: {REBUILD_COMMAND}",
        "loinc\topenfda_field\ttitle",
    ]
    lines += [f"{r.loinc}\t{r.openfda_field}\t{r.title}" for r in rows]
    Path(out_path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


@cache
def load_table() -> tuple[SectionRow, ...]:
    """All rows of the packaged table, read once per process."""
    text = resources.files(__package__).joinpath(TABLE_FILE).read_text(encoding="utf-8")
    rows: list[SectionRow] = []
    for line in text.splitlines():
        if not line or line.startswith("#") or line.startswith("loinc\t"):
            continue
        loinc, field, title = line.split("\t")
        rows.append(SectionRow(loinc, field, title))
    return tuple(rows)


@cache
def _by_field() -> dict[str, SectionRow]:
    return {r.openfda_field: r for r in load_table()}


@cache
def _by_loinc() -> dict[str, SectionRow]:
    return {r.loinc: r for r in load_table()}


def _base_row(field: str) -> SectionRow | None:
    row = _by_field().get(field)
    if row is None and field.endswith(TABLE_SUFFIX):
        row = _by_field().get(field[: -len(TABLE_SUFFIX)])
    return row


def loinc_for_field(field: str) -> str | None:
    """LOINC code of an openFDA field; ``X_table`` maps to the code of ``X``."""
    row = _base_row(field)
    return row.loinc if row else None


def field_for_loinc(code: str | None) -> str | None:
    """openFDA field name for a LOINC section code, None when openFDA has none."""
    row = _by_loinc().get(code) if code else None
    return row.openfda_field if row else None


def title_for_field(field: str) -> str:
    """Display title; ``X_table`` -> "<title of X> (tables)"; unknown fields
    get a readable form of the field name so callers never see None."""
    row = _by_field().get(field)
    if row:
        return row.title
    base = _base_row(field)
    if base:
        return f"{base.title} (tables)"
    return field.replace("_", " ").strip().capitalize()


def title_for_loinc(code: str | None) -> str | None:
    row = _by_loinc().get(code) if code else None
    return row.title if row else None
