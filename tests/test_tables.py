"""Label tables as tables: header rows, body rows and cells with their row and column headers,
read from real recorded labels (openFDA `*_table` XHTML and DailyMed SPL XML), and kept by the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import pg_server, pg_url  # noqa: F401  (fixtures)
from sqlalchemy import create_engine, text

from pgxlit.ingest.openfda_json import parse_openfda_response
from pgxlit.ingest.spl_xml import parse_spl
from pgxlit.ingest.tables import Cell, RawCell, build_table, table_cells, table_text
from pgxlit.records import LabelVersion, Section
from pgxlit.store import SaveCounts, Store

WARFARIN = "openfda/labels/NDA009218.json"
IRINOTECAN = "openfda/labels/NDA020571.json"
CAPECITABINE = "openfda/labels/NDA020896.json"
LIPITOR_SPL = "spl/17a163ef-b349-4e32-bc8c-b02bac7f65d6/8.xml"


def _label(shared: Path, path: str) -> LabelVersion:
    labels, _ = parse_openfda_response((shared / "corpora/fda" / path).read_bytes(), path)
    return labels[0]


def _section(label: LabelVersion, field: str) -> Section:
    return next(s for s in label.sections if s.field == field)


def _cells(section: Section, caption_start: str) -> list[Cell]:
    return [c for c in table_cells(section) if (c.caption or "").startswith(caption_start)]


# ---- the grid ------------------------------------------------------------------------------------
def test_spans_fill_every_slot_they_cover_and_a_rowspan_corner_makes_two_header_rows() -> None:
    table = build_table([
        [RawCell("Gene", rowspan=2), RawCell("Phenotype", colspan=2)],
        [RawCell("PM"), RawCell("NM")],
        [RawCell("CYP2D6"), RawCell("avoid"), RawCell("label dose")],
        [RawCell("CYP2C19", rowspan=2), RawCell("10 mg"), RawCell("20 mg")],
        [RawCell("5 mg"), RawCell("")],
    ])
    assert table.header == (("Gene", "Phenotype", "Phenotype"), ("Gene", "PM", "NM"))
    assert table.rows == (("CYP2D6", "avoid", "label dose"), ("CYP2C19", "10 mg", "20 mg"), ("CYP2C19", "5 mg", ""))
    cells = list(table_cells(Section(order=3, text="", field="dosage_and_administration_table", tables=(table,))))
    assert [(c.row_header, c.col_header, c.text) for c in cells][:2] == [
        ("CYP2D6", "Phenotype / PM", "avoid"), ("CYP2D6", "Phenotype / NM", "label dose")]
    assert {c.table_id for c in cells} == {"dosage_and_administration_table#1"}
    assert [c.row_index for c in cells] == [0, 0, 1, 1, 2]  # the empty cell is no cell
    assert cells[0].context == "Gene CYP2D6; Phenotype / PM"


def test_a_table_of_numbers_with_no_header_markup_has_no_header() -> None:
    table = build_table([[RawCell("1"), RawCell("2")], [RawCell("3"), RawCell("4")], [RawCell("5"), RawCell("6")]])
    assert table.header == () and len(table.rows) == 3
    assert table_text(table) == "1 | 2\n3 | 4\n5 | 6"


# ---- real labels ---------------------------------------------------------------------------------
def test_warfarin_cyp2c9_by_vkorc1_dosing_table(shared: Path) -> None:
    section = _section(_label(shared, WARFARIN), "dosage_and_administration_table")
    table = next(t for t in section.tables if "VKORC1" in (t.caption or ""))
    assert table.id == "_Reft1"
    assert table.header[-1] == ("VKORC1", "*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3")
    assert [r[0] for r in table.rows] == ["GG", "AG", "AA"]
    assert any("rs9923231" in n for n in table.notes)  # the tfoot footnote is a note, not a genotype row
    cells = {(c.row_header, c.col_header): c for c in _cells(section, "Table 1: Three Ranges")}
    assert len(cells) == 18
    assert cells[("GG", "CYP2C9 / *1/*1")].text == "5-7 mg"
    assert cells[("AG", "CYP2C9 / *1/*3")].text == "3-4 mg"
    assert cells[("AA", "CYP2C9 / *3/*3")].text == "0.5-2 mg"
    assert cells[("AA", "CYP2C9 / *3/*3")].corner == "VKORC1"
    assert cells[("AA", "CYP2C9 / *3/*3")].row_index == 2
    assert cells[("AG", "CYP2C9 / *1/*3")].statement == "VKORC1 AG; CYP2C9 / *1/*3: 3-4 mg"
    assert cells[("AG", "CYP2C9 / *1/*3")].citation.startswith("Table 1: Three Ranges of Expected Maintenance")
    assert cells[("AG", "CYP2C9 / *1/*3")].citation.endswith(", row 2")


def test_irinotecan_dose_modification_table_groups_rows_and_spans_columns(shared: Path) -> None:
    section = _section(_label(shared, IRINOTECAN), "dosage_and_administration_table")
    cells = _cells(section, "Table 2. Recommended Dose Modifications")
    by = {(c.row_header, c.col_header): c.text for c in cells}
    # The note across the whole header is not part of any column's name.
    assert {c.col_header for c in cells} == {"During a Cycle of Therapy", "At the Start of Subsequent Cycles of Therapy"}
    # "Neutropenia" names the grade rows under it; the grade's cell keeps its superscript as text.
    assert by[("Neutropenia / 2 (1000 to 1499/mm3)", "During a Cycle of Therapy")] == "↓ 1 dose level"
    assert by[("Neutropenia / 3 (500 to 999/mm3)", "At the Start of Subsequent Cycles of Therapy")] == "↓ 1 dose level"
    # A cell spanning both columns holds for both.
    fever = [c for c in cells if c.row_header.endswith("Neutropenic fever")]
    assert [c.text for c in fever] == ["Omit dose until resolved, then ↓ 2 dose levels"] * 2
    assert not any(c.text == "Neutropenia" for c in cells)  # a group row is no cell


def test_capecitabine_dose_table_reads_grade_and_appearance(shared: Path) -> None:
    section = _section(_label(shared, CAPECITABINE), "dosage_and_administration_table")
    cells = _cells(section, "Table 1 Recommended Dosage Modifications")
    by = {(c.row_header, c.col_header): c.text for c in cells}
    assert by[("Grade 2 / 2nd appearance", "Resume at Same or Reduced Dose (Percent of Current Dose)")] == "75%"
    assert by[("Grade 2 / 4th appearance", "Dosage Modification")] == "Permanently discontinue."


def test_spl_xml_tables_sit_on_their_own_section_with_stacked_headers(shared: Path) -> None:
    path = shared / "corpora/fda" / LIPITOR_SPL
    label = parse_spl(path.read_bytes(), str(path))
    with_tables = [s for s in label.sections if s.tables]
    assert len([t for s in with_tables for t in s.tables]) == 10
    skeletal = next(s for s in with_tables if (s.title or "").startswith("5.1"))
    assert skeletal.tables[0].header == (("Interacting Agents", "Prescribing Recommendations"),)
    crossover = next(s for s in with_tables if (s.title or "").startswith("14.4"))
    cells = {(c.row_header, c.col_header): c.text for c in table_cells(crossover)}
    assert cells[("Total-C", "Median % Change (min, max) / LIPITOR 80 mg")] == "-58 (-90, -31)"
    # The section's text still renders the table as rows, as before.
    assert "Total-C | 442 (225, 1320)" in crossover.text


def test_prose_sections_have_no_tables_and_table_sections_one_per_table(shared: Path) -> None:
    label = _label(shared, WARFARIN)
    assert all(not s.tables for s in label.sections if not s.is_table)
    assert all(s.tables for s in label.sections if s.is_table)


# ---- where tables sit in the text ----------------------------------------------------------------
def test_a_table_openfda_ran_into_the_prose_is_located_exactly(shared: Path) -> None:
    from pgxlit.ingest.tables import table_spans

    label = _label(shared, WARFARIN)
    dosage = _section(label, "dosage_and_administration")
    [span] = table_spans(label.sections)[dosage.order]
    table = dosage.text[span.start:span.end]
    assert span.table_id == "_Reft1"
    assert table.startswith("Table 1: Three Ranges") and table.endswith("AA 3-4 mg 3-4 mg 0.5-2 mg 0.5-2 mg 0.5-2 mg 0.5-2 mg")
    assert dosage.text[:span.start].rstrip().endswith("than patients without these CYP variants.")
    assert dosage.text[span.end:].lstrip().startswith("2.4 Monitoring to Achieve Optimal Anticoagulation")


def test_irinotecan_dose_tables_in_prose_end_where_the_next_subsection_starts(shared: Path) -> None:
    from pgxlit.ingest.tables import table_spans

    label = _label(shared, IRINOTECAN)
    dosage = _section(label, "dosage_and_administration")
    spans = table_spans(label.sections)[dosage.order]
    texts = [dosage.text[s.start:s.end] for s in spans]
    dose_mod = next(t for t in texts if "Maintain dose level" in t and "Neutropenic fever" in t)
    assert "2.2 Colorectal Single Agent" not in dose_mod
    # Prose between tables is outside every span: a rule may read it as sentences.
    prose = "Dosing for patients with bilirubin"
    at = dosage.text.index(prose)
    assert not any(s.start <= at < s.end for s in spans)


def test_spl_rows_are_located_in_their_own_section(shared: Path) -> None:
    from pgxlit.ingest.tables import table_spans

    path = shared / "corpora/fda" / LIPITOR_SPL
    label = parse_spl(path.read_bytes(), str(path))
    spans = table_spans(label.sections)
    assert sum(len(v) for v in spans.values()) == sum(len(s.tables) for s in label.sections) == 10
    crossover = next(s for s in label.sections if (s.title or "").startswith("14.4"))
    [span] = spans[crossover.order]
    assert "Total-C | 442 (225, 1320)" in crossover.text[span.start:span.end]


# ---- the store -----------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tables.sqlite'}"
    else:
        yield request.getfixturevalue("pg_url")


def test_tables_are_stored_and_an_older_store_gets_them_on_the_next_load(shared: Path, store_url: str) -> None:
    label = _label(shared, WARFARIN)
    store = Store(store_url)
    counts = SaveCounts()
    with store.transaction() as s:
        store.save_label_version(s, label, None, counts)
    assert store.label_versions()[0] == label
    store.close()
    # A store made before tables were parsed: no column for them.
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text('ALTER TABLE sections DROP COLUMN "tables"'))
    engine.dispose()
    store = Store(store_url)  # adds the column back, empty
    try:
        assert all(not s.tables for s in store.label_versions()[0].sections)
        counts = SaveCounts()
        with store.transaction() as s:
            store.save_label_version(s, label, None, counts)
        # The same label, not a conflicting copy; its tables are filled in.
        assert (counts.label_versions_unchanged, counts.label_versions_conflicting) == (1, 0)
        assert store.label_versions()[0] == label
    finally:
        store.close()
