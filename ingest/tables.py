"""Label tables as tables: a grid of cells with header rows, and each cell with its row and column headers.

Why: flattened into text, a dosing table ("VKORC1 GG | 5-7 mg | 3-4 mg ...") reads as one
sentence hundreds of words long, and extraction pairs whatever gene and drug it names anywhere in
it. Kept as a grid, a cell says what it is: "3-4 mg" is the dose for VKORC1 GG and CYP2C9 *1/*3.

The SPL XML and openFDA parsers read cells out of the markup (`RawCell`: text and spans) and
`build_table` lays them on a grid, with `colspan`/`rowspan` expanded so a spanning cell's text
fills every slot it covers. `table_cells` is the reading extraction uses: one `Cell` per
non-empty body cell, with the headers of its row and column. `table_spans` says where each table
is written out in a section's text (openFDA runs a field's tables into its prose), so a rule can
leave that stretch alone. Pure: no markup, no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pgxlit.records import Section, Table

MAX_SPAN = 64  # a damaged colspan="1000" must not blow the grid up
HEADER_JOIN = " / "  # between the levels of a stacked header: "CYP2C9 / *1/*3"


class RawCell(NamedTuple):
    """A cell as the markup gives it: its text, its spans and whether it is a <th>."""

    text: str
    colspan: int = 1
    rowspan: int = 1
    is_header: bool = False


@dataclass(frozen=True, slots=True)
class Cell:
    """One body cell of a label table, with the headers that say what its value is.

    `row_header` is the first column of its row (under any group row such as "Neutropenia"
    above it), `col_header` the header rows above its column, `corner` the header of the row
    header column ("VKORC1" over "GG", "AG", "AA"). `row_index` counts body rows from 0 (a
    citation names the table and that row).
    """

    table_id: str
    row_index: int
    col_index: int
    text: str
    row_header: str
    col_header: str
    corner: str = ""
    caption: str | None = None

    @property
    def context(self) -> str:
        """The cell's headers in one line, for a reader or a rule: "VKORC1 GG; CYP2C9 / *1/*3"."""
        row = " ".join(x for x in (self.corner, self.row_header) if x)
        return "; ".join(x for x in (row, self.col_header) if x)

    @property
    def statement(self) -> str:
        """The cell as one short line with its headers, for entity rules to read:
        "VKORC1 GG; CYP2C9 / *1/*3: 3-4 mg". Never a paragraph of run-together rows."""
        return f"{self.context}: {self.text}" if self.context else self.text

    @property
    def citation(self) -> str:
        """Where a reader finds the cell: the table's caption (or id) and its body row, counted from 1."""
        return f"{self.caption or 'table ' + self.table_id}, row {self.row_index + 1}"


def _span(value: int) -> int:
    return min(max(value, 1), MAX_SPAN)


def _grid(rows: Sequence[Sequence[RawCell]]) -> tuple[list[list[str]], list[list[bool]], list[list[int]]]:
    """Rows of slot texts with spans expanded; whether each slot came from a <th>; the rowspan each
    first-row slot started with (it tells how deep a header without <thead> goes)."""
    texts: list[list[str]] = []
    heads: list[list[bool]] = []
    spans: list[list[int]] = []
    pending: dict[int, tuple[int, str, bool]] = {}  # column -> (rows still covered, text, is_header)
    for raw in rows:
        row_t: list[str] = []
        row_h: list[bool] = []
        row_s: list[int] = []
        cells = list(raw)
        col = 0

        def fill_pending() -> None:
            nonlocal col
            while col in pending:
                left, text, is_head = pending[col]
                row_t.append(text)
                row_h.append(is_head)
                row_s.append(0)
                if left <= 1:
                    del pending[col]
                else:
                    pending[col] = (left - 1, text, is_head)
                col += 1

        for cell in cells:
            fill_pending()
            width, height = _span(cell.colspan), _span(cell.rowspan)
            for _ in range(width):
                row_t.append(cell.text)
                row_h.append(cell.is_header)
                row_s.append(height)
                if height > 1:
                    pending[col] = (height - 1, cell.text, cell.is_header)
                col += 1
        fill_pending()
        # A rowspan reaching past columns this row never wrote still covers them.
        for c in sorted(k for k in pending if k >= col):
            while col < c:
                row_t.append("")
                row_h.append(False)
                row_s.append(1)
                col += 1
            fill_pending()
        texts.append(row_t)
        heads.append(row_h)
        spans.append(row_s)
    width = max((len(r) for r in texts), default=0)
    for t, h, s in zip(texts, heads, spans, strict=True):
        t.extend([""] * (width - len(t)))
        h.extend([False] * (width - len(h)))
        s.extend([1] * (width - len(s)))
    return texts, heads, spans


