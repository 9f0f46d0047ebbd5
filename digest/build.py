"""Build a digest: plan which version pairs to compare, diff and classify them, rank the changes.

`plan_chains` and `digest_pair` and `rank_changes` are pure (the extractor is passed in);
`build_digest` reads the store one label version at a time and never holds more than two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pgxlit.digest.align import align_sections, merge_by_field
from pgxlit.digest.claims import changes_claim, claim_deltas, claim_reasons
from pgxlit.digest.classify import Extractor, extraction_triples, judge, section_tier, triple_key
from pgxlit.digest.diff import diff_section
from pgxlit.digest.model import Change, Digest, PairDigest, TripleKey, VersionRef
from pgxlit.digest.source import CorruptVersion, VersionMeta, load_version, stored_triples, version_index
from pgxlit.digest.text import looks_like_table
from pgxlit.ingest.tables import table_spans
from pgxlit.records import LabelVersion, Section, Triple
from pgxlit.store import Store


@dataclass(frozen=True, slots=True)
class Selection:
    """Which version pairs a digest covers. No bound: every stored pair."""

    since: str | None = None  # YYYYMMDD: pairs whose newer version took effect on or after it
    after_row_id: int | None = None  # pairs with a version stored after this row (the last run)
    drugs: tuple[str, ...] = ()
    pgx_only: bool = False
    cross_set: bool = True  # follow a label into the set that replaced it under the same application

    def describe(self) -> dict:
        return {"since": self.since, "after_row_id": self.after_row_id, "drugs": list(self.drugs),
                "pgx_only": self.pgx_only, "cross_set": self.cross_set}


# ---- planning (pure) ------------------------------------------------------------------------
def _span(versions: Sequence[VersionMeta]) -> tuple[str, str]:
    dates = [v.effective_time for v in versions if v.effective_time]
    return (min(dates), max(dates)) if dates else ("", "")


def plan_chains(metas: Iterable[VersionMeta], cross_set: bool = True) -> list[list[VersionMeta]]:
    """Each label's versions in order; with `cross_set`, a set continues into the set that followed
    it under the same application number (openFDA answered with a new set id: a new owner, a
    relabel) when their dates do not overlap."""
    sets: dict[str, list[VersionMeta]] = {}
    for m in metas:
        sets.setdefault(m.set_id, []).append(m)
    for versions in sets.values():
        versions.sort(key=lambda m: m.version)
    if not cross_set:
        return [sets[k] for k in sorted(sets)]
    order = sorted(sets, key=lambda k: (_span(sets[k])[0], sets[k][0].row_id))
    chains: list[list[VersionMeta]] = []
    tails: dict[int, set[str]] = {}  # chain index -> application numbers of its last set
    for set_id in order:
        versions = sets[set_id]
        apps = {a for v in versions for a in v.application_numbers}
        first, _ = _span(versions)
        best = None
        for idx, chain in enumerate(chains):
            if not apps & tails[idx]:
                continue
            _, last = _span([v for v in chain if v.set_id == chain[-1].set_id])
            if first and last and last <= first and (best is None or last > best[1]):
                best = (idx, last)
        if best is None:
            chains.append(list(versions))
            tails[len(chains) - 1] = apps
        else:
            chains[best[0]].extend(versions)
            tails[best[0]] = apps
    return sorted(chains, key=lambda c: (c[-1].set_id, c[-1].version))


def drug_matches(meta: VersionMeta, drugs: Sequence[str]) -> bool:
    """A --drug filter: any generic or brand name containing the term, or the same drug by the lexicon."""
    return names_match((*meta.generic_names, *meta.brand_names), meta.title, drugs)


def names_match(names: Sequence[str], title: str | None, drugs: Sequence[str]) -> bool:
    if not drugs:
        return True
    lowered = [n.lower() for n in (*names, title or "")]
    for d in drugs:
        d = d.lower().strip()
        if any(d in n for n in lowered if n):
            return True
    from pgxlit.extract.lexicons import normalise_drug

    wanted = {found[0] for d in drugs if (found := normalise_drug(d))}
    return any((found := normalise_drug(n)) and found[0] in wanted for n in names)


def pair_wanted(old: VersionMeta, new: VersionMeta, selection: Selection) -> bool:
    if selection.since is not None and (new.effective_time or "") < selection.since:
        return False
    if selection.after_row_id is not None and max(old.row_id, new.row_id) <= selection.after_row_id:
        return False
    return True


# ---- one pair (pure, given the extractor) ------------------------------------------------------
def drug_name(label: LabelVersion) -> str:
    """The label's drug as the lexicon names it ("clopidogrel" for CLOPIDOGREL BISULFATE)."""
    try:
        from pgxlit.extract.triples import label_subject

        subject = label_subject(label)
        if subject is not None:
            return subject.name
    except FileNotFoundError:  # no lexicons shipped: the label's own name will do
        pass
    return (label.generic_names or label.brand_names or (label.title or label.set_id,))[0].lower()


