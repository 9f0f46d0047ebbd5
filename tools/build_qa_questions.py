"""Write the natural-language QA question set `pgxlit eval qa` scores, from the shared gold only.

    python tools/build_qa_questions.py --shared ../shared --out qa/expected/questions.jsonl

Every question carries its expected answer and its origin (file and row key):
- test, issue, alternatives, format: PharmGKB's FDA label list (gold/pharmgkb_drug_labels/drugLabels.tsv):
  the genes the drug's label names (gene-list precision and recall);
- phenotype: "Can I give DRUG to a GENE PHENOTYPE patient?" for label pairs whose gene has a CPIC
  phenotype vocabulary (vocab/pharmcat_allele_definitions/phenotypes.tsv); expected action class:
  "act" (avoid, alternative, dose change, test, monitor) when PharmGKB's testing level is required,
  recommended or actionable, "informative" when it is informative;
- affected_drugs: the drugs of the label list per gene, and per HLA allele the drugs PharmGKB's
  relationships associate with it (gold/pharmgkb_relationships);
- class: ATC classes of PharmGKB chemicals (vocab/pharmgkb/2020/chemicals.tsv) with two or more
  label-list drugs sharing a gene; expected drugs: those members;
- misspelt: a label-list drug with one letter dropped (never itself a known name); expected: a
  refusal that suggests the drug;
- absent: invented names; expected: a refusal.
Which questions are in scope depends on the store (a drug needs its own label stored); the
evaluation decides that, not this list. Templates vary the wording deterministically; no rule in
pgxlit may be written against this file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

from pgxlit.extract.label_eval import read_fda_label_rows
from pgxlit.extract.lexicons import normalise_drug, normalise_gene

LABELS = "gold/pharmgkb_drug_labels/drugLabels.tsv"
RELATIONSHIPS = "gold/pharmgkb_relationships/relationships_associated.tsv"
PHENOTYPES = "vocab/pharmcat_allele_definitions/phenotypes.tsv"
CHEMICALS = "vocab/pharmgkb/2020/chemicals.tsv"
ACTIONABLE_LEVELS = ("Genetic testing required", "Genetic testing recommended", "Actionable PGx")
INVENTED = ("zorblatinib", "quentrazole", "fexumab", "travopiride", "malucetin", "dravoxetine", "pelmacorin")

ORIGINS = {
    "labels": f"{LABELS}: PharmGKB drug-label annotation list (2016-10), FDA rows, DEV part (CC BY-SA 4.0)",
    "relationships": f"{RELATIONSHIPS}: PharmGKB relationships (~2020), haplotype-chemical pairs, associated, DEV part",
    "classes+labels": f"{CHEMICALS}: PharmGKB chemicals (~2020) ATC chemical subgroups with synonyms, and the labels row",
    "invented": "names invented for this list; no drug is called so",
}
TEMPLATES = {
    "test": ("What genes should I test before prescribing {drug}?",
             "Which genes should be tested before starting {drug}?",
             "What pharmacogenetic tests do I need before giving {drug}?"),
    "issue": ("Is there a PGx issue with {drug}?", "Is there a pharmacogenomic issue with {drug}?",
              "Does {drug} have any pharmacogenomic considerations?"),
    "alternatives": ("What are the alternatives if a patient cannot take {drug}?",
                     "My patient cannot take {drug} because of their genotype; what are the alternatives?"),
    "phenotype": ("Can I give {drug} to a {group} patient?", "Can I prescribe {drug} for a {group}?",
                  "Is {drug} safe for a {group}?"),
    "affected_gene": ("Which drugs are affected by {gene} status?", "Which drugs does {gene} genotype affect?"),
    "affected_allele": ("Which drugs should be avoided in {allele} carriers?",
                        "Which drugs are affected in {allele} carriers?"),
    "class": ("Which {cls} are affected by {gene} status?",),
    "misspelt": ("Is there a PGx issue with {drug}?", "What genes should I test before prescribing {drug}?"),
    "absent": ("Is there a PGx issue with {drug}?", "Is {drug} safe for CYP2D6 poor metabolizers?"),
    "format": ("What genes should I test before prescribing {drug}? Reply with only the gene symbols separated by ;",
               "Which genes matter for {drug}? Answer with only the gene symbols, comma-separated."),
}


def pick(kind: str, key: str) -> str:
    """The template for one question, chosen by a hash of its key (deterministic, varied)."""
    options = TEMPLATES[kind]
    return options[int(hashlib.sha256(f"{kind}:{key}".encode()).hexdigest(), 16) % len(options)]


def phenotype_groups(path: Path) -> dict[str, str]:
    """Gene -> the group a question asks about: its poorest CPIC phenotype (poor metabolizer / function)."""
    groups: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            names = [p.strip() for p in (row.get("CPIC Phenotypes") or "").split(";") if p.strip()]
            for wanted in ("Poor Metabolizer", "Poor Function", "Deficient"):
                if wanted in names:
                    groups[row["Gene"]] = wanted.lower()
                    break
    return groups


def allele_drugs(path: Path) -> dict[str, set[str]]:
    """HLA allele (4 digits) -> drugs PharmGKB's relationships associate with it."""
    out: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["Entity1_type"] != "Haplotype" or row["Entity2_type"] != "Chemical":
                continue
            match = re.match(r"(HLA-[A-Z0-9]+\*\d{2}:\d{2})", row["Entity1_name"])
            if not match:
                continue
            for name in re.split(r" / |, ", row["Entity2_name"]):
                found = normalise_drug(name.strip())
                if found:
                    out[match.group(1)].add(found[1])
    return out


