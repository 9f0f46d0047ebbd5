"""Every pair of CPIC alleles with a function (or activity value), for every gene: pgxlit's reading
of "A/B" equals what CPIC's own lookup gives, computed here straight from ../shared/vocab/cpic.

The expected phenotype is worked out by this file's own small reader of the raw CSV tables
(lookup keys are compared as multisets, as CPIC stores them), so a mistake in the build, in
the shipped table or in reading allele names shows up as a disagreement.
"""

from __future__ import annotations

import ast
import csv
import itertools
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from pgxlit.check.genotype import INDETERMINATE, load_table


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def cpic(shared: Path) -> dict[str, object]:
    folder = shared / "vocab" / "cpic"
    methods = {r["symbol"]: r["lookupmethod"] for r in _rows(folder / "gene.csv")}
    results = {r["id"]: r for r in _rows(folder / "gene_result.csv")}
    lookups: dict[str, list[tuple[Counter[str], str]]] = defaultdict(list)
    for row in _rows(folder / "gene_result_lookup.csv"):
        result = results[row["phenotypeid"]]
        key = Counter({k.lower(): int(n) for k, n in ast.literal_eval(row["lookupkey"]).items()})
        lookups[result["genesymbol"]].append((key, result["result"]))
    alleles: dict[str, dict[str, str]] = defaultdict(dict)
    for row in _rows(folder / "allele.csv"):
        gene = row["genesymbol"]
        if methods.get(gene) == "ACTIVITY_SCORE":
            value = row["activityvalue"] if row["clinicalfunctionalstatus"] else ""
        else:
            value = row["clinicalfunctionalstatus"]
        if value and gene in lookups and methods.get(gene) != "ALLELE_STATUS":
            alleles[gene][row["name"]] = value
    return {"alleles": alleles, "lookups": lookups}


def expected(lookups: list[tuple[Counter[str], str]], values: list[str]) -> str:
    wanted = Counter(v.lower() for v in values)
    found = {result for key, result in lookups if key == wanted}
    assert len(found) <= 1, (values, found)
    return found.pop() if found else INDETERMINATE


def test_every_allele_pair_reads_as_cpics_lookup_gives(cpic: dict[str, object]) -> None:
    table = load_table()
    alleles, lookups = cpic["alleles"], cpic["lookups"]
    checked: Counter[str] = Counter()
    disagreements: list[str] = []
    for gene, values in sorted(alleles.items()):  # type: ignore[attr-defined]
        spec = table.genes[gene]
        combos: list[tuple[str, ...]] = []
        if spec["two_alleles"]:
            combos += list(itertools.combinations_with_replacement(sorted(values), 2))
        if spec["single_allele"]:
            combos += [(a,) for a in sorted(values)]
        for combo in combos:
            want = expected(lookups[gene], [values[a] for a in combo])  # type: ignore[index]
            got = table.read(gene, "/".join(combo)).phenotype
            checked[gene] += 1
            if got != want:
                disagreements.append(f"{gene} {'/'.join(combo)}: pgxlit {got!r}, CPIC {want!r}")
    print(f"\n{sum(checked.values())} allele combinations over {len(checked)} genes: {dict(checked)}; "
          f"{len(disagreements)} disagreements")
    assert not disagreements, disagreements[:20]
    assert len(checked) == 16  # every gene CPIC gives a function or activity lookup for (HLA: below)
    assert sum(checked.values()) > 90_000


def test_hla_statuses_read_as_cpics_results(cpic: dict[str, object]) -> None:
    table = load_table()
    for gene in ("HLA-A", "HLA-B"):
        for allele in table.genes[gene]["alleles"]:
            for word in ("positive", "negative"):
                reading = table.read(gene, f"{allele} {word}")
                assert reading.phenotype == f"{allele} {word}"
                assert expected(cpic["lookups"][gene], [f"{allele} {word}"]) == reading.phenotype  # type: ignore[index]
