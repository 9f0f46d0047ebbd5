"""Inherited conditions that FDA labels name instead of the gene behind them.

A label says "urea cycle disorders", "homozygous familial hypercholesterolemia"
or "Philadelphia chromosome-positive" where a curator records CPS1/ASS1/ASL/
NAGS/OTC, LDLR or BCR/ABL1. This is nomenclature (the gene each condition is
defined by, as HGNC gene names and OMIM entries state it), not drug knowledge:
which drug a condition matters for is still read from the text.

A gene is named, not inferred (issue 17, the lead's rule): a condition that names the gene's
product or its deficiency ("ornithine transcarbamylase deficiency", "protein C deficiency",
"BCR-ABL") gives the gene; a syndrome or a group of disorders that names no gene product ("urea
cycle disorders", "familial hypercholesterolemia", "dysbetalipoproteinemia", "Lesch-Nyhan
syndrome") never does, whatever else the sentence says: when it names the gene, its protein or a
variant ("apo E mutation", "lack functional LDL receptors", "є2/є2"), the lexicons and grammars
find that. A tumour's karyotype ("Philadelphia chromosome-positive") names its fusion genes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pgxlit.extract.lexicons import load_lexicons
from pgxlit.extract.relations import CuePattern
from pgxlit.records import Mention

# (pattern, genes, named): named = the words name the gene's product, its deficiency or (a tumour's
# karyotype) its fusion; the others are listed for the evaluation only (`condition_genes`).
_CONDITIONS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (r"urea[ -]cycle (?:disorders?|enzyme deficienc\w+)|\bUCDs?\b", ("CPS1", "OTC", "ASS1", "ASL", "NAGS", "ARG1"), False),
    (r"ornithine transcarbamylase", ("OTC",), True),
    (r"familial hypercholesterol[a]?emia|\bHoFH\b|\bHeFH\b", ("LDLR",), False),
    (r"dysbetalipoprotein[a]?emia|type III hyperlipoprotein[a]?emia", ("APOE",), False),
    (r"protein C deficiency|deficienc\w+ (?:of|in) protein C\b", ("PROC",), True),
    (r"protein S deficiency|(?:deficienc\w+ (?:of|in)|cofactor,?) protein S\b", ("PROS1",), True),
    (r"Lesch[- ]Nyhan", ("HPRT1",), False),
    (r"\bHGPRT\b|\bHPRT deficiency", ("HPRT1",), True),
    (r"Philadelphia chromosome|\bPh\+", ("BCR", "ABL1"), True),
    (r"BCR[- ]ABL1?\b", ("BCR", "ABL1"), True),
    (r"malignant hyperthermia susceptib\w+", ("RYR1", "CACNA1S"), False),
)
_COMPILED = tuple(
    (re.compile(p, re.IGNORECASE if not p.startswith(r"\b") else 0), genes, named) for p, genes, named in _CONDITIONS
)


# Words one of the patterns needs; most sentences have none, and skip the patterns.
_PREFILTER = CuePattern(
    r"urea|UCD|ornithine|cholesterol|HoFH|HeFH|lipoprotein|protein [CS]|Lesch|HGPRT|HPRT|"
    r"Philadelphia|Ph\+|BCR|hyperthermia"
)


@lru_cache(maxsize=None)
def _norms(genes: tuple[str, ...]) -> tuple[str, ...]:
    lex = load_lexicons()
    found = (lex.normalise_gene(symbol) for symbol in genes)
    return tuple(f"{f[0]}|{f[1]}" for f in found if f)


def find_conditions(text: str) -> list[Mention]:
    """One GENE mention (kind "condition") per gene a condition that names its gene's product,
    deficiency or fusion stands for."""
    if not _PREFILTER.search(text):
        return []
    out: list[Mention] = []
    for pattern, genes, named in _COMPILED:
        if not named:
            continue
        for match in pattern.finditer(text):
            for norm in _norms(genes):
                out.append(Mention(match.start(), match.end(), "GENE", match.group(0), norm, "condition", "condition"))
    return out


def condition_genes(text: str) -> set[str]:
    """HGNC symbols of every condition the text names, stated genetic cause or not: what a curator
    could read into it. For evaluation only (which expected genes a label implies but never names);
    extraction uses `find_conditions`."""
    if not _PREFILTER.search(text):
        return set()
    return {norm.split("|", 1)[1] for pattern, genes, _named in _COMPILED if pattern.search(text)
            for norm in _norms(genes)}
