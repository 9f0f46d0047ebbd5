"""A laboratory's genotype -> CPIC's phenotype, read with CPIC's own tables (corpora/cpic).

Pure functions over the compiled table (tools/build_cpic.py): each allele's clinical function
or activity value comes from CPIC's allele table, and the pair (or, for hemizygous and
mitochondrial results, the single allele) is looked up in CPIC's gene_result_lookup, so the
phenotype is CPIC's word for it ("Likely Intermediate Metabolizer", "Deficient", "*57:01
positive"). An allele CPIC gives no value, or a combination its lookup has no row for, gives
"Indeterminate" with a message naming it: a check must never invent a phenotype. Input that
cannot be read at all (unknown gene, "*2/", "*2/*2/*3", an allele no table defines) raises
GenotypeError with a message that names the entry.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pgxlit.shipped import shipped

TABLE_FILE = "genotype_tables.json.gz"
INDETERMINATE = "Indeterminate"
# Results under which a label's standard use applies: they never raise a warning.
NORMAL_PHENOTYPES = frozenset({"Normal Metabolizer", "Normal Function", "Normal",
                               "normal risk of aminoglycoside-induced hearing loss"})
_STATUS_WORDS = {"positive": True, "present": True, "detected": True, "pos": True, "carrier": True,
                 "negative": False, "absent": False, "not detected": False, "neg": False, "non-carrier": False}
_REFERENCE_WORDS = {"ref", "reference", "wt", "wild type", "wildtype", "wild-type"}

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
_HLA = re.compile(r"^\s*(?:HLA[-\s]?)?(?P<locus>[A-Z][A-Z0-9]{0,4})?\s*\*?\s*(?P<f1>\d{2,3}):?(?P<f2>\d{2,3})?(?::\d{2,3})*[A-Z]?\s*$",
                  re.I)
_DUP = re.compile(r"^(?P<base>.+?)\s*[x×]\s*(?P<copies>[Nn]|\d+|≥\s*\d+)$")
_RS_ALLELE = re.compile(r"(rs\d+) (?:reference|variant) \(([ACGT])\)$")
# A genotype at one variant as a lab or a label writes it: "AA", "A/G", "rs9923231 AA", "-1639 GA".
_BASES = re.compile(r"^(?:(?P<name>rs\d+|\S*\d\S*)\s+)?(?P<b1>[ACGT])\s*/?\s*(?P<b2>[ACGT])$", re.I)
_COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}


def genotype_spellings(rsid: str, plus: list[str], single: dict[str, Any] | None = None) -> tuple[str, ...]:
    """One genotype at one variant, each way evidence writes it: the plus strand's bases, and for a
    gene read on the other strand (VKORC1) the gene's bases under the rsID, the label's position
    ("-1639") and each HGVS alias ("-1639G>A"). The gene's strand is added only when it cannot be
    confused with the plus strand (no A/T or C/G variant), so a match is always exact."""
    out = [f"{rsid} {''.join(sorted(plus))}"]
    if single:
        bases = set(single["base_in_gene"])
        gene_bases = "".join(sorted(single["base_in_gene"][b] for b in plus))
        on_gene = [gene_bases] if not single.get("reverse_strand") else (
            [gene_bases] if not bases & {_COMPLEMENT[b] for b in bases} else [])
        for text in on_gene:
            out.append(f"{rsid} {text}")
            out += [f"{name} {text}" for name in [single.get("label"), *single.get("aliases", [])] if name]
    return tuple(dict.fromkeys(out))


def lookup_key(values: list[str]) -> str:
    """The one spelling of an allele-value multiset (CPIC's lookup key): lower case, sorted, ' + '.

    CPIC writes the same function with different capitals ("Normal risk" / "normal risk").
    The build (tools/build_cpic.py) and the reading both key with this function.
    """
    return " + ".join(sorted(v.strip().lower() for v in values))


class GenotypeError(ValueError):
    """A genotype that cannot be read; the message names the entry and what to fix."""


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
    activity_score_text: str | None = None  # CPIC's spelling, with its bands ("≥4.0")
    rows: tuple[str, ...] = ()  # the CPIC table rows the phenotype was read from
    # The genotype at one variant, each way evidence may write it ("rs9923231 TT" on the plus strand,
    # "rs9923231 AA" and "-1639G>A AA" on the gene's strand): what a "genotype:" claim is matched against.
    genotypes: tuple[str, ...] = ()

    @property
    def is_normal(self) -> bool:
        """Standard use applies: normal metabolizer/function, HLA negative, reference genotype."""
        return self.phenotype in NORMAL_PHENOTYPES or self.phenotype.endswith(" negative") or self.reference_genotype

    def to_json(self) -> dict[str, Any]:
        return {
            "gene": self.gene, "phenotype": self.phenotype, "source": self.source, "entry": self.entry,
            "diplotype": self.diplotype, "activity_score": self.activity_score,
            "derivation": self.derivation, **({"genotypes": list(self.genotypes)} if self.genotypes else {}),
        }


@dataclass(frozen=True, slots=True)
class AlleleReading:
    """One allele as CPIC's allele table gives it."""

    name: str
    function: str | None
    activity_value: str | None
    row: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "function": self.function, "activity_value": self.activity_value, "row": self.row}


