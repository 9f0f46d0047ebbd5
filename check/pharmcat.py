"""Genotype -> phenotype with the shipped PharmCAT table (corpora/pharmcat).

Pure functions over the loaded table: a diplotype becomes a phenotype by activity score
(CYP2D6, CYP2C9, DPYD) or by the functions of its two alleles (CYP2C19, TPMT, ...); a single
rsID genotype becomes a genotype phenotype (VKORC1 -1639 AG); an HLA result is positive or
negative. An allele without a known function gives "Indeterminate" and says so -- a check must
never invent a phenotype.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgxlit.shipped import shipped

TABLE_FILE = "pharmcat_phenotypes.json.gz"

# Phenotypes under which a label's standard use applies: they never raise a warning.
NORMAL_PHENOTYPES = frozenset({"Normal Metabolizer", "Normal Function", "Normal"})
INDETERMINATE = "Indeterminate"

_PHENOTYPE_WORDS = {
    "poor": "Poor Metabolizer", "pm": "Poor Metabolizer", "slow": "Poor Metabolizer",
    "likely poor": "Likely Poor Metabolizer",
    "intermediate": "Intermediate Metabolizer", "im": "Intermediate Metabolizer",
    "likely intermediate": "Likely Intermediate Metabolizer",
    "possible intermediate": "Possible Intermediate Metabolizer",
    "normal": "Normal Metabolizer", "extensive": "Normal Metabolizer", "em": "Normal Metabolizer",
    "nm": "Normal Metabolizer",
    "rapid": "Rapid Metabolizer", "rm": "Rapid Metabolizer",
    "ultrarapid": "Ultrarapid Metabolizer", "ultra rapid": "Ultrarapid Metabolizer", "um": "Ultrarapid Metabolizer",
    "urm": "Ultrarapid Metabolizer", "ultra-rapid": "Ultrarapid Metabolizer",
    "indeterminate": INDETERMINATE,
}
_FUNCTION_PHENOTYPES = {
    "normal function": "Normal Function", "decreased function": "Decreased Function",
    "possible decreased function": "Possible Decreased Function", "poor function": "Poor Function",
    "increased function": "Increased Function", "no function": "Poor Function",
}
_HLA = re.compile(r"^\s*(?:HLA[-\s]?)?(?P<locus>[A-Z][A-Z0-9]{0,4})\s*\*?\s*(?P<f1>\d{2,3}):?(?P<f2>\d{2,3})?\s*$", re.I)


class GenotypeError(ValueError):
    """A genotype the table cannot read; the message names the entry and what to fix."""


@dataclass(frozen=True, slots=True)
class GeneCall:
    """One gene of a patient: the phenotype that drives alerts, and how it was reached."""

    gene: str  # HGNC symbol ("CYP2C19", "HLA-B")
    phenotype: str  # "Poor Metabolizer", "HLA-B*57:01 positive", "-1639 AG"
    source: str  # diplotype | phenotype | hla | rsid
    entry: str  # the profile entry as given, for messages
    diplotype: str | None = None  # "*2/*2"
    alleles: tuple[str, ...] = ()
    activity_score: float | None = None
    functions: tuple[str, ...] = ()
    derivation: str = ""  # "*2 (No function) + *2 (No function) -> Poor Metabolizer"
    notes: tuple[str, ...] = field(default=())
    reference_genotype: bool = False  # homozygous reference of a single-variant gene (VKORC1 -1639 GG)

    @property
    def is_normal(self) -> bool:
        """Standard use applies: normal metabolizer/function, HLA negative, reference genotype."""
        return self.phenotype in NORMAL_PHENOTYPES or self.phenotype.endswith(" negative") or self.reference_genotype

    def to_json(self) -> dict[str, Any]:
        return {
            "gene": self.gene, "phenotype": self.phenotype, "source": self.source, "entry": self.entry,
            "diplotype": self.diplotype, "activity_score": self.activity_score,
            "derivation": self.derivation,
        }


def canonical_phenotype(text: str) -> str | None:
    """"ultra-rapid metabolizer", "PM", "extensive metaboliser", "decreased function" -> CPIC wording."""
    t = " ".join(text.strip().lower().replace("metaboliser", "metabolizer").replace("_", " ").split())
    t = re.sub(r"\s*metabolizers?$", "", t).strip()
    if t in _PHENOTYPE_WORDS:
        return _PHENOTYPE_WORDS[t]
    if t.replace("-", " ") in _PHENOTYPE_WORDS:
        return _PHENOTYPE_WORDS[t.replace("-", " ")]
    if t in _FUNCTION_PHENOTYPES:
        return _FUNCTION_PHENOTYPES[t]
    return None


def normalise_hla(text: str) -> str | None:
    """"HLA-B*5701", "B*57:01", "hla-b 57:01" -> "HLA-B*57:01"; None when not an HLA allele."""
    m = _HLA.match(text)
    if not m or not (text.strip().upper().startswith("HLA") or "*" in text):
        return None
    f1, f2 = m.group("f1"), m.group("f2")
    if f2 is None:
        if len(f1) == 4 or len(f1) == 6:  # 5701 -> 57:01
            f1, f2 = f1[:2], f1[2:4]
        else:
            return None
    return f"HLA-{m.group('locus').upper()}*{f1}:{f2}"


class PhenotypeTable:
    """The compiled PharmCAT table, indexed for diplotype translation."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.origin: dict[str, str] = data.get("origin", {})
        self.genes: dict[str, dict[str, Any]] = data["genes"]
        self.rsid_gene = {r: g for g, e in self.genes.items() for r in e.get("rsids", [])}

    @classmethod
    def from_file(cls, path: Path) -> PhenotypeTable:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return cls(json.load(fh))

    def knows(self, gene: str) -> bool:
        return gene in self.genes

    # -- alleles -------------------------------------------------------------
    def resolve_allele(self, gene: str, name: str) -> str:
        """The table's name of an allele: exact, "*2A" for "c.1905+1G>A (*2A)", "*1xN" as "*1x2"."""
        entry = self.genes[gene]
        known: list[str] = entry["known_alleles"]
        name = name.strip()
        if name.upper().startswith(gene.upper()):
            name = name[len(gene):].strip()
        if name and name[0].isdigit():
            name = "*" + name
        if name in known or name in entry["alleles"]:
            return name
        dup = re.fullmatch(r"(\*\w+)\s*[x×]\s*(N|n|\d+|≥3)", name)
        if dup:
            copies = "2" if dup.group(2) in ("N", "n") else dup.group(2)
            candidate = f"{dup.group(1)}x{copies}"
            if candidate in known or candidate in entry["alleles"] or dup.group(1) in entry["alleles"]:
                return candidate
        for k in known:
            inner = re.search(r"\((\*\w+)\)", k)
            if (inner and inner.group(1) == name) or k.split(" (")[0] == name or k.lower() == name.lower():
                return k
        if name.lower() in ("ref", "reference", "wt", "wild type") and entry.get("reference_allele"):
            return entry["reference_allele"]
        raise GenotypeError(f"{gene} has no allele {name!r} in PharmCAT's definitions")

    def _activity(self, gene: str, allele: str) -> tuple[float, bool] | None:
        values = self.genes[gene]["alleles"]
        if allele in values:
            return float(values[allele]["activity"]), bool(values[allele].get("at_least"))
        dup = re.fullmatch(r"(\*\w+)x(\d+)", allele)
        if dup and dup.group(1) in values:  # CPIC: a duplicated allele counts its value times the copies
            return float(values[dup.group(1)]["activity"]) * int(dup.group(2)), False
        return None

    # -- diplotypes ----------------------------------------------------------
    def translate(self, gene: str, diplotype: str, entry: str = "") -> GeneCall:
        """A diplotype ("*2/*17") of one gene to its CPIC phenotype, with the derivation."""
        entry = entry or f"{gene} {diplotype}"
        if gene not in self.genes:
            raise GenotypeError(f"{entry}: {gene} is not a gene PharmCAT translates")
        spec = self.genes[gene]
        parts = [p for p in re.split(r"\s*/\s*", diplotype.strip()) if p]
        if len(parts) != 2:
            raise GenotypeError(f"{entry}: a diplotype is two alleles separated by '/', e.g. *1/*2")
        alleles = tuple(self.resolve_allele(gene, p) for p in parts)
        method = spec["method"]
        base = GeneCall(gene=gene, phenotype=INDETERMINATE, source="diplotype", entry=entry,
                        diplotype=f"{alleles[0]}/{alleles[1]}", alleles=alleles)
        if method == "activity":
            values = [self._activity(gene, a) for a in alleles]
            if any(v is None for v in values):
                unknown = [a for a, v in zip(alleles, values, strict=True) if v is None]
                return _replace(base, derivation=f"no activity value for {', '.join(unknown)} -> {INDETERMINATE}",
                                notes=(f"{gene} {', '.join(unknown)}: function unknown, phenotype Indeterminate",))
            score = sum(v[0] for v in values)  # type: ignore[index]
            phenotype = INDETERMINATE
            for bound, name in spec["activity_rules"]:
                if bound is None or score <= bound + 1e-9:
                    phenotype = name
                    break
            shown = " + ".join(f"{a} ({'≥' if v[1] else ''}{v[0]:g})" for a, v in zip(alleles, values, strict=True))  # type: ignore[index]
            return _replace(base, phenotype=phenotype, activity_score=score,
                            derivation=f"activity score {shown} = {score:g} -> {phenotype}")
        if method == "function":
            functions = [spec["alleles"].get(a, {}).get("function") for a in alleles]
            if any(f is None or f == "Uncertain function" for f in functions):
                unknown = [a for a, f in zip(alleles, functions, strict=True) if f is None or f == "Uncertain function"]
                return _replace(base, functions=tuple(f or "unknown" for f in functions),
                                derivation=f"{', '.join(unknown)}: function unknown or uncertain -> {INDETERMINATE}",
                                notes=(f"{gene} {', '.join(unknown)}: function unknown, phenotype Indeterminate",))
            key = "|".join(sorted(functions))  # type: ignore[arg-type]
            phenotype = spec["pair_rules"].get(key, INDETERMINATE)
            shown = " + ".join(f"{a} ({f})" for a, f in zip(alleles, functions, strict=True))
            return _replace(base, phenotype=phenotype, functions=tuple(functions),  # type: ignore[arg-type]
                            derivation=f"{shown} -> {phenotype}")
        if method == "single_variant":
            single = spec["single_variant"]
            bases = sorted(single["base_in_gene"][spec["alleles"][a]["base"]] for a in alleles)
            return self._genotype_call(gene, bases, base, f"{' + '.join(alleles)}")
        raise GenotypeError(f"{entry}: pgxlit ships no allele functions for {gene}; give the phenotype instead")

    def _genotype_call(self, gene: str, gene_bases: list[str], base: GeneCall, shown: str) -> GeneCall:
        single = self.genes[gene]["single_variant"]
        phenotype = f"{single['label']} {''.join(sorted(gene_bases))}"
        ref = single["base_in_gene"][single["ref"]]
        return _replace(base, phenotype=phenotype, derivation=f"{shown} -> {phenotype}",
                        reference_genotype=phenotype.endswith(" " + ref + ref))

    def genotype(self, rsid: str, genotype: str, entry: str = "") -> GeneCall:
        """A single rsID genotype ("rs9923231", "CT") to a genotype phenotype (VKORC1 -1639 AG)."""
        entry = entry or f"{rsid} {genotype}"
        rsid = rsid.strip().lower()
        gene = self.rsid_gene.get(rsid)
        if gene is None:
            raise GenotypeError(f"{entry}: {rsid} is not a variant in PharmCAT's allele definitions")
        spec = self.genes[gene]
        if spec["method"] != "single_variant":
            raise GenotypeError(f"{entry}: {rsid} is one of {len(spec['rsids'])} variants that define {gene} alleles; "
                                f"give the {gene} diplotype instead")
        single = spec["single_variant"]
        bases = [b for b in genotype.upper() if b.isalpha()]
        if len(bases) != 2 or any(b not in single["base_in_gene"] for b in bases):
            raise GenotypeError(f"{entry}: genotype must be two of {sorted(single['base_in_gene'])} "
                                f"(plus strand), e.g. {single['ref']}{single['alts'][0]}")
        names = {v["base"]: a for a, v in spec["alleles"].items()}
        alleles = tuple(names[b] for b in bases)
        base = GeneCall(gene=gene, phenotype=INDETERMINATE, source="rsid", entry=entry,
                        diplotype=f"{alleles[0]}/{alleles[1]}", alleles=alleles)
        return self._genotype_call(gene, [single["base_in_gene"][b] for b in bases], base, f"{rsid} {''.join(bases)}")

    def variant_alias(self, gene: str, variant: str) -> str | None:
        """The rsID a gene-level variant name stands for ("VKORC1:-1639G>A" -> rs9923231)."""
        spec = self.genes.get(gene)
        if not spec or spec["method"] != "single_variant":
            return None
        v = variant.split(":", 1)[-1].replace(" ", "")
        single = spec["single_variant"]
        return single["rsid"] if v in single["aliases"] or v.lower() == single["rsid"] else None

    def carriers_of_variant(self, call: GeneCall) -> bool:
        """Does a genotype call carry the non-reference base of its gene's single variant?"""
        spec = self.genes.get(call.gene)
        if not spec or spec["method"] != "single_variant":
            return False
        ref = spec.get("reference_allele")
        return any(a != ref for a in call.alleles)


def _replace(call: GeneCall, **changes: Any) -> GeneCall:
    from dataclasses import replace

    return replace(call, **changes)


_CACHE: dict[Path, PhenotypeTable] = {}
_LOCK = threading.Lock()


def default_dir() -> Path:
    """``corpora/pharmcat`` of the checkout or of the installed package."""
    return shipped("pharmcat", TABLE_FILE)


def load_table(directory: Path | None = None) -> PhenotypeTable:
    """The shipped table, read once per process."""
    path = (directory or default_dir()) / TABLE_FILE
    with _LOCK:
        if path not in _CACHE:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: PharmCAT table missing; run tools/build_pharmcat.py --shared ../shared")
            _CACHE[path] = PhenotypeTable.from_file(path)
        return _CACHE[path]
