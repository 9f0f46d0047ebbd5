"""A patient's pharmacogenomic profile: JSON, PharmCAT reports, FHIR or command-line entries -> gene calls.

Every entry is read on its own: a bad one is kept as an `Unread` result whose message names it
("CYP2C19 result '*2/' could not be read; no PGx check was done for this gene") and the rest
still counts, because a profile with one typo must not silence an alert for another gene, and
a result that was not read must never look like "no concern".

JSON profile (a list, or {"genotypes": [...]} / {"results": [...]}):
  {"gene": "CYP2C19", "diplotype": "*2/*2"}
  {"gene": "CYP2D6", "phenotype": "Ultrarapid Metabolizer"}
  {"allele": "HLA-B*57:01", "present": true}
  {"rsid": "rs9923231", "genotype": "CT"}
A PharmCAT report JSON (its phenotype calls) and a FHIR Bundle of genomics Observations are
read too (pgxlit.check.pharmcat, pgxlit.check.fhir).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxlit.check.genotype import (
    GeneCall,
    GenotypeError,
    GenotypeTable,
    canonical_phenotype,
    normalise_hla,
)

_POSITIVE = {"positive", "present", "detected", "pos", "+", "yes", "true", "carrier"}
_NEGATIVE = {"negative", "absent", "not detected", "neg", "-", "no", "false", "non-carrier", "noncarrier"}


@dataclass(frozen=True, slots=True)
class Unread:
    """A result that could not be read: which gene (when known), what it said, and why."""

    gene: str | None
    value: str
    reason: str

    @property
    def message(self) -> str:
        head = f"{self.gene} result {self.value!r}" if self.gene else f"result {self.value!r}"
        scope = "this gene" if self.gene else "it"
        return f"{head} could not be read; no PGx check was done for {scope} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Entry:
    """One profile entry to read: the gene and value it names (for the message if it fails) and its reader."""

    gene: str | None
    value: str
    read: Callable[[], GeneCall | list[GeneCall] | tuple[GeneCall, ...]]


@dataclass(frozen=True, slots=True)
class Profile:
    """The calls that count, the results that could not be read, and messages about both."""

    calls: tuple[GeneCall, ...]
    messages: tuple[str, ...] = ()
    unread: tuple[Unread, ...] = ()

    @property
    def genes(self) -> list[str]:
        return sorted({c.gene for c in self.calls})

    def merged(self, other: Profile) -> Profile:
        return Profile(self.calls + other.calls, self.messages + other.messages, self.unread + other.unread)


def _gene_symbol(text: str, table: GenotypeTable) -> str | None:
    """A gene the table knows, from any case; HGNC aliases through the lexicon."""
    t = text.strip()
    if table.knows(t.upper()):
        return t.upper()
    from pgxlit.extract.lexicons import load_lexicons

    found = load_lexicons().normalise_gene(t)
    return found[1] if found else None


def hla_call(allele: str, present: bool, entry: str, table: GenotypeTable) -> GeneCall:
    name = normalise_hla(allele)
    if name is None:
        raise GenotypeError(f"{entry}: {allele!r} is not an HLA allele (write e.g. HLA-B*57:01)")
    gene, field = name.split("*")[0], "*" + name.split("*")[1]
    notes: tuple[str, ...] = ()
    spec = table.genes.get(gene)
    row = (spec or {}).get("lookup", {}).get(f"{field} {'positive' if present else 'negative'}")
    if spec is None or field not in spec["known_alleles"]:
        notes = (f"{name} is not among CPIC's HLA alleles of interest; checked against the evidence anyway",)
    status = "positive" if present else "negative"
    return GeneCall(gene=gene, phenotype=f"{name} {status}", source="hla", entry=entry, alleles=(name,) if present else (),
                    derivation=f"{name} {'present' if present else 'absent'}", notes=notes,
                    rows=(row["row"],) if row else ())


def phenotype_call(gene_text: str, phenotype: str, entry: str, table: GenotypeTable) -> GeneCall:
    gene = _gene_symbol(gene_text, table)
    if gene is None:
        raise GenotypeError(f"{entry}: unknown gene {gene_text!r}")
    vocab = table.genes.get(gene, {}).get("phenotypes", [])
    said = " ".join(phenotype.split())
    canon = next((v for v in vocab if v.lower() == said.lower()), None) or canonical_phenotype(said)
    if canon is None:
        hint = f" (one of: {', '.join(vocab)})" if vocab else ""
        raise GenotypeError(f"{entry}: {phenotype!r} is not a phenotype pgxlit reads{hint}")
    if vocab and canon not in vocab and canon.replace("Likely ", "").replace("Possible ", "") not in vocab:
        raise GenotypeError(f"{entry}: {gene} has no phenotype {canon!r} in CPIC's vocabulary ({', '.join(vocab)})")
    return GeneCall(gene=gene, phenotype=canon, source="phenotype", entry=entry, derivation=f"given as {canon}")


def diplotype_calls(gene_text: str, diplotype: str, entry: str, table: GenotypeTable) -> tuple[GeneCall, ...]:
    """A gene's diplotype (or allele status) -> its calls; HLA gives one per allele of interest."""
    gene = _gene_symbol(gene_text, table)
    if gene is None:
        raise GenotypeError(f"{entry}: unknown gene {gene_text!r}")
    if not table.knows(gene):
        raise GenotypeError(f"{entry}: pgxlit has no allele tables for {gene}; give its phenotype instead")
    return table.read(gene, diplotype, entry).calls


