"""Pair the sections of two label versions: by LOINC code, then by title, then by content.

Why: a section keeps its LOINC code across versions, but SPL subsections share the generic
"unclassified" code and get renumbered ("5.2 Hepatotoxicity" -> "5.3 Hepatotoxicity") or renamed;
openFDA splits a label into one section per field while SPL XML keeps every subsection. Pairing
the right sections first is what keeps the sentence diff small and readable. Pure functions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pgxlit.digest.text import canonical, word_set_similarity
from pgxlit.records import Section

UNCLASSIFIED_LOINC = "42229-5"  # SPL's "unclassified section": says nothing about what the section is
MIN_CONTENT_SIMILARITY = 0.5


@dataclass(frozen=True, slots=True)
class AlignedSection:
    """A section in the old version, the new one, or both; `how` says which step paired them."""

    old: Section | None
    new: Section | None
    how: str  # "loinc", "title", "content", or "" when one side is missing


def title_key(title: str | None) -> str:
    """A title without its number, case and punctuation: "5.2 Hepatotoxicity" == "5.3. HEPATOTOXICITY"."""
    if not title:
        return ""
    t = re.sub(r"^\s*\d{1,2}(?:\.\d{1,2})*\.?\s*", "", title)
    t = re.sub(r"\(tables?\)", "", t, flags=re.IGNORECASE)
    return " ".join(re.sub(r"[^\w]+", " ", t).casefold().split())


def _loinc_key(s: Section) -> tuple[str, bool] | None:
    return (s.loinc, s.is_table) if s.loinc and s.loinc != UNCLASSIFIED_LOINC else None


def _title_pair_key(s: Section) -> tuple[str, bool] | None:
    key = title_key(s.title)
    return (key, s.is_table) if key else None


def _pair_unique(old: Sequence[Section], new: Sequence[Section], free_old: set[int], free_new: set[int],
                 key, how: str, pairs: dict[int, tuple[int, str]]) -> None:
    """Pair sections whose key occurs exactly once among the unpaired sections on each side."""
    old_keys = {i: key(old[i]) for i in free_old}
    new_keys = {j: key(new[j]) for j in free_new}
    old_count = Counter(k for k in old_keys.values() if k is not None)
    new_count = Counter(k for k in new_keys.values() if k is not None)
    by_key = {k: j for j, k in new_keys.items() if k is not None and new_count[k] == 1}
    for i in sorted(free_old):
        k = old_keys[i]
        if k is None or old_count[k] != 1 or k not in by_key:
            continue
        j = by_key[k]
        pairs[i] = (j, how)
        free_old.discard(i)
        free_new.discard(j)


def align_sections(
    old: Sequence[Section], new: Sequence[Section], min_similarity: float = MIN_CONTENT_SIMILARITY
) -> list[AlignedSection]:
    """Every section of both versions exactly once, paired where they correspond, in reading order."""
    pairs: dict[int, tuple[int, str]] = {}
    free_old, free_new = set(range(len(old))), set(range(len(new)))
    _pair_unique(old, new, free_old, free_new, _loinc_key, "loinc", pairs)
    _pair_unique(old, new, free_old, free_new, _title_pair_key, "title", pairs)
    if free_old and free_new:
        words_old = {i: canonical(old[i].text) for i in free_old}
        words_new = {j: canonical(new[j].text) for j in free_new}
        scored = []
        for i in free_old:
            for j in free_new:
                if old[i].is_table != new[j].is_table:
                    continue
                sim = word_set_similarity(words_old[i], words_new[j])
                if old[i].field and old[i].field == new[j].field:
                    sim += 0.05  # same openFDA field: a tie-breaker, not a reason on its own
                if sim >= min_similarity:
                    scored.append((-sim, i, j))
        for _, i, j in sorted(scored):
            if i in free_old and j in free_new:
                pairs[i] = (j, "content")
                free_old.discard(i)
                free_new.discard(j)

    entries: list[tuple[tuple, AlignedSection]] = []
    paired_new = {j: (i, how) for i, (j, how) in pairs.items()}
    for j, section in enumerate(new):
        if j in paired_new:
            i, how = paired_new[j]
            entries.append(((j, 0, 0), AlignedSection(old[i], section, how)))
        else:
            entries.append(((j, 0, 0), AlignedSection(None, section, "")))
    for i in sorted(free_old):
        before = [pairs[k][0] for k in range(i) if k in pairs]
        anchor = max(before) if before else -1
        entries.append(((anchor, 1, i), AlignedSection(old[i], None, "")))
    return [entry for _, entry in sorted(entries, key=lambda e: e[0])]


def merge_by_field(sections: Sequence[Section]) -> list[Section]:
    """One section per openFDA field (tables apart), texts joined in order.

    Used when the two versions come from different formats (SPL XML keeps subsections, openFDA
    one section per field), so both sides are compared at the same granularity.
    """
    from pgxlit.ingest.spl_sections import loinc_for_field, title_for_field

    groups: dict[tuple[str, bool], list[Section]] = {}
    for s in sections:
        name = (s.field or s.loinc or s.title or "unclassified").removesuffix("_table")
        groups.setdefault((name, s.is_table), []).append(s)
    merged = []
    for n, ((name, is_table), members) in enumerate(groups.items()):
        field = name + ("_table" if is_table else "")
        title = title_for_field(field) or members[0].title or name
        merged.append(Section(order=n, text="\n".join(m.text for m in members), field=field,
                              loinc=loinc_for_field(field) or members[0].loinc, title=title, is_table=is_table))
    return merged
