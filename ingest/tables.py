"""Label tables as tables: a grid of cells with header rows, and each cell with its row and column headers.

Why: flattened into text, a dosing table ("VKORC1 GG | 5-7 mg | 3-4 mg ...") reads as one
sentence hundreds of words long, and extraction pairs whatever gene and drug it names anywhere in
it. Kept as a grid, a cell says what it is: "3-4 mg" is the dose for VKORC1 GG and CYP2C9 *1/*3.

The SPL XML and openFDA parsers read cells out of the markup (`RawCell`: text and spans) and
`build_table` lays them on a grid, with `colspan`/`rowspan` expanded so a spanning cell's text
fills every slot it covers. `table_cells` is the reading extraction uses: one `Cell` per
non-empty body cell, with the headers of its row and column. Pure: no markup, no I/O here.
"""

from __future__ import annotations

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