def diplotype_call(gene_text: str, diplotype: str, entry: str, table: GenotypeTable) -> GeneCall:
    return diplotype_calls(gene_text, diplotype, entry, table)[0]


def _entry_text(item: Any) -> str:
    return json.dumps(item, ensure_ascii=False) if not isinstance(item, str) else item


def parse_entry(item: Any, table: GenotypeTable) -> GeneCall | tuple[GeneCall, ...]:
    """One JSON profile entry -> its call(s); GenotypeError names the entry when it cannot be read."""
    entry = _entry_text(item)
    if not isinstance(item, dict):
        raise GenotypeError(f"{entry}: an entry is an object with gene+diplotype, gene+phenotype, allele+present or rsid+genotype")
    keys = {str(k).lower(): v for k, v in item.items()}
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
        return diplotype_calls(gene, keys["diplotype"], entry, table)
    if isinstance(keys.get("phenotype"), str):
        return phenotype_call(gene, keys["phenotype"], entry, table)
    raise GenotypeError(f"{entry}: give a 'diplotype' (e.g. \"*1/*2\") or a 'phenotype' for {gene}")


def _entry_of(item: Any, table: GenotypeTable) -> Entry:
    gene = value = None
    if isinstance(item, dict):
        keys = {str(k).lower(): v for k, v in item.items()}
        gene = keys.get("gene") if isinstance(keys.get("gene"), str) else None
        if gene is None and isinstance(keys.get("allele"), str):
            gene = (normalise_hla(keys["allele"]) or "").split("*")[0] or None
        if gene is None and isinstance(keys.get("rsid"), str):
            gene = table.rsid_gene.get(keys["rsid"].strip().lower())
        for k in ("diplotype", "phenotype", "genotype", "allele"):
            if isinstance(keys.get(k), str):
                value = keys[k] + (f" {keys.get('present')}" if k == "allele" and "present" in keys else "")
                break
    return Entry(gene=gene, value=value if value is not None else _entry_text(item),
                 read=lambda: parse_entry(item, table))


def parse_profile(data: Any, table: GenotypeTable) -> Profile:
    """A decoded profile -> calls and per-entry messages: pgxlit's entries, a PharmCAT report or FHIR resources."""
    from pgxlit.check import fhir, pharmcat

    if pharmcat.is_report(data):
        return pharmcat.profile_of_report(data, table)
    if fhir.is_fhir(data):
        return fhir.profile_of_resources(data, table)
    items = data
    if isinstance(data, dict):
        items = next((data[k] for k in ("results", "genotypes", "profile", "entries") if isinstance(data.get(k), list)), None)
        if items is None:
            items = [data]
    if not isinstance(items, list):
        return Profile((), ("profile: expected a list of entries",))
    return collect(_entry_of(item, table) for item in items)


