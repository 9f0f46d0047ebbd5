"""Parse PubMed XML (efetch answers, baseline/update files) and esearch answers.

Pure functions: bytes or a binary stream in, records from ``pgxlit.records``
out. No network, no database. Fetching and storing live elsewhere.

Safety: every parser here refuses to load DTDs, to touch the network and to
expand entities, and keeps libxml2's size limits (``huge_tree=False``), so a
hostile or broken file cannot make us fetch anything or blow up memory.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import orjson
from lxml import etree

from pgxlit.records import (
    Abstract,
    AbstractSection,
    ApiError,
    ParseError,
    PubmedDeletion,
    SearchResult,
)

__all__ = ["iter_pubmed_xml", "parse_pubmed_xml", "parse_esearch", "sniff_pubmed_root"]

# Same switches for streaming and whole-document parsing (see module docstring).
_SAFE_OPTIONS: dict[str, bool] = {
    "load_dtd": False,
    "no_network": True,
    "resolve_entities": False,
    "huge_tree": False,
}

_PUBMED_ROOTS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet"})
# The only elements iterparse reports: records, deletions and API errors.
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation", "ERROR")

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
# MathML inside titles/abstracts: namespaced as PubMed sends it, or bare.
_MATH_TAGS = ("{http://www.w3.org/1998/Math/MathML}math", "mml:math", "math")
# MathML elements whose text is content; any other text in a formula is layout.
_MATH_TOKENS = frozenset({"mi", "mn", "mo", "mtext", "ms"})
_YEAR_RE = re.compile(r"\b(1[5-9]\d\d|2\d\d\d)\b")

# esearch JSON spells the ErrorList/WarningList children differently from XML;
# we report them with the XML names so both forms give identical strings.
_JSON_MESSAGE_NAMES = {
    "phrasesnotfound": "PhraseNotFound",
    "fieldsnotfound": "FieldNotFound",
    "phrasesignored": "PhraseIgnored",
    "quotedphrasesnotfound": "QuotedPhraseNotFound",
    "outputmessages": "OutputMessage",
}


# --------------------------------------------------------------------------
# Small text and date helpers
# --------------------------------------------------------------------------


def _norm(text: str | None) -> str:
    """Collapse all whitespace runs (pretty-printing, NBSP, newlines) to one space."""
    return " ".join(text.split()) if text else ""


def _flat(elem: etree._Element | None) -> str:
    """Element text with inline markup (<i>, <sup>, MathML…) dropped, tails kept."""
    if elem is None:
        return ""
    if not len(elem):  # no markup inside: the common case by far
        return _norm(elem.text)
    if next(elem.iter(_MATH_TAGS), None) is None:  # inline markup only: itertext is enough
        return _norm("".join(elem.itertext()))
    pieces: list[str] = []
    _collect_text(elem, pieces)
    return _norm("".join(pieces))


def _local_name(node: etree._Element) -> str:
    tag = node.tag if isinstance(node.tag, str) else ""
    return tag.rpartition("}")[2].rpartition(":")[2]


def _collect_text(elem: etree._Element, pieces: list[str]) -> None:
    """itertext, except that a MathML formula keeps only the text of its token
    elements, not the pretty-printing between them ('V.O2max', not 'V . O 2 m a x')."""
    if elem.tag in _MATH_TAGS:
        pieces.extend(node.text or "" for node in elem.iter() if _local_name(node) in _MATH_TOKENS)
        return
    if elem.text:
        pieces.append(elem.text)
    for child in elem:
        if isinstance(child.tag, str):  # comments and PIs contribute only their tail
            _collect_text(child, pieces)
        if child.tail:
            pieces.append(child.tail)


def _opt(text: str) -> str | None:
    return text or None


def _flat_all(elems: Iterable[etree._Element]) -> tuple[str, ...]:
    """Flattened texts in document order, empty ones dropped."""
    return tuple(t for t in (_flat(e) for e in elems) if t)


def _month_number(text: str | None) -> int | None:
    """'02', '2', 'Feb', 'February' -> 2; anything else -> None."""
    text = (text or "").strip()
    if text.isdigit():
        number = int(text)
    else:
        number = _MONTHS.get(text[:3].lower(), 0)
    return number if 1 <= number <= 12 else None


def _day_number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 31 else None


def _ymd(elem: etree._Element | None) -> tuple[int | None, str | None]:
    """(year, 'YYYY[-MM[-DD]]') from a date element with Year/Month/Day children.

    Precision stops at the first missing or unreadable part (a Season, say),
    so we never invent a month or a day. A MedlineDate such as
    '1998 Dec-1999 Jan' gives its first year only.
    """
    if elem is None:
        return None, None
    year_text = (elem.findtext("Year") or "").strip()
    if not year_text:
        match = _YEAR_RE.search(elem.findtext("MedlineDate") or "")
        year_text = match.group(1) if match else ""
        if not year_text:
            return None, None
        return int(year_text), year_text
    if not year_text.isdigit():
        return None, None
    iso = year_text
    month = _month_number(elem.findtext("Month"))
    if month is not None:
        iso += f"-{month:02d}"
        day = _day_number(elem.findtext("Day"))
        if day is not None:
            iso += f"-{day:02d}"
    return int(year_text), iso


# --------------------------------------------------------------------------
# One record
# --------------------------------------------------------------------------


def _sections(abstract: etree._Element | None) -> tuple[AbstractSection, ...]:
    """One AbstractSection per AbstractText of the main Abstract (not OtherAbstract)."""
    if abstract is None:
        return ()
    return tuple(
        AbstractSection(
            text=_flat(node),
            label=_opt(_norm(node.get("Label"))),
            category=_opt(_norm(node.get("NlmCategory"))),
        )
        for node in abstract.iterfind("AbstractText")
    )


def _doi(id_lists: Iterable[etree._Element | None], article: etree._Element | None) -> str | None:
    """DOI from the record's own ArticleIdList, else from a valid ELocationID.

    Only the record's ArticleIdList counts: ReferenceList entries carry DOIs
    of *cited* papers in the same element names.
    """
    for id_list in id_lists:
        if id_list is None:
            continue
        for node in id_list.iterfind("ArticleId[@IdType='doi']"):
            if doi := _norm(node.text):
                return doi
    if article is not None:
        for node in article.iterfind("ELocationID[@EIdType='doi']"):
            if node.get("ValidYN", "Y") == "Y" and (doi := _norm(node.text)):
                return doi
    return None


def _pmid(parent: etree._Element, source: str, record: etree._Element) -> tuple[str, int]:
    """(PMID, version); a record without one is unusable, so it is a ParseError."""
    node = parent.find("PMID")
    pmid = _norm(node.text) if node is not None else ""
    if not pmid:
        raise ParseError(source, f"<{record.tag}> without PMID at line {record.sourceline}")
    version = (node.get("Version") or "1").strip()
    return pmid, int(version) if version.isdigit() else 1


def _title(container: etree._Element | None) -> str:
    """ArticleTitle, or VernacularTitle when PubMed left the English title empty."""
    if container is None:
        return ""
    return _flat(container.find("ArticleTitle")) or _flat(container.find("VernacularTitle"))


def _journal_article(record: etree._Element, source: str) -> Abstract:
    citation = record.find("MedlineCitation")
    if citation is None:
        raise ParseError(source, f"<PubmedArticle> without MedlineCitation at line {record.sourceline}")
    pmid, version = _pmid(citation, source, record)
    article = citation.find("Article")
    journal = article.find("Journal") if article is not None else None
    year, pub_date = _ymd(journal.find("JournalIssue/PubDate") if journal is not None else None)
    if year is None and article is not None:
        year, pub_date = _ymd(article.find("ArticleDate"))
    return Abstract(
        pmid=pmid,
        pmid_version=version,
        title=_title(article),
        sections=_sections(article.find("Abstract") if article is not None else None),
        journal=_opt(_flat(journal.find("Title"))) if journal is not None else None,
        pub_year=year,
        pub_date=pub_date,
        date_revised=_ymd(citation.find("DateRevised"))[1],
        mesh_terms=_flat_all(citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")),
        chemicals=_flat_all(citation.iterfind("ChemicalList/Chemical/NameOfSubstance")),
        publication_types=_flat_all(citation.iterfind("Article/PublicationTypeList/PublicationType")),
        keywords=_flat_all(citation.iterfind("KeywordList/Keyword")),
        doi=_doi([record.find("PubmedData/ArticleIdList")], article),
        status=_opt(_norm(citation.get("Status"))),
        language=_opt(_norm(citation.findtext("Article/Language"))),
    )


def _book_article(record: etree._Element, source: str) -> Abstract:
    """A PubmedBookArticle (e.g. GeneReviews): title is the chapter's ArticleTitle,
    else the BookTitle; `journal` holds the BookTitle, the container."""
    document = record.find("BookDocument")
    if document is None:
        raise ParseError(source, f"<PubmedBookArticle> without BookDocument at line {record.sourceline}")
    pmid, version = _pmid(document, source, record)
    book_title = _flat(document.find("Book/BookTitle"))
    year, pub_date = _ymd(document.find("Book/PubDate"))
    return Abstract(
        pmid=pmid,
        pmid_version=version,
        title=_title(document) or book_title,
        sections=_sections(document.find("Abstract")),
        journal=_opt(book_title),
        pub_year=year,
        pub_date=pub_date,
        date_revised=_ymd(document.find("DateRevised"))[1],
        publication_types=_flat_all(document.iterfind("PublicationType")),
        keywords=_flat_all(document.iterfind("KeywordList/Keyword")),
        doi=_doi([document.find("ArticleIdList"), record.find("PubmedBookData/ArticleIdList")], None),
        language=_opt(_norm(document.findtext("Language"))),
    )


def _deletion(record: etree._Element) -> PubmedDeletion | None:
    pmids = tuple(p for p in (_norm(n.text) for n in record.iterfind("PMID")) if p)
    return PubmedDeletion(pmids=pmids) if pmids else None


def _record(elem: etree._Element, source: str) -> Abstract | PubmedDeletion | None:
    if elem.tag == "PubmedArticle":
        return _journal_article(elem, source)
    if elem.tag == "PubmedBookArticle":
        return _book_article(elem, source)
    return _deletion(elem)


# --------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------


def _release(elem: etree._Element) -> None:
    """Drop a processed element and everything before it, so memory stays flat."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    line, column = exc.position if exc.position else (exc.lineno, 0)
    message = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
    return f"malformed XML at line {line}, column {column}: {message}"


