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

Drug summaries (`evaluate_summaries`): for every drug with a stored label, the genes its summary
lists (`pgxlit drug`, /drug/{name}: every gene with a claim, label or literature) against the
list's genes for the drug, per drug–gene pair; and the testing level the summary shows for a
listed gene against the list's "Testing Level" column (exact match, with a confusion table).
The genes and levels come from `knowledge.summary`, the functions the summary itself is built
with, so what is measured is what a reader sees. Stored-label drugs the list does not name count
their genes as extra (false) in the raw figures; the lenient figures beside them are labelled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pgxlit.check.engine import DrugRef, check
from pgxlit.check.genotype import GeneCall, GenotypeTable
from pgxlit.check.profile import Profile
from pgxlit.knowledge.model import TESTING_LEVELS
from pgxlit.knowledge.summary import GeneLine, drug_gene_lines, shown_genes, summary_knowledge

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
    """Read the list and the store, then score alerts and drug summaries (the I/O edge of `evaluate`)."""
    rows = read_label_list(path)
    result = evaluate(rows, stored_label_drugs(service.store), service.knowledge, service.table)
    result["drug_summaries"] = evaluate_summaries(rows, summary_gene_lines(service.store, service.settings))
    return result


# ---- drug summaries against the list --------------------------------------------------------------
# The list's "Testing Level" words -> the summary's testing levels (knowledge.model.TESTING_LEVELS).
LIST_LEVELS = {"Genetic testing required": "required", "Genetic testing recommended": "recommended",
               "Actionable PGx": "actionable", "Informative PGx": "informative"}
NOT_STATED = "no level"  # the summary lists the gene but shows no testing level (literature only)
NOT_SHOWN = "not shown"  # the summary does not list the gene
PREDICTED = (*TESTING_LEVELS, NOT_STATED, NOT_SHOWN)


def listed_levels(rows: Sequence[tuple[str, str, str]]) -> dict[str, dict[str, str | None]]:
    """drug -> gene -> the strongest testing level the list gives the pair (None when it gives none)."""
    out: dict[str, dict[str, str | None]] = defaultdict(dict)
    for drug, gene, level in rows:
        mapped, known = LIST_LEVELS.get(level), out[drug].get(gene)
        stronger = mapped is not None and (known is None or TESTING_LEVELS.index(mapped) < TESTING_LEVELS.index(known))
        if gene not in out[drug] or stronger:
            out[drug][gene] = mapped if stronger else known
    return dict(out)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def evaluate_summaries(rows: Sequence[tuple[str, str, str]], summaries: Mapping[str, Sequence[GeneLine]]) -> dict[str, Any]:
    """Pure scoring of drug summaries (drug -> its gene lines, every stored-label drug) against the list.

    Raw: every gene the summary lists; a gene the list does not name for the drug is false, on a
    drug the list does not name at all it is extra (and false too). Testing levels: every listed
    pair with a level; a gene not shown, or shown without a level, disagrees.
    """
    listed = listed_levels(rows)
    covered = sorted(d for d in summaries if d in listed)
    uncovered = sorted(d for d in summaries if d not in listed)
    tp = fp_covered = fn = tp_label = fp_label = fn_label = 0
    extra_label = 0
    misses, false_genes, extra_genes, level_mismatches = [], [], [], []
    confusion = {gold: dict.fromkeys(PREDICTED, 0) for gold in TESTING_LEVELS}
    per_drug: dict[str, Any] = {}
    pairs_without_level = 0
    for drug in covered:
        shown = shown_genes(summaries[drug])
        gold = listed[drug]
        label_shown = {g for g, line in shown.items() if line.status == "label"}
        for gene, level in sorted(gold.items()):
            if gene in shown:
                tp += 1
            else:
                fn += 1
                misses.append(f"{drug}–{gene} ({level or 'no level'})")
            tp_label += gene in label_shown
            fn_label += gene not in label_shown
            if level is None:
                pairs_without_level += 1
                continue
            line = shown.get(gene)
            predicted = NOT_SHOWN if line is None else (line.shown_testing_level or NOT_STATED)
            confusion[level][predicted] += 1
            if predicted != level and line is not None:
                level_mismatches.append(f"{drug}–{gene}: list {level}, summary {predicted}")
        for gene, line in sorted(shown.items()):
            if gene not in gold:
                fp_covered += 1
                fp_label += line.status == "label"
                false_genes.append(f"{drug}–{gene} ({line.status.replace('_', ' ')}, {line.severity})")
        per_drug[drug] = {"listed": gold, "shown": {g: line.shown_testing_level for g, line in shown.items()}}
    for drug in uncovered:
        shown = shown_genes(summaries[drug])
        extra_label += sum(line.status == "label" for line in shown.values())
        extra_genes += [f"{drug}–{g} ({line.status.replace('_', ' ')}, {line.severity})" for g, line in sorted(shown.items())]
        per_drug[drug] = {"listed": None, "shown": {g: line.shown_testing_level for g, line in shown.items()}}
    judged = sum(sum(row.values()) for row in confusion.values())
    exact = sum(confusion[level][level] for level in TESTING_LEVELS)
    with_level = sum(confusion[gold][p] for gold in TESTING_LEVELS for p in TESTING_LEVELS)
    return {
        "drugs": len(summaries), "drugs_covered": len(covered), "drugs_not_on_list": len(uncovered),
        "genes": _prf(tp, fp_covered + len(extra_genes), fn),
        "lenient": {
            "covered_drugs_only": _prf(tp, fp_covered, fn),
            "label_linked_genes_only": _prf(tp_label, fp_label + extra_label, fn_label),
        },
        "extra_genes_on_drugs_not_on_list": len(extra_genes),
        "testing_level": {
            "pairs": judged, "exact": exact, "agreement": exact / judged if judged else 0.0,
            "pairs_with_a_level_shown": with_level,
            "agreement_where_a_level_is_shown": exact / with_level if with_level else 0.0,
            "listed_pairs_without_level": pairs_without_level,
            "confusion": confusion,
        },
        "missed_pairs": misses, "false_genes": false_genes, "extra_genes": extra_genes,
        "level_mismatches": level_mismatches, "per_drug": per_drug,
    }


