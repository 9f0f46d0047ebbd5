"""Sentence-level differences between two aligned label sections.

Why: a reviewer wants "this sentence was reworded, these two were added", not a character diff
of a 15,000-character section. Sentences are matched by their canonical form (text.canonical), so
editorial-only edits are counted and folded away; reworded sentences are paired with the
sentence they replace when they are similar enough, otherwise shown as removed and added. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from pgxlit.digest.align import AlignedSection
from pgxlit.digest.text import canonical, editorial_key, similarity, split_sentences
from pgxlit.records import Section

MIN_REWORD_SIMILARITY = 0.5  # below this a "replacement" is a removed sentence plus an added one
CONTEXT_SENTENCES = 8  # unchanged sentences before a change that may name the gene it is about
MAX_RUN = 3  # consecutive added (or removed) sentences per change: each gets its own PGx verdict
_MAX_PAIRING_CELLS = 40_000  # larger replaced blocks are paired in order, without the similarity search


@dataclass(frozen=True, slots=True)
class SentenceChange:
    """One run of changed sentences in a section (or a whole section), before classification."""

    section: Section  # the new section, or the old one when the section was removed
    old_section: Section | None
    kind: str  # added | removed | changed
    scope: str  # sentence | section
    old_sentences: tuple[str, ...]
    new_sentences: tuple[str, ...]
    alignment: str
    context: str  # the sentences just before, for the gene a passage is about ("Poor metabolizers ...")

    @property
    def old_text(self) -> str:
        return " ".join(self.old_sentences)

    @property
    def new_text(self) -> str:
        return " ".join(self.new_sentences)


@dataclass(frozen=True, slots=True)
class SectionDiff:
    changes: tuple[SentenceChange, ...]
    editorial: int  # sentences equal only after folding editorial noise


def _pair_replaced(old: Sequence[str], new: Sequence[str], old_c: Sequence[str], new_c: Sequence[str]
                   ) -> list[tuple[int | None, int | None]]:
    """Monotone pairing of a replaced block: similar sentences pair up, the rest stand alone.

    A small dynamic programme maximising total similarity of pairs at or above the threshold.
    """
    n, m = len(old), len(new)
    if n * m > _MAX_PAIRING_CELLS:
        return [(i, None) for i in range(n)] + [(None, j) for j in range(m)]
    sim = [[similarity(old_c[i], new_c[j]) for j in range(m)] for i in range(n)]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = sim[i][j] + best[i + 1][j + 1] if sim[i][j] >= MIN_REWORD_SIMILARITY else -1.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    out: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        if sim[i][j] >= MIN_REWORD_SIMILARITY and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            out.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            out.append((i, None))
            i += 1
        else:
            out.append((None, j))
            j += 1
    out += [(k, None) for k in range(i, n)] + [(None, k) for k in range(j, m)]
    return out


def diff_section(aligned: AlignedSection) -> SectionDiff:
    """Changes between the two sides of an aligned section; whole-section changes when one side is missing."""
    old, new = aligned.old, aligned.new
    if old is None or new is None:
        section = new if new is not None else old
        assert section is not None
        sentences = tuple(s for s in split_sentences(section.text) if editorial_key(s))
        if not sentences:
            return SectionDiff((), 0)
        kind = "added" if new is not None else "removed"
        change = SentenceChange(section, old, kind, "section", () if new else sentences, sentences if new else (),
                                "", "")
        return SectionDiff((change,), 0)
    if old.text == new.text:
        return SectionDiff((), 0)
    # A sentence that is nothing but numbering or punctuation ("(4)") is no sentence.
    a = [s for s in split_sentences(old.text) if editorial_key(s)]
    b = [s for s in split_sentences(new.text) if editorial_key(s)]
    ak, bk = [editorial_key(s) for s in a], [editorial_key(s) for s in b]
    if ak == bk:
        return SectionDiff((), sum(x != y for x, y in zip(a, b, strict=True)))
    ac, bc = [canonical(s) for s in a], [canonical(s) for s in b]
    editorial = 0
    changes: list[SentenceChange] = []
    run_kind: str | None = None
    run_old: list[str] = []
    run_new: list[str] = []
    run_context = ""

    def flush() -> None:
        nonlocal run_kind
        if run_kind is not None:
            changes.append(SentenceChange(new, old, run_kind, "sentence", tuple(run_old), tuple(run_new),
                                          aligned.how, run_context))
        run_kind = None
        run_old.clear()
        run_new.clear()

    def emit(kind: str, old_s: str | None, new_s: str | None, context: str) -> None:
        """Up to MAX_RUN consecutive added (or removed) sentences make one change; each reworded one is its own."""
        nonlocal run_kind, run_context
        if kind != run_kind or kind == "changed" or max(len(run_old), len(run_new)) >= MAX_RUN:
            flush()
            run_kind, run_context = kind, context
        if old_s is not None:
            run_old.append(old_s)
        if new_s is not None:
            run_new.append(new_s)

    for op, i1, i2, j1, j2 in SequenceMatcher(None, ak, bk, autojunk=False).get_opcodes():
        context = " ".join(b[max(0, j1 - CONTEXT_SENTENCES) : j1])
        if op == "equal":
            flush()
            editorial += sum(a[i1 + k] != b[j1 + k] for k in range(i2 - i1))
            continue
        if op == "replace" and "".join(ak[i1:i2]) == "".join(bk[j1:j2]):
            flush()  # the same words cut into sentences differently (text glued together in one version)
            editorial += max(i2 - i1, j2 - j1)
            continue
        if op == "delete":
            for i in range(i1, i2):
                emit("removed", a[i], None, context)
        elif op == "insert":
            for j in range(j1, j2):
                emit("added", None, b[j], context)
        else:
            for i, j in _pair_replaced(a[i1:i2], b[j1:j2], ac[i1:i2], bc[j1:j2]):
                if i is not None and j is not None:
                    emit("changed", a[i1 + i], b[j1 + j], context)
                elif i is not None:
                    emit("removed", a[i1 + i], None, context)
                else:
                    emit("added", None, b[j1 + j], context)
        flush()
    flush()
    return SectionDiff(tuple(changes), editorial)