def ref(label: LabelVersion) -> VersionRef:
    return VersionRef(label.set_id, label.version, label.effective_time, label.spl_id, label.title, label.manufacturer)


def _section_name(section) -> str:
    return section.title or section.field or section.loinc or f"section {section.order + 1}"


def _changed_triples(old: Sequence[Triple] | None, new: Sequence[Triple] | None
                     ) -> tuple[tuple[TripleKey, ...], tuple[TripleKey, ...]]:
    if old is None or new is None:
        return (), ()
    old_keys = {triple_key(t): t for t in old}
    new_keys = {triple_key(t): t for t in new}
    added = tuple(k for k in new_keys if k not in old_keys)
    removed = tuple(k for k in old_keys if k not in new_keys)
    return added, removed


def _table_text(sections: Sequence[Section]) -> dict[int, tuple[str, ...]]:
    """Section order -> the stretches of its text that are its tables (whitespace dropped)."""
    return {order: tuple("".join(section_text[s.start:s.end].split()) for s in spans)
            for order, spans in table_spans(sections).items()
            for section_text in (next(x.text for x in sections if x.order == order),)}


def _in_tables(sentences: Sequence[str], tables: Sequence[str]) -> bool:
    """Are these sentences part of one of the section's tables?"""
    return bool(sentences) and bool(tables) and all(
        any("".join(s.split()) in t for t in tables) for s in sentences)


