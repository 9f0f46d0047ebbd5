"""Who a sentence is about: the genotype/phenotype group of a triple, allele-exact.

A triple's factor ("CYP2D6 Ultrarapid Metabolizer", "DPYD Deficiency", "HLA-B*57:01", "*2/*2",
"no function") and its sentence's own words ("partial DPD deficiency", "homozygous", "one
no-function allele") give the group key a claim is stored under. "Deficiency" is read with its
qualifier: partial deficiency is one non-functional copy (intermediate metabolizers), complete
deficiency two (poor metabolizers), so a heterozygous patient is never cited the text for
complete deficiency.

Star alleles, diplotypes and gene-level variant names are resolved by a `GenotypeReader` (the
check passes CPIC's tables); without one they are kept as written.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

_FUNCTION_WORD = re.compile(r"\b(no|decreased|increased|normal|poor)\s+function$", re.I)
# How many copies a sentence means: "two no-function alleles", "homozygous"; "one copy",
# "heterozygous". A bare "one" or "both" counts nothing ("one of the major by-products").
_COPY_WORD = (r"(?:copies|copy|alleles?|variants?|no[- ]function|non-?functional|loss[- ]of[- ]function|reduced|decreased"
              r"|deficient|defective|inactive|nonfunctional|functional|mutant|mutated|variant|risk)")
TWO = re.compile(rf"\btwo\s+(?:\S+\s+){{0,2}}?{_COPY_WORD}|\bboth (?:alleles|copies)\b|\bhomozyg(?:ous|otes?|osity)\b"
                 rf"|\bbiallelic\b", re.I)
ONE = re.compile(rf"\b(?:one|a single|single)\s+(?:\S+\s+){{0,2}}?{_COPY_WORD}|\bheterozyg(?:ous|otes?|osity)\b"
                 rf"|\bmonoallelic\b", re.I)
_PARTIAL = re.compile(r"\bpartial(?:ly)?\b[^.;]{0,40}\b(?:deficien\w*|activity)|\bpartial\b", re.I)
_COMPLETE = re.compile(r"\b(?:complete|near[- ]complete|total)\b[^.;]{0,40}\b(?:deficien\w*|absence|lack)"
                       r"|\bcomplete(?:ly)? (?:absen|lack)", re.I)
_DEFICIENCY = re.compile(r"\bdeficien\w*|\babsence of \w+ activity|\b(?:no|reduced|partial) \w+ activity\b", re.I)
_PHENOTYPE_WORDS = {
    "poor": "Poor Metabolizer", "intermediate": "Intermediate Metabolizer", "normal": "Normal Metabolizer",
    "extensive": "Normal Metabolizer", "rapid": "Rapid Metabolizer", "ultrarapid": "Ultrarapid Metabolizer",
    "ultra-rapid": "Ultrarapid Metabolizer",
}
_METABOLIZER = re.compile(r"\b(poor|intermediate|normal|extensive|rapid|ultra-?rapid)\s+metaboli[sz]ers?\b", re.I)
_HLA = re.compile(r"^\s*HLA[-\s]?([A-Z][A-Z0-9]{0,4})\s*\*?\s*(\d{2,3}):?(\d{2,3})?", re.I)
# "activity score of 1", "activity score (AS) 0.5/1", "activity scores of 1 or 1.5": the values stated
_SCORE_RUN = re.compile(r"\bactivity\s+scores?(?:\s*\(AS\))?\s*(?:of|=|:|was|is|are|between)?\s*"
                        r"(\d(?:\.\d{1,2})?(?:\s*(?:/|,|or|and|to|-|–)\s*\d(?:\.\d{1,2})?(?![\d.]\d))*)", re.I)
_SCORE = re.compile(r"\d(?:\.\d{1,2})?")
# A genotype at one variant: "rs9923231 AA", "rs9923231 A/G", "-1639 GG", "c.-1639G>A AA" (bases in capitals).
_GENOTYPE = re.compile(r"^(?P<name>rs\d+|[^\s/]*\d[^\s/]*)\s+(?P<b1>[ACGT])\s*/?\s*(?P<b2>[ACGT])$")


class GenotypeReader(Protocol):
    """What resolving star alleles and gene-level variant names needs (check.genotype's tables provide it)."""

    name: str  # changes when the tables change: part of the claims cache key

    def phenotype(self, text: str) -> str | None:
        """A metabolizer status or function in CPIC's wording ("ultra-rapid metabolizer" -> "Ultrarapid Metabolizer")."""

    def hla(self, text: str) -> str | None:
        """"HLA-B*5701" -> "HLA-B*57:01"; None when not an HLA allele."""

    def diplotype(self, gene: str, text: str) -> tuple[str, str] | None:
        """("*1/*2" with the alleles sorted, its phenotype), or None when unreadable."""

    def allele(self, gene: str, text: str) -> str | None:
        """The allele's canonical name, or None."""

    def single_variant(self, gene: str, text: str) -> str | None:
        """The rsID a single-variant gene's variant name stands for ("VKORC1:-1639G>A" -> rs9923231), or None."""


def canonical_phenotype(text: str) -> str | None:
    """"ultra-rapid metabolizers" -> "Ultrarapid Metabolizer"; None when the text is no metabolizer status.
    (Without a reader only; the check's CPIC vocabulary knows more spellings.)"""
    m = _METABOLIZER.search(text)
    if not m:
        return None
    return _PHENOTYPE_WORDS[m.group(1).lower().replace("ultra-rapid", "ultrarapid")]


def normalise_hla(text: str) -> str | None:
    """"HLA-B*5701", "HLA-B*57:01" -> "HLA-B*57:01"."""
    m = _HLA.match(text)
    if not m:
        return None
    locus, f1, f2 = m.group(1).upper(), m.group(2), m.group(3)
    if f2 is None and len(f1) == 4:
        f1, f2 = f1[:2], f1[2:]
    return f"HLA-{locus}*{f1}:{f2}" if f2 else f"HLA-{locus}*{f1}"


def deficiency_groups(sentence: str) -> list[str]:
    """"deficiency:partial" and/or "deficiency:complete" as the sentence qualifies it; "function:No"
    (either) when it does not say."""
    partial, complete = bool(_PARTIAL.search(sentence)), bool(_COMPLETE.search(sentence))
    if not partial and not complete:
        if TWO.search(sentence):
            complete = True
        elif ONE.search(sentence):
            partial = True
    out = (["deficiency:partial"] if partial else []) + (["deficiency:complete"] if complete else [])
    return out or ["function:No"]


def group_keys(gene: str, variant: str | None, sentence: str,
               reader: GenotypeReader | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Group keys a triple is about, with what each implies; empty when the factor is no patient trait."""
    if not variant or variant.startswith(f"{gene}:") and not re.search(r"[>*]|\d", variant.split(":", 1)[1]):
        # the gene as a whole, unless the sentence itself says partial or complete deficiency
        if _DEFICIENCY.search(sentence) and (_PARTIAL.search(sentence) or _COMPLETE.search(sentence)):
            return [(k, {}) for k in deficiency_groups(sentence)]
        return [("gene", {})]
    v = variant.strip()
    if v.upper().startswith("HLA-"):
        if "/" in v:
            return []
        name = reader.hla(v) if reader else normalise_hla(v)
        return [(f"hla:{name}", {})] if name else []
    rest = v[len(gene):].strip() if v.upper().startswith(gene.upper() + " ") else v
    genotype = variant_genotype(gene, rest, reader)
    if genotype:
        return [(f"genotype:{genotype}", {})]
    if rest.lower().endswith("deficiency"):
        return [(k, {}) for k in deficiency_groups(sentence)]
    fn = _FUNCTION_WORD.search(rest)
    if fn:
        info: dict[str, Any] = {}
        if TWO.search(sentence):
            info["copies"] = 2
        elif ONE.search(sentence):
            info["copies"] = 1
        return [(f"function:{fn.group(1).title()}", info)]
    canon = reader.phenotype(rest) if reader else canonical_phenotype(rest)
    if canon:
        return [(f"phenotype:{canon}", {})]
    if rest.lower().startswith("activity score"):
        return [(f"activity:{value}", {}) for value in activity_scores(rest, sentence)]
    if "*" in v:
        star = v[len(gene):] if v.upper().startswith(gene.upper()) else v
        if "/" in star:
            read = reader.diplotype(gene, star) if reader else (("/".join(sorted(star.split("/"))), None))
            return [(f"diplotype:{read[0]}", {"implies": read[1]} if read[1] else {})] if read else []
        allele = reader.allele(gene, star) if reader else star.strip()
        if not allele:
            return []
        return [(f"allele:{allele}", {"copies": 2} if TWO.search(sentence) else {})]
    rsid = reader.single_variant(gene, v) if reader else None
    if rsid is None and not reader and re.fullmatch(r"rs\d+", v.lower()):
        rsid = v.lower()
    return [(f"variant:{rsid}", {})] if rsid else []


def variant_genotype(gene: str, text: str, reader: GenotypeReader | None = None) -> str | None:
    """A genotype at one variant in one spelling, the bases sorted: "rs9923231 GA" -> "rs9923231 AG";
    an HGVS name the reader knows becomes its rsID ("-1639G>A AA" -> "rs9923231 AA"). None when the
    text is no genotype. The strand is the text's: a patient's result lists each strand's spelling."""
    t = text.split(":", 1)[1].strip() if text.upper().startswith(gene.upper() + ":") else text.strip()
    m = _GENOTYPE.match(t)
    if not m:
        return None
    name = m.group("name")
    if re.fullmatch(r"rs\d+", name, re.I):
        name = name.lower()
    elif reader is not None:
        name = reader.single_variant(gene, name) or name
    return f"{name} {''.join(sorted((m.group('b1'), m.group('b2'))))}"


def score_text(value: float | str) -> str:
    """One spelling per activity score: "1.0" -> "1", ".50" -> "0.5"."""
    return f"{float(value):g}"


def activity_scores(factor: str, sentence: str) -> list[str]:
    """The activity scores a triple is about: the factor's own value ("Activity Score 1") with the
    values the sentence states beside it ("activity score 0.5/1" -> 0.5 and 1); the sentence's
    values when the factor has none; none when neither states one (a gene-wide mention)."""
    own = _SCORE.search(factor)
    runs = [[score_text(v) for v in _SCORE.findall(m.group(1))] for m in _SCORE_RUN.finditer(sentence)]
    if own:
        value = score_text(own.group(0))
        return next((run for run in runs if value in run), [value])
    return list(dict.fromkeys(v for run in runs for v in run))


_FUNCTION_NAMES = {"No": "no-function", "Decreased": "decreased-function", "Increased": "increased-function",
                   "Normal": "normal-function", "Poor": "poor-function"}


def describe(gene: str, group: str, copies: int | None = None) -> str:
    """A group key for a reader: "Ultrarapid Metabolizer", "partial deficiency", "HLA-B*57:01 positive"."""
    kind, _, value = group.partition(":")
    if kind == "phenotype":
        return value
    if kind == "function":
        words = _FUNCTION_NAMES.get(value, value.lower())
        return {1: f"one {words} allele", 2: f"two {words} alleles"}.get(copies or 0, f"{words} alleles")
    if kind == "deficiency":
        return f"{value} {gene} deficiency" if gene in ("DPYD", "G6PD") else f"{value} deficiency"
    if kind == "hla":
        return f"{value} positive"
    if kind == "diplotype":
        return f"{gene} {value}"
    if kind == "allele":
        return f"{gene} {value} homozygous" if copies == 2 else f"{gene} {value} carrier"
    if kind == "variant":
        return f"{value} carrier"
    if kind == "genotype":
        return f"{gene} {value}"
    if kind == "activity":
        return f"{gene} activity score {value}"
    return f"any {gene} result"