def drug_classes(path: Path, drugs: set[str]) -> dict[str, tuple[str, set[str]]]:
    """ATC class name -> (the shortest way a pharmacist names it, its label-list drugs)."""
    csv.field_size_limit(1 << 30)
    rows = list(csv.DictReader(path.open(encoding="utf-8"), delimiter="\t"))
    atc_of = {}
    for row in rows:
        if row["Type"].startswith(("Drug", "Prodrug")) and not row["Type"].startswith("Drug Class"):
            atc_of[row["Name"].lower()] = re.findall(r"[A-Z]\d{2}[A-Z]{2}\d{2}", row["ATC Identifiers"])
    out: dict[str, tuple[str, set[str]]] = {}
    for row in rows:
        if not row["Type"].startswith("Drug Class"):
            continue
        codes = re.findall(r"\b[A-Z]\d{2}[A-Z]{2}\b", row["ATC Identifiers"])  # chemical subgroups (SSRIs, statins)
        synonyms = [s for s in re.findall(r'"([^"]+)"|([^,"]+)', row["Generic Names"]) for s in s if s.strip()]
        if not codes or not synonyms:
            continue  # a class pharmacists name by a short word ("statins", "SSRIs", "PPIs")
        members = {d for d in drugs if any(a.startswith(c) for a in atc_of.get(d, ()) for c in codes)}
        if len(members) >= 2:
            term = max((s.strip() for s in synonyms), key=lambda s: (s.endswith("s"), -len(s)))
            out[row["Name"].lower()] = (term.lower() if not term.isupper() and not term[:-1].isupper() else term, members)
    return out


def typo(drug: str) -> str | None:
    """The drug with its middle letter dropped, unless that is itself a known name."""
    if len(drug) < 7 or not drug.isalpha():
        return None
    cut = len(drug) // 2 + 1
    wrong = drug[:cut] + drug[cut + 1:]
    return None if normalise_drug(wrong) else wrong


