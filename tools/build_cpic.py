"""Compile the genotype -> phenotype tables the prescribing check ships (corpora/cpic).

    python tools/build_cpic.py --shared ../shared --out corpora/cpic

Every allele function, activity value and phenotype comes from CPIC's own tables; nothing is
typed in here. Inputs, under --shared (origin and licence in ../shared/vocab/README.md):
  vocab/cpic/gene.csv                  how each gene's diplotype becomes a result (lookupmethod)
  vocab/cpic/allele.csv                each allele's clinical function and activity value
  vocab/cpic/gene_result_lookup.csv    function (or activity value) counts -> phenotype id
  vocab/cpic/gene_result.csv           phenotype id -> CPIC's result and activity score
  vocab/pharmcat_allele_definitions/   allele names PharmCAT defines (so a defined allele without
      a CPIC function is "known, no function" -> Indeterminate, not "unknown"), rsIDs, the
      reference allele, the phenotype vocabulary of genes CPIC gives no lookup for (NAT2, CYP3A4),
      and VKORC1's one variant (its -1639 genotype)

Output: genotype_tables.json.gz (gzip without a timestamp and JSON with sorted keys, so a
rebuild is byte-identical), README.md with origin, version, licence, attribution and counts,
and PharmCAT's LICENSE.MPL-2.0.txt for the parts taken from its definitions.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import io
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from pgxlit.check.genotype import lookup_key

REPO = Path(__file__).resolve().parents[1]
CPIC = "vocab/cpic"
DEFS = "vocab/pharmcat_allele_definitions"
OUT_FILE = "genotype_tables.json.gz"
ATTRIBUTION = ("Data from the Clinical Pharmacogenetics Implementation Consortium (cpicpgx.org); CPIC content is "
               "updated over time, check cpicpgx.org for the current version.")
CPIC_ORIGIN = ("CPIC database tables (cpicpgx.org, exported about January 2025), copied byte-for-byte from "
               "28530367/PGx4Statins-AI-Assistant data/cpic_data/tables/ @ f0ea898a9f43d42f953f28ea279fa44e34906938")
PHARMCAT_ORIGIN = "PharmGKB/PharmCAT allele definitions @ 5431bf1187e50383df7e7db18ef67b36fc8b562e (2025-11-19)"
_METHOD = {"ACTIVITY_SCORE": "activity", "PHENOTYPE": "function", "ALLELE_STATUS": "hla"}
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _value(text: str) -> str | None:
    text = (text or "").strip()
    return text or None


def read_cpic(folder: Path) -> dict[str, dict[str, Any]]:
    """gene -> {cpic_method, alleles, lookup, results, version} from CPIC's CSV tables."""
    methods = {r["symbol"]: r["lookupmethod"] for r in _rows(folder / "gene.csv")}
    genes: dict[str, dict[str, Any]] = defaultdict(lambda: {"alleles": {}, "lookup": {}, "results": [], "version": 0})
    for row in _rows(folder / "allele.csv"):
        gene = genes[row["genesymbol"]]
        gene["alleles"][row["name"]] = {
            "function": _value(row["clinicalfunctionalstatus"]),
            "activity_value": _value(row["activityvalue"]),
            "row": f"allele.csv id {row['id']} (version {row['version']})",
        }
        gene["version"] = max(gene["version"], int(row["version"]))
    results = {r["id"]: r for r in _rows(folder / "gene_result.csv")}
    for r in sorted(results.values(), key=lambda r: int(r["id"])):
        if r["result"] not in genes[r["genesymbol"]]["results"]:
            genes[r["genesymbol"]]["results"].append(r["result"])
    for row in sorted(_rows(folder / "gene_result_lookup.csv"), key=lambda r: int(r["id"])):
        result = results[row["phenotypeid"]]
        counts = ast.literal_eval(row["lookupkey"])
        key = lookup_key([value for value, n in counts.items() for _ in range(int(n))])
        score = result["activityscore"] if result["activityscore"] not in ("", "n/a") else None
        entry = {"phenotype": result["result"], "activity_score": score,
                 "row": f"gene_result_lookup.csv id {row['id']} -> gene_result.csv id {result['id']}",
                 "description": row["description"]}
        table = genes[result["genesymbol"]]["lookup"]
        old = table.get(key)
        if old and (old["phenotype"], old["activity_score"]) != (entry["phenotype"], entry["activity_score"]):
            raise SystemExit(f"CPIC lookup disagrees with itself for {result['genesymbol']} {key}: {old} vs {entry}")
        table.setdefault(key, entry)
    for name, gene in genes.items():
        gene["cpic_method"] = methods.get(name)
    return dict(genes)