def summary_gene_lines(store: Any, settings: Any) -> dict[str, tuple[GeneLine, ...]]:
    """Every stored-label drug's summary gene lines, read as `pgxlit drug` reads them (I/O edge)."""
    from pgxlit.qa.drugs import DrugCatalogue

    kb = summary_knowledge(store, settings)
    return {drug: drug_gene_lines(kb, drug) for drug in sorted(DrugCatalogue.from_store(store).labels)}


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


_HEADER = {"recommended": "recom-\nmended", "actionable": "action-\nable", "informative": "infor-\nmative",
           NOT_STATED: "no\nlevel", NOT_SHOWN: "not\nshown"}


def summary_table(result: dict[str, Any]) -> Any:
    """The drug-summary section: genes (raw headline, lenient beside), testing levels, confusion."""
    from rich import box
    from rich.console import Group
    from rich.table import Table

    table = Table(title=f"drug summaries vs PharmGKB FDA label list (DEV, 2016): {result['drugs']} stored-label drugs, "
                        f"{result['drugs_covered']} on the list")
    table.add_column("genes per drug–gene pair")
    for name in ("tp", "fp", "fn", "precision", "recall", "f1"):
        table.add_column(name, justify="right")
    shown = [("raw (every gene shown; drugs not on the list count as extra)", result["genes"]),
             ("lenient: drugs on the list only", result["lenient"]["covered_drugs_only"]),
             ("lenient: label-linked genes only", result["lenient"]["label_linked_genes_only"])]
    for name, prf in shown:
        table.add_row(name, *(f"{prf[k]:.3f}" if isinstance(prf[k], float) else str(prf[k])
                              for k in ("tp", "fp", "fn", "precision", "recall", "f1")))
    levels = result["testing_level"]
    confusion = Table(title=f"testing level, list (rows) vs summary (columns): exact {levels['exact']}/{levels['pairs']} = "
                            f"{levels['agreement']:.3f} raw; {levels['agreement_where_a_level_is_shown']:.3f} where the "
                            f"summary shows a level (lenient); {levels['listed_pairs_without_level']} listed pairs have "
                            "no level")
    confusion.box, confusion.pad_edge = box.SIMPLE_HEAD, False
    confusion.add_column("list", no_wrap=True, min_width=11)
    for p in PREDICTED:  # headers broken over two lines so the table fits 80 columns
        confusion.add_column(_HEADER.get(p, p), justify="right", no_wrap=True)
    for gold, row in levels["confusion"].items():
        confusion.add_row(gold, *(str(row[p]) for p in PREDICTED))
    confusion.caption = ("missed: " + (", ".join(result["missed_pairs"]) or "none")
                         + "\nfalse genes: " + (", ".join(result["false_genes"]) or "none")
                         + f"\nextra genes ({len(result['extra_genes'])}, drugs not on the list): "
                         + (", ".join(result["extra_genes"]) or "none")
                         + "\nlevel mismatches: " + (", ".join(result["level_mismatches"]) or "none"))
    return Group(table, confusion)