def digest_pair(
    old: LabelVersion,
    new: LabelVersion,
    extractor: Extractor | None = extraction_triples,
    old_triples: Sequence[Triple] | None = None,
    new_triples: Sequence[Triple] | None = None,
    claim_edits: Sequence[Any] = (),
) -> PairDigest:
    """Every non-editorial change from `old` to `new`, classified (not yet ranked).

    `extractor=None` skips the PGx judgement of sentences (section and stored triples still count);
    `claim_edits` (the store's current curator edits) are laid over both versions' claims.
    """
    old_sections, new_sections = list(old.sections), list(new.sections)
    if old.source_format != new.source_format:
        old_sections, new_sections = merge_by_field(old_sections), merge_by_field(new_sections)
    aligned = align_sections(old_sections, new_sections)
    how_counts: dict[str, int] = {}
    for a in aligned:
        key = a.how or ("added" if a.old is None else "removed")
        how_counts[key] = how_counts.get(key, 0) + 1
    stored_added, stored_removed = _changed_triples(old_triples, new_triples)
    old_tables, new_tables = _table_text(old_sections), _table_text(new_sections)
    drug = drug_name(new)
    deltas = claim_deltas(drug, old_triples, new_triples, claim_edits)  # claims the new version adds, removes or alters
    old_ref, new_ref = ref(old), ref(new)
    changes: list[Change] = []
    editorial = 0
    for a in aligned:
        diff = diff_section(a)
        editorial += diff.editorial
        for sc in diff.changes:
            if extractor is not None:
                found_old, found_new = (
                    extractor([(sc.context, sc.old_text)], old, sc.old_section or sc.section)[0] if sc.old_text else set(),
                    extractor([(sc.context, sc.new_text)], new, sc.section)[0] if sc.new_text else set(),
                )
            else:
                found_old, found_new = set(), set()
            verdict = judge(sc, found_old, found_new, stored_added, stored_removed)
            if claimed := claim_reasons(sc.old_text, sc.new_text, deltas):
                verdict = replace(verdict, pgx=True, reasons=(*claimed, *verdict.reasons),
                                  weight=verdict.weight + 5 * len(claimed))
            origin = change_origin((*found_old, *found_new, *verdict.triples_added, *verdict.triples_removed))
            section = sc.section
            table_row = sc.scope == "sentence" and (
                section.is_table or any(looks_like_table(t) for t in (*sc.old_sentences, *sc.new_sentences))
                or _in_tables(sc.new_sentences, new_tables.get(section.order, ()))
                or (sc.old_section is not None and _in_tables(sc.old_sentences, old_tables.get(sc.old_section.order, ()))))
            changes.append(Change(
                old=old_ref, new=new_ref, drug=drug, section=_section_name(section), section_field=section.field,
                section_loinc=section.loinc, tier=min(section_tier(section),
                                                      section_tier(sc.old_section) if sc.old_section else 5),
                kind=sc.kind, scope=sc.scope, old_text=sc.old_text, new_text=sc.new_text, alignment=sc.alignment,
                order=len(changes), pgx_relevant=verdict.pgx, pgx_reasons=verdict.reasons, pgx_weight=verdict.weight,
                triples_added=verdict.triples_added, triples_removed=verdict.triples_removed,
                origin=origin if verdict.pgx else "unknown", table_row=table_row,
            ))
    title = new.title or old.title or drug
    return PairDigest(old_ref, new_ref, drug, title, tuple(changes), editorial, how_counts,
                      tuple(k for k in stored_added if k.pgx), tuple(k for k in stored_removed if k.pgx),
                      old_triples is not None and new_triples is not None)


def change_origin(keys: Iterable[TripleKey]) -> str:
    """Germline when any factor a change touches is inherited (or not known to be a tumour's),
    somatic when every one is a tumour biomarker, unknown when extraction found none."""
    origins = {k.origin for k in keys}
    if not origins:
        return "unknown"
    if origins == {"somatic"}:
        return "somatic"
    return "germline" if "germline" in origins else "unknown"


# ---- ranking (pure) -------------------------------------------------------------------------------
def rank_key(c: Change) -> tuple:
    """PGx first, and among PGx changes one that adds, removes or alters a claim first; germline before a
    tumour (somatic) biomarker; new or rewritten text before an edited table row; then the section's tier;
    then how much PGx content moved; newest first; stable."""
    return (not c.pgx_relevant, not changes_claim(c.pgx_reasons), c.origin == "somatic", c.table_row, c.tier,
            -c.pgx_weight, -int(c.new.effective_time or 0), c.new.set_id, c.new.version, c.order)


def rank_changes(changes: Iterable[Change]) -> list[Change]:
    return [replace(c, rank=i) for i, c in enumerate(sorted(changes, key=rank_key), start=1)]


# ---- the store edge ------------------------------------------------------------------------------
@dataclass
class BuildReport:
    """What `build_digest` read, for the command's log line."""

    versions_read: int = 0
    max_row_id: int = 0
    errors: list[str] = field(default_factory=list)


