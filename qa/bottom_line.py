"""The bottom line of an answer: one or two sentences that answer the question asked, every clause cited.

Pure functions over claims (drug, gene, phenotype group, action, where it is stated) and a `cite`
callback that turns a claim's evidence into citation numbers. The wording is generated, never
copied from a label: "Avoid codeine in CYP2D6 ultrarapid metabolizers [1]." The quotes that
follow the bottom line are the evidence itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pgxlit.qa.question import Question

# Most actionable first: the order a prescriber needs them in.
ACTION_ORDER = ("avoid", "alternative", "dose_change", "test", "monitor", "informative")
ACTION_WORDS = {
    "avoid": "avoid", "alternative": "consider an alternative to", "dose_change": "change the dose of",
    "test": "test before prescribing", "monitor": "monitor", "informative": "no action stated for",
}
VERDICT = {"avoid": "No", "alternative": "Not as first choice", "dose_change": "Yes, with a dose change",
           "test": "Only after testing", "monitor": "Yes, with monitoring", "informative": "No action stated"}
SOURCE_WORDS = {"label": "the label", "literature_only": "literature only"}
MAX_CLAUSES = 3


@dataclass(frozen=True)
class ClaimView:
    """What the bottom line needs of a claim; `evidence` is whatever `cite` turns into numbers."""

    drug: str
    gene: str | None
    phenotype: str | None  # the genotype/phenotype group the claim applies to, as stated
    action: str  # one of ACTION_ORDER
    status: str = "label"  # label | literature_only | not_covered
    testing_level: str | None = None
    severity: str | None = None
    applies: bool | None = None  # to the group the question asks about; None when none was asked
    dose: str | None = None  # the dose or fraction the text states, for dose changes
    evidence: tuple[Any, ...] = field(default_factory=tuple)

    def to_json(self, keys: Sequence[int] = ()) -> dict[str, Any]:
        return {"drug": self.drug, "gene": self.gene, "phenotype": self.phenotype, "action": self.action,
                "severity": self.severity, "testing_level": self.testing_level, "status": self.status,
                "applies": self.applies, "citations": list(keys)}


def rank(claims: Sequence[ClaimView]) -> list[ClaimView]:
    """Claims that apply first, then label before literature, then the most actionable."""
    return sorted(claims, key=lambda c: (c.applies is False, c.status != "label",
                                         ACTION_ORDER.index(c.action) if c.action in ACTION_ORDER else 9))


def _keys(claim: ClaimView, cite: Callable[[ClaimView], list[int]]) -> str:
    keys = sorted(set(cite(claim)))
    return f"[{', '.join(map(str, keys))}]" if keys else ""


def _who(claim: ClaimView, q: Question) -> str:
    group = claim.phenotype or (q.groups[0] if q.groups and claim.applies else None)
    if group and (group.startswith("patients ") or group.endswith("s")):
        return group
    if group:
        zygosity = group.endswith(")")
        base = group.rsplit(" (", 1)[0] if zygosity else group
        plural = base if base.endswith("s") else f"{base}s"
        return plural + (group[len(base):] if zygosity else "")
    return f"patients with some {claim.gene} genotypes" if claim.gene else "some patients"


def clause(claim: ClaimView, q: Question, cite: Callable[[ClaimView], list[int]]) -> str | None:
    """One cited clause: what to do, for whom, about which drug; None when it cannot be cited."""
    keys = _keys(claim, cite)
    if not keys:
        return None
    who = _who(claim, q)
    where = " (literature only)" if claim.status == "literature_only" else ""
    if claim.action == "avoid":
        text = f"avoid {claim.drug} in {who}"
    elif claim.action == "alternative":
        text = f"consider an alternative to {claim.drug} in {who}"
    elif claim.action == "dose_change":
        text = f"change the {claim.drug} dose in {who}" + (f" ({claim.dose})" if claim.dose else "")
    elif claim.action == "test":
        level = f", testing {claim.testing_level}" if claim.testing_level else ""
        text = f"test {claim.gene or 'the patient'} before prescribing {claim.drug}{level}"
    elif claim.action == "monitor":
        text = f"monitor {who} on {claim.drug}"
    else:
        text = f"{claim.gene or 'genotype'} affects {claim.drug} in {who}, with no action stated"
    return f"{text}{where} {keys}"


_CITED = re.compile(r"^(?P<text>.*?)\s*\[(?P<keys>\d+(?:, \d+)*)\]$")


def merge_clauses(clauses: Sequence[str]) -> list[str]:
    """Clauses that say the same thing in the same words are one clause citing all their sources
    (two claims of one gene that read alike must not be two clauses)."""
    order: list[str] = []
    keys: dict[str, set[int]] = {}
    for clause in clauses:
        if not clause:
            continue
        m = _CITED.match(clause)
        text, cited = (m.group("text"), {int(k) for k in m.group("keys").split(", ")}) if m else (clause, set())
        if text not in keys:
            order.append(text)
            keys[text] = set()
        keys[text] |= cited
    return [f"{t} [{', '.join(map(str, sorted(keys[t])))}]" if keys[t] else t for t in order]


def _sentence(clauses: Sequence[str], lead: str = "") -> str:
    body = "; ".join(merge_clauses(clauses))
    if not body:
        return ""
    body = f"{lead}{body}" if lead else body[0].upper() + body[1:]
    return body + "."


def bottom_line(q: Question, claims: Sequence[ClaimView], cite: Callable[[ClaimView], list[int]]) -> str:
    """One or two sentences answering the question's kind from its claims, every clause cited."""
    ranked = rank(claims)
    if not ranked:
        return ""
    if q.kind == "phenotype":
        applying = [c for c in ranked if c.applies]
        if not applying:
            others = [c for c in ranked if c.applies is None][:2]
            clauses = [c for c in (clause(x, q, cite) for x in others) if c]
            group = ", ".join(q.groups)
            return (f"The evidence states nothing specific to {group}; about {claims[0].drug} and "
                    f"{claims[0].gene or 'genotype'} it says: " + _sentence(clauses)) if clauses else ""
        top = applying[0]
        first = clause(top, q, cite)
        if first is None:
            return ""
        acting = top.action != "informative"
        rest = [c for c in (clause(x, q, cite) for x in applying[1:MAX_CLAUSES]
                            if not acting or x.action != "informative") if c]
        line = _sentence([first], lead=f"{VERDICT.get(top.action, 'Yes')}: ")
        return line + (" " + _sentence(rest) if rest else "")
    if q.kind == "test":
        tests = [c for c in ranked if c.action == "test"] or ranked
        genes = list(dict.fromkeys(c.gene for c in tests if c.gene))
        clauses = [c for c in (clause(x, q, cite) for x in tests[:MAX_CLAUSES]) if c]
        lead = f"Genes to test before {', '.join(dict.fromkeys(c.drug for c in tests))}: {', '.join(genes)}. " \
            if genes and any(c.action == "test" for c in tests) else \
            f"The evidence names {', '.join(genes) or 'no gene'} but states no test before use. " if genes else ""
        if not clauses:
            return ""
        return lead + _sentence(clauses)
    if q.kind == "affected_drugs":
        by_drug: dict[str, ClaimView] = {}
        for c in ranked:
            by_drug.setdefault(c.drug, c)
        clauses = [c for c in (clause(x, q, cite) for x in list(by_drug.values())[:MAX_CLAUSES + 2]) if c]
        about = ", ".join(q.alleles) or ", ".join(q.genes)
        lead = f"Drugs in the store affected by {about}: {', '.join(by_drug)}. " if by_drug else ""
        return lead + _sentence(clauses) if clauses else ""
    if q.kind == "alternatives":
        alternatives = [c for c in ranked if c.action == "alternative"]
        if alternatives:
            clauses = [c for c in (clause(x, q, cite) for x in alternatives[:MAX_CLAUSES]) if c]
            return _sentence(clauses)
        clauses = [c for c in (clause(x, q, cite) for x in ranked[:2]) if c]
        return ("The evidence names no alternative drug; it says: " + _sentence(clauses)[0].lower()
                + _sentence(clauses)[1:]) if clauses else ""
    # issue and pair: yes/no, who is affected, what to do (what is only described waits for the quotes)
    acting = [c for c in ranked if c.action != "informative"] or ranked
    clauses = [c for c in (clause(x, q, cite) for x in acting[:MAX_CLAUSES]) if c]
    if not clauses:
        return ""
    genes = list(dict.fromkeys(c.gene for c in ranked if c.gene))
    drugs = list(dict.fromkeys(c.drug for c in ranked))
    if all(c.status == "literature_only" for c in ranked):  # no label text: say so, never a plain yes
        lead = (f"Only abstracts, not the label, link {_and(genes)} to {_and(drugs)}: " if genes
                else "Only abstracts, not the label, state this: ")
    else:
        lead = f"Yes, {_and(genes)} status affects {_and(drugs)}: " if genes else "Yes: "
    return _sentence(clauses, lead=lead)


def _and(items: Sequence[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""
