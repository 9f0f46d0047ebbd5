"""PharmCAT's report JSON as a patient profile: its phenotype calls, one gene at a time.

PharmCAT (pharmcat.org) calls diplotypes from a VCF and writes, per gene, its
`recommendationDiplotypes` with CPIC's phenotype. Both layouts are read: version 2
(`genes: {CPIC: {GENE: {...}}}`, or the phenotyper's `geneReports: {CPIC: ...}`) and version 3
(`genes: {GENE: {...}}`). A gene PharmCAT could not call ("No Result", "Unknown/Unknown") or
called ambiguously is reported as not read, never dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pgxlit.check.genotype import GeneCall, GenotypeError, GenotypeTable

_NO_CALL = {"", "no result", "n/a", "unknown", "unknown/unknown", "not called"}


def _gene_map(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    for top in ("genes", "geneReports"):
        genes = data.get(top)
        if not isinstance(genes, dict):
            continue
        nested = genes.get("CPIC")
        if isinstance(nested, dict):
            return nested
        if any(isinstance(v, dict) and ("recommendationDiplotypes" in v or "sourceDiplotypes" in v)
               for v in genes.values()):
            return genes
    return None


def is_report(data: Any) -> bool:
    """Is this decoded JSON a PharmCAT report (or phenotyper output)?"""
    return _gene_map(data) is not None


def _calls_of_gene(gene: str, info: Any, table: GenotypeTable) -> tuple[GeneCall, ...]:
    from pgxlit.check.profile import hla_call, phenotype_call

    entry = f"PharmCAT report {gene}"
    if not isinstance(info, dict):
        raise GenotypeError(f"{entry}: the gene's entry is not an object")
    diplotypes = info.get("recommendationDiplotypes") or info.get("sourceDiplotypes") or []
    if not isinstance(diplotypes, list) or not all(isinstance(d, dict) for d in diplotypes):
        raise GenotypeError(f"{entry}: recommendationDiplotypes is not a list of objects")
    seen = {(str(d.get("label") or ""), tuple(p for p in d.get("phenotypes") or [] if isinstance(p, str)))
            for d in diplotypes}
    called = {(label, phenos) for label, phenos in seen
              if phenos and not all(p.strip().lower() in _NO_CALL for p in phenos)}
    if not called:
        labels = sorted(label for label, _ in seen if label and label.strip().lower() not in _NO_CALL
                        and "unknown" not in label.lower())
        if len(labels) == 1 and table.knows(gene):
            # a diplotype PharmCAT gives no CPIC phenotype for (VKORC1, CYP4F2, IFNL3): read it with the tables
            return table.read(gene, labels[0], f"{entry} {labels[0]}").calls
        raise GenotypeError(f"{entry}: PharmCAT made no call ({', '.join(sorted(label for label, _ in seen if label)) or 'no diplotype'})")
    phenotypes = {phenos for _, phenos in called}
    if len(phenotypes) > 1:
        options = "; ".join(f"{label} -> {', '.join(p)}" for label, p in sorted(called))
        raise GenotypeError(f"{entry}: PharmCAT gives more than one possible call ({options})")
    label, phenos = sorted(called)[0]
    calls = []
    for phenotype in phenos:
        if gene.startswith("HLA-"):
            words = phenotype.strip().rsplit(" ", 1)
            if len(words) != 2 or words[1].lower() not in ("positive", "negative"):
                raise GenotypeError(f"{entry}: {phenotype!r} is not an HLA allele status")
            calls.append(hla_call(f"{gene}{words[0]}", words[1].lower() == "positive", f"{entry} {phenotype}", table))
            continue
        call = phenotype_call(gene, phenotype, f"{entry} {label} ({phenotype})", table)
        calls.append(replace(call, derivation=f"PharmCAT: {label} -> {call.phenotype}"))
    return tuple(calls)


def profile_of_report(data: Any, table: GenotypeTable) -> Any:
    """A PharmCAT report -> Profile; genes outside pgxlit's tables are named, not dropped silently."""
    from pgxlit.check.profile import Entry, collect

    genes = _gene_map(data) or {}
    return collect(
        Entry(gene=gene, value=_label(info), read=lambda gene=gene, info=info: _calls_of_gene(gene, info, table))
        for gene, info in sorted(genes.items())
    )


def _label(info: Any) -> str:
    diplotypes = info.get("recommendationDiplotypes") if isinstance(info, dict) else None
    if isinstance(diplotypes, list) and diplotypes and isinstance(diplotypes[0], dict):
        return str(diplotypes[0].get("label") or "no call")
    return "no call"