def build_digest(
    store: Store,
    selection: Selection,
    extractor: Extractor | None = extraction_triples,
    progress: Callable[[int, int | None], None] | None = None,
    report: BuildReport | None = None,
) -> Digest:
    """Diff every wanted version pair in the store; a corrupt version is reported and skipped, its
    neighbours are compared with each other."""
    report = report if report is not None else BuildReport()
    metas = version_index(store)
    report.max_row_id = max((m.row_id for m in metas), default=0)
    chains = [c for c in plan_chains(metas, selection.cross_set) if any(drug_matches(m, selection.drugs) for m in c)]
    todo = [c for c in chains if any(pair_wanted(a, b, selection) for a, b in zip(c, c[1:], strict=False))]
    single = tuple(sorted(f"{c[0].generic_names[0].lower() if c[0].generic_names else c[0].title} "
                          f"({c[0].set_id} v{c[0].version})" for c in chains if len(c) == 1))
    pairs: list[PairDigest] = []
    errors: list[str] = report.errors
    edits = store.current_claim_edits()  # curators' corrections, laid over every version's claims
    if progress:
        progress(0, sum(len(c) for c in todo))
    for chain in todo:
        prev: tuple[VersionMeta, LabelVersion] | None = None
        for meta in chain:
            try:
                label = load_version(store, meta)
            except CorruptVersion as exc:
                errors.append(f"{exc}; skipped, its neighbours are compared with each other")
                if progress:
                    progress(1, None)
                continue
            report.versions_read += 1
            if prev is not None and pair_wanted(prev[0], meta, selection):
                try:
                    pairs.append(digest_pair(prev[1], label, extractor,
                                             stored_triples(store, prev[1].set_id, prev[1].version),
                                             stored_triples(store, label.set_id, label.version), edits))
                except Exception as exc:  # one bad pair must not sink the digest of every other label
                    errors.append(f"label {meta.set_id} v{prev[0].version} -> v{meta.version}: "
                                  f"could not be compared ({type(exc).__name__}: {exc})")
            prev = (meta, label)
            if progress:
                progress(1, None)
    changes = [c for p in pairs for c in p.changes if c.pgx_relevant or not selection.pgx_only]
    ranked = rank_changes(changes)
    by_pair: dict[tuple, list[Change]] = {}
    for c in ranked:
        by_pair.setdefault((c.old.set_id, c.old.version, c.new.set_id, c.new.version), []).append(c)
    pairs = [replace(p, changes=tuple(by_pair.get((p.old.set_id, p.old.version, p.new.set_id, p.new.version), ())))
             for p in pairs]
    if selection.pgx_only:
        pairs = [p for p in pairs if p.changes]
    best = {id(p): min((c.rank for c in p.changes), default=len(ranked) + 1) for p in pairs}
    pairs.sort(key=lambda p: best[id(p)])
    return Digest(
        generated_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        selection=selection.describe(), pairs=tuple(pairs), changes=tuple(ranked), errors=tuple(errors),
        labels_with_one_version=single,
    )


def narrow_digest(full: Digest, selection: Selection, metas: Sequence[VersionMeta]) -> Digest:
    """The digest a selection asks for, cut from the digest of every stored pair.

    The server builds the full digest once per store state and answers every `since`, drug and
    PGx filter from it, so no query parameter can make it rebuild. A pair is kept when either of
    its versions matches the drug filter.
    """
    by_version = {(m.set_id, m.version): m for m in metas}

    def wanted(p: PairDigest) -> bool:
        if selection.since is not None and (p.new.effective_time or "") < selection.since:
            return False
        if not selection.drugs:
            return True
        found = [by_version.get((r.set_id, r.version)) for r in (p.old, p.new)]
        return any(m is not None and drug_matches(m, selection.drugs) for m in found) or \
            names_match((p.drug,), p.title, selection.drugs)

    pairs = [p for p in full.pairs if wanted(p)]
    pairs = [replace(p, changes=tuple(c for c in p.changes if c.pgx_relevant or not selection.pgx_only)) for p in pairs]
    if selection.pgx_only:
        pairs = [p for p in pairs if p.changes]
    kept = {(p.old.set_id, p.old.version, p.new.set_id, p.new.version) for p in pairs}
    changes = [c for c in full.changes if (c.old.set_id, c.old.version, c.new.set_id, c.new.version) in kept
               and (c.pgx_relevant or not selection.pgx_only)]
    single = tuple(s for s in full.labels_with_one_version
                   if not selection.drugs or any(d.lower().strip() in s.lower() for d in selection.drugs))
    return replace(full, selection=selection.describe(), pairs=tuple(pairs), changes=tuple(changes),
                   labels_with_one_version=single)