def build(shared: Path) -> list[dict]:
    rows = read_fda_label_rows(shared / LABELS)
    genes_of: dict[str, set[str]] = defaultdict(set)
    level_of: dict[tuple[str, str], str] = {}
    for drug, gene, level in rows:
        if normalise_gene(gene) is None or " " in drug:
            continue
        genes_of[drug].add(gene)
        level_of[(drug, gene)] = level
    drugs_of: dict[str, set[str]] = defaultdict(set)
    for drug, genes in genes_of.items():
        for gene in genes:
            drugs_of[gene].add(drug)
    origin = "labels"
    questions: list[dict] = []

    def add(kind: str, question: str, **expected: object) -> None:
        questions.append({"id": f"{kind}-{len(questions) + 1:04d}", "kind": kind, "question": question, **expected})

    groups = phenotype_groups(shared / PHENOTYPES)
    for drug in sorted(genes_of):
        genes = sorted(genes_of[drug])
        levels = {level_of[(drug, g)] for g in genes}
        add("test", pick("test", drug).format(drug=drug), drugs=[drug], genes=genes, origin=origin)
        add("issue", pick("issue", drug).format(drug=drug), drugs=[drug], genes=genes, origin=origin)
        if levels & set(ACTIONABLE_LEVELS):
            add("alternatives", pick("alternatives", drug).format(drug=drug), drugs=[drug], genes=genes, origin=origin)
        for gene in genes:
            if gene in groups:
                level = level_of[(drug, gene)]
                action = "act" if level in ACTIONABLE_LEVELS else "informative" if level == "Informative PGx" else None
                if action:
                    group = f"{gene} {groups[gene]}"
                    add("phenotype", pick("phenotype", drug + gene).format(drug=drug, group=group), drugs=[drug],
                        genes=[gene], group=group, action=action, testing_level=level, origin=origin)
        wrong = typo(drug)
        if wrong and int(hashlib.sha256(drug.encode()).hexdigest(), 16) % 3 == 0:
            add("misspelt", pick("misspelt", drug).format(drug=wrong), drugs=[], typo=wrong, suggestion=drug,
                refuse=True, origin=origin)
        if int(hashlib.sha256(drug.encode()).hexdigest(), 16) % 4 == 1:
            add("format", pick("format", drug).format(drug=drug), drugs=[drug], genes=genes, format="genes",
                origin=origin)
    for gene in sorted(drugs_of):
        if len(drugs_of[gene]) >= 2:
            add("affected_drugs", pick("affected_gene", gene).format(gene=gene), genes=[gene],
                expected_drugs=sorted(drugs_of[gene]), origin=origin)
    for allele, drugs in sorted(allele_drugs(shared / RELATIONSHIPS).items()):
        add("affected_drugs", pick("affected_allele", allele).format(allele=allele), genes=[allele.split("*")[0]],
            allele=allele, expected_drugs=sorted(drugs),
            origin="relationships")
    for name, (term, members) in sorted(drug_classes(shared / CHEMICALS, set(genes_of)).items()):
        shared_genes: dict[str, set[str]] = defaultdict(set)
        for drug in members:
            for gene in genes_of[drug]:
                shared_genes[gene].add(drug)
        for gene, drugs in sorted(shared_genes.items()):
            if len(drugs) >= 2:
                add("class", pick("class", name + gene).format(cls=term, gene=gene), drug_class=name, genes=[gene],
                    expected_drugs=sorted(drugs), origin="classes+labels")
    for name in INVENTED:
        add("absent", pick("absent", name).format(drug=name), drugs=[name], refuse=True, origin="invented name")
    return questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "qa" / "expected" / "questions.jsonl")
    args = parser.parse_args()
    questions = build(args.shared)
    header = {"_origin": ORIGINS, "built_by": "python tools/build_qa_questions.py --shared ../shared"}
    args.out.write_text("".join(json.dumps(q, sort_keys=True) + "\n" for q in [header, *questions]), encoding="utf-8")
    counts: dict[str, int] = defaultdict(int)
    for q in questions:
        counts[q["kind"]] += 1
    print(f"{args.out}: {len(questions)} questions " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
