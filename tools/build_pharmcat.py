"""Compile the genotype -> phenotype table the prescribing check ships (corpora/pharmcat).

    python tools/build_pharmcat.py --shared ../shared --out corpora/pharmcat

Inputs, under --shared (origin and licence in ../shared/vocab/README.md):
  vocab/pharmcat_allele_definitions/<GENE>_translation.json   named alleles and their
      variants (rsIDs, positions, reference/alternate bases) -- which allele names exist
  vocab/pharmcat_allele_definitions/phenotypes.tsv            per gene: named alleles,
      CPIC phenotype vocabulary and activity-score vocabulary, HLA alleles of interest
  vocab/pharmcat_allele_definitions/LICENSE.MPL-2.0.txt       copied beside the output

The shared folder carries PharmCAT's allele *definitions* but not its allele *function*
files (PharmCAT src/main/resources/org/pharmgkb/pharmcat/phenotype/cpic/<GENE>.json).
The function and activity values below are transcribed from those files (PharmCAT, MPL-2.0;
values are CPIC's allele functionality tables): complete for CYP2C19, CYP2C9 and CYP2D6,
the clinically common alleles for the other genes. An allele the definitions know but this
table does not is reported as "function unknown" and its diplotypes as Indeterminate --
never guessed. Phenotype rules are CPIC's (activity-score ranges, function pairs).

Output: pharmcat_phenotypes.json.gz (gzip without a timestamp, so a rebuild is
byte-identical), LICENSE.MPL-2.0.txt, and README.md with origin, licence and counts.
Drug knowledge is NOT here: alerts come from pgxlit's own extracted triples.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFS = "vocab/pharmcat_allele_definitions"
OUT_FILE = "pharmcat_phenotypes.json.gz"
PHARMCAT_FUNCTION_SOURCE = (
    "PharmGKB/PharmCAT src/main/resources/org/pharmgkb/pharmcat/phenotype/cpic/<GENE>.json "
    "(CYP2C19 @ 0c24c4f0707a925c216495a9bc6b500edd966a53, CYP2C9 @ 0c24c4f0707a925c216495a9bc6b500edd966a53, "
    "CYP2D6 @ 0c6123b692d07a362d34c7b61d6a9bab779f7ad6)"
)

NO, DECREASED, NORMAL, INCREASED, UNCERTAIN = (
    "No function", "Decreased function", "Normal function", "Increased function", "Uncertain function")

# ---- allele function (function-pair genes) -------------------------------------------------
_CYP2C19 = {
    NORMAL: "*1 *11 *13 *15 *18 *28 *38",
    NO: "*2 *3 *4 *5 *6 *7 *8 *22 *24 *35 *36 *37",
    DECREASED: "*9 *10 *16 *19 *25 *26",
    INCREASED: "*17",
    UNCERTAIN: "*12 *14 *23 *29 *30 *31 *32 *33 *34 *39",
}
# Clinically common alleles only (CPIC allele functionality tables).
_TPMT = {NORMAL: "*1", NO: "*2 *3A *3B *3C *4"}
_NUDT15 = {NORMAL: "*1", NO: "*2 *3"}
_CYP3A5 = {NORMAL: "*1", NO: "*3 *6 *7"}
_UGT1A1 = {NORMAL: "*1", DECREASED: "*6 *27 *28 *37"}
_SLCO1B1 = {NORMAL: "*1", NO: "*5 *15"}
_CYP2B6 = {NORMAL: "*1", INCREASED: "*4", DECREASED: "*6 *9", NO: "*18"}

FUNCTION_TABLES = {
    "CYP2C19": _CYP2C19, "TPMT": _TPMT, "NUDT15": _NUDT15, "CYP3A5": _CYP3A5,
    "UGT1A1": _UGT1A1, "SLCO1B1": _SLCO1B1, "CYP2B6": _CYP2B6,
}

# ---- activity values (activity-score genes); "n/a" alleles are left out (-> Indeterminate) ---
_CYP2D6_AV = """
*1 1.0|*1x2 2.0|*1x≥3 ≥3.0|*2 1.0|*2x2 2.0|*2x≥3 ≥3.0|*3 0.0|*3x2 0.0|*4 0.0|*4x2 0.0|*4x≥3 0.0|*5 0.0|
*6 0.0|*6x2 0.0|*7 0.0|*8 0.0|*9 0.25|*9x2 0.5|*10 0.25|*10x2 0.5|*11 0.0|*12 0.0|*13 0.0|*14 0.5|*15 0.0|
*17 0.5|*17x2 1.0|*18 0.0|*19 0.0|*20 0.0|*21 0.0|*27 1.0|*29 0.5|*29x2 1.0|*31 0.0|*32 0.25|*33 1.0|
*34 1.0|*35 1.0|*35x2 2.0|*36 0.0|*36x2 0.0|*38 0.0|*39 1.0|*40 0.0|*41 0.25|*41x2 0.5|*41x3 0.75|*42 0.0|
*44 0.0|*45 1.0|*45x2 2.0|*46 1.0|*47 0.0|*48 1.0|*49 0.5|*50 0.5|*51 0.0|*52 0.25|*53 1.0|*54 0.5|
*55 0.5|*56 0.0|*59 0.5|*60 0.0|*62 0.0|*68 0.0|*69 0.0|*81 0.0|*91 0.25|*92 0.0|*96 0.0|*99 0.0|
*100 0.0|*101 0.0|*109 0.25|*114 0.0|*119 0.25|*120 0.0|*124 0.0|*129 0.0|*132 0.25|*143 0.0|*144 0.0|
*156 0.0|*161 0.0
"""
_CYP2C9_AV = """
*1 1.0|*2 0.5|*3 0.0|*4 0.5|*5 0.5|*6 0.0|*8 0.5|*9 1.0|*11 0.5|*12 0.5|*13 0.0|*14 0.5|*15 0.0|*16 0.5|
*23 0.5|*24 0.0|*25 0.0|*26 0.5|*28 0.5|*29 0.5|*30 0.5|*31 0.5|*33 0.0|*35 0.0|*37 0.5|*38 0.5|*39 0.0|
*42 0.0|*43 0.0|*44 0.5|*45 0.0|*46 0.5|*50 0.5|*52 0.0|*55 0.5|*61 0.5
"""
# DPYD: CPIC activity values of the clinically common variants (names as in the definitions).
_DPYD_AV = """
Reference 1.0|c.1905+1G>A (*2A) 0.0|c.1679T>G (*13) 0.0|c.2846A>T 0.5|c.1129-5923C>G 0.5|
c.1129-5923C>G, c.1236G>A (HapB3) 0.5
"""
ACTIVITY_TABLES = {"CYP2D6": _CYP2D6_AV, "CYP2C9": _CYP2C9_AV, "DPYD": _DPYD_AV}

# CPIC activity-score -> phenotype: ordered (upper bound inclusive, phenotype); last bound is open.
ACTIVITY_RULES = {
    "CYP2D6": [[0.0, "Poor Metabolizer"], [1.0, "Intermediate Metabolizer"], [2.25, "Normal Metabolizer"],
               [None, "Ultrarapid Metabolizer"]],
    "CYP2C9": [[0.5, "Poor Metabolizer"], [1.5, "Intermediate Metabolizer"], [None, "Normal Metabolizer"]],
    "DPYD": [[0.5, "Poor Metabolizer"], [1.5, "Intermediate Metabolizer"], [None, "Normal Metabolizer"]],
}


def _pair(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


_METABOLIZER_PAIRS = {  # CPIC, e.g. CYP2C19 (2017 update) / CYP2B6 (2019)
    _pair(NORMAL, NORMAL): "Normal Metabolizer",
    _pair(NORMAL, INCREASED): "Rapid Metabolizer",
    _pair(INCREASED, INCREASED): "Ultrarapid Metabolizer",
    _pair(NORMAL, NO): "Intermediate Metabolizer",
    _pair(INCREASED, NO): "Intermediate Metabolizer",
    _pair(NORMAL, DECREASED): "Likely Intermediate Metabolizer",
    _pair(INCREASED, DECREASED): "Likely Intermediate Metabolizer",
    _pair(DECREASED, DECREASED): "Likely Intermediate Metabolizer",
    _pair(DECREASED, NO): "Likely Poor Metabolizer",
    _pair(NO, NO): "Poor Metabolizer",
}
PAIR_RULES = {
    "CYP2C19": _METABOLIZER_PAIRS,
    "CYP2B6": {
        _pair(NORMAL, NORMAL): "Normal Metabolizer", _pair(NORMAL, INCREASED): "Rapid Metabolizer",
        _pair(INCREASED, INCREASED): "Ultrarapid Metabolizer", _pair(NORMAL, DECREASED): "Intermediate Metabolizer",
        _pair(NORMAL, NO): "Intermediate Metabolizer", _pair(INCREASED, DECREASED): "Intermediate Metabolizer",
        _pair(INCREASED, NO): "Intermediate Metabolizer", _pair(DECREASED, DECREASED): "Poor Metabolizer",
        _pair(DECREASED, NO): "Poor Metabolizer", _pair(NO, NO): "Poor Metabolizer",
    },
    "TPMT": {_pair(NORMAL, NORMAL): "Normal Metabolizer", _pair(NORMAL, NO): "Intermediate Metabolizer",
             _pair(NO, NO): "Poor Metabolizer"},
    "NUDT15": {_pair(NORMAL, NORMAL): "Normal Metabolizer", _pair(NORMAL, NO): "Intermediate Metabolizer",
               _pair(NO, NO): "Poor Metabolizer"},
    "CYP3A5": {_pair(NORMAL, NORMAL): "Normal Metabolizer", _pair(NORMAL, NO): "Intermediate Metabolizer",
               _pair(NO, NO): "Poor Metabolizer"},
    "UGT1A1": {_pair(NORMAL, NORMAL): "Normal Metabolizer", _pair(NORMAL, DECREASED): "Intermediate Metabolizer",
               _pair(DECREASED, DECREASED): "Poor Metabolizer"},
    "SLCO1B1": {_pair(NORMAL, NORMAL): "Normal Function", _pair(NORMAL, NO): "Decreased Function",
                _pair(NO, NO): "Poor Function"},
}

_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _split(cell: str) -> list[str]:
    return [x.strip() for x in cell.split(";") if x.strip()]


def read_phenotypes_tsv(path: Path) -> dict[str, dict[str, list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {
        r["Gene"]: {
            "alleles": _split(r.get("Named Alleles") or ""),
            "phenotypes": _split(r.get("CPIC Phenotypes") or ""),
            "activity_scores": _split(r.get("CPIC Activity Scores") or ""),
        }
        for r in rows
    }


def _parse_activity(text: str) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for item in text.replace("\n", "").split("|"):
        item = item.strip()
        if not item:
            continue
        name, value = item.rsplit(" ", 1)
        out[name] = {"activity": float(value.lstrip("≥")), "at_least": value.startswith("≥")}
    return out


def _single_variant(gene: str, definition: dict, vocab: list[str]) -> dict[str, object] | None:
    """One-variant genes whose phenotypes are genotypes ("-1639 AG" for VKORC1 rs9923231)."""
    variants = definition.get("variants") or []
    if len(variants) != 1 or not vocab or not all(" " in p and len(p.split(" ")[1]) == 2 for p in vocab):
        return None
    v = variants[0]
    label = vocab[0].split(" ")[0]
    vocab_bases = {b for p in vocab for b in p.split(" ")[1]}
    bases = {v["ref"], *v["alts"]}
    reverse = vocab_bases != bases and vocab_bases == {b.translate(_COMPLEMENT) for b in bases}
    to_gene = (lambda b: b.translate(_COMPLEMENT)) if reverse else (lambda b: b)
    alt = v["alts"][0]
    return {
        "rsid": v["rsid"], "ref": v["ref"], "alts": v["alts"], "label": label, "reverse_strand": reverse,
        "aliases": [f"{label}{to_gene(v['ref'])}>{to_gene(alt)}"],
        "base_in_gene": {b: to_gene(b) for b in sorted(bases)},
    }


def build(shared: Path) -> dict[str, object]:
    folder = shared / DEFS
    vocab = read_phenotypes_tsv(folder / "phenotypes.tsv")
    genes: dict[str, dict[str, object]] = {}
    for gene, info in sorted(vocab.items()):
        definition_path = folder / f"{gene}_translation.json"
        definition = json.loads(definition_path.read_text(encoding="utf-8")) if definition_path.is_file() else {}
        defined = [a["name"] for a in definition.get("namedAlleles", [])]
        reference = next((a["name"] for a in definition.get("namedAlleles", []) if a.get("reference")), None)
        known = list(dict.fromkeys([*info["alleles"], *defined]))
        entry: dict[str, object] = {
            "known_alleles": known, "reference_allele": reference, "phenotypes": info["phenotypes"],
            "activity_scores": info["activity_scores"],
            "rsids": sorted({v["rsid"] for v in definition.get("variants", []) if v.get("rsid")}),
            "alleles": {},
        }
        if gene.startswith("HLA-"):
            entry["method"] = "hla"
        elif gene in ACTIVITY_TABLES:
            entry["method"] = "activity"
            entry["activity_rules"] = ACTIVITY_RULES[gene]
            entry["alleles"] = _parse_activity(ACTIVITY_TABLES[gene])
        elif gene in FUNCTION_TABLES:
            entry["method"] = "function"
            entry["pair_rules"] = PAIR_RULES[gene]
            entry["alleles"] = {a: {"function": f} for f, names in FUNCTION_TABLES[gene].items() for a in names.split()}
        else:
            single = _single_variant(gene, definition, info["phenotypes"])
            if single:
                entry["method"] = "single_variant"
                entry["single_variant"] = single
                entry["alleles"] = {a["name"]: {"base": a["cpicAlleles"][0]} for a in definition["namedAlleles"]}
            else:
                entry["method"] = "none"  # allele names known, no function data shipped: phenotype given directly
        # Alleles PharmCAT's function table knows but its definitions cannot call (structural ones).
        entry["known_alleles"] = list(dict.fromkeys([*known, *entry["alleles"]]))  # type: ignore[list-item]
        genes[gene] = entry
    sample = json.loads((folder / "CYP2C19_translation.json").read_text(encoding="utf-8"))
    return {
        "origin": {
            "definitions": f"PharmGKB/PharmCAT allele definitions, version {sample.get('version')} "
                           "(../shared/vocab/pharmcat_allele_definitions, commit 5431bf1187e50383df7e7db18ef67b36fc8b562e)",
            "functions": PHARMCAT_FUNCTION_SOURCE,
            "licence": "MPL-2.0",
        },
        "genes": genes,
    }


def write(table: dict[str, object], out: Path, shared: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(table, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    (out / OUT_FILE).write_bytes(buf.getvalue())
    shutil.copyfile(shared / DEFS / "LICENSE.MPL-2.0.txt", out / "LICENSE.MPL-2.0.txt")
    genes = table["genes"]  # type: ignore[index]
    rows = "\n".join(
        f"| {g} | {e['method']} | {len(e['known_alleles'])} | {len(e['alleles'])} | {len(e['phenotypes'])} |"
        for g, e in genes.items()
    )
    (out / "README.md").write_text(README.format(rows=rows, size=len(buf.getvalue())), encoding="utf-8")


README = """# PharmCAT genotype -> phenotype table (prescribing check)