@dataclass(frozen=True, slots=True)
class Reading:
    """What `pgxlit genotype` reports: CPIC's phenotype, how it was read, and the calls a check uses."""

    gene: str
    diplotype: str  # as given
    phenotype: str  # CPIC's wording; HLA results joined by "; "
    activity_score: str | None
    alleles: tuple[AlleleReading, ...]
    messages: tuple[str, ...]
    rows: tuple[str, ...]
    calls: tuple[GeneCall, ...]

    def to_json(self) -> dict[str, Any]:
        return {"gene": self.gene, "diplotype": self.diplotype, "phenotype": self.phenotype,
                "activity_score": self.activity_score, "alleles": [a.to_json() for a in self.alleles],
                "messages": list(self.messages), "source_rows": list(self.rows)}


def canonical_phenotype(text: str) -> str | None:
    """"ultra-rapid metabolizer", "PM", "extensive metaboliser", "decreased function" -> CPIC wording."""
    t = " ".join(text.strip().lower().replace("metaboliser", "metabolizer").replace("_", " ").split())
    t = re.sub(r"\s*metabolizers?$", "", t).strip()
    for candidate in (t, t.replace("-", " ")):
        if candidate in _PHENOTYPE_WORDS:
            return _PHENOTYPE_WORDS[candidate]
    return _FUNCTION_PHENOTYPES.get(t)


def normalise_hla(text: str) -> str | None:
    """"HLA-B*5701", "B*57:01", "hla-b 57:01" -> "HLA-B*57:01"; None when not an HLA allele."""
    m = _HLA.match(text)
    if not m or not m.group("locus") or not (text.strip().upper().startswith("HLA") or "*" in text):
        return None
    f1, f2 = m.group("f1"), m.group("f2")
    if f2 is None:
        if len(f1) in (4, 6):  # 5701 -> 57:01
            f1, f2 = f1[:2], f1[2:4]
        else:
            return None
    return f"HLA-{m.group('locus').upper()}*{f1}:{f2}"


def _hla_field(text: str) -> str | None:
    """"*57:01", "57:01", "*5701", "*57:01:01" -> "*57:01" (the locus is the gene's)."""
    m = _HLA.match(text)
    if not m or m.group("locus"):
        return None
    f1, f2 = m.group("f1"), m.group("f2")
    if f2 is None:
        if len(f1) not in (4, 6):
            return None
        f1, f2 = f1[:2], f1[2:4]
    return f"*{f1}:{f2}"


