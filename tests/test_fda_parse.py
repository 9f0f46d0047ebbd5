"""FDA label parsers (openFDA JSON, SPL XML, DailyMed answers) and the LOINC table.

The first block runs on tests/fixtures alone:
- openfda_capecitabine_min.json: openFDA NDA020896.json (Xeloda v28) with the
  real meta and only 7 of its 37 label fields, openfda{} cut to 6 keys;
- spl_inomax_v14_min.xml: INOMAX SPL v14 with 7 of its 17 top sections;
- dailymed_history_vitrakvi.json: verbatim copy (936 bytes);
- dailymed_spls_page1_min.xml: spls_page1.xml cut to its first 3 <spl>.
The rest reads the recorded corpora in ../shared/corpora/fda and skips without.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import orjson
import pytest

from pgxlit.ingest.dailymed_json import iso_date, parse_dailymed_history, parse_spls_page, sniff_dailymed_history
from pgxlit.ingest.openfda_json import (
    iter_openfda_bulk,
    parse_openfda_label,
    parse_openfda_response,
    sniff_openfda,
)
from pgxlit.ingest.spl_sections import (
    TABLE_FILE,
    build_sections_table,
    field_for_loinc,
    load_table,
    loinc_for_field,
    title_for_field,
)
from pgxlit.ingest.spl_xml import html_table_to_text, parse_spl, parse_spl_zip_or_xml, sniff_spl
from pgxlit.records import ApiError, LabelVersion, ParseError

FDA = Path("corpora/fda")
INOMAX = "762b51be-1893-4cd1-9511-e645fc420d3a"
LIPITOR = "c6e131fe-e7df-4876-83f7-9156fc4e8228"
NOT_FOUND = b'{\n  "error": {\n    "code": "NOT_FOUND",\n    "message": "No matches found!"\n  }\n}'
TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*[\s/>]")


def _fx(fixtures: Path, name: str) -> bytes:
    return (fixtures / name).read_bytes()


def _bulk(results: list[dict]) -> bytes:
    return orjson.dumps({"meta": {"disclaimer": "test", "results": {"skip": 0, "limit": 0, "total": len(results)}}, "results": results})


# --------------------------------------------------------------------------
# Self-contained: LOINC table
# --------------------------------------------------------------------------


def test_sections_table_maps_codes_fields_and_titles() -> None:
    assert loinc_for_field("boxed_warning") == "34066-1"
    assert field_for_loinc("66106-6") == "pharmacogenomics"
    assert field_for_loinc("34090-1") == "clinical_pharmacology"
    assert field_for_loinc("43685-7") == "warnings_and_cautions"
    assert field_for_loinc("34068-7") == "dosage_and_administration"
    assert field_for_loinc("34070-3") == "contraindications"
    assert field_for_loinc("51945-4") == "package_label_principal_display_panel"
    assert field_for_loinc("42229-5") == "spl_unclassified_section"  # openFDA's rename
    assert field_for_loinc("60558-4") == "cleaning"  # openFDA splits the unquoted CSV at the comma
    assert field_for_loinc("99999-9") is None and field_for_loinc(None) is None
    assert loinc_for_field("adverse_reactions_table") == "34084-4"
    assert loinc_for_field("no_such_field") is None
    assert title_for_field("warnings_and_cautions") == "Warnings and Precautions"
    assert title_for_field("adverse_reactions_table") == "Adverse Reactions (tables)"
    assert title_for_field("cleaning") == "Cleaning, Disinfecting, and Sterilization Instructions"
    assert title_for_field("some_new_field") == "Some new field"
    rows = load_table()
    assert len(rows) == 88
    assert len({r.loinc for r in rows}) == len({r.openfda_field for r in rows}) == 88


def test_sections_tsv_names_its_origin() -> None:
    import pgxlit.ingest.spl_sections as mod

    head = Path(mod.__file__).with_name(TABLE_FILE).read_text(encoding="utf-8").splitlines()[:6]
    comments = "\n".join(line for line in head if line.startswith("#"))
    assert "FDA/openfda" in comments and "2c152208aaa02323696d904e94a1d114e66247ec" in comments
    assert "CC0" in comments and "build_sections_table" in comments
    assert head[5] == "loinc\topenfda_field\ttitle"


def test_build_sections_table_from_csv(tmp_path: Path) -> None:
    src = tmp_path / "sections.csv"
    src.write_text("34066-1,Boxed Warning\n60562-6,Route, Method and Frequency of Administration\n42229-5,SPL Unclassified\n43685-7,Warnings and cautions\n")
    rows = build_sections_table(src, tmp_path / "out.tsv")
    assert [r.openfda_field for r in rows] == ["boxed_warning", "route", "spl_unclassified_section", "warnings_and_cautions"]
    assert rows[1].title == "Route, Method and Frequency of Administration"
    assert rows[3].title == "Warnings and Precautions"
    assert (tmp_path / "out.tsv").read_text().splitlines()[-1] == "43685-7\twarnings_and_cautions\tWarnings and Precautions"
    bad_schema = tmp_path / "schema.json"
    bad_schema.write_text('{"properties": {"boxed_warning": {}}}')
    with pytest.raises(ValueError, match="route"):
        build_sections_table(src, tmp_path / "out2.tsv", schema_path=bad_schema)


# --------------------------------------------------------------------------
# Self-contained: openFDA JSON
# --------------------------------------------------------------------------


def test_openfda_fixture_parses(fixtures: Path) -> None:
    labels, meta = parse_openfda_response(_fx(fixtures, "openfda_capecitabine_min.json"), "fx")
    assert meta == {"total": 2, "skip": 0, "limit": 1, "last_updated": None}
    (lv,) = labels
    assert lv.key == ("a1de8bba-3b1d-4c9d-ab8a-32d2c05e67c8", 28)
    assert (lv.effective_time, lv.spl_id) == ("20231128", "1187214d-f028-4db4-a59c-ab3bb029c46f")
    assert lv.source_format == "openfda"
    assert lv.title == "Xeloda (CAPECITABINE)"
    assert (lv.generic_names, lv.brand_names, lv.application_numbers) == (("CAPECITABINE",), ("Xeloda",), ("NDA020896",))
    assert lv.manufacturer == "Genentech, Inc."
    fields = [s.field for s in lv.sections]
    # JSON key order, metadata and spl_product_data_elements left out, display panel kept
    assert fields == [
        "boxed_warning",
        "recent_major_changes",
        "recent_major_changes_table",
        "contraindications",
        "pharmacogenomics",
        "package_label_principal_display_panel",
    ]
    assert [s.order for s in lv.sections] == list(range(len(fields)))
    pgx = lv.sections[fields.index("pharmacogenomics")]
    assert pgx.loinc == "66106-6" and pgx.title == "Pharmacogenomics" and "DPYD" in pgx.text
    assert lv.sections[0].loinc == "34066-1" and lv.sections[0].text.startswith("WARNING: INCREASED RISK OF BLEEDING")
    table = lv.sections[2]
    assert table.is_table and not lv.sections[1].is_table
    assert table.text.splitlines()[0] == "Boxed Warning | (12/2022)"
    assert not TAG.search(table.text)
    panel = lv.sections[-1]
    assert "\n\n" in panel.text  # two display panels, one paragraph each


def test_openfda_whitespace_normalised_per_value() -> None:
    lv = parse_openfda_label(
        {"set_id": "ABC", "version": "3", "boxed_warning": ["  a\n\tb  ", "", "c  d"], "openfda": {}, "spl_product_data_elements": ["X y z"]},
        "t",
    )
    assert lv.key == ("abc", 3)
    assert [s.text for s in lv.sections] == ["a b\n\nc d"]
    assert lv.title == "X y z" and lv.generic_names == () and lv.manufacturer is None


def test_openfda_label_without_version_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="version"):
        parse_openfda_label({"set_id": "x", "version": "v2"}, "src.json")
    with pytest.raises(ParseError, match="set_id"):
        parse_openfda_label({"version": "2"}, "src.json")


def test_openfda_not_found_is_zero_results() -> None:
    assert parse_openfda_response(NOT_FOUND, "q") == ([], {"total": 0})


def test_openfda_other_error_raises_api_error() -> None:
    body = b'{"error": {"code": "BAD_REQUEST", "message": "Syntax error in the search query near \'openfda.foo\'"}}'
    with pytest.raises(ApiError) as ei:
        parse_openfda_response(body, "https://api.fda.gov/drug/label.json?search=bad")
    assert ei.value.message.startswith("BAD_REQUEST: Syntax error")
    assert "api.fda.gov" in str(ei.value)


def test_openfda_truncated_fixture_raises_parse_error(fixtures: Path) -> None:
    data = _fx(fixtures, "openfda_capecitabine_min.json")
    with pytest.raises(ParseError) as ei:
        parse_openfda_response(data[: len(data) // 2], "cut.json")
    assert ei.value.source == "cut.json" and "char" in ei.value.reason
    with pytest.raises(ParseError, match="results"):
        parse_openfda_response(b'{"meta": {}}', "x")
    with pytest.raises(ParseError, match="object"):
        parse_openfda_response(b"[1, 2]", "x")
    with pytest.raises(ParseError, match=r"results\[1\]"):
        parse_openfda_response(b'{"results": [{"set_id": "a", "version": "1"}, {"version": "1"}]}', "x")


def test_openfda_bulk_stream_from_fixture(fixtures: Path, tmp_path: Path) -> None:
    (rec,) = orjson.loads(_fx(fixtures, "openfda_capecitabine_min.json"))["results"]
    recs = [dict(rec, version=str(v)) for v in (26, 27, 28)]
    path = tmp_path / "drug-label-0001-of-0001.json"
    path.write_bytes(_bulk(recs))
    with open(path, "rb") as fh:
        streamed = list(iter_openfda_bulk(fh, str(path)))
    expected, _ = parse_openfda_response(path.read_bytes(), str(path))
    assert streamed == expected and [lv.version for lv in streamed] == [26, 27, 28]


def test_openfda_bulk_truncated_names_source_and_record(fixtures: Path) -> None:
    (rec,) = orjson.loads(_fx(fixtures, "openfda_capecitabine_min.json"))["results"]
    data = _bulk([rec, rec, rec])
    cut = data[: len(data) * 5 // 6]  # inside the third record
    got: list[LabelVersion] = []
    with pytest.raises(ParseError) as ei:
        for lv in iter_openfda_bulk(io.BytesIO(cut), "bulk.json"):
            got.append(lv)
    assert len(got) == 2
    assert ei.value.source == "bulk.json" and "results[2]" in ei.value.reason
    with pytest.raises(ParseError, match=r"results\[0\]"):
        list(iter_openfda_bulk(io.BytesIO(b'{"meta": {}, "results": [{"set_id": "a", "version": "x"}]}'), "b"))


def test_sniff_openfda(fixtures: Path) -> None:
    assert sniff_openfda(_fx(fixtures, "openfda_capecitabine_min.json")[:4096])
    assert sniff_openfda(NOT_FOUND)
    assert sniff_openfda(b'\xef\xbb\xbf {"results": []}')
    assert not sniff_openfda(_fx(fixtures, "dailymed_history_vitrakvi.json"))  # has "metadata", not "meta"
    assert not sniff_openfda(_fx(fixtures, "spl_inomax_v14_min.xml")[:4096])
    assert not sniff_openfda(b"[]") and not sniff_openfda(b"")


def test_html_table_to_text() -> None:
    markup = (
        '<table ID="T1"><caption>Table 1 Doses</caption><col width="50%"/>'
        '<thead><tr><th>Genotype</th><th>Dose &#x2265; 5 mg</th></tr></thead>'
        "<tbody><tr><td>CYP2C19 *2/*2</td><td>&lt;1<br/>(avoid)<footnote>Poor metabolizer.</footnote></td></tr>"
        '<tr><td/><td styleCode="Rrule"/></tr>'
        "<tr><td>Normal&nbsp;metabolizer</td><td><content styleCode=\"bold\">75</content> mg</td></tr></tbody></table>"
    )
    assert html_table_to_text(markup).splitlines() == [
        "Table 1 Doses",
        "Genotype | Dose ≥ 5 mg",
        "CYP2C19 *2/*2 | <1 (avoid)",
        "Normal metabolizer | 75 mg",
        "Poor metabolizer.",
    ]
    assert html_table_to_text("") == ""
    # openFDA's markup is XHTML: a self-closed <footnoteRef/> must not swallow the rest of the cell
    xhtml = '<table><tr><td>AC<footnoteRef IDREF="t1fn2"/> &#x2192; Docetaxel+Herceptin</td><td/><td>1</td></tr></table>'
    assert html_table_to_text(xhtml) == "AC → Docetaxel+Herceptin |  | 1"
    assert html_table_to_text(xhtml.replace("&#x2192;", "&nbsp;")) == "AC Docetaxel+Herceptin |  | 1"  # HTML fallback
    assert html_table_to_text("<p>x</p> tail<table><tr><td>1</td></tr></table>") == "x\n\ntail\n\n1"


# --------------------------------------------------------------------------
# Self-contained: SPL XML
# --------------------------------------------------------------------------


def test_spl_fixture_parses(fixtures: Path) -> None:
    lv = parse_spl(_fx(fixtures, "spl_inomax_v14_min.xml"), "fx.xml")
    assert lv.key == (INOMAX, 14) and lv.effective_time == "20190225"
    assert lv.spl_id == "dca73b42-0b9a-4261-bfb8-093e13422ba9" and lv.source_format == "spl"
    assert lv.title.startswith("These highlights do not include") and "  " not in lv.title
    assert (lv.generic_names, lv.brand_names, lv.application_numbers) == (("NITRIC OXIDE",), ("INOmax",), ("NDA020845",))
    assert lv.manufacturer == "INO Therapeutics"
    assert [s.order for s in lv.sections] == list(range(len(lv.sections)))
    assert all(s.text.strip() for s in lv.sections)
    by_title = {s.title: s for s in lv.sections if s.title}
    ind = by_title["1 INDICATIONS AND USAGE"]
    assert (ind.loinc, ind.field) == ("34067-9", "indications_and_usage")
    assert "INOmax is indicated" in ind.text.replace("®", "").replace("  ", " ")
    # Highlights excerpt ("INOmax is a vasodilator indicated for...") is not section text
    assert "vasodilator" not in ind.text
    w51 = by_title["5.1 Rebound Pulmonary Hypertension Syndrome following Abrupt Discontinuation"]
    assert (w51.loinc, w51.field) == ("42229-5", "warnings_and_cautions")  # unclassified child of 43685-7
    moa = by_title["12.1 Mechanism of Action"]
    assert (moa.loinc, moa.field) == ("43679-0", "mechanism_of_action")
    hs = by_title["16 HOW SUPPLIED/STORAGE AND HANDLING"]
    assert any(line.startswith("Size D | Portable aluminum cylinders") for line in hs.text.splitlines())
    # a parent's text never repeats its subsection's text
    storage = next(s for s in lv.sections if s.loinc == "44425-7")
    assert storage.text.split("\n\n")[0] not in hs.text
    # the Highlights list of section 2 stays out; 2.1's text comes from its untitled child
    dosing = [s for s in lv.sections if s.field == "dosage_and_administration"]
    assert dosing and not any("Avoid abrupt discontinuation (2.2" in s.text for s in dosing)


def test_spl_narrative_rendering() -> None:
    doc = (
        '<document xmlns="urn:hl7-org:v3"><setId root="S"/><versionNumber value="2"/>'
        '<component><structuredBody><component><section><code code="34090-1"/><title>12 CLINICAL\n   PHARMACOLOGY</title>'
        "<text><paragraph>Line one<br/>line\n  two<footnote>See 12.5.</footnote></paragraph>"
        '<list listType="unordered"><caption>Risks:</caption><item>first</item>'
        "<item><caption>b)</caption>second<list><item>nested <sub>2</sub></item></list></item></list>"
        '<table><tbody><tr><td>CYP2C19</td><td>PM</td></tr></tbody></table><renderMultiMedia referencedObject="x"/>'
        '</text><component><section><code code="66106-6"/><title>12.5 Pharmacogenomics</title>'
        "<text><paragraph>CYP2C19 poor metabolizers</paragraph></text></section></component>"
        "</section></component></structuredBody></component></document>"
    ).encode()
    lv = parse_spl(doc, "t.xml")
    cp, pgx = lv.sections
    assert cp.title == "12 CLINICAL PHARMACOLOGY" and (cp.field, cp.loinc) == ("clinical_pharmacology", "34090-1")
    assert cp.text.split("\n\n") == [
        "Line one\nline two",
        "See 12.5.",
        "Risks:\n- first\n- b) second\n  - nested 2",
        "CYP2C19 | PM",
    ]
    assert (pgx.field, pgx.loinc, pgx.text) == ("pharmacogenomics", "66106-6", "CYP2C19 poor metabolizers")
    assert "poor metabolizers" not in cp.text


def test_spl_upper_case_set_id_is_lowered(fixtures: Path) -> None:
    data = _fx(fixtures, "spl_inomax_v14_min.xml").replace(
        f'<setId root="{INOMAX}"/>'.encode(), f'<setId root="{INOMAX.upper()}"/>'.encode()
    )
    assert INOMAX.upper().encode() in data
    assert parse_spl(data, "x").set_id == INOMAX


def test_spl_malformed_raises_parse_error_with_line(fixtures: Path) -> None:
    data = _fx(fixtures, "spl_inomax_v14_min.xml")
    with pytest.raises(ParseError) as ei:
        parse_spl(data[: len(data) // 2], "half.xml")
    assert ei.value.source == "half.xml" and re.search(r"line \d+", ei.value.reason)
    with pytest.raises(ParseError, match="not an SPL document"):
        parse_spl(b"<spls/>", "x")
    with pytest.raises(ParseError, match="versionNumber"):
        parse_spl(b'<document xmlns="urn:hl7-org:v3"><setId root="A"/></document>', "x")


def test_spl_does_not_expand_external_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE document [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        '<document xmlns="urn:hl7-org:v3"><setId root="S"/><versionNumber value="1"/>'
        '<component><structuredBody><component><section><code code="34066-1"/>'
        "<text><paragraph>before &xxe; after</paragraph></text></section></component></structuredBody></component></document>"
    ).encode()
    lv = parse_spl(doc, "xxe.xml")
    assert lv.sections[0].field == "boxed_warning"
    assert "TOPSECRET" not in lv.sections[0].text and lv.sections[0].text.startswith("before")


def test_spl_zip(fixtures: Path) -> None:
    xml = _fx(fixtures, "spl_inomax_v14_min.xml")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dca73b42-0b9a-4261-bfb8-093e13422ba9.xml", xml)
        zf.writestr("inomax-01.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    data = buf.getvalue()
    assert sniff_spl(data[:4096])
    assert parse_spl_zip_or_xml(data, "spl.zip") == parse_spl(xml, "x")
    assert parse_spl_zip_or_xml(xml, "x.xml") == parse_spl(xml, "x")
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.xml", xml)
        zf.writestr("b.xml", xml)
    with pytest.raises(ParseError, match="exactly one"):
        parse_spl_zip_or_xml(two.getvalue(), "two.zip")
    with pytest.raises(ParseError, match="zip"):
        parse_spl_zip_or_xml(data[:100], "cut.zip")


def test_sniff_spl(fixtures: Path) -> None:
    assert sniff_spl(_fx(fixtures, "spl_inomax_v14_min.xml")[:4096])
    assert not sniff_spl(_fx(fixtures, "dailymed_spls_page1_min.xml"))
    assert not sniff_spl(_fx(fixtures, "openfda_capecitabine_min.json")[:4096])
    assert not sniff_spl(b"<html><body>document</body></html>")


# --------------------------------------------------------------------------
# Self-contained: DailyMed
# --------------------------------------------------------------------------


def test_dailymed_history_fixture(fixtures: Path) -> None:
    data = _fx(fixtures, "dailymed_history_vitrakvi.json")
    assert sniff_dailymed_history(data)
    entries, paging = parse_dailymed_history(data, "h.json")
    assert [e.version for e in entries] == [3, 1]
    assert [e.published_date for e in entries] == ["2019-05-02", "2018-12-06"]
    assert {e.set_id for e in entries} == {"9525f887-a055-4e33-8e92-898d42828cd1"}
    assert entries[0].title.startswith("VITRAKVI (LAROTRECTINIB)")
    assert paging == {"total_pages": 1, "current_page": 1, "next_page_url": None, "total_elements": 2}


def test_dailymed_history_errors(fixtures: Path) -> None:
    data = _fx(fixtures, "dailymed_history_vitrakvi.json")
    with pytest.raises(ParseError, match="char"):
        parse_dailymed_history(data[:300], "cut.json")
    with pytest.raises(ApiError):
        parse_dailymed_history(b'{"error": "Invalid setid"}', "e.json")
    with pytest.raises(ParseError, match="data"):
        parse_dailymed_history(b'{"metadata": {}}', "e.json")
    with pytest.raises(ParseError, match="date"):
        parse_dailymed_history(data.replace(b"May 02, 2019", b"2019/05/02"), "d.json")
    assert not sniff_dailymed_history(NOT_FOUND)


def test_iso_date() -> None:
    assert iso_date("May 02, 2019") == "2019-05-02"
    assert iso_date("Sep 8, 2009") == "2009-09-08"
    assert iso_date("null") is None and iso_date(None) is None
    with pytest.raises(ValueError):
        iso_date("Foo 01, 2020")


def test_spls_page_fixture(fixtures: Path) -> None:
    entries, paging = parse_spls_page(_fx(fixtures, "dailymed_spls_page1_min.xml"), "p.xml")
    assert len(entries) == 3
    assert entries[0] == {
        "setid": "025c0c24-ac0f-42ed-a17c-fd70f1efd38a",
        "spl_version": 1,
        "title": "PHARMA C WIPES HEMORRHOIDAL (WITCH HAZEL) CLOTH [KLEEN TEST PRODUCTS CORPORATION]",
        "published_date": "2021-05-12",
    }
    assert paging["total_pages"] == 1389 and paging["current_page"] == 1
    assert paging["next_page_url"] == "https://dailymed.nlm.nih.gov/dailymed/services/v2/spls.xml?page=2&pagesize=100"
    with pytest.raises(ParseError, match="line"):
        parse_spls_page(b"<spls><spl>", "bad.xml")


# --------------------------------------------------------------------------
# Recorded corpora (../shared)
# --------------------------------------------------------------------------


def _index_rows(shared: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name in ("labels_index.tsv", "history_index.tsv"):
        with open(shared / FDA / "openfda" / name, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh, delimiter="\t"))
    return rows


def _openfda(shared: Path, rel: str) -> LabelVersion:
    labels, _ = parse_openfda_response((shared / FDA / "openfda" / rel).read_bytes(), rel)
    assert len(labels) == 1
    return labels[0]


def _spl_files(shared: Path) -> list[Path]:
    return sorted((shared / FDA / "spl").glob("*/*.xml"))


@pytest.fixture(scope="module")
def all_openfda(shared: Path) -> dict[str, LabelVersion]:
    return {r["file"]: _openfda(shared, r["file"]) for r in _index_rows(shared)}


def test_every_openfda_file_matches_its_index_row(shared: Path, all_openfda: dict[str, LabelVersion]) -> None:
    rows = _index_rows(shared)
    files = sorted(p.relative_to(shared / FDA / "openfda").as_posix() for p in (shared / FDA / "openfda").glob("*/**/*.json"))
    assert len(rows) == len(files) == 216 and sorted(r["file"] for r in rows) == files
    for r in rows:
        lv = all_openfda[r["file"]]
        assert (lv.set_id, lv.version, lv.effective_time) == (r["set_id"], int(r["version"]), r["effective_time"]), r["file"]
        assert lv.set_id == lv.set_id.lower()
        if "spl_id" in r:
            assert lv.spl_id == r["spl_id"]
        if "application_number" in r:
            assert r["application_number"] in lv.application_numbers
    # the newest history file of each of the 17 labels repeats labels/<APPNO>.json
    assert len({lv.key for lv in all_openfda.values()}) == 199
    assert len({lv.set_id for lv in all_openfda.values()}) == 127


def test_openfda_index_flags_match_sections(shared: Path, all_openfda: dict[str, LabelVersion]) -> None:
    rows = list(csv.DictReader(open(shared / FDA / "openfda/labels_index.tsv", encoding="utf-8"), delimiter="\t"))
    n_pgx = 0
    for r in rows:
        fields = {s.field for s in all_openfda[r["file"]].sections}
        assert ("pharmacogenomics" in fields) == (r["has_pharmacogenomics_field"] == "True"), r["file"]
        assert ("boxed_warning" in fields) == (r["has_boxed_warning"] == "True"), r["file"]
        n_pgx += "pharmacogenomics" in fields
        assert all(lv.generic_names for lv in [all_openfda[r["file"]]])
    assert n_pgx == 24


def test_every_openfda_field_has_loinc_and_title(all_openfda: dict[str, LabelVersion]) -> None:
    for name, lv in all_openfda.items():
        assert lv.sections, name
        for s in lv.sections:
            assert s.loinc is not None, (name, s.field)
            assert s.title and s.text.strip()
            assert s.is_table == s.field.endswith("_table")


def test_openfda_table_fields_become_readable_text(all_openfda: dict[str, LabelVersion]) -> None:
    tables = [s for lv in all_openfda.values() for s in lv.sections if s.is_table]
    assert len(tables) > 900
    for s in tables:
        assert not TAG.search(s.text), s.text[:200]
        assert "&lt;" not in s.text and "&#" not in s.text and "&nbsp;" not in s.text
    assert sum(" | " in s.text for s in tables) / len(tables) > 0.95
    cape = all_openfda["labels/NDA020896.json"]
    ar = next(s for s in cape.sections if s.field == "adverse_reactions_table")
    assert "Diarrhea | 47 | 12 | 65 | 14" in ar.text.splitlines()
    assert "Palmar-plantar erythrodysesthesia syndrome | 60 | 17 | 9 | <1" in ar.text.splitlines()
    herceptin = next(s for s in all_openfda["labels/BLA103792.json"].sections if s.field == "warnings_and_cautions_table")
    assert "4 | AC → Docetaxel+Herceptin | 2% (20/1068) | 0.3% (3/1050)" in herceptin.text.splitlines()


def test_openfda_table_fields_are_also_parsed_as_tables(all_openfda: dict[str, LabelVersion]) -> None:
    """Each <table> of a *_table value is a Table on the section; the rendered text keeps every body row."""
    sections = [s for lv in all_openfda.values() for s in lv.sections if s.is_table]
    assert all(s.tables for s in sections if " | " in s.text)
    assert not [s for lv in all_openfda.values() for s in lv.sections if s.tables and not s.is_table]
    cape = all_openfda["labels/NDA020896.json"]
    ar = next(s for s in cape.sections if s.field == "adverse_reactions_table")
    assert "Diarrhea | 47 | 12 | 65 | 14" in ar.text.splitlines()
    diarrhea = next(r for t in ar.tables for r in t.rows if r[0] == "Diarrhea" and "47" in r)
    assert diarrhea[:5] == ("Diarrhea", "47", "12", "65", "14")


def test_capecitabine_pgx_and_boxed_warning(shared: Path) -> None:
    lv = _openfda(shared, "labels/NDA020896.json")
    assert lv.key == ("a1de8bba-3b1d-4c9d-ab8a-32d2c05e67c8", 28)
    pgx = [s for s in lv.sections if s.field == "pharmacogenomics"]
    assert len(pgx) == 1 and pgx[0].loinc == "66106-6" and "DPYD" in pgx[0].text
    bw = next(s for s in lv.sections if s.field == "boxed_warning")
    assert bw.loinc == "34066-1" and bw.order == 0
    # v25 has neither pharmacogenomics nor recent_major_changes; v27 adds both
    v25 = _openfda(shared, "history/NDA020896/2021-06-14_20210601_v25.json")
    v27 = _openfda(shared, "history/NDA020896/2022-12-26_20221216_v27.json")
    assert "pharmacogenomics" not in {s.field for s in v25.sections}
    assert {"pharmacogenomics", "recent_major_changes"} <= {s.field for s in v27.sections}


def test_clopidogrel_cyp2c19_lives_in_clinical_pharmacology(shared: Path) -> None:
    lv = _openfda(shared, "labels/NDA020839.json")
    fields = [s.field for s in lv.sections]
    assert "pharmacogenomics" not in fields
    cp = next(s for s in lv.sections if s.field == "clinical_pharmacology")
    assert cp.loinc == "34090-1" and "CYP2C19" in cp.text


# Expected (version, effectiveTime) of every SPL file, from corpora/fda/README.md.
SPL_EXPECTED = {
    "17a163ef-b349-4e32-bc8c-b02bac7f65d6/8.xml": "20120229",
    "1b5e2860-6855-4a65-8bbc-e064172a1adf/1.xml": "20160309",
    f"{INOMAX}/1.xml": "20060329",
    f"{INOMAX}/2.xml": "20070309",
    f"{INOMAX}/3.xml": "20090507",
    f"{INOMAX}/4.xml": "20090904",
    f"{INOMAX}/6.xml": "20101210",
    f"{INOMAX}/7.xml": "20110709",
    f"{INOMAX}/9.xml": "20130301",
    f"{INOMAX}/12.xml": "20151015",
    f"{INOMAX}/13.xml": "20160222",
    f"{INOMAX}/14.xml": "20190225",
    f"{LIPITOR}/11.xml": "20140113",
}


def test_every_spl_file_parses(shared: Path) -> None:
    files = _spl_files(shared)
    assert sorted(p.relative_to(shared / FDA / "spl").as_posix() for p in files) == sorted(SPL_EXPECTED)
    for p in files:
        data = p.read_bytes()
        assert sniff_spl(data[:4096]) and not sniff_openfda(data[:4096])
        lv = parse_spl(data, str(p))
        rel = p.relative_to(shared / FDA / "spl").as_posix()
        assert lv.set_id == p.parent.name and lv.set_id == lv.set_id.lower(), rel
        assert lv.version == int(p.stem) and lv.effective_time == SPL_EXPECTED[rel], rel
        assert lv.source_format == "spl" and lv.title and lv.generic_names and lv.brand_names
        assert len(lv.sections) >= 15 and all(s.text.strip() for s in lv.sections)
        assert [s.order for s in lv.sections] == list(range(len(lv.sections)))
    raw = (shared / FDA / "spl" / INOMAX / "1.xml").read_bytes()
    assert INOMAX.upper().encode() in raw  # the quirk the lower-casing is for


def test_inomax_v14_sections(shared: Path) -> None:
    lv = parse_spl((shared / FDA / "spl" / INOMAX / "14.xml").read_bytes(), "14.xml")
    codes = {s.loinc for s in lv.sections}
    assert {"34067-9", "34070-3", "34084-4", "43679-0", "34069-5", "51945-4"} <= codes
    assert all(s.loinc for s in lv.sections)
    titled = {s.title: s for s in lv.sections if s.title}
    assert titled["4 CONTRAINDICATIONS"].field == "contraindications"
    assert titled["6 ADVERSE REACTIONS"].loinc == "34084-4"
    # 6.1 is its own Section; its text does not repeat in 6
    s61 = titled["6.1 Clinical Trials Experience"]
    assert s61.field == "adverse_reactions" and s61.order > titled["6 ADVERSE REACTIONS"].order
    assert s61.text[:80] not in titled["6 ADVERSE REACTIONS"].text


def test_inomax_spl_versions_match_dailymed_history(shared: Path) -> None:
    entries, _ = parse_dailymed_history((shared / FDA / f"dailymed/history/{INOMAX}.json").read_bytes(), "h")
    versions = sorted(parse_spl(p.read_bytes(), str(p)).version for p in (shared / FDA / "spl" / INOMAX).glob("*.xml"))
    assert versions == sorted(e.version for e in entries) == [1, 2, 3, 4, 6, 7, 9, 12, 13, 14]
    assert entries[0].published_date == "2019-02-26" and entries[-1].published_date == "2006-09-18"


def test_lipitor_spl_v11_vs_openfda_v38(shared: Path) -> None:
    spl = parse_spl((shared / FDA / "spl" / LIPITOR / "11.xml").read_bytes(), "11.xml")
    ofda = _openfda(shared, "labels/NDA020702.json")
    assert spl.set_id == ofda.set_id == LIPITOR
    assert spl.key == (LIPITOR, 11) and ofda.key == (LIPITOR, 38) and spl.key != ofda.key
    assert "NDA020702" in spl.application_numbers and "NDA020702" in ofda.application_numbers
    cp = [s for s in spl.sections if s.title and s.title.startswith("12.")]
    assert {s.loinc for s in cp} >= {"43679-0", "43681-6"}
    assert {s.field for s in cp} >= {"mechanism_of_action", "pharmacodynamics"}
    # title-only subsections keep their content ("4.1 Active liver disease ...")
    contra = [s for s in spl.sections if s.field == "contraindications"]
    assert any("Active liver disease" in s.text for s in contra)
    # recent major changes exist only as a Highlights excerpt
    rmc = next(s for s in spl.sections if s.loinc == "43683-2")
    assert "Warnings and Precautions (5.1) | 10/2012" in rmc.text.splitlines()


def test_openfda_truncated_real_file(shared: Path) -> None:
    data = (shared / FDA / "openfda/labels/NDA020896.json").read_bytes()
    with pytest.raises(ParseError) as ei:
        parse_openfda_response(data[:100_000], "NDA020896.json")
    assert "NDA020896.json" in str(ei.value) and "char" in ei.value.reason


def test_bulk_stream_of_real_results(shared: Path, tmp_path: Path) -> None:
    paths = sorted((shared / FDA / "openfda/labels").glob("*.json"))[:12]
    results = [orjson.loads(p.read_bytes())["results"][0] for p in paths]
    bulk = tmp_path / "drug-label-0001-of-0001.json"
    bulk.write_bytes(_bulk(results))
    with open(bulk, "rb") as fh:
        streamed = list(iter_openfda_bulk(fh, str(bulk)))
    one_by_one = [_openfda(shared, f"labels/{p.name}") for p in paths]
    whole, meta = parse_openfda_response(bulk.read_bytes(), str(bulk))
    assert streamed == one_by_one == whole and meta["total"] == 12
    with pytest.raises(ParseError, match=r"drug-label-0001-of-0001\.json.*results\["):
        list(iter_openfda_bulk(io.BytesIO(bulk.read_bytes()[:-5000]), str(bulk)))


def test_dailymed_recorded_answers(shared: Path) -> None:
    entries, paging = parse_dailymed_history(
        (shared / FDA / "dailymed/history/9525f887-a055-4e33-8e92-898d42828cd1.json").read_bytes(), "v"
    )
    assert [(e.version, e.published_date) for e in entries] == [(3, "2019-05-02"), (1, "2018-12-06")]
    assert paging["next_page_url"] is None
    page, meta = parse_spls_page((shared / FDA / "dailymed/spls/spls_page1.xml").read_bytes(), "p")
    assert len(page) == 100 and len({e["setid"] for e in page}) == 100
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", e["published_date"]) for e in page)
    assert meta["total_elements"] == 138802 and meta["total_pages"] == 1389 and "page=2" in meta["next_page_url"]


def test_sniffers_on_recorded_files(shared: Path) -> None:
    for p in sorted((shared / FDA / "openfda").glob("*/**/*.json")):
        head = p.read_bytes()[:4096]
        assert sniff_openfda(head) and not sniff_spl(head) and not sniff_dailymed_history(head), p
    for p in sorted((shared / FDA / "dailymed/history").glob("*.json")):
        head = p.read_bytes()[:4096]
        assert sniff_dailymed_history(head) and not sniff_openfda(head), p
