"""Compile the drug-class vocabulary `pgxlit ask` resolves "SSRIs", "statins", "opioids" with.

    python tools/build_drug_classes.py --shared ../shared --out qa/drug_classes.tsv.gz

Input: vocab/pharmgkb/2020/chemicals.tsv (PharmGKB chemicals ~2020, CC BY-SA 4.0; origin in
../shared/vocab/README.md). PharmGKB's "Drug Class" rows are ATC groups with a name and
synonyms ("Selective serotonin reuptake inhibitors", synonyms SSRI, SSRIs; ATC N06AB); its
"Drug" rows carry their ATC codes (citalopram N06AB04). A drug is a member of a class when one
of its ATC codes starts with one of the class's codes. The store decides which members exist:
this table only says which names belong together.

Output: gzipped TSV `kind, pharmgkb_id, name, terms, atc` (no timestamp, so a rebuild is
byte-identical): kind `class` (terms = the class name and its synonyms, `|`-joined) or `drug`
(terms = its name).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
from pathlib import Path

CHEMICALS = "vocab/pharmgkb/2020/chemicals.tsv"
COLUMNS = ("kind", "pharmgkb_id", "name", "terms", "atc")
ATC = re.compile(r"^[A-Z]\d{2}(?:[A-Z](?:[A-Z](?:\d{2})?)?)?$")


def split_multi(cell: str) -> list[str]:
    """PharmGKB multi-valued cells: comma-separated, items after the first in double quotes."""
    items = re.findall(r'"([^"]*)"|([^,]+)', cell or "")
    return [" ".join((a or b).split()) for a, b in items if (a or b).strip()]


def rows_of(chemicals: Path) -> list[tuple[str, str, str, str, str]]:
    csv.field_size_limit(1 << 30)
    out: list[tuple[str, str, str, str, str]] = []
    with chemicals.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            kind = {"Drug Class": "class", "Drug": "drug", "Prodrug": "drug"}.get(row["Type"].split(",")[0].strip())
            atc = sorted({code for code in split_multi(row["ATC Identifiers"]) if ATC.match(code)})
            if kind is None or not atc:
                continue
            name = row["Name"].strip()
            # A drug is found by its PharmGKB id (the lexicons already name it); a class also by
            # its synonyms ("statins" for "hmg coa reductase inhibitors").
            terms = [name, *split_multi(row["Generic Names"])] if kind == "class" else [name]
            kept = sorted({t.lower() for t in terms if 3 <= len(t) <= 60 and "|" not in t and "\t" not in t})
            out.append((kind, row["PharmGKB Accession Id"], name.lower(), "|".join(kept), "|".join(atc)))
    out.sort(key=lambda r: (r[0], r[2], r[1]))
    return out


def write(rows: list[tuple[str, str, str, str, str]], out: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue().encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "qa" / "drug_classes.tsv.gz")
    args = parser.parse_args()
    rows = rows_of(args.shared / CHEMICALS)
    write(rows, args.out)
    classes = sum(r[0] == "class" for r in rows)
    print(f"{args.out}: {classes} classes, {len(rows) - classes} drugs with ATC codes")


if __name__ == "__main__":
    main()
