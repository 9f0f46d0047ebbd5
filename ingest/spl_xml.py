"""Parse DailyMed SPL XML (HL7 v3 Structured Product Labeling) into a LabelVersion.

Why: openFDA only serves the current version of a label; older versions (and
labels openFDA lacks) come from DailyMed as SPL XML. This module turns one SPL
document into the same LabelVersion/Section records the openFDA parser gives,
with sections keyed by LOINC code and mapped to openFDA field names through
``spl_sections``.

Pure: bytes in, records out. lxml runs with entity resolution and network
access off, so a hostile document cannot pull in files or URLs.

The text renderer (paragraphs, "- item" lists, "a | b | c" table rows) is
shared with the openFDA parser, whose ``*_table`` fields hold SPL table markup.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable

from lxml import etree

from pgxlit.records import LabelVersion, ParseError, Section, Table

from .spl_sections import UNCLASSIFIED_LOINC, field_for_loinc
from .tables import RawCell, build_table

V3 = "urn:hl7-org:v3"
_V = "{urn:hl7-org:v3}"
ZIP_MAGIC = b"PK\x03\x04"
MAX_ZIP_XML_BYTES = 256 * 1024 * 1024  # a DailyMed SPL XML is rarely above 10 MB

# --------------------------------------------------------------------------
# Text rendering shared by SPL <text> and openFDA *_table HTML
# --------------------------------------------------------------------------

_SKIP = frozenset({"rendermultimedia", "footnoteref", "col", "colgroup", "observationmedia", "img"})
_PARA = frozenset({"paragraph", "p"})
_LIST = frozenset({"list", "ul", "ol"})
_ITEM = frozenset({"item", "li"})
# Elements that separate words when flattened into one line (table cells, titles).
_SPACED = _PARA | _LIST | _ITEM | frozenset({"caption", "td", "th", "tr", "div", "table"})

_Block = tuple[str, bool]  # (text, already indented as a nested list)


_LOCAL: dict[str, str] = {}


def _local(tag: object) -> str:
    """Lower-cased local name; '' for comments, PIs and entity nodes."""
    if not isinstance(tag, str):
        return ""
    name = _LOCAL.get(tag)
    if name is None:
        name = _LOCAL.setdefault(tag, tag.rpartition("}")[2].lower())
    return name


_BR = "\x00"  # marks <br/>; cannot occur in XML text, unlike "\n" (source line wrapping)


def _norm(s: str) -> str:
    return " ".join(s.replace(_BR, " ").split())


def _inline(el: etree._Element, out: list[str], notes: list[str]) -> None:
    """Append el's text and its descendants' (not el.tail) to out.

    br becomes _BR; footnotes are moved to ``notes`` (printed after the
    block, as the label does); images and footnote marks are dropped.
    """
    tag = _local(el.tag)
    if not tag or tag in _SKIP:
        return
    if tag == "footnote":
        parts: list[str] = []
        _inline_children(el, parts, notes)
        note = _norm("".join(parts))
        if note:
            notes.append(note)
        return
    if tag == "br":
        out.append(_BR)
        return
    spaced = tag in _SPACED
    if spaced:
        out.append(" ")
    _inline_children(el, out, notes)
    if spaced:
        out.append(" ")


def _inline_children(el: etree._Element, out: list[str], notes: list[str]) -> None:
    if el.text and isinstance(el.tag, str):
        out.append(el.text)
    for ch in el:
        _inline(ch, out, notes)
        if ch.tail:
            out.append(ch.tail)


def _lines(parts: Iterable[str]) -> str:
    """Join inline parts; keep br line breaks, normalise whitespace per line."""
    lines = (_norm(x) for x in "".join(parts).split(_BR))
    return "\n".join(x for x in lines if x)


def flat_text(el: etree._Element | None) -> str | None:
    """All text of an element on one line (titles, cells), or None if empty."""
    if el is None:
        return None
    parts: list[str] = []
    notes: list[str] = []
    _inline_children(el, parts, notes)
    s = _norm("".join(parts))
    return s or None


def _table(el: etree._Element) -> str:
    lines: list[str] = []
    notes: list[str] = []
    head: list[etree._Element] = []
    body: list[etree._Element] = []
    foot: list[etree._Element] = []
    for ch in el:
        tag = _local(ch.tag)
        if tag == "caption":
            cap = flat_text(ch)
            if cap:
                lines.append(cap)
        elif tag == "tr":
            body.append(ch)
        elif tag in ("thead", "tbody", "tfoot"):
            rows = [r for r in ch if _local(r.tag) == "tr"]
            (head if tag == "thead" else foot if tag == "tfoot" else body).extend(rows)
    for tr in head + body + foot:
        cells = []
        for td in tr:
            if _local(td.tag) not in ("td", "th"):
                continue
            parts: list[str] = []
            _inline_children(td, parts, notes)
            cells.append(_norm("".join(parts)))
        if any(cells):
            lines.append(" | ".join(cells))
    lines.extend(notes)
    return "\n".join(lines)


def _cell(td: etree._Element, notes: list[str]) -> RawCell:
    parts: list[str] = []
    _inline_children(td, parts, notes)

    def span(name: str) -> int:
        try:
            return int((td.get(name) or td.get(name.upper()) or "1").strip() or 1)
        except ValueError:
            return 1

    return RawCell(_norm("".join(parts)), span("colspan"), span("rowspan"), _local(td.tag) == "th")


def parse_table(el: etree._Element) -> Table:
    """An SPL/XHTML <table> as a `Table`: <thead> rows are the header (or, without one, what
    `build_table` recognises), <tfoot> rows and footnotes are notes."""
    notes: list[str] = []
    caption: str | None = None
    head: list[list[RawCell]] = []
    body: list[list[RawCell]] = []
    foot: list[str] = []
    has_thead = False

    def cells(tr: etree._Element) -> list[RawCell]:
        return [_cell(td, notes) for td in tr if _local(td.tag) in ("td", "th")]

    for ch in el:
        tag = _local(ch.tag)
        if tag == "caption":
            parts: list[str] = []
            _inline_children(ch, parts, notes)
            caption = _norm("".join(parts)) or None
        elif tag == "tr":
            body.append(cells(ch))
        elif tag in ("thead", "tbody", "tfoot"):
            for tr in (r for r in ch if _local(r.tag) == "tr"):
                if tag == "thead":
                    has_thead = True
                    head.append(cells(tr))
                elif tag == "tfoot":
                    foot.extend(c.text for c in cells(tr) if c.text)
                else:
                    body.append(cells(tr))
    table_id = (el.get("ID") or el.get("id") or "").strip() or None
    return build_table([*head, *body], len(head) if has_thead else None, caption, table_id, [*foot, *notes])


def tables_in(el: etree._Element | None) -> tuple[Table, ...]:
    """Every table of a narrative block (an SPL <text>, an openFDA table fragment), in reading order."""
    if el is None:
        return ()
    return tuple(parse_table(t) for t in el.iter() if _local(t.tag) == "table")


def _list(el: etree._Element, indent: str) -> str:
    lines: list[str] = []
    for ch in el:
        tag = _local(ch.tag)
        if tag == "caption":
            cap = flat_text(ch)
            if cap:
                lines.append(indent + cap)
        elif tag in _ITEM:
            label = None
            blocks: list[_Block] = []
            _container(ch, blocks, indent + "  ", skip_caption=True)
            cap_el = next((c for c in ch if _local(c.tag) == "caption"), None)
            if cap_el is not None:
                label = flat_text(cap_el)
            first = True
            for text, pre in blocks:
                if pre:
                    lines.append(text)
                    continue
                for line in text.split("\n"):
                    if first:
                        lines.append(f"{indent}- {label + ' ' if label else ''}{line}")
                        first = False
                    else:
                        lines.append(f"{indent}  {line}")
            if first and label:
                lines.append(f"{indent}- {label}")
    return "\n".join(lines)


def _container(el: etree._Element, blocks: list[_Block], indent: str = "", *, skip_caption: bool = False) -> None:
    """Render a block container (<text>, <item>, <footnote>, HTML fragment) as blocks."""
    buf: list[str] = []
    notes: list[str] = []

    def flush() -> None:
        s = _lines(buf)
        buf.clear()
        if s:
            blocks.append((s, False))

    if el.text and isinstance(el.tag, str):
        buf.append(el.text)
    for ch in el:
        tag = _local(ch.tag)
        if tag in _PARA:
            flush()
            parts: list[str] = []
            pnotes: list[str] = []
            _inline_children(ch, parts, pnotes)
            s = _lines(parts)
            if s:
                blocks.append((s, False))
            blocks.extend((n, False) for n in pnotes)
        elif tag in _LIST:
            flush()
            s = _list(ch, indent)
            if s:
                blocks.append((s, bool(indent)))
        elif tag == "table":
            flush()
            s = _table(ch)
            if s:
                blocks.append((s, False))
        elif tag == "caption":
            if not skip_caption:
                flush()
                cap = flat_text(ch)
                if cap:
                    blocks.append((cap, False))
        elif tag:
            _inline(ch, buf, notes)
        if ch.tail:
            buf.append(ch.tail)
    flush()
    blocks.extend((n, False) for n in notes)


def render_text(el: etree._Element | None) -> str:
    """SPL narrative block -> plain text: blocks separated by a blank line,
    list items as "- item" lines, table rows as "a | b | c"."""
    if el is None:
        return ""
    blocks: list[_Block] = []
    _container(el, blocks)
    return "\n\n".join(text for text, _ in blocks)


_SELF_CLOSED = re.compile(r"<([A-Za-z][\w:.-]*)((?:[^<>\"']|\"[^\"]*\"|'[^']*')*?)\s*/>")
_HTML_VOID = frozenset({"br", "col", "img", "hr", "area", "base", "input", "meta", "link", "wbr"})


def _fragment_root(markup: str) -> etree._Element | None:
    """Parse table markup under one wrapper element.

    openFDA writes the tables as XHTML (self-closed <footnoteRef/>,
    <renderMultiMedia/>, <td/>), so the XML parser comes first. Markup that is
    not well-formed (HTML named entities such as &nbsp;) falls back to the
    HTML parser, after expanding self-closed tags it would otherwise leave
    open and let swallow the rest of the cell.
    """
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(f"<div>{markup}</div>", xml_parser)
    except etree.XMLSyntaxError:
        pass
    expanded = _SELF_CLOSED.sub(
        lambda m: m.group(0) if m.group(1).lower() in _HTML_VOID else f"<{m.group(1)}{m.group(2)}></{m.group(1)}>", markup
    )
    html_parser = etree.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, default_doctype=False)
    try:
        root = etree.fromstring(f"<div>{expanded}</div>", html_parser)
    except (etree.ParserError, ValueError):
        return None
    return root.find("body/div") if root is not None else None


def html_tables(markup: str) -> tuple[Table, ...]:
    """openFDA ``*_table`` value -> its tables as `Table` records (none when the markup is unreadable)."""
    if not markup or not markup.strip():
        return ()
    return tables_in(_fragment_root(markup))


def html_table_to_text(markup: str) -> str:
    """openFDA ``*_table`` value (SPL table markup) -> readable text.

    Rows on lines, cells joined by " | ", tags stripped, entities unescaped.
    """
    if not markup or not markup.strip():
        return ""
    root = _fragment_root(markup)
    if root is None:
        return _norm(re.sub(r"<[^>]*>", " ", markup))
    out: list[str] = []
    if root.text and root.text.strip():
        out.append(_norm(root.text))
    for el in list(root):
        tail, el.tail = el.tail, None
        if _local(el.tag) == "table":
            out.append(_table(el))
        elif _local(el.tag):
            wrapper = etree.Element("div")
            wrapper.append(el)
            out.append(render_text(wrapper))
        if tail and tail.strip():
            out.append(_norm(tail))
    return "\n\n".join(s for s in out if s)


# --------------------------------------------------------------------------
# SPL document
# --------------------------------------------------------------------------

# ElementPath (find/iterfind) rather than module-level XPath objects: it is
# thread-safe and these paths need nothing more.
_P_GENERIC = f".//{_V}asEntityWithGeneric/{_V}genericMedicine/{_V}name"
_P_PRODUCT = f".//{_V}subject/{_V}manufacturedProduct"
_PRODUCT_TAGS = (_V + "manufacturedProduct", _V + "manufacturedMedicine")  # new / pre-2009 SPL
_P_APPROVAL_ID = f".//{_V}subjectOf/{_V}approval/{_V}id"
_P_MANUFACTURER = f"{_V}author/{_V}assignedEntity/{_V}representedOrganization/{_V}name"
_P_TOP_SECTIONS = f"{_V}component/{_V}structuredBody/{_V}component/{_V}section"


def _parser() -> etree.XMLParser:
    # One parser per call: lxml parsers must not be shared across threads.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True
    )


def _dedupe(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values:
        if v:
            seen.setdefault(v, None)
    return tuple(seen)


def _attr(root: etree._Element, child: str, name: str = "value") -> str | None:
    el = root.find(_V + child)
    v = el.get(name) if el is not None else None
    return v.strip() if v and v.strip() else None


def _walk(sec: etree._Element, parent_field: str | None, out: list[Section]) -> None:
    code_el = sec.find(_V + "code")
    loinc = code_el.get("code") if code_el is not None else None
    loinc = loinc.strip() if loinc and loinc.strip() else None
    field = field_for_loinc(loinc)
    if loinc == UNCLASSIFIED_LOINC and parent_field:
        # An unclassified subsection (e.g. "5.1 Skeletal Muscle") belongs to its
        # classified parent, as in openFDA where its text lands in the parent's field.
        field = parent_field
    title = flat_text(sec.find(_V + "title"))
    subs = sec.findall(f"{_V}component/{_V}section")
    text_el = sec.find(_V + "text")
    text = render_text(text_el)
    if not text and not subs:
        # Leaf without narrative: Recent Major Changes lives only in the
        # Highlights excerpt; some subsections (Lipitor "4.1 Active liver
        # disease ...") carry their whole content in the title.
        text = render_text(sec.find(f"{_V}excerpt/{_V}highlight/{_V}text")) or (title or "")
    if text:
        out.append(Section(order=len(out), text=text, field=field, loinc=loinc, title=title, tables=tables_in(text_el)))
    for sub in subs:
        _walk(sub, field, out)


def _xml_error(source: str, e: etree.XMLSyntaxError) -> ParseError:
    line, col = e.position if e.position else (e.lineno, None)
    return ParseError(source, f"malformed XML at line {line}, column {col}: {e.msg}")


def parse_spl(data: bytes, source: str) -> LabelVersion:
    """One SPL XML document -> LabelVersion(source_format="spl").

    Each <section> with text becomes one Section holding only its own text;
    nested subsections follow as their own Sections in document order.
    """
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise _xml_error(source, e) from None
    if root.tag != _V + "document":
        raise ParseError(source, f"not an SPL document: root element is {root.tag!r}")
    set_id = _attr(root, "setId", "root")
    if not set_id:
        raise ParseError(source, "SPL document has no setId/@root")
    version_s = _attr(root, "versionNumber")
    try:
        version = int(version_s or "")
    except ValueError:
        raise ParseError(source, f"versionNumber/@value is not an integer: {version_s!r}") from None
    eff = _attr(root, "effectiveTime")
    spl_id = _attr(root, "id", "root")

    sections: list[Section] = []
    for top in root.iterfind(_P_TOP_SECTIONS):
        _walk(top, None, sections)

    brands = (flat_text(c.find(_V + "name")) for p in root.iterfind(_P_PRODUCT) for c in p if c.tag in _PRODUCT_TAGS)
    return LabelVersion(
        set_id=set_id.lower(),
        version=version,
        effective_time=eff[:8] if eff else None,
        spl_id=spl_id.lower() if spl_id else None,
        title=flat_text(root.find(_V + "title")),
        generic_names=_dedupe((flat_text(e) or "").upper() for e in root.iterfind(_P_GENERIC)),
        brand_names=_dedupe(brands),
        application_numbers=_dedupe((e.get("extension") or "").strip() for e in root.iterfind(_P_APPROVAL_ID)),
        manufacturer=flat_text(root.find(_P_MANUFACTURER)),
        sections=tuple(sections),
        source_format="spl",
    )


def _zip_first_name(head: bytes) -> str | None:
    if len(head) < 30 or not head.startswith(ZIP_MAGIC):
        return None
    n = int.from_bytes(head[26:28], "little")
    return head[30 : 30 + n].decode("utf-8", "replace") if len(head) >= 30 + n else None


def sniff_spl(head: bytes) -> bool:
    """Do the first bytes look like SPL XML (an HL7 v3 <document>)?

    A zip counts when its first member is an .xml file (DailyMed's SPL zips).
    """
    h = head[:8192].lstrip(b"\xef\xbb\xbf \t\r\n")
    if h.startswith(ZIP_MAGIC):
        name = _zip_first_name(h)
        return bool(name and name.lower().endswith(".xml"))
    if not h.startswith(b"<"):
        return False
    return V3.encode() in h and re.search(rb"<(?:\w+:)?document[\s>]", h) is not None


def parse_spl_zip_or_xml(data: bytes, source: str, *, max_xml_bytes: int = MAX_ZIP_XML_BYTES) -> LabelVersion:
    """SPL XML, or a DailyMed SPL zip (getFile.cfm?type=zip: the XML plus images)."""
    if not data.startswith(ZIP_MAGIC):
        return parse_spl(data, source)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [i for i in zf.infolist() if not i.is_dir() and i.filename.lower().endswith(".xml")]
            if len(members) != 1:
                names = [i.filename for i in members]
                raise ParseError(source, f"expected exactly one .xml member in the zip, found {len(members)}: {names}")
            info = members[0]
            with zf.open(info) as fh:
                xml = fh.read(max_xml_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        raise ParseError(source, f"unreadable zip: {e}") from None
    if len(xml) > max_xml_bytes:
        raise ParseError(source, f"{info.filename} is larger than {max_xml_bytes} bytes")
    return parse_spl(xml, f"{source}!{info.filename}")
