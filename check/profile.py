"""A patient's pharmacogenomic profile: JSON or command-line entries -> gene calls.

Every entry is read on its own: a bad one gives a message naming it and the rest still
counts, because a profile with one typo must not silence an alert for another gene.

JSON profile (a list, or {"genotypes": [...]} / {"results": [...]}):
  {"gene": "CYP2C19", "diplotype": "*2/*2"}
  {"gene": "CYP2D6", "phenotype": "Ultrarapid Metabolizer"}
  {"allele": "HLA-B*57:01", "present": true}
  {"rsid": "rs9923231", "genotype": "CT"}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxlit.check.pharmcat import (
    GeneCall,
    GenotypeError,
    PhenotypeTable,
    canonical_phenotype,
    normalise_hla,
)

_POSITIVE = {"positive", "present", "detected", "pos", "+", "yes", "true", "carrier"}
_NEGATIVE = {"negative", "absent", "not detected", "neg", "-", "no", "false", "non-carrier", "noncarrier"}


@dataclass(frozen=True, slots=True)
class Profile:
    """The calls that count and the messages about entries that did not."""

    calls: tuple[GeneCall, ...]
    messages: tuple[str, ...] = ()

    @property
    def genes(self) -> list[str]:
        return sorted({c.gene for c in self.calls})

    def merged(self, other: Profile) -> Profile:
        return Profile(self.calls + other.calls, self.messages + other.messages)


def _gene_symbol(text: str, table: PhenotypeTable) -> str | None:
    """A gene the table knows, from any case; HGNC aliases through the lexicon."""
    t = text.strip()
    if table.knows(t.upper()):
        return t.upper()
    from pgxlit.extract.lexicons import load_lexicons

    found = load_lexicons().normalise_gene(t)
    return found[1] if found else None


def hla_call(allele: str, present: bool, entry: str, table: PhenotypeTable) -> GeneCall:
    name = normalise_hla(allele)
    if name is None:
        raise GenotypeError(f"{entry}: {allele!r} is not an HLA allele (write e.g. HLA-B*57:01)")
    gene = name.split("*")[0]
    notes: tuple[str, ...] = ()
    spec = table.genes.get(gene)
    if spec is None or name.split("*")[1] not in [a.lstrip("*") for a in spec["known_alleles"]]:
        notes = (f"{name} is not among PharmCAT's HLA alleles of interest; checked against the evidence anyway",)
    status = "positive" if present else "negative"
    return GeneCall(gene=gene, phenotype=f"{name} {status}", source="hla", entry=entry, alleles=(name,) if present else (),
                    derivation=f"{name} {'present' if present else 'absent'}", notes=notes)


def phenotype_call(gene_text: str, phenotype: str, entry: str, table: PhenotypeTable) -> GeneCall:
    gene = _gene_symbol(gene_text, table)
    if gene is None:
        raise GenotypeError(f"{entry}: unknown gene {gene_text!r}")
    canon = canonical_phenotype(phenotype)
    vocab = table.genes.get(gene, {}).get("phenotypes", [])
    if canon is None:
        canon = next((v for v in vocab if v.lower() == " ".join(phenotype.split()).lower()), None)
    if canon is None:
        hint = f" (one of: {', '.join(vocab)})" if vocab else ""
        raise GenotypeError(f"{entry}: {phenotype!r} is not a phenotype pgxlit reads{hint}")
    if vocab and canon not in vocab and canon.replace("Likely ", "").replace("Possible ", "") not in vocab:
        raise GenotypeError(f"{entry}: {gene} has no phenotype {canon!r} in CPIC's vocabulary ({', '.join(vocab)})")
    return GeneCall(gene=gene, phenotype=canon, source="phenotype", entry=entry, derivation=f"given as {canon}")


def diplotype_call(gene_text: str, diplotype: str, entry: str, table: PhenotypeTable) -> GeneCall:
    gene = _gene_symbol(gene_text, table)
    if gene is None:
        raise GenotypeError(f"{entry}: unknown gene {gene_text!r}")
    if not table.knows(gene):
        raise GenotypeError(f"{entry}: PharmCAT has no allele definitions for {gene}; give its phenotype instead")
    return table.translate(gene, diplotype, entry)


def _entry_text(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False) if not isinstance(item, str) else item


def parse_entry(item: Any, table: PhenotypeTable) -> GeneCall:
    """One JSON profile entry -> a call; GenotypeError names the entry when it cannot be read."""
    entry = _entry_text(item)
    if not isinstance(item, dict):
        raise GenotypeError(f"{entry}: an entry is an object with gene+diplotype, gene+phenotype, allele+present or rsid+genotype")
    keys = {k.lower(): v for k, v in item.items()}
    if "allele" in keys and ("present" in keys or "result" in keys):
        present = keys.get("present", keys.get("result"))
        if isinstance(present, str):
            word = present.strip().lower()
            if word not in _POSITIVE | _NEGATIVE:
                raise GenotypeError(f"{entry}: 'present' must be true/false (or positive/negative)")
            present = word in _POSITIVE
        if not isinstance(present, bool):
            raise GenotypeError(f"{entry}: 'present' must be true or false")
        return hla_call(str(keys["allele"]), present, entry, table)
    if "rsid" in keys:
        if not isinstance(keys.get("genotype"), str):
            raise GenotypeError(f"{entry}: an rsid entry needs a 'genotype' such as \"CT\"")
        return table.genotype(str(keys["rsid"]), keys["genotype"], entry)
    gene = keys.get("gene")
    if not isinstance(gene, str) or not gene.strip():
        raise GenotypeError(f"{entry}: missing 'gene'")
    if isinstance(keys.get("diplotype"), str):
        return diplotype_call(gene, keys["diplotype"], entry, table)
    if isinstance(keys.get("phenotype"), str):
        return phenotype_call(gene, keys["phenotype"], entry, table)
    raise GenotypeError(f"{entry}: give a 'diplotype' (e.g. \"*1/*2\") or a 'phenotype' for {gene}")


def parse_profile(data: Any, table: PhenotypeTable) -> Profile:
    """A JSON profile (already decoded) -> calls and per-entry messages."""
    items = data
    if isinstance(data, dict):
        items = next((data[k] for k in ("results", "genotypes", "profile", "entries") if isinstance(data.get(k), list)), None)
        if items is None:
            items = [data]
    if not isinstance(items, list):
        return Profile((), ("profile: expected a list of entries",))
    return collect((lambda item=item: parse_entry(item, table)) for item in items)


def collect(parsers: Iterable[Callable[[], GeneCall]]) -> Profile:
    """Run each entry's parser; a bad entry becomes a message naming it and the rest still count."""
    calls: list[GeneCall] = []
    messages: list[str] = []
    for parse in parsers:
        try:
            call = parse()
        except GenotypeError as exc:
            messages.append(str(exc))
            continue
        calls.append(call)
        messages.extend(call.notes)
    return deduplicate(calls, messages)


