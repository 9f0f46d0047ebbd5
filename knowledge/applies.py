"""Does a claim apply to a patient's result? Allele-exact, and saying how.

A result is anything with the fields of check.genotype.GeneCall (gene, phenotype, alleles,
diplotype, source, reference_genotype, and the activity score CPIC's tables give a diplotype, when
they do); a phenotype named in a question is checked with
`applies_to_phenotype`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pgxlit.knowledge.model import Claim

# Which function groups a phenotype stands for, and with how many copies ("copies" tells a poor
# metabolizer's two no-function alleles from an intermediate metabolizer's one).
FUNCTIONS_OF: dict[str, dict[str, int]] = {
    "Poor Metabolizer": {"No": 2, "Poor": 2, "Decreased": 2},
    "Likely Poor Metabolizer": {"No": 2, "Decreased": 2},
    "Intermediate Metabolizer": {"No": 1, "Decreased": 1},
    "Likely Intermediate Metabolizer": {"Decreased": 1},
    "Possible Intermediate Metabolizer": {"Decreased": 1},
    "Rapid Metabolizer": {"Increased": 1},
    "Ultrarapid Metabolizer": {"Increased": 2},
    "Poor Function": {"No": 2, "Poor": 2},
    "Decreased Function": {"No": 1, "Decreased": 1},
    "Possible Decreased Function": {"Decreased": 1},
    "Increased Function": {"Increased": 1},
    "Deficient": {"No": 2, "Poor": 2, "Decreased": 2},
    "Deficient with CNSHA": {"No": 2, "Poor": 2, "Decreased": 2},
}
# Partial deficiency is one non-functional copy (or two decreased); complete deficiency none left.
PARTIAL_DEFICIENCY = frozenset({"Intermediate Metabolizer", "Likely Intermediate Metabolizer",
                                "Possible Intermediate Metabolizer", "Decreased Function", "Possible Decreased Function"})
COMPLETE_DEFICIENCY = frozenset({"Poor Metabolizer", "Likely Poor Metabolizer", "Poor Function", "Deficient",
                                 "Deficient with CNSHA"})
# CPIC's activity-score bands, upper bound of each phenotype: CYP2D6 has an ultrarapid band (> 2.25);
# CYP2C9 and DPYD stop at normal (2). A score names its phenotype; a phenotype does not name its score.
ACTIVITY_BANDS: dict[str, tuple[tuple[float, str], ...]] = {
    "CYP2D6": ((0.0, "Poor Metabolizer"), (1.0, "Intermediate Metabolizer"), (2.25, "Normal Metabolizer"),
               (99.0, "Ultrarapid Metabolizer")),
}
DEFAULT_ACTIVITY_BANDS = ((0.5, "Poor Metabolizer"), (1.5, "Intermediate Metabolizer"), (99.0, "Normal Metabolizer"))


def phenotype_of_score(gene: str | None, score: float) -> str:
    """The metabolizer phenotype of an activity score ("CYP2C9", 1.0 -> "Intermediate Metabolizer")."""
    bands = ACTIVITY_BANDS.get(gene or "", DEFAULT_ACTIVITY_BANDS)
    return next(name for top, name in bands if score <= top + 1e-9)


SPECIFICITY = {"exact diplotype": 4, "exact genotype": 4, "HLA allele": 4, "activity score": 4, "phenotype of the activity score": 2, "phenotype": 3, "carries the allele": 3, "carries the variant": 3,
               "partial deficiency": 3, "complete deficiency": 3, "phenotype of the diplotype": 2,
               "gene-level evidence": 0}


class Result(Protocol):
    gene: str
    phenotype: str
    alleles: tuple[str, ...]
    diplotype: str | None
    source: str
    reference_genotype: bool  # (an `activity_score: float | None` is read when present)


def _same_phenotype(value: str, p: str) -> bool:
    return value == p or p == f"Likely {value}" or p == f"Possible {value}"


def applies(claim: Claim, call: Result) -> str | None:
    """How a claim applies to one result ("exact diplotype", "phenotype", ...), None when it does not."""
    if claim.gene != call.gene:
        return None
    kind, _, value = claim.group.partition(":")
    p = call.phenotype
    if kind == "hla":
        return "HLA allele" if call.source == "hla" and call.alleles and call.alleles[0] == value else None
    if kind == "phenotype":
        return "phenotype" if _same_phenotype(value, p) else None
    if kind == "deficiency":
        wanted = PARTIAL_DEFICIENCY if value == "partial" else COMPLETE_DEFICIENCY
        return f"{value} deficiency" if p in wanted else None
    if kind == "diplotype":
        if call.diplotype and "/".join(sorted(call.alleles)) == value:
            return "exact diplotype"
        if call.source == "phenotype" and claim.implies == p:
            return "phenotype of the diplotype"
        return None
    if kind == "allele":
        return "carries the allele" if call.alleles.count(value) >= (claim.copies or 1) else None
    if kind == "genotype":  # the same bases at the same variant, on the strand the evidence wrote
        return "exact genotype" if value in getattr(call, "genotypes", ()) else None
    if kind == "variant":
        return "carries the variant" if call.source in ("rsid", "diplotype") and not call.reference_genotype else None
    if kind == "function":
        wanted = FUNCTIONS_OF.get(p, {})
        if value not in wanted or (claim.copies is not None and claim.copies != wanted[value]):
            return None
        return f"{value.lower()}-function alleles"
    if kind == "activity":
        score = float(value)
        have = getattr(call, "activity_score", None)
        if have is not None:  # a diplotype CPIC scores: allele-exact
            return "activity score" if abs(have - score) < 1e-6 else None
        if call.source == "phenotype" and _same_phenotype(phenotype_of_score(claim.gene, score), p):
            return "phenotype of the activity score"
        return None
    if kind == "gene":
        return "gene-level evidence"
    return None


def applies_to_phenotype(claim: Claim, phenotype: str,
                         phenotype_of: Callable[[str, str], str | None] | None = None) -> bool:
    """Does a claim apply to patients of a phenotype named in words ("Poor Metabolizer")?

    Group kinds that need alleles (diplotype, allele, variant, HLA) apply only through the phenotype
    a diplotype implies, an activity score through the phenotype its CPIC band names; a gene-level
    claim applies to any phenotype. `phenotype_of(gene, diplotype)` (CPIC's tables) gives the
    phenotype of a diplotype claim compiled without the tables, and of an allele's homozygotes
    ("UGT1A1 *28 homozygous" are poor metabolizers); a carrier of an allele may be either."""
    kind, _, value = claim.group.partition(":")
    if kind == "phenotype":
        return _same_phenotype(value, phenotype)
    if kind == "deficiency":
        return phenotype in (PARTIAL_DEFICIENCY if value == "partial" else COMPLETE_DEFICIENCY)
    if kind == "diplotype":
        implied = claim.implies or (phenotype_of(claim.gene, value) if phenotype_of else None)
        return implied == phenotype
    if kind == "allele" and claim.copies == 2 and phenotype_of is not None:
        implied = phenotype_of(claim.gene, f"{value}/{value}")
        return implied == phenotype
    if kind == "function":
        wanted = FUNCTIONS_OF.get(phenotype, {})
        return value in wanted and (claim.copies is None or claim.copies == wanted[value])
    if kind == "activity":
        return _same_phenotype(phenotype_of_score(claim.gene, float(value)), phenotype)
    return kind == "gene"


def specificity(how: str) -> int:
    return SPECIFICITY.get(how, 1)
