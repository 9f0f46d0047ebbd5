"""Accepted triples out: TSV with PharmGKB-like columns, JSON, and BioC XML. Pure: entries in, text out."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from pgxlit.store import TripleEntry

# PharmGKB's variant annotation columns (var_drug_ann.tsv) that a triple fills, then where pgxlit read it.
TSV_COLUMNS = (
    "Variant Annotation ID", "Variant/Haplotypes", "Gene", "Drug(s)", "PMID", "Phenotype Category", "Significance",
    "Notes", "Sentence", "Is/Is Not associated", "Direction of effect", "Gene ID", "Drug ID", "Source",
    "Label Set ID", "Label Version", "Label Section", "Effective Date", "Confidence", "Review Status",
)
PHENOTYPE_CATEGORY = {"efficacy": "Efficacy", "toxicity": "Toxicity", "dosage": "Dosage",
                      "metabolism": "Metabolism/PK", "other": "Other"}
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")
DIRECTION = {"increases": "increased", "decreases": "decreased"}


def _summary(entry: TripleEntry) -> str:
    t = entry.triple
    if t.variant and t.gene and t.variant.upper().startswith(t.gene.upper()):
        factor = t.variant  # "CYP2C19 poor metabolizer": the gene is said once
    else:
        factor = " ".join(x for x in (t.gene, t.variant) if x)
    verb = "is not associated with" if t.negated else "is associated with"
    return f"{factor or '?'} {verb} {PHENOTYPE_CATEGORY.get(t.effect, t.effect).lower()} of {t.drug}."


FORMULA_START = ("=", "+", "-", "@")


def _cell(value: Any) -> str:
    """One TSV cell: no tabs or line breaks, and text a spreadsheet would run as a formula is
    quoted with a leading apostrophe (numbers such as -0.5 stay numbers)."""
    if value is None:
        return ""
    text = re.sub(r"[\t\r\n]+", " ", str(value))
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_tsv(entries: Sequence[TripleEntry]) -> str:
    """One row per accepted triple; the evidence sentence is the Notes, as PharmGKB quotes its sources."""
    lines = ["\t".join(TSV_COLUMNS)]
    for entry in entries:
        t, e = entry.triple, entry.triple.evidence
        row = (
            f"pgxlit:{entry.id}", t.variant, t.gene, t.drug, e.pmid, PHENOTYPE_CATEGORY.get(t.effect, t.effect),
            "no" if t.hedged else "yes", e.sentence, _summary(entry),
            "Not associated with" if t.negated else "Associated with", DIRECTION.get(t.relation, ""),
            t.gene_id, t.drug_id, e.source, e.set_id, e.version, e.section, e.effective_time,
            f"{t.confidence:.3f}", entry.review_status,
        )
        lines.append("\t".join(_cell(v) for v in row))
    return "\n".join(lines) + "\n"


def to_json(entries: Sequence[TripleEntry]) -> str:
    return json.dumps([e.to_json() for e in entries], ensure_ascii=False, indent=1) + "\n"


def _document_id(entry: TripleEntry) -> str:
    e = entry.triple.evidence
    return e.pmid if e.source == "pubmed" and e.pmid else f"{e.set_id}:{e.version}"


def _annotation(parent: ET.Element, ann_id: str, kind: str, name: str, identifier: str | None, sentence: str,
                offset: int) -> None:
    ann = ET.SubElement(parent, "annotation", id=ann_id)
    ET.SubElement(ann, "infon", key="type").text = kind
    if identifier:
        ET.SubElement(ann, "infon", key="identifier").text = identifier
    found = sentence.lower().find(name.lower()) if name else -1
    if found >= 0:
        ET.SubElement(ann, "location", offset=str(offset + found), length=str(len(name)))
        ET.SubElement(ann, "text").text = sentence[found : found + len(name)]
    else:
        ET.SubElement(ann, "text").text = name


def to_bioc(entries: Sequence[TripleEntry], date: str) -> str:
    """A BioC collection: one document per PMID or label version, one passage per evidence sentence with its
    drug and gene annotated (located when the sentence names them as written) and the relation between them."""
    root = ET.Element("collection")
    ET.SubElement(root, "source").text = "pgxlit"
    ET.SubElement(root, "date").text = date
    ET.SubElement(root, "key").text = "pgxlit_triples.key"
    docs: dict[str, ET.Element] = {}
    for entry in entries:
        t, e = entry.triple, entry.triple.evidence
        doc_id = _document_id(entry)
        doc = docs.get(doc_id)
        if doc is None:
            doc = docs[doc_id] = ET.SubElement(root, "document")
            ET.SubElement(doc, "id").text = doc_id
        passage = ET.SubElement(doc, "passage")
        for key, value in (("type", "sentence"), ("source", e.source), ("section", e.section),
                           ("set_id", e.set_id), ("version", e.version), ("effective_time", e.effective_time)):
            if value is not None:
                ET.SubElement(passage, "infon", key=key).text = str(value)
        ET.SubElement(passage, "offset").text = str(e.start)
        ET.SubElement(passage, "text").text = e.sentence
        drug_ann, gene_ann = f"T{entry.id}d", f"T{entry.id}g"
        _annotation(passage, drug_ann, "Chemical", t.drug, t.drug_id, e.sentence, e.start)
        if t.gene:
            _annotation(passage, gene_ann, "Gene", t.gene, t.gene_id, e.sentence, e.start)
        if t.variant and t.variant != t.gene:
            _annotation(passage, f"T{entry.id}v", "Variant", t.variant, None, e.sentence, e.start)
        rel = ET.SubElement(passage, "relation", id=f"R{entry.id}")
        for key, value in (("type", t.relation), ("effect", t.effect), ("negated", str(t.negated).lower()),
                           ("hedged", str(t.hedged).lower()), ("confidence", f"{t.confidence:.3f}"),
                           ("review_status", entry.review_status), ("pgxlit_id", str(entry.id))):
            ET.SubElement(rel, "infon", key=key).text = value
        ET.SubElement(rel, "node", refid=drug_ann, role="Chemical")
        if t.gene:
            ET.SubElement(rel, "node", refid=gene_ann, role="Gene")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE collection SYSTEM "BioC.dtd">\n' + body + "\n")
