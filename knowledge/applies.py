"""Does a claim apply to a patient's result? Allele-exact, and saying how.

A result is anything with the fields of check.genotype.GeneCall (gene, phenotype, alleles,
diplotype, source, reference_genotype); a phenotype named in a question is checked with
`applies_to_phenotype`.
"""

from __future__ import annotations

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
SPECIFICITY = {"exact diplotype": 4, "HLA allele": 4, "phenotype": 3, "carries the allele": 3, "carries the variant": 3,
               "partial deficiency": 3, "complete deficiency": 3, "phenotype of the diplotype": 2,
               "gene-level evidence": 0}


class Result(Protocol):
    gene: str
    phenotype: str
    alleles: tuple[str, ...]
    diplotype: str | None
    source: str
    reference_genotype: bool


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
    if kind == "variant":
        return "carries the variant" if call.source in ("rsid", "diplotype") and not call.reference_genotype else None
    if kind == "function":
        wanted = FUNCTIONS_OF.get(p, {})
        if value not in wanted or (claim.copies is not None and claim.copies != wanted[value]):
            return None
        return f"{value.lower()}-function alleles"
    if kind == "gene":
        return "gene-level evidence"
    return None


def applies_to_phenotype(claim: Claim, phenotype: str) -> bool:
    """Does a claim apply to patients of a phenotype named in words ("Poor Metabolizer")?

    Group kinds that need alleles (diplotype, allele, variant, HLA) apply only through the phenotype
    a diplotype implies; a gene-level claim applies to any phenotype."""
    kind, _, value = claim.group.partition(":")
    if kind == "phenotype":
        return _same_phenotype(value, phenotype)
    if kind == "deficiency":
        return phenotype in (PARTIAL_DEFICIENCY if value == "partial" else COMPLETE_DEFICIENCY)
    if kind == "diplotype":
        return claim.implies == phenotype
    if kind == "function":
        wanted = FUNCTIONS_OF.get(phenotype, {})
        return value in wanted and (claim.copies is None or claim.copies == wanted[value])
    return kind == "gene"


def specificity(how: str) -> int:
    return SPECIFICITY.get(how, 1)