def _looks_like_header(row: Sequence[str]) -> bool:
    """A first row of words over columns: no cell is a number or a measured value."""
    cells = [c for c in row if c]
    if not cells:
        return False
    return not any(sum(ch.isdigit() for ch in c) > len(c) / 3 for c in cells)


def build_table(
    rows: Sequence[Sequence[RawCell]],
    head_rows: int | None = None,
    caption: str | None = None,
    table_id: str | None = None,
    notes: Sequence[str] = (),
) -> Table:
    """Lay cells out on a grid and split header rows from body rows.

    `head_rows` is how many leading rows the markup marks as header (<thead>); None means the
    markup does not say, and then leading all-<th> rows are the header, or else a first row of
    words whose cells span several rows or columns (warfarin's "VKORC1 | CYP2C9" over "*1/*1 ...").
    Rows with no text at all are dropped.
    """
    texts, heads, spans = _grid(rows)
    keep = [i for i, r in enumerate(texts) if any(r)]
    if head_rows is None:
        head_rows = 0
        while head_rows < len(texts) and any(texts[head_rows]) and all(
                h for h, t in zip(heads[head_rows], texts[head_rows], strict=True) if t):
            head_rows += 1
        if head_rows == 0 and len(keep) > 2 and _looks_like_header(texts[keep[0]]):
            first = keep[0]
            spanning = max(spans[first], default=1) > 1 or len(set(texts[first])) < len(texts[first])
            if spanning:
                head_rows = first + max(spans[first], default=1)
    header = tuple(tuple(texts[i]) for i in keep if i < head_rows)
    body = tuple(tuple(texts[i]) for i in keep if i >= head_rows)
    return Table(caption=caption or None, header=header, rows=body, id=table_id, notes=tuple(n for n in notes if n))


# ---- reading cells -------------------------------------------------------------------------------
def _is_group_row(row: Sequence[str]) -> bool:
    """A row that names the rows below it ("Neutropenia", "GASTROINTESTINAL"): text in its first
    column only, or one cell spanning the whole width."""
    if len(row) < 2 or not row[0]:
        return False
    return all(not c for c in row[1:]) or all(c == row[0] for c in row)


def _column_headers(table: Table) -> list[str]:
    """Each column's header path, top to bottom, each level once; a header row that is one cell
    across the whole table is a note over it, not a column's name."""
    width = max((len(r) for r in (*table.header, *table.rows)), default=0)
    levels = [r for r in table.header if not (len(set(r)) == 1 and len(r) > 1)] or list(table.header[-1:])
    out: list[str] = []
    for c in range(width):
        path: list[str] = []
        for row in levels:
            text = row[c] if c < len(row) else ""
            if text and (not path or path[-1] != text):
                path.append(text)
        out.append(HEADER_JOIN.join(path))
    return out


def iter_table_cells(table: Table, table_id: str) -> Iterator[Cell]:
    """Every non-empty body cell of one table with its row and column headers (first column = row header)."""
    col_headers = _column_headers(table)
    corner = col_headers[0] if col_headers else ""
    group = ""
    for r, row in enumerate(table.rows):
        if _is_group_row(row):
            group = row[0]
            continue
        if len(row) < 2:
            if row and row[0]:
                yield Cell(table_id, r, 0, row[0], "", col_headers[0] if col_headers else "", "", table.caption)
            continue
        row_header = HEADER_JOIN.join(x for x in (group, row[0]) if x)
        for c in range(1, len(row)):
            text = row[c]
            if not text or all(x == text for x in row[:c]):  # the row header spanning into this column
                continue
            yield Cell(table_id, r, c, text, row_header, col_headers[c] if c < len(col_headers) else "", corner,
                       table.caption)


def table_id(section: Section, k: int) -> str:
    """A table's id as cited: the label's own table ID when it has one, else its section and place."""
    table = section.tables[k]
    if table.id:
        return table.id
    return f"{section.field or section.loinc or section.title or f'section {section.order + 1}'}#{k + 1}"


def table_cells(section: Section) -> Iterator[Cell]:
    """Every body cell of every table of a section, with its row and column headers as context."""
    for k, table in enumerate(section.tables):
        yield from iter_table_cells(table, table_id(section, k))


def table_text(table: Table) -> str:
    """A table as rows of " | "-joined cells (header first), spans collapsed: for a reader, not for rules."""
    lines = [table.caption] if table.caption else []
    for row in (*table.header, *table.rows):
        cells: list[str] = []
        for c in row:
            if not cells or c != cells[-1] or not c:
                cells.append(c)
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join([*lines, *table.notes])


# ---- where a table sits in a section's text ------------------------------------------------------
MAX_GAP = 80  # characters (spaces aside) allowed between two cells of one table in the text
MIN_FOUND = 0.5  # share of a table's cells that must be found for the text to hold the table
MAX_ANCHORS = 40  # places tried for one anchor text (a short cell such as "Placebo" recurs)