class GenotypeTable:
    """The compiled CPIC tables, indexed for reading laboratory results."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.origin: dict[str, str] = data.get("origin", {})
        self.genes: dict[str, dict[str, Any]] = data["genes"]
        self.rsid_gene: dict[str, str] = {}
        for g, e in self.genes.items():
            for r in e.get("rsids", []):
                self.rsid_gene.setdefault(r, g)
        self._aliases: dict[str, dict[str, set[str]]] = {}

    @classmethod
    def from_file(cls, path: Path) -> GenotypeTable:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return cls(json.load(fh))

    def knows(self, gene: str) -> bool:
        return gene in self.genes

    def gene_of(self, text: str) -> str:
        """The table's symbol for a gene as written ("cyp2c19", "HLA-B"); GenotypeError names the choices."""
        t = text.strip().upper().replace("HLA B", "HLA-B").replace("HLA A", "HLA-A")
        if t in self.genes:
            return t
        raise GenotypeError(f"unknown gene {text!r}; pgxlit reads genotypes of {', '.join(self.genes)}")

    # -- alleles -------------------------------------------------------------
    def _alias_index(self, gene: str) -> dict[str, set[str]]:
        """Lower-cased spellings labs use -> allele names: "c.1905+1G>A", "*2A", "HapB3", "Taipei", "rs2231142 T"."""
        if gene in self._aliases:
            return self._aliases[gene]
        index: dict[str, set[str]] = {}
        for name in self.genes[gene]["known_alleles"]:
            spellings = {name}
            head, _, inner = name.partition(" (")
            inner = inner.rstrip(")")
            if inner:
                spellings |= {head, inner}
                rs = re.fullmatch(r"(rs\d+) (reference|variant)", head)
                if rs:
                    spellings |= {f"{rs.group(1)} {inner}", f"{rs.group(1)}{inner}", inner, rs.group(2)}
                    if rs.group(2) == "reference":
                        spellings.add("reference")
            if "," in name and not name.startswith("c."):
                spellings |= {p.strip() for p in name.split(",")}
            if " " in head and not head.startswith(("rs", "c.", "m.", "*")):
                # G6PD "A-" for "A- 202A_376G": a weaker spelling, used only when no other matches
                index.setdefault("~" + head.split(" ")[0].lower(), set()).add(name)
            if "reference" in name.lower():
                spellings |= _REFERENCE_WORDS
            for s in spellings:
                index.setdefault(s.lower(), set()).add(name)
        reference = self.genes[gene].get("reference_allele")
        if reference and not any("reference" in n.lower() for n in self.genes[gene]["known_alleles"]):
            for w in _REFERENCE_WORDS:
                index.setdefault(w, set()).add(reference)
        self._aliases[gene] = index
        return index

    def resolve_allele(self, gene: str, name: str) -> str:
        """The table's name of an allele as a lab writes it; GenotypeError when no table defines it."""
        entry = self.genes[gene]
        original = name
        name = " ".join(name.split())
        if name.upper().startswith(gene.upper()) and not name.upper().startswith(gene.upper() + " ("):
            name = name[len(gene):].strip()
        if name and name[0].isdigit() and entry["known_alleles"] and entry["known_alleles"][0].startswith("*"):
            name = "*" + name
        if name in entry["alleles"] or name in entry["known_alleles"]:
            return name
        aliases = self._alias_index(gene)
        found = aliases.get(name.lower()) or aliases.get("~" + name.lower(), set())
        if len(found) == 1:
            return next(iter(found))
        if len(found) > 1:
            raise GenotypeError(f"{gene} {original!r} could mean {', '.join(sorted(found))}; write the full allele name")
        dup = _DUP.match(name)
        if dup and dup.group("base") != name:
            base = self.resolve_allele(gene, dup.group("base"))
            copies = dup.group("copies").replace(" ", "")
            if copies in ("N", "n"):
                return f"{base}xN"
            if copies.startswith("≥") or int(copies) >= 3:
                if f"{base}x≥3" in entry["alleles"]:
                    return f"{base}x≥3"
            return f"{base}x{copies}"
        raise GenotypeError(f"{gene} has no allele {original.strip()!r} in CPIC's or PharmCAT's tables")

    def allele_reading(self, gene: str, name: str) -> AlleleReading:
        info = self.genes[gene]["alleles"].get(name) or {}
        value = info.get("activity_value")
        return AlleleReading(name=name, function=info.get("function"),
                             activity_value=value if value not in (None, "n/a") else None, row=info.get("row"))

    def _value(self, gene: str, allele: str) -> str | None:
        """The value CPIC's lookup keys on: the activity value or the clinical function; None when CPIC gives none."""
        info = self.genes[gene]["alleles"].get(allele)
        if info is None:
            return None
        if self.genes[gene]["cpic_method"] == "ACTIVITY_SCORE":
            return info.get("activity_value") or (None if info.get("function") is None else "n/a")
        return info.get("function")

    # -- reading -------------------------------------------------------------
    def read(self, gene_text: str, text: str, entry: str = "") -> Reading:
        """One gene's result as a lab reports it -> CPIC's phenotype; GenotypeError when it cannot be read.
        A result at one variant also carries its genotype, each way evidence writes it (`GeneCall.genotypes`)."""
        reading = self._read(gene_text, text, entry)
        return replace(reading, calls=tuple(self._with_genotypes(c) for c in reading.calls))

    def _with_genotypes(self, call: GeneCall) -> GeneCall:
        found = [m for a in call.alleles if (m := _RS_ALLELE.match(a))]
        if len(call.alleles) != 2 or len(found) != 2 or found[0].group(1) != found[1].group(1):
            return call
        spec = self.genes[call.gene]
        single = spec["single_variant"] if spec["method"] == "single_variant" else None
        return replace(call, genotypes=genotype_spellings(found[0].group(1), [m.group(2) for m in found], single))

    def _single_variant_names(self, gene: str, m: re.Match[str], entry: str) -> list[str]:
        """The two alleles of a single-variant gene's genotype written as bases, on either strand
        ("rs9923231 TT" on the plus strand is "-1639 AA" on VKORC1's)."""
        spec = self.genes[gene]
        single = spec["single_variant"]
        name = m.group("name")
        if name and name.lower() != single["rsid"] and name not in [single.get("label"), *single.get("aliases", [])]:
            raise GenotypeError(f"{entry}: {name!r} is not {gene}'s variant; write e.g. {single['rsid']} "
                                f"{''.join(sorted(single['base_in_gene']))}")
        plus_of = {name_: base for name_, base in spec["variant_bases"].items()}
        by_plus = {base: name_ for name_, base in plus_of.items()}
        from_gene = {g: b for b, g in single["base_in_gene"].items()}
        bases = [m.group("b1").upper(), m.group("b2").upper()]
        if all(b in by_plus for b in bases):
            return [by_plus[b] for b in bases]
        if all(b in from_gene for b in bases) and not set(from_gene) & set(by_plus):
            return [by_plus[from_gene[b]] for b in bases]
        raise GenotypeError(f"{entry}: genotype must be two of {sorted(by_plus)} (plus strand) or of "
                            f"{sorted(from_gene)} ({gene}'s strand), e.g. {''.join(sorted(by_plus))}")

    def _read(self, gene_text: str, text: str, entry: str = "") -> Reading:
        gene = self.gene_of(gene_text)
        entry = entry or f"{gene} {text}"
        t = " ".join(str(text).split())
        if t.upper().startswith(gene.upper()) and not t.upper().startswith(gene.upper() + " ("):
            t = t[len(gene):].strip()
        if not t:
            raise GenotypeError(f"{entry}: no alleles given (write e.g. {self._example(gene)})")
        spec = self.genes[gene]
        if spec["method"] == "hla":
            return self._read_hla(gene, t, entry)
        if spec["method"] == "single_variant" and (bases := _BASES.match(t)):
            return self._read_single_variant(gene, t, self._single_variant_names(gene, bases, entry), entry)
        parts = [p.strip() for p in t.split("/")]
        if any(not p for p in parts) or len(parts) > 2:
            raise GenotypeError(f"{entry}: a diplotype is two alleles separated by '/', e.g. {self._example(gene)}")
        if len(parts) == 1 and not spec["single_allele"] and spec["method"] != "none":
            raise GenotypeError(f"{entry}: {gene} results are two alleles separated by '/', e.g. {self._example(gene)}")
        if len(parts) == 2 and not spec["two_alleles"] and spec["single_allele"]:
            raise GenotypeError(f"{entry}: {gene} is read from one allele (mitochondrial), e.g. {self._example(gene)}")
        names = [self.resolve_allele(gene, p) for p in parts]
        if spec["method"] == "single_variant":
            return self._read_single_variant(gene, t, names, entry)
        if spec["method"] == "none":
            note = (f"{gene} is read by phenotype only: CPIC's tables give no allele functions for {gene}; "
                    f"give the phenotype instead (e.g. \"{gene} {(spec['phenotypes'] or ['Poor Metabolizer'])[-1]}\")")
            return self._indeterminate(gene, t, names, entry, note)
        expanded = self._copy_number_choices(gene, names)
        if expanded is None:
            return self._from_lookup(gene, t, names, entry)
        # "*1xN": the copy number is not given; read every copy number CPIC defines, and keep a
        # phenotype only if they all agree
        readings = [self._from_lookup(gene, t, choice, entry) for choice in expanded]
        phenotypes = {r.phenotype for r in readings}
        if len(phenotypes) == 1 and INDETERMINATE not in phenotypes:
            first = readings[0]
            note = (f"{gene} {'/'.join(names)}: copy number not given; every copy number CPIC defines "
                    f"({', '.join('/'.join(c) for c in expanded)}) gives {first.phenotype}")
            calls = tuple(replace(c, diplotype="/".join(names), alleles=tuple(names), notes=(note,),
                                  activity_score=None, activity_score_text=None) for c in first.calls)
            return replace(first, activity_score=None, messages=(note,), calls=calls)
        note = (f"{gene} {'/'.join(names)}: copy number not given and CPIC's phenotypes differ by copy number "
                f"({'; '.join(f'{chr(47).join(c)} -> {r.phenotype}' for c, r in zip(expanded, readings, strict=True))})")
        return self._indeterminate(gene, t, names, entry, note)

    def _copy_number_choices(self, gene: str, names: list[str]) -> list[list[str]] | None:
        if not any(n.endswith("xN") for n in names):
            return None
        choices: list[list[str]] = [[]]
        for n in names:
            options = [n]
            if n.endswith("xN"):
                base = n[:-2]
                options = [c for c in (f"{base}x2", f"{base}x3", f"{base}x≥3") if c in self.genes[gene]["alleles"]]
                if not options:
                    options = [n]
            choices = [c + [o] for c in choices for o in options]
        return choices

    def _example(self, gene: str) -> str:
        spec = self.genes[gene]
        names = list(spec["alleles"]) or spec["known_alleles"]
        if spec["method"] == "hla":
            return f"\"{names[0]} positive\" or \"{names[0]}/*08:01\""
        if spec["single_allele"] and not spec["two_alleles"]:
            return repr(names[0])
        ref = "*1" if "*1" in names else spec.get("reference_allele") or (names[0] if names else "*1")
        other = "*2" if "*2" in names and ref != "*2" else next((n for n in names if n != ref), ref)
        return f"{ref}/{other}"

    def _indeterminate(self, gene: str, text: str, names: list[str], entry: str, note: str) -> Reading:
        call = GeneCall(gene=gene, phenotype=INDETERMINATE, source="diplotype", entry=entry,
                        diplotype="/".join(names), alleles=tuple(names), derivation=f"{note} -> {INDETERMINATE}",
                        notes=(note,))
        return Reading(gene=gene, diplotype=text, phenotype=INDETERMINATE, activity_score=None,
                       alleles=tuple(self.allele_reading(gene, n) for n in names), messages=(note,), rows=(),
                       calls=(call,))

    def _from_lookup(self, gene: str, text: str, names: list[str], entry: str) -> Reading:
        spec = self.genes[gene]
        alleles = tuple(self.allele_reading(gene, n) for n in names)
        values = [self._value(gene, n) for n in names]
        missing = [n for n, v in zip(names, values, strict=True) if v is None]
        if missing:
            what = "activity value" if spec["cpic_method"] == "ACTIVITY_SCORE" else "function"
            note = "; ".join(f"{gene} {n}: CPIC gives this allele no {what}, so the phenotype is {INDETERMINATE}"
                             for n in missing)
            return self._indeterminate(gene, text, names, entry, note)
        row = spec["lookup"].get(lookup_key(values))  # type: ignore[arg-type]
        if row is None:
            note = f"{gene} {'/'.join(names)}: CPIC's lookup has no row for {' + '.join(values)}"  # type: ignore[arg-type]
            return self._indeterminate(gene, text, names, entry, note)
        phenotype, score_text = row["phenotype"], row["activity_score"]
        score = float(score_text.lstrip("≥")) if score_text else None
        notes: tuple[str, ...] = ()
        if phenotype == INDETERMINATE:
            unclear = [f"{n} ({a.function}{', no activity value' if v == 'n/a' else ''})"
                       for n, a, v in zip(names, alleles, values, strict=True)
                       if v == "n/a" or (a.function or "").split()[0] in ("Uncertain", "Unknown")]
            notes = (f"{gene} {', '.join(unclear) or '/'.join(names)}: CPIC's lookup gives {INDETERMINATE}",)
        shown = " + ".join(f"{n} ({v})" for n, v in zip(names, values, strict=True))
        derivation = (f"activity score {shown} = {score_text} -> {phenotype}" if score_text
                      else f"{shown} -> {phenotype}")
        rows = tuple(a.row for a in alleles if a.row) + (row["row"],)
        call = GeneCall(gene=gene, phenotype=phenotype, source="diplotype", entry=entry, diplotype="/".join(names),
                        alleles=tuple(names), activity_score=score, functions=tuple(a.function or "" for a in alleles),
                        derivation=derivation, activity_score_text=score_text, rows=rows, notes=notes)
        return Reading(gene=gene, diplotype=text, phenotype=phenotype, activity_score=score_text, alleles=alleles,
                       messages=notes, rows=rows, calls=(call,))

    def _read_hla(self, gene: str, text: str, entry: str) -> Reading:
        spec = self.genes[gene]
        of_interest = list(spec["alleles"])
        status = re.fullmatch(r"(?P<allele>.+?)\s+(?P<word>not detected|[a-z-]+)", text, re.I)
        if status and status.group("word").lower() in _STATUS_WORDS:
            allele = _hla_field(status.group("allele").replace(gene, "", 1) if status.group("allele").upper()
                                .startswith(gene) else status.group("allele"))
            if allele is None:
                raise GenotypeError(f"{entry}: {status.group('allele')!r} is not an {gene} allele (write e.g. *57:01)")
            present = _STATUS_WORDS[status.group("word").lower()]
            return self._hla_reading(gene, text, entry, {allele: present}, of_interest)
        parts = [p.strip() for p in text.split("/")]
        if any(not p for p in parts) or len(parts) > 2:
            raise GenotypeError(f"{entry}: write two {gene} alleles separated by '/' or one allele with its status, "
                                f"e.g. {self._example(gene)}")
        found = [_hla_field(p[len(gene):] if p.upper().startswith(gene) else p) for p in parts]
        if any(f is None for f in found):
            bad = next(p for p, f in zip(parts, found, strict=True) if f is None)
            raise GenotypeError(f"{entry}: {bad!r} is not an {gene} allele; write e.g. {self._example(gene)}")
        statuses = {a: (a in found) for a in of_interest}
        statuses.update({a: True for a in found if a is not None})
        return self._hla_reading(gene, text, entry, statuses, of_interest)

    def _hla_reading(self, gene: str, text: str, entry: str, statuses: dict[str, bool], of_interest: list[str]) -> Reading:
        spec = self.genes[gene]
        calls, results, rows, messages = [], [], [], []
        for allele, present in sorted(statuses.items(), key=lambda kv: (not kv[1], kv[0] not in of_interest, kv[0])):
            word = "positive" if present else "negative"
            row = spec["lookup"].get(f"{allele} {word}")
            notes: tuple[str, ...] = ()
            if row:
                results.append(row["phenotype"])
                rows.append(row["row"])
            elif present:
                notes = (f"{gene}{allele} is not among CPIC's {gene} alleles of interest "
                         f"({', '.join(of_interest)}); checked against the evidence anyway",)
                messages.extend(notes)
            calls.append(GeneCall(gene=gene, phenotype=f"{gene}{allele} {word}", source="hla", entry=entry,
                                  alleles=(f"{gene}{allele}",) if present else (),
                                  derivation=f"{gene}{allele} {'present' if present else 'absent'}",
                                  notes=notes, rows=(row["row"],) if row else ()))
        alleles = tuple(AlleleReading(name=a, function=None, activity_value=None,
                                      row=(spec["alleles"].get(a) or {}).get("row")) for a in statuses if statuses[a])
        phenotype = "; ".join(results) if results else f"no CPIC {gene} allele of interest reported"
        return Reading(gene=gene, diplotype=text, phenotype=phenotype, activity_score=None, alleles=alleles,
                       messages=tuple(messages), rows=tuple(rows), calls=tuple(calls))

    def _read_single_variant(self, gene: str, text: str, names: list[str], entry: str) -> Reading:
        spec = self.genes[gene]
        single = spec["single_variant"]
        if len(names) != 2:
            raise GenotypeError(f"{entry}: {gene} results are two alleles, e.g. {self._example(gene)}")
        bases = [single["base_in_gene"][spec["variant_bases"][n]] for n in names]
        base = GeneCall(gene=gene, phenotype=INDETERMINATE, source="diplotype", entry=entry,
                        diplotype="/".join(names), alleles=tuple(names))
        call = self._genotype_call(gene, bases, base, " + ".join(names))
        return Reading(gene=gene, diplotype=text, phenotype=call.phenotype, activity_score=None,
                       alleles=tuple(self.allele_reading(gene, n) for n in names), messages=(), rows=(), calls=(call,))

    def phenotype_of(self, gene: str, diplotype: str) -> str | None:
        """CPIC's phenotype of a diplotype ("UGT1A1", "*28/*28" -> "Poor Metabolizer"); None when the
        tables do not read it or read it as Indeterminate (never a guess)."""
        if not self.knows(gene):
            return None
        try:
            phenotype = self.translate(gene, diplotype).phenotype
        except GenotypeError:
            return None
        return None if phenotype == INDETERMINATE else phenotype

    def translate(self, gene: str, diplotype: str, entry: str = "") -> GeneCall:
        """A diplotype ("*2/*17") of one gene to its CPIC phenotype, with the derivation (the first call)."""
        return self.read(gene, diplotype, entry).calls[0]

    def _genotype_call(self, gene: str, gene_bases: list[str], base: GeneCall, shown: str) -> GeneCall:
        single = self.genes[gene]["single_variant"]
        phenotype = f"{single['label']} {''.join(sorted(gene_bases))}"
        ref = single["base_in_gene"][single["ref"]]
        return replace(base, phenotype=phenotype, derivation=f"{shown} -> {phenotype}",
                       reference_genotype=phenotype.endswith(" " + ref + ref))

    def genotype(self, rsid: str, genotype: str, entry: str = "") -> GeneCall:
        """A single rsID genotype ("rs9923231", "CT") to a call: VKORC1 -1639 AG, ABCG2 by its rsID alleles."""
        entry = entry or f"{rsid} {genotype}"
        rsid = rsid.strip().lower()
        gene = self.rsid_gene.get(rsid)
        if gene is None:
            raise GenotypeError(f"{entry}: {rsid} is not a variant in CPIC's or PharmCAT's allele definitions")
        spec = self.genes[gene]
        by_base = {m.group(2): n for n in spec["known_alleles"] if (m := re.fullmatch(rf"({rsid}) \w+ \((\w)\)", n))}
        if not by_base:
            raise GenotypeError(f"{entry}: {rsid} is one of {len(spec['rsids'])} variants that define {gene} alleles; "
                                f"give the {gene} diplotype instead")
        bases = [b for b in genotype.upper() if b.isalpha()]
        if spec["method"] == "single_variant":  # either strand
            if len(bases) != 2:
                raise GenotypeError(f"{entry}: a genotype is two bases, e.g. {''.join(sorted(by_base))}")
            return replace(self.read(gene, f"{rsid} {''.join(bases)}", entry).calls[0], source="rsid")
        allowed = by_base
        if len(bases) != 2 or any(b not in allowed for b in bases):
            raise GenotypeError(f"{entry}: genotype must be two of {sorted(allowed)} (plus strand), "
                                f"e.g. {''.join(sorted(allowed))}")
        names = [by_base[b] for b in bases]
        call = self.read(gene, "/".join(names), entry).calls[0]
        return replace(call, source="rsid")

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


_CACHE: dict[Path, GenotypeTable] = {}
_LOCK = threading.Lock()


def default_dir() -> Path:
    """``corpora/cpic`` of the checkout or of the installed package."""
    return shipped("cpic", TABLE_FILE)


def load_table(directory: Path | None = None) -> GenotypeTable:
    """The shipped table, read once per process."""
    path = (directory or default_dir()) / TABLE_FILE
    with _LOCK:
        if path not in _CACHE:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: genotype tables missing; run python tools/build_cpic.py --shared ../shared")
            _CACHE[path] = GenotypeTable.from_file(path)
        return _CACHE[path]
