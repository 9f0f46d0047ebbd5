"""The check itself: ordered drug + patient calls + compiled knowledge -> cited alerts.

Pure and fast: a few dictionary lookups per gene. The JSON shape is the contract of
`pgxlit check --json` and what the CDS Hooks cards are built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pgxlit.check.knowledge import ACTIONS, Knowledge, item_rank, section_title
from pgxlit.check.genotype import INDETERMINATE, GeneCall
from pgxlit.check.profile import Profile

SUMMARY_MAX = 140
_ACTION_WORDS = {
    "avoid": "avoid", "alternative": "consider an alternative", "dose change": "adjust the dose",
    "monitor": "monitor", "no action": "no change needed",
}
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# Which function keys a phenotype stands for; "copies" narrows PM (two) from IM (one).
_FUNCTIONS_OF = {
    "Poor Metabolizer": {"No": 2, "Poor": 2, "Decreased": 2},
    "Likely Poor Metabolizer": {"No": 2, "Decreased": 2},
    "Intermediate Metabolizer": {"No": 1, "Decreased": 1},
    "Likely Intermediate Metabolizer": {"Decreased": 1},
    "Possible Intermediate Metabolizer": {"Decreased": 1},
    "Rapid Metabolizer": {"Increased": 1},
    "Ultrarapid Metabolizer": {"Increased": 2},
    "Poor Function": {"No": 2, "Poor": 2},
    "Decreased Function": {"No": 1, "Decreased": 1},
    "Possible Decreased Function": {"Decreased": 1},
    "Increased Function": {"Increased": 1},
    "Deficient": {"No": 2, "Poor": 2, "Decreased": 2},
    "Deficient with CNSHA": {"No": 2, "Poor": 2, "Decreased": 2},
}


@dataclass(frozen=True, slots=True)
class DrugRef:
    """The ordered drug as pgxlit knows it."""

    name: str  # canonical lower-case generic name
    pharmgkb_id: str | None = None
    given: str = ""


@dataclass
class CheckResult:
    drug: str
    alerts: list[dict[str, Any]]
    explanation: list[str]
    genes_considered: list[str]
    messages: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"drug": self.drug, "alerts": self.alerts, "explanation": self.explanation,
                "genes_considered": self.genes_considered, "messages": self.messages}


def _matches(call: GeneCall, key: str, item: dict[str, Any]) -> str | None:
    """How an item applies to a call ("exact diplotype", "phenotype", ...), None when it does not."""
    kind, _, value = key.partition(":")
    p = call.phenotype
    if kind == "hla":
        return "HLA allele" if call.source == "hla" and call.alleles and call.alleles[0] == value else None
    if kind == "phenotype":
        if value == p or p == f"Likely {value}" or p == f"Possible {value}":
            return "phenotype"
        return None
    if kind == "diplotype":
        if call.diplotype and "/".join(sorted(call.alleles)) == value:
            return "exact diplotype"
        if call.source == "phenotype" and item.get("implies") == p:
            return "phenotype of the diplotype"
        return None
    if kind == "allele":
        needed = item.get("copies", 1)
        return "carries the allele" if call.alleles.count(value) >= needed else None
    if kind == "variant":
        return "carries the variant" if call.source in ("rsid", "diplotype") and not call.reference_genotype else None
    if kind == "function":
        wanted = _FUNCTIONS_OF.get(p, {})
        if value not in wanted:
            return None
        copies = item.get("copies")
        if copies is not None and copies != wanted[value]:
            return None
        return f"{value.lower()}-function alleles"
    if kind == "gene":
        return "gene-level evidence"
    return None


_SPECIFICITY = {"exact diplotype": 4, "HLA allele": 4, "phenotype": 3, "carries the allele": 3, "carries the variant": 3,
                "phenotype of the diplotype": 2, "gene-level evidence": 0}


def _specificity(how: str) -> int:
    return _SPECIFICITY.get(how, 1)


def _summary(drug: str, gene: str, phenotype: str, action: str, where: str) -> str:
    text = f"{drug.capitalize()}: {_ACTION_WORDS[action]} — {phenotype if phenotype.startswith(gene) else f'{gene} {phenotype}'} ({where})"
    if len(text) > SUMMARY_MAX:
        text = text[: SUMMARY_MAX - 1].rstrip() + "…"
    return text


def _where(citation: dict[str, Any]) -> str:
    if citation["source"] == "fda_label":
        return f"FDA label, {section_title(citation.get('section'))}"
    return f"PubMed {citation.get('pmid')}"


def _cite_text(c: dict[str, Any]) -> str:
    if c["source"] == "fda_label":
        return f"FDA label set {c['set_id']} v{c['version']}, {section_title(c.get('section'))}"
    return f"PubMed {c['pmid']}" + (f" ({c['year']})" if c.get("year") else "")


def alert_for(drug: DrugRef, call: GeneCall, matched: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any] | None:
    """One alert for one gene from every item that applies; the strongest specific item leads."""
    if not matched:
        return None
    ranked = sorted(matched, key=lambda m: (m[2]["strength"], _specificity(m[1]), item_rank(m[2])), reverse=True)
    key, how, lead = ranked[0]
    citations: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    supporting: list[str] = []
    for _key, _how, item in ranked:
        for c in [item["citation"], *item.get("also", [])]:
            ident = (c["source"], c.get("set_id"), c.get("version"), c.get("section"), c.get("pmid"))
            if ident in seen:
                continue
            seen.add(ident)
            citations.append({**c, "sentence": item["sentence"]})  # "also" citations state the same sentence
        text = item["recommendation"]
        if item is not lead and len(supporting) < 3 and item["strength"] >= 0 and text != lead["recommendation"]:
            supporting.append(text if len(text) <= 220 else text[:219].rstrip() + "…")
    action, severity = lead["action"], lead["severity"]
    label_backed = any(c["source"] == "fda_label" for c in citations)
    if not label_backed:
        severity = "info"
    where = _where(lead["citation"])
    reviewed = "accepted" if any(m[2].get("review_status") == "accepted" for m in ranked) else lead["review_status"]
    detail_lines = [
        f"**Recommendation (from the evidence):** {lead['recommendation']}",
        f"**Patient:** {call.gene} {call.diplotype + ' → ' if call.diplotype and call.source != 'hla' else ''}{call.phenotype}"
        + (f" ({call.derivation})" if call.derivation and call.source != 'phenotype' else ""),
        f"**Why this applies:** {how}; {len(ranked)} evidence item{'s' if len(ranked) != 1 else ''}, "
        f"{'label-backed' if label_backed else 'literature only'}; confidence {lead['confidence']:.2f}, review status {reviewed}.",
    ]
    if supporting:
        detail_lines.append("**Also:** " + " ".join(f"“{s}”" for s in supporting))
    detail_lines.append("**Sources:** " + "; ".join(f"[{_cite_text(c)}]({c['url']})" for c in citations[:8]))
    return {
        "gene": call.gene,
        "phenotype": call.phenotype,
        "diplotype": call.diplotype,
        "action": action,
        "severity": severity,
        "summary": _summary(drug.name, call.gene, call.phenotype, action, where),
        "detail": "\n\n".join(detail_lines),
        "recommendation": lead["recommendation"],
        "citations": citations[:12],
        "confidence": lead["confidence"],
        "review_status": reviewed,
        "basis": how,
        "evidence_count": len(ranked),
    }


def check(drug: DrugRef, profile: Profile, knowledge: Knowledge) -> CheckResult:
    """Alerts for one ordered drug and one patient: a lookup per gene in the compiled knowledge."""
    by_gene = knowledge.drugs.get(drug.name.lower(), {})
    explanation: list[str] = []
    alerts: list[dict[str, Any]] = []
    considered = sorted(set(profile.genes) | set(by_gene))
    if not knowledge.drugs:
        explanation.append("the store holds no usable extracted triples: run `pgxlit load` and `pgxlit extract` first")
    elif not by_gene:
        explanation.append(f"no label or literature evidence in the store links {drug.name} to a pharmacogene "
                           f"(confidence ≥ {knowledge.min_label} for labels, ≥ {knowledge.min_pubmed} for abstracts, or accepted)")
    else:
        explanation.append(f"{drug.name}: evidence for {', '.join(sorted(by_gene))}")
    for call in profile.calls:
        keys = by_gene.get(call.gene, {})
        if not keys:
            explanation.append(f"{call.gene} {call.phenotype}: no evidence links {call.gene} to {drug.name}")
            continue
        if call.phenotype == INDETERMINATE:
            explanation.append(f"{call.gene} {call.diplotype or ''} is Indeterminate ({call.derivation}); no alert can be given")
            continue
        if call.is_normal:
            n = sum(len(v) for k, v in keys.items() if k != "gene")
            explanation.append(f"{call.gene} {call.phenotype}: standard use applies (normal result; "
                               f"{n} evidence item{'s' if n != 1 else ''} for other {call.gene} results)")
            continue
        matched = [(key, how, item) for key, items in keys.items() for item in items
                   if (how := _matches(call, key, item)) is not None]
        alert = alert_for(drug, call, matched)
        if alert is None:
            explanation.append(f"{call.gene} {call.phenotype}: the evidence for {drug.name} and {call.gene} "
                               f"does not mention this result")
            continue
        alerts.append(alert)
        explanation.append(f"{call.gene} {call.phenotype}: {alert['action']} ({alert['severity']}) from "
                           f"{alert['evidence_count']} evidence item(s), {alert['basis']}")
    for gene in sorted(set(by_gene) - set(profile.genes)):
        explanation.append(f"{gene}: relevant to {drug.name} but not in the profile")
    alerts.sort(key=lambda a: (_SEVERITY_ORDER[a["severity"]], ACTIONS.index(a["action"]), a["gene"]))
    return CheckResult(drug=drug.name, alerts=alerts, explanation=explanation, genes_considered=considered,
                       messages=list(profile.messages))
