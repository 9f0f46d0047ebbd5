"""NCBI E-utilities replayed: ESearch (XML and JSON), EFetch and EPost over the recorded PubMed articles.

EFetch serves the exact recorded ``<PubmedArticle>`` slices; ESearch computes
counts, id lists, WebEnv/query_key history, translation stacks and error lists
in the shapes of the recorded NCBI answers. Terms are read by eutils_term.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape

from .common import JSON_TYPE, TEXT_TYPE, XML_TYPE, Reply, SearchSyntaxError, int_param, json_bytes
from .eutils_term import PubmedQuery, TermParser, parse_date
from .pubmed_index import PubmedIndex

__all__ = ["EUTILS_DEFAULT_RETMAX", "EUTILS_MAX_RETMAX", "EutilsApi"]

EUTILS_MAX_RETMAX = 10000
EUTILS_DEFAULT_RETMAX = 20


class EutilsApi:
    """``/entrez/eutils/{esearch,efetch,epost}.fcgi`` over a PubmedIndex, with a per-server WebEnv history."""

    def __init__(self, index: PubmedIndex) -> None:
        self.pm = index
        self._history: OrderedDict[str, dict[int, list[int]]] = OrderedDict()
        self._history_lock = threading.Lock()

    def handle(self, name: str, params: dict[str, str]) -> Reply:
        """One E-utility call; parameter names are case-insensitive, as at NCBI."""
        lowered = {k.lower(): v for k, v in params.items()}
        if name == "esearch.fcgi":
            return self.esearch(lowered)
        if name == "efetch.fcgi":
            return self.efetch(lowered)
        if name == "epost.fcgi":
            return self.epost(lowered)
        return Reply(404, f"replay: no recorded E-utility {name}\n".encode(), TEXT_TYPE)


    def _remember(self, ids: list[int], webenv: str | None) -> tuple[str, int]:
        """Store ids under a WebEnv (new or given) as its next query_key, as usehistory=y and EPost do."""
        with self._history_lock:
            if webenv is None or webenv not in self._history:
                webenv = "MCID_" + secrets.token_hex(12)
                self._history[webenv] = {}
            self._history.move_to_end(webenv)
            keys = self._history[webenv]
            query_key = max(keys, default=0) + 1
            keys[query_key] = ids
            while len(self._history) > 1000:
                self._history.popitem(last=False)
            return webenv, query_key

    def _recall(self, webenv: str, query_key: str) -> list[int] | None:
        with self._history_lock:
            keys = self._history.get(webenv)
            if keys is None or not query_key.strip().isdigit():
                return None
            return keys.get(int(query_key))

    def _esearch_error(self, message: str, as_json: bool) -> Reply:
        if as_json:
            body = json_bytes({"header": {"type": "esearch", "version": "0.3"},
                                "esearchresult": {"ERROR": message}}, indent=4)
            return Reply(200, body, JSON_TYPE)
        body = (self.pm.esearch_error_header + b"<eSearchResult>\n  <ERROR>"
                + escape(message).encode() + b"</ERROR>\n</eSearchResult>\n\n")
        return Reply(200, body, XML_TYPE)

    def esearch(self, params: dict[str, str]) -> Reply:
        """ESearch: count, one page of PMIDs (newest first), optional history, XML or JSON."""
        as_json = params.get("retmode", "xml").lower() == "json"
        db = params.get("db", "pubmed")
        if db.lower() != "pubmed":
            return self._esearch_error(f"Invalid db name specified: {db}", as_json)
        term = params.get("term", "").strip()
        if not term:
            return self._esearch_error("Empty term and query_key - nothing todo", as_json)
        try:
            retstart = max(0, int_param(params, "retstart", 0))
            retmax = min(EUTILS_MAX_RETMAX, max(0, int_param(params, "retmax", EUTILS_DEFAULT_RETMAX)))
            default_tag = params.get("field") or None
            query = TermParser(term, self.pm.leaf, default_tag).parse()
            ids = self._date_filter(query.ids, params)
        except SearchSyntaxError as exc:
            return self._esearch_error(f"Invalid query: {exc}", as_json)
        ordered = self._order(ids, params.get("sort", ""))
        count = len(ordered)
        page = ordered[retstart:retstart + retmax]
        history = None
        if params.get("usehistory", "").lower() == "y":
            history = self._remember(ordered, params.get("webenv") or None)
        if params.get("rettype", "").lower() == "count":
            if as_json:
                return Reply(200, json_bytes({"header": {"type": "esearch", "version": "0.3"},
                                                "esearchresult": {"count": str(count)}}, indent=4), JSON_TYPE)
            return Reply(200, self.pm.esearch_header
                          + f"<eSearchResult><Count>{count}</Count></eSearchResult>\n".encode(), XML_TYPE)
        if as_json:
            return self._esearch_json(query, count, page, retstart, history)
        return self._esearch_xml(query, count, page, retstart, history)

    def _date_filter(self, ids: set[int], params: dict[str, str]) -> set[int]:
        mindate, maxdate = params.get("mindate", "").strip(), params.get("maxdate", "").strip()
        reldate = params.get("reldate", "").strip()
        if not (mindate or maxdate or reldate):
            return ids
        attr = {"edat": "edat", "pdat": "pdat", "mdat": "mdat"}.get(params.get("datetype", "pdat").lower(), "pdat")
        if reldate.isdigit():
            since = date.today() - timedelta(days=int(reldate))
            lo, hi = (since.year, since.month, since.day), (9999, 12, 31)
        else:
            lo = parse_date(mindate, False) if mindate else (0, 1, 1)
            hi = parse_date(maxdate, True) if maxdate else (9999, 12, 31)
        keep = set()
        for pmid in ids:
            when = getattr(self.pm.by_pmid[pmid], attr)
            if when is not None and lo <= when <= hi:
                keep.add(pmid)
        return keep

    def _order(self, ids: set[int], sort: str) -> list[int]:
        if sort.lower().replace("+", " ").replace("_", " ") in ("pub date", "pubdate"):
            return sorted(ids, key=lambda p: (self.pm.by_pmid[p].pdat or (0, 0, 0), p), reverse=True)
        return sorted(ids, reverse=True)  # close to PubMed's default "most recent" order

    @staticmethod
    def _stack_xml(stack: list[Any]) -> str:
        parts = ["<TranslationStack>"]
        for item in stack:
            if isinstance(item, str):
                parts.append(f"   <OP>{item}</OP>")
            else:
                parts.append(
                    f"   <TermSet>    <Term>{escape(item.term())}</Term>    <Field>{escape(item.field_name)}</Field>"
                    f"    <Count>{len(item.hits)}</Count>    <Explode>{'Y' if item.tag == 'mh' else 'N'}</Explode>"
                    "   </TermSet>"
                )
        parts.append("  </TranslationStack>")
        return "".join(parts)

    def _esearch_xml(self, query: PubmedQuery, count: int, page: list[int], retstart: int,
                     history: tuple[str, int] | None) -> Reply:
        out = [f"<eSearchResult><Count>{count}</Count><RetMax>{len(page)}</RetMax><RetStart>{retstart}</RetStart>"]
        if history:
            out.append(f"<QueryKey>{history[1]}</QueryKey><WebEnv>{history[0]}</WebEnv>")
        if page:
            out.append("<IdList>\n" + "".join(f"\t\t<Id>{pmid}</Id>\n" for pmid in page) + "\t</IdList>")
        else:
            out.append("<IdList/>")
        out.append("<TranslationSet/>")
        if count:
            out.append(self._stack_xml(query.stack))
        out.append(f"<QueryTranslation>{escape(query.translation)}</QueryTranslation>")
        if query.not_found or query.fields_not_found:
            out.append("<ErrorList>")
            out += [f"<PhraseNotFound>{escape(p)}</PhraseNotFound>" for p in query.not_found]
            out += [f"<FieldNotFound>{escape(f)}</FieldNotFound>" for f in query.fields_not_found]
            out.append("</ErrorList>")
        if not count:
            out.append("<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>")
        out.append("</eSearchResult>\n")
        header = self.pm.esearch_header if count else self.pm.esearch_empty_header
        return Reply(200, header + "".join(out).encode("utf-8"), XML_TYPE)

    def _esearch_json(self, query: PubmedQuery, count: int, page: list[int], retstart: int,
                      history: tuple[str, int] | None) -> Reply:
        result: dict[str, Any] = {"count": str(count), "retmax": str(len(page)), "retstart": str(retstart)}
        if history:
            result["querykey"] = str(history[1])
            result["webenv"] = history[0]
        result["idlist"] = [str(p) for p in page]
        result["translationset"] = []
        if count:
            result["translationstack"] = [
                item if isinstance(item, str) else {
                    "term": item.term(), "field": item.field_name, "count": str(len(item.hits)),
                    "explode": "Y" if item.tag == "mh" else "N",
                }
                for item in query.stack
            ]
        result["querytranslation"] = query.translation
        if query.not_found or query.fields_not_found:
            result["errorlist"] = {"phrasesnotfound": query.not_found, "fieldsnotfound": query.fields_not_found}
        if not count:
            result["warninglist"] = {"phrasesignored": [], "quotedphrasesnotfound": [],
                                     "outputmessages": ["No items found."]}
        body = json_bytes({"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result}, indent=4)
        return Reply(200, body, JSON_TYPE)

    def _efetch_error(self, message: str) -> Reply:
        template = self.pm.efetch_empty_id_error
        body = re.sub(rb"<ERROR>.*?</ERROR>", b"<ERROR>" + escape(message).encode() + b"</ERROR>", template,
                      count=1, flags=re.S)
        return Reply(200, body, XML_TYPE)

    def efetch(self, params: dict[str, str]) -> Reply:
        """EFetch by id list or WebEnv/query_key: the recorded article slices in one PubmedArticleSet."""
        db = params.get("db", "pubmed")
        if db.lower() != "pubmed":
            return self._efetch_error(f"Invalid db name specified: {db}")
        retmode = params.get("retmode", "xml").lower()
        rettype = params.get("rettype", "").lower()
        if retmode not in ("xml", "") or rettype not in ("", "xml", "abstract", "full", "null"):
            return Reply(400, b"replay: only efetch retmode=xml of PubMed records is recorded\n", TEXT_TYPE)
        if "id" in params:
            tokens = [t for t in re.split(r"[\s,+]+", params["id"]) if t]
            if not tokens:
                return Reply(200, self.pm.efetch_empty_id_error, XML_TYPE)
            ids = [int(t) for t in tokens if t.isdigit()]
        elif params.get("webenv") or params.get("query_key"):
            query_key = params.get("query_key", "1") or "1"
            ids = self._recall(params.get("webenv", ""), query_key)
            if ids is None:
                return self._efetch_error(f"Unable to obtain query #{query_key}")
            try:
                retstart = max(0, int_param(params, "retstart", 0))
                retmax = min(EUTILS_MAX_RETMAX, max(0, int_param(params, "retmax", EUTILS_DEFAULT_RETMAX)))
            except SearchSyntaxError as exc:
                return self._efetch_error(str(exc))
            ids = ids[retstart:retstart + retmax]
        else:
            return Reply(200, self.pm.efetch_empty_id_error, XML_TYPE)
        slices = [self.pm.by_pmid[p].raw for p in ids if p in self.pm.by_pmid]  # unknown ids: skipped, like NCBI
        body = b'<?xml version="1.0" ?>\n' + self.pm.efetch_doctype + b"<PubmedArticleSet>\n"
        body += (b"\n\n\n".join(slices) + b"\n\n") if slices else b""
        body += b"</PubmedArticleSet>"
        return Reply(200, body, XML_TYPE)

    def epost(self, params: dict[str, str]) -> Reply:
        """EPost: remember an id list in a WebEnv for a later EFetch."""
        db = params.get("db", "pubmed")
        ids = [int(t) for t in re.split(r"[\s,+]+", params.get("id", "")) if t.isdigit()]
        if db.lower() != "pubmed":
            message = f"Invalid db name specified: {db}"
        elif not ids:
            message = "Empty ID list; Nothing to store"
        else:
            webenv, query_key = self._remember(ids, params.get("webenv") or None)
            body = (self.pm.epost_header + b'<!DOCTYPE ePostResult PUBLIC "-//NLM//DTD epost 20090526//EN" '
                    b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20090526/epost.dtd"><ePostResult>\n'
                    + f"\t<QueryKey>{query_key}</QueryKey>\n\t<WebEnv>{webenv}</WebEnv>\n</ePostResult>\n".encode())
            return Reply(200, body, XML_TYPE)
        body = (self.pm.epost_header + b'<!DOCTYPE ePostResult PUBLIC "-//NLM//DTD epost 20090526//EN" '
                b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20090526/epost.dtd"><ePostResult>\n'
                + f"\t<ERROR>{escape(message)}</ERROR>\n</ePostResult>\n".encode())
        return Reply(200, body, XML_TYPE)

