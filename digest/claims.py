"""Which label changes add, remove or alter a claim of the knowledge layer.

Why: a label-watch team cares first about changes that change what a prescriber is told (a new
"avoid" for poor metabolizers, a dose fraction that moved, a test that became required), not about
every reworded PGx sentence. For a version pair, the old and the new version's stored triples are
compiled into claims with the knowledge layer's own compiler; claims only in one version, or whose
action details differ, are the claim deltas, and a change whose old or new text states one of their
sentences is marked with a "claim ..." reason that the digest ranks first. Curators' edits of a
claim (`knowledge.edits`) are laid over both versions' claims, so the digest names a claim as the
curator corrected it. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pgxlit.digest.text import canonical
from pgxlit.knowledge.compile import compile_drug
from pgxlit.knowledge.edits import apply_edits
from pgxlit.knowledge.facts import TripleFact
from pgxlit.knowledge.model import Claim
from pgxlit.records import Triple

REASON_PREFIX = "claim "  # every reason this module writes starts so; `changes_claim` reads it back


@dataclass(frozen=True, slots=True)
class ClaimDelta:
    """One claim the new version adds, removes or states differently, with the sentences behind each side."""

    kind: str  # added | removed | altered
    label: str  # "CYP2C19 Poor Metabolizer: use an alternative (critical)"
    old_sentences: tuple[str, ...] = ()
    new_sentences: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return f"{REASON_PREFIX}{self.kind}: {self.label}"


def _facts(triples: Sequence[Triple], drug: str) -> list[TripleFact]:
    """The label's own PGx triples as the knowledge compiler reads them (another drug's interaction text left out)."""
    out = []
    for t in triples:
        e = t.evidence
        if not t.pgx or e.source != "fda_label" or t.drug.lower() != drug.lower():
            continue
        out.append(TripleFact(drug=t.drug, gene=t.gene, variant=t.variant, relation=t.relation, effect=t.effect,
                              negated=t.negated, confidence=t.confidence, source=e.source, sentence=e.sentence,
                              set_id=e.set_id, version=e.version, section=e.section, effective_time=e.effective_time))
    return out


def claims_of(triples: Sequence[Triple], drug: str, edits: Iterable[Any] = ()) -> dict[tuple[str, str, str], Claim]:
    """One label version's claims by (gene, group, action), with the curators' current `edits` laid over."""
    claims = compile_drug(drug.lower(), _facts(triples, drug))
    if edits:
        claims = apply_edits({drug.lower(): claims}, edits)[0][drug.lower()]
    return {(c.gene, c.group, c.action): c for c in claims}


def _what(c: Claim) -> tuple:
    """What a prescriber is told, beyond the key: a change here alters the claim."""
    return (c.severity, c.dose, c.testing_level, c.strength, c.no_change)


def _label(c: Claim) -> str:
    action = c.action.replace("_", " ") + (f" {c.dose}" if c.dose else "")
    return f"{c.gene} {c.phenotype}: {action} ({c.severity}, testing {c.testing_level})"


def claim_deltas(drug: str, old: Sequence[Triple] | None, new: Sequence[Triple] | None,
                 edits: Sequence[Any] = ()) -> list[ClaimDelta]:
    """Claims added, removed or altered from `old` to `new` (nothing when either was never extracted);
    `edits` are the store's current claim edits (`Store.current_claim_edits`)."""
    if old is None or new is None:
        return []
    mine = [e for e in edits if e.drug.lower() == drug.lower()]
    before, after = claims_of(old, drug, mine), claims_of(new, drug, mine)
    out: list[ClaimDelta] = []
    for key in after.keys() - before.keys():
        out.append(ClaimDelta("added", _label(after[key]), (), tuple(c.sentence for c in after[key].citations)))
    for key in before.keys() - after.keys():
        out.append(ClaimDelta("removed", _label(before[key]), tuple(c.sentence for c in before[key].citations), ()))
    for key in before.keys() & after.keys():
        a, b = before[key], after[key]
        if _what(a) == _what(b):
            continue
        old_s = {canonical(c.sentence): c.sentence for c in a.citations}
        new_s = {canonical(c.sentence): c.sentence for c in b.citations}
        gone = tuple(s for k, s in old_s.items() if k not in new_s)
        came = tuple(s for k, s in new_s.items() if k not in old_s)
        if not gone and not came:  # the same sentences, now in another section: the section's change states it
            gone, came = tuple(old_s.values()), tuple(new_s.values())
        out.append(ClaimDelta("altered", f"{_label(a)} -> {_label(b).split(': ', 1)[1]}", gone, came))
    return sorted(out, key=lambda d: (d.kind, d.label))


def claim_reasons(old_text: str, new_text: str, deltas: Sequence[ClaimDelta]) -> tuple[str, ...]:
    """The deltas whose sentences this change's old or new text states, as digest reasons."""
    if not deltas:
        return ()
    old_c, new_c = canonical(old_text or ""), canonical(new_text or "")
    found = []
    for d in deltas:
        if any((k := canonical(s)) and k in new_c for s in d.new_sentences) or \
                any((k := canonical(s)) and k in old_c for s in d.old_sentences):
            found.append(d.reason)
    return tuple(dict.fromkeys(found))


def changes_claim(reasons: Sequence[str]) -> bool:
    """Did the digest mark this change as adding, removing or altering a claim?"""
    return any(r.startswith(REASON_PREFIX) for r in reasons)