def collect(entries: Iterable[Entry]) -> Profile:
    """Read each entry; one that fails becomes an Unread result naming it, and the rest still count."""
    calls: list[GeneCall] = []
    messages: list[str] = []
    unread: list[Unread] = []
    for e in entries:
        try:
            got = e.read()
        except GenotypeError as exc:
            u = Unread(gene=e.gene, value=e.value, reason=str(exc))
            unread.append(u)
            messages.append(u.message)
            continue
        for call in (got,) if isinstance(got, GeneCall) else got:
            calls.append(call)
            messages.extend(n for n in call.notes if n not in messages)
    profile = deduplicate(calls, messages)
    return Profile(profile.calls, profile.messages, tuple(unread))


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


def read_profile_file(path: Path, table: GenotypeTable) -> Profile:
    """A profile file; a file that is not JSON is an error, a bad entry is a message."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such profile file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" ({exc.msg} at line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else " (nested too deep)"
        raise ValueError(f"{path}: not JSON{where}") from exc
    return parse_profile(data, table)


# ---- command-line entries -------------------------------------------------------------------
_GENE_THEN_REST = re.compile(r"^\s*(?P<gene>[A-Za-z][A-Za-z0-9-]*?)\s*(?P<rest>(?:\*|\s).*)$")


def _split_gene(text: str) -> tuple[str | None, str]:
    m = _GENE_THEN_REST.match(text.strip())
    return (m.group("gene"), m.group("rest").strip()) if m else (None, text.strip())


def parse_diplotype_arg(text: str, table: GenotypeTable) -> tuple[GeneCall, ...]:
    """"CYP2C19 *2/*2", "CYP2C19*2/*17", "DPYD c.1905+1G>A/Reference", "rs9923231 CT"."""
    t = text.strip()
    if re.match(r"rs\d+\s+[ACGT]{1,2}\s*/?\s*[ACGT]?$", t, re.I):
        rsid, _, genotype = t.partition(" ")
        return (table.genotype(rsid, genotype.strip(), t),)
    gene, rest = _split_gene(t)
    if gene is None or not rest:
        raise GenotypeError(f"{text!r}: write the gene then the diplotype, e.g. \"CYP2C19 *2/*2\"")
    return diplotype_calls(gene, rest, t, table)


def parse_phenotype_arg(text: str, table: GenotypeTable) -> GeneCall:
    """"CYP2D6 ultrarapid metabolizer", "SLCO1B1 decreased function"."""
    gene, _, rest = text.strip().partition(" ")
    if not rest.strip():
        raise GenotypeError(f"{text!r}: write the gene then the phenotype, e.g. \"CYP2D6 ultrarapid metabolizer\"")
    return phenotype_call(gene, rest, text.strip(), table)


def parse_hla_arg(text: str, table: GenotypeTable) -> GeneCall:
    """"HLA-B*57:01 positive", "HLA-B*15:02 negative" (positive when no status is written)."""
    t = text.strip()
    words = t.rsplit(" ", 1)
    present = True
    allele = t
    if len(words) == 2 and words[1].lower() in _POSITIVE | _NEGATIVE:
        allele, present = words[0], words[1].lower() in _POSITIVE
    return hla_call(allele, present, t, table)


def _arg_gene(text: str, table: GenotypeTable) -> str | None:
    t = text.strip()
    if t.lower().startswith("rs"):
        return table.rsid_gene.get(t.split(" ")[0].lower())
    hla = normalise_hla(t.split(" ")[0])
    if hla:
        return hla.split("*")[0]
    gene = _split_gene(t)[0] or t.split(" ")[0]
    return gene.upper() if table.knows(gene.upper()) else gene


def profile_from_args(
    diplotypes: list[str], phenotypes: list[str], hlas: list[str], table: GenotypeTable
) -> Profile:
    readers: list[tuple[Callable[[str, GenotypeTable], Any], list[str]]] = [
        (parse_diplotype_arg, diplotypes), (parse_phenotype_arg, phenotypes), (parse_hla_arg, hlas)]
    return collect(
        Entry(gene=_arg_gene(value, table), value=(_split_gene(value)[1] or value) if parser is not parse_hla_arg else value,
              read=lambda parser=parser, value=value: parser(value, table))
        for parser, values in readers for value in values
    )