def _events(stream: BinaryIO, source: str) -> Iterator[etree._Element]:
    """iterparse end events for _RECORD_TAGS, with low-level failures as ParseError."""
    context = etree.iterparse(stream, events=("end",), tag=_RECORD_TAGS, **_SAFE_OPTIONS)
    try:
        for _event, elem in context:
            yield elem
    except etree.XMLSyntaxError as exc:
        raise ParseError(source, _syntax_reason(exc)) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # a truncated/corrupt .gz stream
        raise ParseError(source, f"compressed input is damaged: {exc}") from exc
    root = context.root
    if root is None or root.tag not in _PUBMED_ROOTS:
        tag = "nothing" if root is None else f"<{root.tag}>"
        raise ParseError(source, f"expected <PubmedArticleSet>, found {tag}")


def iter_pubmed_xml(stream: BinaryIO, source: str) -> Iterator[Abstract | PubmedDeletion]:
    """Yield one Abstract per PubmedArticle/PubmedBookArticle and one
    PubmedDeletion per DeleteCitation, in file order, in constant memory.

    `stream` is a binary file-like (pass gzip.open(...) for .gz files);
    `source` names it in errors. Raises ParseError for malformed or unexpected
    XML (after yielding every record that preceded the damage) and ApiError
    for an ``<eFetchResult><ERROR>`` answer.
    """
    for elem in _events(stream, source):
        if elem.tag == "ERROR":
            if elem.getparent() is not None and elem.getparent().getparent() is None:
                raise ApiError(source, _flat(elem) or "empty <ERROR>")
            continue
        record = _record(elem, source)
        _release(elem)
        if record is not None:
            yield record