def deduplicate(calls: list[GeneCall], messages: list[str]) -> Profile:
    """Two calls for one gene: a diplotype beats a stated phenotype; HLA alleles stay separate."""
    kept: dict[str, GeneCall] = {}
    rank = {"diplotype": 0, "rsid": 0, "phenotype": 1}
    for call in calls:
        key = call.phenotype.split(" ")[0] if call.source == "hla" else call.gene
        old = kept.get(key)
        if old is None:
            kept[key] = call
        elif old.phenotype != call.phenotype:
            winner = old if rank.get(old.source, 2) <= rank.get(call.source, 2) else call
            loser = call if winner is old else old
            messages.append(f"{loser.entry}: conflicts with {winner.entry} ({winner.phenotype}); using {winner.entry}")
            kept[key] = winner
    return Profile(tuple(kept.values()), tuple(messages))


def read_profile_file(path: Path, table: PhenotypeTable) -> Profile:
    """A profile file; a file that is not JSON is an error, a bad entry is a message."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such profile file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    return parse_profile(data, table)


# ---- command-line entries -------------------------------------------------------------------
_GENE_THEN_REST = re.compile(r"^\s*(?P<gene>[A-Za-z][A-Za-z0-9-]*?)\s*(?P<rest>(?:\*|\s).*)$")


def parse_diplotype_arg(text: str, table: PhenotypeTable) -> GeneCall:
    """"CYP2C19 *2/*2", "CYP2C19*2/*17", "rs9923231 CT"."""
    t = text.strip()
    if t.lower().startswith("rs"):
        rsid, _, genotype = t.partition(" ")
        return table.genotype(rsid, genotype.strip(), t)
    m = _GENE_THEN_REST.match(t)
    if not m:
        raise GenotypeError(f"{text!r}: write the gene then the diplotype, e.g. \"CYP2C19 *2/*2\"")
    return diplotype_call(m.group("gene"), m.group("rest").strip(), t, table)


def parse_phenotype_arg(text: str, table: PhenotypeTable) -> GeneCall:
    """"CYP2D6 ultrarapid metabolizer", "SLCO1B1 decreased function"."""
    gene, _, rest = text.strip().partition(" ")
    if not rest.strip():
        raise GenotypeError(f"{text!r}: write the gene then the phenotype, e.g. \"CYP2D6 ultrarapid metabolizer\"")
    return phenotype_call(gene, rest, text.strip(), table)


def parse_hla_arg(text: str, table: PhenotypeTable) -> GeneCall:
    """"HLA-B*57:01 positive", "HLA-B*15:02 negative" (positive when no status is written)."""
    t = text.strip()
    words = t.rsplit(" ", 1)
    present = True
    allele = t
    if len(words) == 2 and words[1].lower() in _POSITIVE | _NEGATIVE:
        allele, present = words[0], words[1].lower() in _POSITIVE
    return hla_call(allele, present, t, table)


def profile_from_args(
    diplotypes: list[str], phenotypes: list[str], hlas: list[str], table: PhenotypeTable
) -> Profile:
    pairs = ((parser, value) for parser, values in ((parse_diplotype_arg, diplotypes), (parse_phenotype_arg, phenotypes),
                                                      (parse_hla_arg, hlas)) for value in values)
    return collect((lambda parser=parser, value=value: parser(value, table)) for parser, value in pairs)
