"""What a drug's summary shows, from the compiled claims: its claims in order, and the genes it lists.

Why here: `pgxlit drug DRUG`, the /drug/{name} page and `pgxlit eval check` must read the same
thing. The web layer lays these out (links, grid, text); the evaluation measures them against
PharmGKB's label list. Both call these functions, so a change to what the summary shows is a
change to what is measured. Pure, except `summary_knowledge` (the store edge).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pgxlit.knowledge.base import Coverage, KnowledgeBase
from pgxlit.knowledge.model import SEVERITIES, Claim

NO_CHANGE = "no change"  # the severity word of a gene whose every claim says nothing changes


@dataclass(frozen=True, slots=True)
class GeneLine:
    """What the store holds for one gene of the drug, claims or not."""

    gene: str
    status: str  # label | literature_only (coverage: a label sentence links them, or only abstracts)
    testing_level: str | None  # from the label's wording; None without a claim
    claims: int
    pmids: int
    severity: str | None = None  # the gene's most severe claim (critical | warning | info | "no change")

    @property
    def shown(self) -> bool:
        """The summary lists the gene (page, terminal grid): it has at least one claim."""
        return self.claims > 0

    @property
    def shown_testing_level(self) -> str | None:
        """The testing level a reader sees: the label's, for a gene the label links to the drug; a
        literature-only gene shows none (its claims' level is only the compiler's default)."""
        return self.testing_level if self.shown and self.status == "label" else None


def summary_order(claims: Sequence[Claim]) -> tuple[Claim, ...]:
    """Label-backed claims first (strongest first, as compiled), then literature-only ones."""
    return tuple([c for c in claims if c.status == "label"] + [c for c in claims if c.status != "label"])


def gene_severity(claims: Sequence[Claim]) -> str | None:
    """The most severe claim's severity; "no change" when every claim says nothing changes."""
    if not claims:
        return None
    acting = [c.severity for c in claims if not c.no_change]
    if not acting:
        return NO_CHANGE
    return min(acting, key=SEVERITIES.index)


def gene_lines(claims: Sequence[Claim], coverage: Mapping[str, Coverage]) -> tuple[GeneLine, ...]:
    """One line per gene anything stored links to the drug: label-linked genes first, then by name."""
    lines = []
    for gene in sorted(coverage, key=lambda g: (coverage[g].status != "label", g)):
        cov = coverage[gene]
        mine = [c for c in claims if c.gene == gene]
        lines.append(GeneLine(gene, cov.status, mine[0].testing_level if mine else None, len(mine), len(cov.pmids),
                              gene_severity(mine)))
    return tuple(lines)


def drug_gene_lines(kb: KnowledgeBase, drug: str) -> tuple[GeneLine, ...]:
    """The gene lines of one drug's summary (canonical lower-case name), as the summary builds them."""
    return gene_lines(kb.claims_for(drug), kb.coverage_of.get(drug.lower(), {}))


def shown_genes(lines: Sequence[GeneLine]) -> dict[str, GeneLine]:
    """gene -> its line, for the genes the summary lists."""
    return {line.gene: line for line in lines if line.shown}


def summary_knowledge(store: Any, settings: Any) -> KnowledgeBase:
    """The claims the drug summary reads: compiled with the text reader (no genotype table), as ask does."""
    from pgxlit.knowledge.base import compile_claims

    return compile_claims(store, settings)