def read_phenotypes_tsv(path: Path) -> dict[str, dict[str, list[str]]]:
    def split(cell: str | None) -> list[str]:
        return [x.strip() for x in (cell or "").split(";") if x.strip()]

    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {r["Gene"]: {"alleles": split(r.get("Named Alleles")), "phenotypes": split(r.get("CPIC Phenotypes"))}
            for r in rows}


def single_variant(definition: dict[str, Any], vocab: list[str]) -> dict[str, Any] | None:
    """A one-variant gene whose CPIC phenotypes are genotypes ("-1639 AG" for VKORC1 rs9923231)."""
    variants = definition.get("variants") or []
    if len(variants) != 1 or not vocab or not all(" " in p and len(p.split(" ")[1]) == 2 for p in vocab):
        return None
    v = variants[0]
    label = vocab[0].split(" ")[0]
    vocab_bases = {b for p in vocab for b in p.split(" ")[1]}
    alts = list(v.get("alts") or [a["cpicAlleles"][0] for a in definition["namedAlleles"] if not a.get("reference")])
    ref = v.get("ref") or next(a["cpicAlleles"][0] for a in definition["namedAlleles"] if a.get("reference"))
    bases = {ref, *alts}
    reverse = vocab_bases != bases and vocab_bases == {b.translate(_COMPLEMENT) for b in bases}

    def to_gene(b: str) -> str:
        return b.translate(_COMPLEMENT) if reverse else b

    return {"rsid": v["rsid"], "ref": ref, "alts": alts, "label": label, "reverse_strand": reverse,
            "aliases": [f"{label}{to_gene(ref)}>{to_gene(alts[0])}"], "base_in_gene": {b: to_gene(b) for b in sorted(bases)}}


def build(shared: Path) -> dict[str, Any]:
    cpic = read_cpic(shared / CPIC)
    defs_folder = shared / DEFS
    vocab = read_phenotypes_tsv(defs_folder / "phenotypes.tsv")
    genes: dict[str, dict[str, Any]] = {}
    for gene in sorted(set(cpic) | set(vocab)):
        c = cpic.get(gene, {"alleles": {}, "lookup": {}, "results": [], "cpic_method": None, "version": None})
        path = defs_folder / f"{gene}_translation.json"
        definition = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        defined = [a["name"] for a in definition.get("namedAlleles", [])]
        reference = next((a["name"] for a in definition.get("namedAlleles", []) if a.get("reference")), None)
        info = vocab.get(gene, {"alleles": [], "phenotypes": []})
        phenotypes = list(dict.fromkeys([*c["results"], *info["phenotypes"]]))
        entry: dict[str, Any] = {
            "cpic_method": c["cpic_method"],
            "cpic_version": c["version"],
            "alleles": c["alleles"],
            "lookup": c["lookup"],
            "results": c["results"],
            "phenotypes": phenotypes,
            "known_alleles": list(dict.fromkeys([*c["alleles"], *info["alleles"], *defined])),
            "reference_allele": reference,
            "rsids": sorted({v["rsid"] for v in definition.get("variants", []) if v.get("rsid")}),
            # a lookup row for one allele: hemizygous (G6PD in males) or mitochondrial (MT-RNR1) results
            "single_allele": any(" + " not in k for k in c["lookup"]) and c["cpic_method"] != "ALLELE_STATUS",
            "two_alleles": any(" + " in k for k in c["lookup"]),
        }
        single = single_variant(definition, info["phenotypes"]) if not c["lookup"] else None
        if single:
            entry["method"] = "single_variant"
            entry["single_variant"] = single
            entry["variant_bases"] = {a["name"]: a["cpicAlleles"][0] for a in definition["namedAlleles"]}
        elif c["lookup"] and c["cpic_method"] in _METHOD:
            entry["method"] = _METHOD[c["cpic_method"]]
        else:
            entry["method"] = "none"  # CPIC gives no lookup: the phenotype is taken as reported
        genes[gene] = entry
    return {
        "origin": {"cpic": CPIC_ORIGIN, "pharmcat": PHARMCAT_ORIGIN, "attribution": ATTRIBUTION,
                   "licence": "CPIC tables CC0 1.0; PharmCAT allele definitions MPL-2.0"},
        "genes": genes,
    }