`pharmcat_phenotypes.json.gz` ({size:,} bytes) is compiled by `tools/build_pharmcat.py --shared ../shared`
and read by `pgxlit.check.pharmcat` to turn a diplotype into a phenotype (CYP2D6, CYP2C9 and DPYD by
activity score; CYP2C19, CYP2B6, TPMT, NUDT15, CYP3A5, UGT1A1, SLCO1B1 by allele-function pairs;
VKORC1 rs9923231 as the -1639 genotype; HLA alleles as positive/negative).

## Origin
- Allele names, rsIDs and phenotype vocabulary: PharmCAT's allele definitions
  (`<GENE>_translation.json`) and `docs/phenotypes.tsv`, PharmGKB/PharmCAT commit
  `5431bf1187e50383df7e7db18ef67b36fc8b562e` (2025-11-19), as copied into
  `../shared/vocab/pharmcat_allele_definitions/`.
- Allele function and activity values: transcribed into `tools/build_pharmcat.py` from PharmCAT's
  `src/main/resources/org/pharmgkb/pharmcat/phenotype/cpic/<GENE>.json` (CPIC allele functionality
  tables) -- complete for CYP2C19, CYP2C9, CYP2D6; the clinically common alleles for DPYD, TPMT,
  NUDT15, CYP3A5, UGT1A1, SLCO1B1, CYP2B6. The shared folder holds the definitions, not these files.
  Alleles without a value give an Indeterminate phenotype with a message, never a guess.
- Phenotype rules: CPIC activity-score ranges and function-pair tables.

## Licence
PharmCAT is licensed under the Mozilla Public License 2.0 (`LICENSE.MPL-2.0.txt`, copied from the
shared folder). This file is a derived table of PharmCAT data; it holds no drug recommendations --
pgxlit's alerts come from its own extracted label and literature triples.

| gene | method | allele names | alleles with function/activity | phenotypes |
|---|---|---|---|---|
{rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "corpora" / "pharmcat")
    args = parser.parse_args()
    if not (args.shared / DEFS / "phenotypes.tsv").is_file():
        raise SystemExit(f"{args.shared / DEFS}: phenotypes.tsv not found (pass --shared)")
    table = build(args.shared)
    write(table, args.out, args.shared)
    print(f"wrote {args.out / OUT_FILE}: {len(table['genes'])} genes")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
