"""Readers for the gold corpora in ../shared/gold (DEV parts only).

Pure functions: files in, plain frozen dataclasses out. No label mapping
happens here -- entity labels and relation types are kept exactly as the
corpus writes them; `extract.evaluate` holds the maps to pgxlit's labels.

Corpora (see ../shared/gold/README.md):

* PGxCorpus (BRAT standoff, one sentence per document) -> `read_pgxcorpus`,
  plus its automatic PubTator annotations (a baseline, not gold) ->
  `read_pgxcorpus_pubtator_auto`.
* BioRED (PubTator: title + abstract, document-level relations between
  normalised identifiers) -> `read_biored`.
* PGxMine (BioC XML, one document per sentence) -> `read_pgxmine`.

`dev_split` divides DEV documents into a "train" and a "test" fold by a
stable hash, so that what we tune on is never what we report on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from pgxlit.records import ParseError

__all__ = [
    "GoldEntity",
    "GoldRelation",
    "GoldDoc",
    "read_pgxcorpus",
    "read_pgxcorpus_pubtator_auto",
    "read_brat",
    "read_biored",
    "read_pgxmine",
    "dev_split",
    "split_group",
    "NOTE_HEDGED",
    "NOTE_NEGATED",
]


# ---- records ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoldEntity:
    """One annotated entity.

    `start`/`end` are the smallest and largest offsets of the entity; for a
    discontinuous BRAT entity `spans` holds its fragments in the order the
    file gives them (BRAT joins fragment texts with one space in that order,
    which is what `text` holds). For a contiguous entity spans == ((start, end),).
    """

    id: str
    start: int
    end: int
    label: str  # the corpus's own type, e.g. "Gene_or_protein", "GeneOrGeneProduct", "Mutation"
    text: str
    spans: tuple[tuple[int, int], ...]
    norm: str | None = None  # normalised identifier(s) when the corpus gives them (BioRED)

    @property
    def discontinuous(self) -> bool:
        return len(self.spans) > 1


@dataclass(frozen=True, slots=True)
class GoldRelation:
    """One annotated relation.

    level="sentence": head/tail are GoldEntity ids of the same document
    (PGxCorpus: Arg1/Arg2; PGxMine: the Chemical node / the Mutation node).
    level="document": head/tail are normalised identifiers (BioRED), not
    entity ids.
    """

    head: str
    tail: str
    type: str
    negated: bool = False
    hedged: bool = False
    level: str = "sentence"  # "sentence" or "document"
    note: str | None = None  # raw annotator note (PGxCorpus) or BioRED's novelty flag ("Novel"/"No")


@dataclass(frozen=True, slots=True)
class GoldDoc:
    id: str
    text: str
    entities: tuple[GoldEntity, ...]
    relations: tuple[GoldRelation, ...]

    def entity(self, entity_id: str) -> GoldEntity:
        for e in self.entities:
            if e.id == entity_id:
                return e
        raise KeyError(f"{self.id}: no entity {entity_id!r}")

    def entities_by_id(self) -> dict[str, GoldEntity]:
        return {e.id: e for e in self.entities}


# ---- PGxCorpus (BRAT) ---------------------------------------------------

# Codes of the PGxCorpus guidelines (section 2.3, table 1): "neg", "hyp",
# "hyp neg". The held-out part also has "not" and "hypo"; case varies ("Neg").
# A note is read as codes only when *every* word of it is a code, so free-text
# notes ("contributes, despite ...") never set a flag by accident.
NOTE_HEDGED = frozenset({"hyp", "hypo"})
NOTE_NEGATED = frozenset({"neg", "not"})


def _note_flags(note: str) -> tuple[bool, bool]:
    words = note.lower().split()
    if not words or not all(w in NOTE_HEDGED or w in NOTE_NEGATED for w in words):
        return False, False
    return any(w in NOTE_NEGATED for w in words), any(w in NOTE_HEDGED for w in words)


def _read_text(path: Path) -> str:
    # bytes -> str without newline translation: offsets are into the file as is.
    return path.read_bytes().decode("utf-8")


def read_brat(doc_id: str, text: str, ann: str, source: str = "") -> GoldDoc:
    """One BRAT document (text + .ann contents) -> GoldDoc.

    T lines become entities (discontinuous `s e;s e` kept in `spans`), R lines
    relations, `#` AnnotatorNotes on an R set negated/hedged (and `note`).
    The entity text written in the .ann is checked against the offsets
    (BRAT's writer leaves trailing spaces; those are ignored).
    """
    source = source or doc_id
    entities: dict[str, GoldEntity] = {}
    raw_rels: list[tuple[str, str, str, str]] = []  # (rel id, type, arg1, arg2)
    notes: dict[str, str] = {}
    for n, line in enumerate(ann.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source} line {n}"
        parts = line.split("\t")
        kind = line[0]
        if kind == "T":
            if len(parts) < 3:
                raise ParseError(where, f"T line needs 3 tab-separated fields: {line!r}")
            label, _, locs = parts[1].partition(" ")
            try:
                spans = tuple(
                    (int(s), int(e)) for s, e in (frag.split() for frag in locs.split(";"))
                )
            except ValueError:
                raise ParseError(where, f"bad offsets {locs!r}") from None
            for s, e in spans:
                if not 0 <= s <= e <= len(text):
                    raise ParseError(where, f"span {s}-{e} outside text of length {len(text)}")
            joined = " ".join(text[s:e] for s, e in spans)
            written = parts[2]
            if written.rstrip() != joined and written.strip() != joined.strip():
                raise ParseError(where, f"entity text {written!r} != text at offsets {joined!r}")
            entities[parts[0]] = GoldEntity(
                id=parts[0],
                start=min(s for s, _ in spans),
                end=max(e for _, e in spans),
                label=label,
                text=joined,
                spans=spans,
            )
        elif kind == "R":
            fields = parts[1].split() if len(parts) > 1 else []
            if len(fields) != 3 or not fields[1].startswith("Arg1:") or not fields[2].startswith("Arg2:"):
                raise ParseError(where, f"R line is not '<type> Arg1:T Arg2:T': {line!r}")
            raw_rels.append((parts[0], fields[0], fields[1][5:], fields[2][5:]))
        elif kind == "#":
            target = parts[1].split() if len(parts) > 1 else []
            if len(target) == 2 and target[0] == "AnnotatorNotes":
                notes[target[1]] = parts[2].strip() if len(parts) > 2 else ""
        elif kind in "AEMN*":
            continue  # attributes, events, normalisations, equivalences: not used by our corpora
        else:
            raise ParseError(where, f"unknown BRAT line type {kind!r}")
    relations = []
    for rid, rtype, a1, a2 in raw_rels:
        for arg in (a1, a2):
            if arg not in entities:
                raise ParseError(source, f"relation {rid} refers to unknown entity {arg!r}")
        note = notes.get(rid)
        negated, hedged = _note_flags(note) if note else (False, False)
        relations.append(GoldRelation(a1, a2, rtype, negated=negated, hedged=hedged, note=note))
    return GoldDoc(id=doc_id, text=text, entities=tuple(entities.values()), relations=tuple(relations))


def _pgxcorpus_ids(root: Path) -> list[str]:
    listing = root / "documents.txt"
    if not listing.is_file():
        raise ParseError(str(listing), "documents.txt not found")
    return [line.strip() for line in _read_text(listing).splitlines() if line.strip()]


def read_pgxcorpus(root: Path) -> list[GoldDoc]:
    """Every sentence listed in root/documents.txt (root = gold/pgxcorpus), in that order.

    Doc id = the BRAT file stem, "<PMID>_<n>".
    """
    root = Path(root)
    docs = []
    for doc_id in _pgxcorpus_ids(root):
        txt, ann = root / "brat" / f"{doc_id}.txt", root / "brat" / f"{doc_id}.ann"
        if not txt.is_file() or not ann.is_file():
            raise ParseError(str(root / "brat" / doc_id), "listed in documents.txt but .txt/.ann missing")
        docs.append(read_brat(doc_id, _read_text(txt), _read_text(ann), source=str(ann)))
    return docs


def read_pgxcorpus_pubtator_auto(root: Path) -> dict[str, tuple[GoldEntity, ...]]:
    """PGxCorpus's automatic PubTator annotations (Gene/Chemical/Disease/Mutation): a baseline.

    Keyed on the same sentence ids as `read_pgxcorpus`; a listed sentence
    without a file gets (). Labels are PubTator's; map with
    `evaluate.PUBTATOR_TO_PGXLIT`.
    """
    root = Path(root)
    out: dict[str, tuple[GoldEntity, ...]] = {}
    for doc_id in _pgxcorpus_ids(root):
        path = root / "pubtator_auto" / f"{doc_id}.ann_pubtator"
        if not path.is_file():
            out[doc_id] = ()
            continue
        text = _read_text(root / "brat" / f"{doc_id}.txt")
        out[doc_id] = read_brat(doc_id, text, _read_text(path), source=str(path)).entities
    return out


# ---- BioRED (PubTator) --------------------------------------------------


def _norm_ids(raw: str) -> str | None:
    # BioRED writes several ids comma-separated, sometimes with a stray leading
    # space (" CVCL_1452"); "-" means "no identifier".
    ids = [x.strip() for x in raw.split(",")]
    ids = [x for x in ids if x and x != "-"]
    return ",".join(ids) if ids else None


def read_biored(path: Path) -> list[GoldDoc]:
    """A BioRED PubTator file -> one GoldDoc per abstract (id = PMID).

    text = title + " " + abstract, which is what the file's offsets refer to
    (checked: every mention's text must equal text[start:end]). Entities get
    ids "T1", "T2", ... in file order, label = BioRED type, norm = the
    identifier column ("-" -> None). Relations are document-level:
    head/tail = identifiers, level="document", note = "Novel"/"No".
    """
    path = Path(path)
    source = str(path)
    docs: list[GoldDoc] = []
    cur: dict | None = None

    def finish() -> None:
        if cur is None:
            return
        if cur["abstract"] is None:
            raise ParseError(source, f"document {cur['id']} has no |a| line")
        docs.append(GoldDoc(cur["id"], cur["text"], tuple(cur["ents"]), tuple(cur["rels"])))

    for n, line in enumerate(_read_text(path).split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            finish()
            cur = None
            continue
        m = re.match(r"^(\d+)\|([ta])\|(.*)$", line)
        if m:
            pmid, kind, body = m.groups()
            if kind == "t":
                finish()
                cur = {"id": pmid, "title": body, "abstract": None, "text": None, "ents": [], "rels": []}
            else:
                if cur is None or cur["id"] != pmid or cur["abstract"] is not None:
                    raise ParseError(f"{source} line {n}", f"unexpected abstract line for {pmid}")
                cur["abstract"] = body
                cur["text"] = cur["title"] + " " + body
            continue
        if cur is None or cur["text"] is None:
            raise ParseError(f"{source} line {n}", "annotation line before title/abstract")
        parts = line.split("\t")
        if parts[0] != cur["id"]:
            raise ParseError(f"{source} line {n}", f"PMID {parts[0]} inside document {cur['id']}")
        if len(parts) == 6:
            start, end = int(parts[1]), int(parts[2])
            if cur["text"][start:end] != parts[3]:
                raise ParseError(
                    f"{source} line {n}",
                    f"mention {parts[3]!r} != text[{start}:{end}] {cur['text'][start:end]!r}",
                )
            cur["ents"].append(
                GoldEntity(
                    id=f"T{len(cur['ents']) + 1}",
                    start=start,
                    end=end,
                    label=parts[4],
                    text=parts[3],
                    spans=((start, end),),
                    norm=_norm_ids(parts[5]),
                )
            )
        elif len(parts) == 5:
            cur["rels"].append(
                GoldRelation(
                    head=parts[2].strip(),
                    tail=parts[3].strip(),
                    type=parts[1],
                    level="document",
                    note=parts[4].strip() or None,
                )
            )
        else:
            raise ParseError(f"{source} line {n}", f"expected 5 or 6 tab-separated fields, got {len(parts)}")
    finish()
    return docs


# ---- PGxMine (BioC XML) -------------------------------------------------


def read_pgxmine(path: Path) -> list[GoldDoc]:
    """A PGxMine BioC file -> one GoldDoc per <document> (one sentence each).

    The documents carry no id, so id = f"{file stem}:{index}" with a 0-based
    index in file order (stem of "annotations.variant_star_rs.bioc.xml" is
    "annotations.variant_star_rs.bioc"). Passages are concatenated at their
    <offset>s (every file here has one passage at offset 0). Entities keep
    their BioC annotation ids and PubTator types (Chemical, Gene, Mutation,
    Disease, Species, CellLine); relations are `Associated`, head = the
    Chemical node, tail = the Mutation node.
    """
    path = Path(path)
    source = str(path)
    try:
        root = etree.fromstring(path.read_bytes(), etree.XMLParser(resolve_entities=False, huge_tree=True))
    except etree.XMLSyntaxError as e:
        raise ParseError(source, f"malformed XML: {e.msg}") from None
    if root.tag != "collection":
        raise ParseError(source, f"not a BioC collection: root element is {root.tag!r}")
    docs = []
    for index, doc in enumerate(root.iterfind("document")):
        doc_id = f"{path.stem}:{index}"
        text = ""
        entities: list[GoldEntity] = []
        relations: list[GoldRelation] = []
        for passage in doc.iterfind("passage"):
            offset = int(passage.findtext("offset") or 0)
            ptext = passage.findtext("text") or ""
            if offset < len(text):
                raise ParseError(f"{source} {doc_id}", "overlapping passages")
            text = text + " " * (offset - len(text)) + ptext
            for ann in passage.iterfind("annotation"):
                spans = tuple(
                    (int(loc.get("offset")), int(loc.get("offset")) + int(loc.get("length")))
                    for loc in ann.iterfind("location")
                )
                if not spans:
                    raise ParseError(f"{source} {doc_id}", f"annotation {ann.get('id')} has no location")
                joined = " ".join(text[s:e] for s, e in spans)
                written = ann.findtext("text") or ""
                if joined != written:
                    raise ParseError(f"{source} {doc_id}", f"annotation text {written!r} != text at offsets {joined!r}")
                norm = None
                for infon in ann.iterfind("infon"):
                    if infon.get("key") in ("identifier", "Identifier", "MESH", "NCBI Gene") and infon.text:
                        norm = infon.text.strip()
                entities.append(
                    GoldEntity(
                        id=ann.get("id") or f"T{len(entities) + 1}",
                        start=min(s for s, _ in spans),
                        end=max(e for _, e in spans),
                        label=ann.findtext("infon[@key='type']") or "",
                        text=joined,
                        spans=spans,
                        norm=norm,
                    )
                )
            relations.extend(_bioc_relations(passage, source, doc_id))
        relations.extend(_bioc_relations(doc, source, doc_id))
        known = {e.id for e in entities}
        for r in relations:
            if r.head not in known or r.tail not in known:
                raise ParseError(f"{source} {doc_id}", f"relation refers to unknown annotation {r.head!r}/{r.tail!r}")
        docs.append(GoldDoc(doc_id, text, tuple(entities), tuple(relations)))
    return docs


def _bioc_relations(parent: etree._Element, source: str, doc_id: str) -> list[GoldRelation]:
    out = []
    for rel in parent.iterfind("relation"):
        nodes = {n.get("role"): n.get("refid") for n in rel.iterfind("node")}
        rtype = rel.findtext("infon[@key='type']") or ""
        if set(nodes) == {"Chemical", "Mutation"}:
            head, tail = nodes["Chemical"], nodes["Mutation"]
        else:
            refs = [n.get("refid") for n in rel.iterfind("node")]
            if len(refs) != 2:
                raise ParseError(f"{source} {doc_id}", f"relation with {len(refs)} nodes")
            head, tail = refs
        out.append(GoldRelation(head, tail, rtype))
    return out


# ---- DEV train/test folds -----------------------------------------------

_SPLIT_SALT = "pgxlit-dev-split-v1"
_TEST_BUCKETS = 1  # of 4 -> ~25 % test


def split_group(doc_id: str) -> str:
    """The unit kept together by `dev_split`: PGxCorpus sentence ids "<PMID>_<n>"
    group by PMID (several sentences of one abstract must not straddle folds);
    every other id is its own group."""
    m = re.fullmatch(r"(\d+)_\d+", doc_id)
    return m.group(1) if m else doc_id


def _is_test(doc_id: str) -> bool:
    digest = hashlib.sha256(f"{_SPLIT_SALT}:{split_group(doc_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 4 < _TEST_BUCKETS


def dev_split(docs: Iterable[GoldDoc], fold: str) -> list[GoldDoc]:
    """The "train" (~75 %) or "test" (~25 %) fold of DEV documents, input order kept.

    Assignment depends only on the doc id (SHA-256 of a salt and `split_group(id)`),
    so it is the same on every machine, run and Python version, and adding or
    removing other documents never moves a document between folds.
    Train on "train", report on "test". The corpora's held-out parts are not
    available at all; this is a split *within* DEV.
    """
    if fold not in ("train", "test"):
        raise ValueError(f"fold must be 'train' or 'test', not {fold!r}")
    want_test = fold == "test"
    return [d for d in docs if _is_test(d.id) == want_test]