def write(table: dict[str, Any], out: Path, shared: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(table, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    (out / OUT_FILE).write_bytes(buf.getvalue())
    shutil.copyfile(shared / DEFS / "LICENSE.MPL-2.0.txt", out / "LICENSE.MPL-2.0.txt")
    rows = "\n".join(
        f"| {g} | {e['cpic_method'] or '-'} | {e['method']} | {len(e['alleles'])} | "
        f"{sum(1 for a in e['alleles'].values() if a['function'] or a['activity_value'])} | {len(e['lookup'])} |"
        for g, e in table["genes"].items()
    )
    (out / "README.md").write_text(README.format(rows=rows, size=len(buf.getvalue()), out_file=OUT_FILE,
                                                 cpic=CPIC_ORIGIN, pharmcat=PHARMCAT_ORIGIN, attribution=ATTRIBUTION),
                                   encoding="utf-8")
    return len(buf.getvalue())


README = """# Genotype -> phenotype tables (prescribing check, `pgxlit genotype`)

`{out_file}` ({size:,} bytes) is compiled by `python tools/build_cpic.py --shared ../shared`
(byte-identical on rebuild) and read by `pgxlit.check.genotype` to turn a laboratory's diplotype into
CPIC's phenotype: by activity score (CYP2D6, CYP2C9, DPYD), by the pair of allele functions
(CYP2C19, CYP2B6, TPMT, NUDT15, CYP3A5, UGT1A1, SLCO1B1, ABCG2, G6PD, RYR1, CACNA1S, CFTR, MT-RNR1)
or by allele status (HLA-A, HLA-B). Nothing in it was typed by hand.

## Origin and version
- Allele functions and activity values (`allele.csv`), each gene's lookup method (`gene.csv`) and the
  function/activity -> phenotype lookup (`gene_result_lookup.csv`, `gene_result.csv`): {cpic};
  as copied into `../shared/vocab/cpic/`. The per-gene CPIC table version is kept as `cpic_version`.
- Allele names PharmCAT defines (so an allele without a CPIC function is reported by name, as
  Indeterminate), rsIDs, reference alleles, the phenotype vocabulary of genes CPIC gives no lookup for
  (NAT2, CYP3A4: phenotype only), and VKORC1 rs9923231 as the -1639 genotype: {pharmcat}, as copied
  into `../shared/vocab/pharmcat_allele_definitions/`.

## Licence and attribution
CPIC publishes its curated content under CC0 1.0. {attribution}
PharmCAT's definitions are under the Mozilla Public License 2.0 (`LICENSE.MPL-2.0.txt`, copied here).
These tables hold no drug recommendations: pgxlit's alerts come from its own extracted triples.

| gene | CPIC lookup method | how pgxlit reads it | CPIC alleles | with a function or activity value | lookup rows |
|---|---|---|---|---|---|
{rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "corpora" / "cpic")
    args = parser.parse_args()
    for needed in (args.shared / CPIC / "allele.csv", args.shared / DEFS / "phenotypes.tsv"):
        if not needed.is_file():
            raise SystemExit(f"{needed}: not found (pass --shared, the folder holding vocab/)")
    table = build(args.shared)
    size = write(table, args.out, args.shared)
    print(f"wrote {args.out / OUT_FILE} ({size:,} bytes): {len(table['genes'])} genes")


if __name__ == "__main__":
    main()
