"""`pgxlit annotate`: JSON lines in, entities and relations out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from pgxlit.extract.evaluate import PGXLIT_TO_PGXCORPUS
from pgxlit.extract.pipeline import annotate_texts, default_nlp, relate


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
    """One output line per input line: document-offset entities, relations indexing into them."""
    records = list(_records(lines))
    texts = (r["text"] for _, r in records)
    for (number, record), sentences in zip(records, annotate_texts(texts, default_nlp()), strict=True):
        entities: list[dict] = []
        relations: list[dict] = []
        for sent in sentences:
            base = len(entities)
            for m in sent.mentions:
                label = PGXLIT_TO_PGXCORPUS.get(m.label, m.label) if scheme == "pgxcorpus" else m.label
                entities.append({
                    "start": m.start + sent.start, "end": m.end + sent.start, "label": label,
                    "text": m.text, "norm": m.norm,
                })
            for r in relate(sent.text, sent.mentions):
                relations.append({
                    "head": r.head + base, "tail": r.tail + base, "type": r.type,
                    "confidence": r.confidence, "negated": r.negated, "hedged": r.hedged,
                })
        yield json.dumps({"id": record.get("id", number), "entities": entities, "relations": relations})
