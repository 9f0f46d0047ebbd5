"""Inherited conditions that FDA labels name instead of the gene behind them.

A label says "urea cycle disorders", "homozygous familial hypercholesterolemia"
or "Philadelphia chromosome-positive" where a curator records CPS1/ASS1/ASL/
NAGS/OTC, LDLR or BCR/ABL1. This is nomenclature (the gene each condition is
defined by, as HGNC gene names and OMIM entries state it), not drug knowledge:
which drug a condition matters for is still read from the text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pgxlit.extract.lexicons import load_lexicons
from pgxlit.extract.relations import CuePattern
from pgxlit.records import Mention

_CONDITIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"urea[ -]cycle (?:disorders?|enzyme deficienc\w+)|\bUCDs?\b", ("CPS1", "OTC", "ASS1", "ASL", "NAGS", "ARG1")),
    (r"ornithine transcarbamylase", ("OTC",)),
    (r"familial hypercholesterol[a]?emia|\bHoFH\b|\bHeFH\b", ("LDLR",)),
    (r"dysbetalipoprotein[a]?emia|type III hyperlipoprotein[a]?emia", ("APOE",)),
    (r"protein C deficiency|deficienc\w+ (?:of|in) protein C\b", ("PROC",)),
    (r"protein S deficiency|(?:deficienc\w+ (?:of|in)|cofactor,?) protein S\b", ("PROS1",)),
    # Only the inherited trait, not a drug lowering the enzyme's activity ("quinidine reduces the
    # activity of pseudocholinesterase"): the condition needs a genetic word in the sentence.
    (r"pseudocholinesterase|plasma cholinesterase|butyrylcholinesterase", ("BCHE",)),
    (r"Lesch[- ]Nyhan|\bHGPRT\b|hypoxanthine[- ]guanine[- ]phosphoribosyl[- ]?transferase", ("HPRT1",)),
    (r"Philadelphia chromosome|\bPh\+|BCR[- ]ABL1?\b", ("BCR", "ABL1")),
    (r"malignant hyperthermia susceptib\w+", ("RYR1", "CACNA1S")),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE if not p.startswith(r"\b") else 0), genes) for p, genes in _CONDITIONS)


# Words one of the patterns needs; most sentences have none, and skip the patterns.
_PREFILTER = CuePattern(
    r"urea|UCD|ornithine|cholesterol|HoFH|HeFH|lipoprotein|protein [CS]|cholinesterase|Lesch|HGPRT|"
    r"hypoxanthine|Philadelphia|Ph\+|BCR|hyperthermia"
)


@lru_cache(maxsize=None)
def _norms(genes: tuple[str, ...]) -> tuple[str, ...]:
    lex = load_lexicons()
    found = (lex.normalise_gene(symbol) for symbol in genes)
    return tuple(f"{f[0]}|{f[1]}" for f in found if f)


_GENETIC_WORDS = CuePattern(r"deficien|atypical|homozyg|heterozyg|genetic|inherit|abnormal|variant|gene\b|dibucaine")
_NEEDS_GENETIC_WORD = frozenset({"BCHE"})


def find_conditions(text: str) -> list[Mention]:
    """One GENE mention (kind "condition") per gene a named condition stands for."""
    if not _PREFILTER.search(text):
        return []
    out: list[Mention] = []
    for pattern, genes in _COMPILED:
        if _NEEDS_GENETIC_WORD.issuperset(genes) and not _GENETIC_WORDS.search(text):
            continue
        for match in pattern.finditer(text):
            for norm in _norms(genes):
                out.append(Mention(match.start(), match.end(), "GENE", match.group(0), norm, "condition", "condition"))
    return out