def parse_pubmed_xml(data: bytes, source: str) -> list[Abstract | PubmedDeletion]:
    """All records of an in-memory PubMed XML document (see iter_pubmed_xml)."""
    return list(iter_pubmed_xml(io.BytesIO(data), source))


# --------------------------------------------------------------------------
# esearch
# --------------------------------------------------------------------------


def _int(text: Any, what: str, source: str, default: int | None = None) -> int:
    if text is None or (isinstance(text, str) and not text.strip()):
        if default is None:
            raise ParseError(source, f"esearch answer without {what}")
        return default
    try:
        return int(str(text).strip())
    except ValueError:
        raise ParseError(source, f"esearch {what} is not a number: {text!r}") from None


def _xml_messages(parent: etree._Element | None) -> tuple[str, ...]:
    """ErrorList/WarningList children as 'PhraseNotFound: abcXYZ' strings."""
    if parent is None:
        return ()
    return tuple(f"{child.tag}: {_flat(child)}" for child in parent if isinstance(child.tag, str))


def _esearch_xml(data: bytes, source: str) -> SearchResult:
    try:
        root = etree.fromstring(data, etree.XMLParser(**_SAFE_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise ParseError(source, _syntax_reason(exc)) from exc
    if root.tag != "eSearchResult":
        raise ParseError(source, f"expected <eSearchResult>, found <{root.tag}>")
    error = root.find("ERROR")
    if error is not None:
        raise ApiError(source, _flat(error) or "empty <ERROR>")
    return SearchResult(
        count=_int(root.findtext("Count"), "Count", source),
        ids=tuple(t for t in (_norm(n.text) for n in root.iterfind("IdList/Id")) if t),
        retstart=_int(root.findtext("RetStart"), "RetStart", source, default=0),
        retmax=_int(root.findtext("RetMax"), "RetMax", source, default=0),
        webenv=_opt(_norm(root.findtext("WebEnv"))),
        query_key=_opt(_norm(root.findtext("QueryKey"))),
        errors=_xml_messages(root.find("ErrorList")),
        warnings=_xml_messages(root.find("WarningList")),
    )


def _json_messages(block: Any) -> tuple[str, ...]:
    """errorlist/warninglist {"phrasesnotfound": [...], ...} as XML-style strings."""
    if not isinstance(block, dict):
        return ()
    messages = []
    for key, values in block.items():
        name = _JSON_MESSAGE_NAMES.get(key.lower(), key)
        for value in values if isinstance(values, list) else [values]:
            if text := _norm(str(value)):
                messages.append(f"{name}: {text}")
    return tuple(messages)


def _esearch_json(data: bytes, source: str) -> SearchResult:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(source, f"malformed JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ParseError(source, "esearch JSON is not an object")
    if "error" in doc:  # e.g. {"error":"API rate limit exceeded", ...}
        raise ApiError(source, _norm(str(doc["error"])))
    result = doc.get("esearchresult")
    if not isinstance(result, dict):
        raise ParseError(source, 'esearch JSON without an "esearchresult" object')
    if "ERROR" in result:
        raise ApiError(source, _norm(str(result["ERROR"])))
    return SearchResult(
        count=_int(result.get("count"), "count", source),
        ids=tuple(str(i).strip() for i in result.get("idlist") or () if str(i).strip()),
        retstart=_int(result.get("retstart"), "retstart", source, default=0),
        retmax=_int(result.get("retmax"), "retmax", source, default=0),
        webenv=_opt(_norm(result.get("webenv"))),
        query_key=_opt(_norm(str(result.get("querykey") or ""))),
        errors=_json_messages(result.get("errorlist")),
        warnings=_json_messages(result.get("warninglist")),
    )


def parse_esearch(data: bytes, source: str) -> SearchResult:
    """Parse an esearch answer, XML or JSON (``retmode=json``; first byte '{').

    Zero hits is a normal result (count=0, ids=()); PhraseNotFound and friends
    land in `errors`/`warnings`. Only a top-level ERROR raises ApiError.
    """
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return _esearch_json(data, source)
    return _esearch_xml(data, source)


# --------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------

_ROOT_KINDS = {
    "PubmedArticleSet": "pubmed",
    "PubmedBookArticleSet": "pubmed",
    "eSearchResult": "esearch",
    "eFetchResult": "efetch_error",
}
_NAME_RE = re.compile(rb"<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)")
_DOCTYPE_RE = re.compile(rb"<!DOCTYPE\s+([A-Za-z_][\w.\-:]*)")


def _skip_prolog(head: bytes) -> int:
    """Offset of the first element start, past the XML declaration, comments,
    processing instructions and DOCTYPE (internal subset included); -1 if the
    head ends first."""
    pos = 0
    while True:
        while pos < len(head) and head[pos : pos + 1].isspace():
            pos += 1
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos)
            pos = -1 if end < 0 else end + 2
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos)
            pos = -1 if end < 0 else end + 3
        elif head.startswith(b"<!DOCTYPE", pos):
            bracket, close = head.find(b"[", pos), head.find(b">", pos)
            if 0 <= bracket < close:  # internal subset: the DOCTYPE ends at "]>"
                close = head.find(b"]", bracket)
                close = head.find(b">", close) if close >= 0 else -1
            pos = -1 if close < 0 else close + 1
        else:
            return pos
        if pos < 0:
            return -1


def sniff_pubmed_root(head: bytes) -> str | None:
    """What kind of NCBI answer a file holds, from its first ~4 KB.

    Returns "pubmed" (PubmedArticleSet: efetch or baseline/update file),
    "esearch" (eSearchResult XML, or esearch JSON), "efetch_error"
    (eFetchResult, which only ever carries <ERROR>), or None.
    """
    head = head.removeprefix(b"\xef\xbb\xbf")
    stripped = head.lstrip()
    if stripped[:1] == b"{":
        return "esearch" if b'"esearchresult"' in stripped else None
    pos = _skip_prolog(head)
    match = _NAME_RE.match(head, pos) if pos >= 0 else None
    if match is None:  # root beyond the head (long comment): trust the DOCTYPE
        match = _DOCTYPE_RE.search(head)
    if match is None:
        return None
    return _ROOT_KINDS.get(match.group(1).decode("ascii", "replace"))
