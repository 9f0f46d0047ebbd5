"""`pgxlit annotate`: JSON lines in, entities and relations out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from pgxlit.extract.pgxcorpus_types import shipped_typer, to_pgxcorpus
from pgxlit.extract.pipeline import annotate_texts, default_nlp, relate


SCHEMES = ("pgxlit", "pgxcorpus", "biored")


def _records(lines: Iterable[str]) -> Iterator[tuple[int, dict]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ValueError(f'line {number}: expected an object with a "text" string')
        yield number, record


def annotate_lines(lines: Iterable[str], scheme: str = "pgxlit") -> Iterator[str]:
    """One output line per input line: document-offset entities, relations indexing into them.

    scheme="pgxcorpus" writes PGxCorpus's ten entity types with its span edges, found by the
    model the setting extract.scheme_ner picks (by default the linear typer
    corpora/models/pgxcorpus_types, trained on the PGxCorpus train fold), and the relations judged
    again between those typed mentions; "biored" writes BioRED's four types with its span edges
    (by default the CRF tagger corpora/models/biored_crf) and the relations carried onto them;
    "pgxlit" keeps the six coarse labels."""
    records = list(_records(lines))
    texts = (r["text"] for _, r in records)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme is one of {', '.join(SCHEMES)}, not {scheme!r}")
    typer = shipped_typer(scheme) if scheme != "pgxlit" else None
    again = relate if scheme == "pgxcorpus" else None  # relation types are PGxCorpus's: judged again only there
    for (number, record), sentences in zip(records, annotate_texts(texts, default_nlp()), strict=True):
        entities: list[dict] = []
        relations: list[dict] = []
        for sent in sentences:
            base = len(entities)
            mentions, sent_relations = list(sent.mentions), relate(sent.text, sent.mentions)
            if scheme != "pgxlit":  # the scheme's types and span edges (extract/pgxcorpus_types.py, crf_ner.py)
                mentions, sent_relations = to_pgxcorpus(sent.text, mentions, sent_relations, typer, again)
            for m in mentions:
                entities.append({
                    "start": m.start + sent.start, "end": m.end + sent.start, "label": m.label,
                    "text": m.text, "norm": m.norm,
                })
            for r in sent_relations:
                relations.append({
                    "head": r.head + base, "tail": r.tail + base, "type": r.type,
                    "confidence": r.confidence, "negated": r.negated, "hedged": r.hedged,
                })
        yield json.dumps({"id": record.get("id", number), "entities": entities, "relations": relations})
