"""`pgxlit eval check`: do alerts agree with the FDA label biomarker list? Misses and false alarms.

Development set, built from PharmGKB's FDA label annotations (drugLabels.tsv, 2016, DEV part):
for every drug with a stored label and every germline gene a patient profile can express
(the genes of the shipped PharmCAT table),

* a *risk case* per listed pair whose testing level is actionable ("Genetic testing required",
  "... recommended", "Actionable PGx"): a poor-metabolizer / poor-function / deficient /
  variant-homozygous / HLA-positive patient must get an alert of warning or critical severity;
* a *normal case* per listed pair: the normal phenotype must get no warning or critical alert;
* an *unlisted case* per gene the list does not name for the drug: the risk phenotype must get
  no warning or critical alert.

A miss is a risk case without such an alert; a false alarm is a normal or unlisted case with
one. The list predates the stored labels, so some "false alarms" are biomarkers newer labels
added; they are listed by name for review.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from pgxlit.check.engine import DrugRef, check
from pgxlit.check.genotype import GeneCall, GenotypeTable
from pgxlit.check.profile import Profile

ACTIONABLE_LEVELS = ("Genetic testing required", "Genetic testing recommended", "Actionable PGx")
_RISK_PHENOTYPES = ("Poor Metabolizer", "Ultrarapid Metabolizer", "Poor Function", "Deficient")
_NORMAL_PHENOTYPES = ("Normal Metabolizer", "Normal Function", "Normal")


def read_label_list(path: Path) -> list[tuple[str, str, str]]:
    """(drug, gene, testing level) for every FDA row of drugLabels.tsv."""
    from pgxlit.extract.label_eval import read_fda_label_rows

    return read_fda_label_rows(path)


def risk_calls(gene: str, table: GenotypeTable) -> list[GeneCall]:
    """The patient results that should trigger the labels' warnings for a gene."""
    spec = table.genes.get(gene)
    if spec is None:
        return []
    if spec["method"] == "hla":
        return [GeneCall(gene=gene, phenotype=f"{gene}*{a.lstrip('*')} positive", source="hla", entry="eval",
                         alleles=(f"{gene}*{a.lstrip('*')}",)) for a in spec["known_alleles"]]
    if spec["method"] == "single_variant":
        single = spec["single_variant"]
        return [table.genotype(single["rsid"], single["alts"][0] * 2, "eval")]
    return [GeneCall(gene=gene, phenotype=p, source="phenotype", entry="eval")
            for p in _RISK_PHENOTYPES if p in spec["phenotypes"]]


def normal_call(gene: str, table: GenotypeTable) -> GeneCall | None:
    spec = table.genes.get(gene)
    if spec is None:
        return None
    if spec["method"] == "hla":
        a = spec["known_alleles"][0].lstrip("*")
        return GeneCall(gene=gene, phenotype=f"{gene}*{a} negative", source="hla", entry="eval")
    if spec["method"] == "single_variant":
        return table.genotype(spec["single_variant"]["rsid"], spec["single_variant"]["ref"] * 2, "eval")
    for p in _NORMAL_PHENOTYPES:
        if p in spec["phenotypes"]:
            return GeneCall(gene=gene, phenotype=p, source="phenotype", entry="eval")
    return None


def _warns(drug: str, calls: list[GeneCall], knowledge: Any) -> list[dict[str, Any]]:
    alerts = []
    for call in calls:
        result = check(DrugRef(drug), Profile((call,)), knowledge)
        alerts += [a for a in result.alerts if a["severity"] in ("critical", "warning")]
    return alerts


def evaluate(rows: list[tuple[str, str, str]], drugs: set[str], knowledge: Any, table: GenotypeTable) -> dict[str, Any]:
    """Pure scoring of alerts against the list for the judged drugs."""
    listed: dict[str, dict[str, str]] = defaultdict(dict)
    for drug, gene, level in rows:
        if drug in drugs:
            listed[drug][gene] = level if level in ACTIONABLE_LEVELS else listed[drug].get(gene, level)
    expressible = sorted(g for g in table.genes if risk_calls(g, table))
    counts = {"risk_cases": 0, "hits": 0, "misses": 0, "normal_cases": 0, "normal_false_alarms": 0,
              "unlisted_cases": 0, "unlisted_false_alarms": 0, "pairs_not_expressible": 0}
    misses, normal_alarms, unlisted_alarms = [], [], []
    for drug in sorted(listed):
        for gene, level in sorted(listed[drug].items()):
            risks = risk_calls(gene, table)
            if not risks:
                counts["pairs_not_expressible"] += 1
                continue
            if level in ACTIONABLE_LEVELS:
                counts["risk_cases"] += 1
                if _warns(drug, risks, knowledge):
                    counts["hits"] += 1
                else:
                    counts["misses"] += 1
                    misses.append(f"{drug}–{gene} ({level})")
            normal = normal_call(gene, table)
            if normal is not None:
                counts["normal_cases"] += 1
                if _warns(drug, [normal], knowledge):
                    counts["normal_false_alarms"] += 1
                    normal_alarms.append(f"{drug}–{gene} {normal.phenotype}")
        for gene in expressible:
            if gene in listed[drug]:
                continue
            counts["unlisted_cases"] += 1
            alerts = _warns(drug, risk_calls(gene, table), knowledge)
            if alerts:
                counts["unlisted_false_alarms"] += 1
                unlisted_alarms.append(f"{drug}–{gene} ({alerts[0]['action']}, {alerts[0]['severity']})")
    risk = counts["risk_cases"]
    silent = counts["normal_cases"] + counts["unlisted_cases"]
    alarms = counts["normal_false_alarms"] + counts["unlisted_false_alarms"]
    return {
        "drugs_judged": len(listed), **counts,
        "recall": counts["hits"] / risk if risk else 0.0,
        "false_alarm_rate": alarms / silent if silent else 0.0,
        "precision": counts["hits"] / (counts["hits"] + counts["unlisted_false_alarms"])
        if counts["hits"] + counts["unlisted_false_alarms"] else 0.0,
        "missed_pairs": misses, "normal_false_alarm_pairs": normal_alarms, "unlisted_false_alarm_pairs": unlisted_alarms,
        "thresholds": {"label": knowledge.min_label, "pubmed": knowledge.min_pubmed},
    }


def stored_label_drugs(store: Any) -> set[str]:
    from pgxlit.extract.lexicons import normalise_drug

    drugs = set()
    for lv in store.label_versions():
        for name in lv.generic_names:
            found = normalise_drug(name)
            if found:
                drugs.add(found[1])
    return drugs


def evaluate_against_labels(service: Any, path: Path) -> dict[str, Any]:
    """Read the list and the store, then score (the I/O edge of `evaluate`)."""
    return evaluate(read_label_list(path), stored_label_drugs(service.store), service.knowledge, service.table)


def report_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"alerts vs PharmGKB FDA label list (DEV, 2016): {result['drugs_judged']} drugs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("risk_cases", "hits", "misses", "recall", "normal_cases", "normal_false_alarms", "unlisted_cases",
                "unlisted_false_alarms", "false_alarm_rate", "precision", "pairs_not_expressible"):
        value = result[key]
        table.add_row(key.replace("_", " "), f"{value:.3f}" if isinstance(value, float) else str(value))
    table.caption = ("missed: " + (", ".join(result["missed_pairs"]) or "none") + "\nfalse alarms (normal): "
                     + (", ".join(result["normal_false_alarm_pairs"]) or "none") + "\nfalse alarms (unlisted): "
                     + (", ".join(result["unlisted_false_alarm_pairs"]) or "none"))
    return table
