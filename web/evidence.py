"""Where a cited sentence sits: its label section or abstract, cut around it, with the sentence marked.

`locate` is pure (text and sentence in, three pieces out) so the template escapes each piece and
wraps only the middle one in <mark>: no source text is ever trusted as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pgxlit.records import LabelVersion, Passage, Section, label_date

CONTEXT_CHARS = 1200


@dataclass(frozen=True, slots=True)
class Located:
    before: str
    mark: str
    after: str
    clipped_before: bool
    clipped_after: bool


def _squash(text: str) -> str:
    return " ".join(text.split())


def locate(context: str, sentence: str, hint: int | None = None, window: int = CONTEXT_CHARS) -> Located:
    """Find `sentence` in `context` (exactly, else ignoring spacing) and keep `window` characters around it."""
    start = context.find(sentence) if sentence else -1
    if start >= 0 and hint is not None:
        # the same sentence can occur twice in a section: take the copy nearest the evidence offset
        starts = []
        at = start
        while at >= 0:
            starts.append(at)
            at = context.find(sentence, at + 1)
        start = min(starts, key=lambda s: abs(s - hint))
    end = start + len(sentence)
    if start < 0:
        squashed, target = _squash(context), _squash(sentence)
        pos = squashed.find(target) if target else -1
        if pos < 0:
            clip = context[:window]
            return Located(clip, "", "", False, len(context) > window)
        context, start, end = squashed, pos, pos + len(target)
    lo = max(0, start - window // 2)
    hi = min(len(context), end + window // 2)
    return Located(context[lo:start], context[start:end], context[end:hi], lo > 0, hi < len(context))


def find_section(label: LabelVersion, passage: Passage) -> Section | None:
    """The section a passage was cut from: same name and the passage's text at its offsets."""
    named = [s for s in label.sections if passage.section in (s.field, s.loinc, s.title)]
    for s in named:
        if s.text[passage.start : passage.end].strip() == passage.text.strip():
            return s
    for s in named:
        if passage.text.strip()[:80] in s.text:
            return s
    return named[0] if named else None


def evidence_view(passage: Passage, sentence: str, context: str, heading: str, title: str | None,
                  offset: int | None) -> dict[str, Any]:
    """Everything the evidence panel shows, as plain strings (escaped by the template)."""
    located = locate(context, sentence or passage.text, offset)
    if passage.source == "pubmed":
        where = f"PubMed {passage.pmid}" + (f" ({passage.year})" if passage.year else "")
        date = str(passage.year) if passage.year else None
    else:
        where = f"FDA label, set id {passage.set_id}, version {passage.version}"
        t = passage.effective_time
        date = label_date(t)
    return {
        "passage_id": passage.id, "source": passage.source, "title": title or passage.title, "heading": heading,
        "where": where, "date": date, "version": passage.version, "set_id": passage.set_id, "pmid": passage.pmid,
        "url": passage.url, "superseded": passage.superseded, "before": located.before, "mark": located.mark,
        "after": located.after, "clipped_before": located.clipped_before, "clipped_after": located.clipped_after,
        "found": bool(located.mark),
    }