@dataclass(frozen=True, slots=True)
class TableSpan:
    """Where a table's text runs in a section's text: [start, end) offsets, and which table."""

    start: int
    end: int
    table_id: str


_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    """The text without whitespace: tables run into prose space their cells differently
    ("mg/m 2" for the table's "mg/m2")."""
    return _SPACE.sub("", text)


def _unsquash(text: str, k: int) -> int:
    """Offset in `text` of the k-th (from 0) character of its squashed form."""
    m = re.match(r"(?:\s*\S){%d}" % (k + 1), text)
    assert m is not None
    return m.end() - 1


def _items(table: Table, body_spans: bool) -> list[str]:
    """The texts a table is written out as, in order: caption, then the cells row by row, a header
    cell spanning columns once; with `body_spans`, a body cell too. Spans are expanded in the grid,
    so which of two equal adjacent body cells is one spanning cell cannot be told (warfarin's
    "0.5-2 mg 0.5-2 mg" are two): `locate_table` tries both readings. Notes are apart: the text
    puts them first, last or inside a cell."""
    out = [table.caption or ""]
    for k_row, row in enumerate((*table.header, *table.rows)):
        collapse = body_spans or k_row < len(table.header)
        out += [c for k, c in enumerate(row) if c and not (collapse and k and c == row[k - 1])]
    return ["".join(x.split()) for x in out if x and x.strip()]


def _follow(squashed: str, items: Sequence[str], start: int) -> tuple[int, int]:
    """From an anchor at `start`, how many of the following items sit close one after another, and
    where the last ends. An item not found (a cell whose footnote the text prints inside it) widens
    the window for the next, so one miss does not lose the rest of the table."""
    cursor, found, misses = start, 0, 0
    for item in items:
        at = squashed.find(item, cursor, cursor + MAX_GAP * (1 + misses) + len(item))
        if at >= 0:
            cursor, found, misses = at + len(item), found + 1, 0
        else:
            misses = min(misses + 1, 12)
    return found, cursor


def locate_table(text: str, table: Table, table_id: str = "") -> TableSpan | None:
    """Where `table` is written out in `text` (openFDA runs a field's tables into its prose; SPL
    text renders them as "a | b" rows), or None. Each item is looked for just after the previous
    one, so a table is found where its cells follow each other, not where a word recurs."""
    return _locate(_squash(text), text, table, table_id)


def _locate(squashed: str, text: str, table: Table, table_id: str) -> TableSpan | None:
    best: tuple[float, int, int] | None = None  # (share found, start, end) in squashed offsets
    for items in (_items(table, body_spans=False), _items(table, body_spans=True)):
        if len(items) < 3:
            continue
        # The caption may be missing from the text, or written otherwise: the first few items that
        # are long enough to mean something anchor the search.
        for anchor in [x for x in items[:6] if len(x) >= 4][:3]:
            at, tries = squashed.find(anchor), 0
            while at >= 0 and tries < MAX_ANCHORS:
                tries += 1
                found, end = _follow(squashed, items, at)
                share = found / len(items)
                if best is None or (share, end - at) > (best[0], best[2] - best[1]):
                    best = (share, at, end)
                at = squashed.find(anchor, at + 1)
            if best is not None and best[0] >= MIN_FOUND:
                break
    if best is None or best[0] < MIN_FOUND or best[2] <= best[1]:
        return None
    start, end = best[1], best[2]
    for note in ("".join(n.split()) for n in table.notes):  # a note just after the last cell is the table's too
        at = squashed.find(note, start, end + MAX_GAP + len(note)) if note else -1
        if at >= 0:
            end = max(end, at + len(note))
    return TableSpan(_unsquash(text, start), _unsquash(text, end - 1) + 1, table_id)


def table_spans(sections: Sequence[Section]) -> dict[int, list[TableSpan]]:
    """Section order -> the spans of its text that are tables, for rules that must not read a
    table as a sentence. A section's own tables (SPL) and the tables of its ``X_table`` twin
    (openFDA) are looked for in its text."""
    by_field = {s.field: s for s in sections if s.field and s.tables}
    out: dict[int, list[TableSpan]] = {}
    for section in sections:
        if section.is_table or not section.text:
            continue
        owners = [section] + ([by_field[f"{section.field}_table"]] if f"{section.field}_table" in by_field else [])
        if not any(owner.tables for owner in owners):
            continue
        squashed = _squash(section.text)
        spans = [span for owner in owners for k in range(len(owner.tables))
                 if (span := _locate(squashed, section.text, owner.tables[k], table_id(owner, k))) is not None]
        if spans:
            out[section.order] = sorted(spans, key=lambda s: s.start)
    return out
