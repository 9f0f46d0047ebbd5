"""The check itself: ordered drug + patient calls + compiled knowledge -> cited alerts.

Pure and fast: a few dictionary lookups per gene. The JSON shape is the contract of
`pgxlit check --json` and what the CDS Hooks cards are built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pgxlit.check.genotype import INDETERMINATE, GeneCall
from pgxlit.check.knowledge import ACTIONS, Knowledge, item_rank
from pgxlit.sections import section_title
from pgxlit.check.profile import Profile
from pgxlit.knowledge.applies import applies, specificity

SUMMARY_MAX = 140
_ACTION_WORDS = {
    "avoid": "avoid", "alternative": "consider an alternative", "dose change": "adjust the dose",
    "monitor": "monitor", "no action": "no change needed",
}
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# Per gene, what the check found: an alert; the evidence covers the gene and states no change for
# this result; nothing stored links drug and gene (grey, never "safe"); a normal result; a result
# that could not be read; a gene the evidence names that the profile lacks.
OUTCOMES = ("alert", "no_interaction", "not_covered", "normal", "indeterminate", "not_in_profile")


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
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # one per gene: {gene, outcome, phenotype, ...}

    def to_json(self) -> dict[str, Any]:
        return {"drug": self.drug, "alerts": self.alerts, "explanation": self.explanation,
                "genes_considered": self.genes_considered, "messages": self.messages, "outcomes": self.outcomes}


def _matches(call: GeneCall, key: str, item: dict[str, Any]) -> str | None:
    """How an item's claim applies to a call ("exact diplotype", "phenotype", ...), None when it does not."""
    return applies(item["claim"], call)


def _specificity(how: str) -> int:
    return specificity(how)


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


def _sentence_key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def result_words(call: GeneCall) -> tuple[str, ...]:
    """How evidence may write a patient's result for one gene: the diplotype either way round
    ("*1/*3", "*3/*1"), the genotype's bases on each strand it is listed on ("AA"), the phenotype."""
    words: list[str] = []
    if call.diplotype and call.source != "hla" and not call.genotypes:
        first, _, second = call.diplotype.partition("/")
        words += [call.diplotype, f"{second}/{first}"] if second else [call.diplotype]
    words += [g.rsplit(" ", 1)[1] for g in call.genotypes]
    if call.phenotype and call.phenotype != INDETERMINATE and call.source != "hla":
        words.append(call.phenotype)
    return tuple(dict.fromkeys(w for w in words if w))


def names_result(text: str, call: GeneCall) -> bool:
    """Does a cited text state the patient's result for this gene: the gene, then within the same
    header or clause the result ("row VKORC1 AA", "column CYP2C9 *1/*3")?"""
    words = result_words(call)
    if not words:
        return False
    result = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.search(rf"(?<![\w-]){re.escape(call.gene)}(?![\w-])[^,;:\]\[]{{0,40}}?(?<![\w*/])(?:{result})(?![\w*/])",
                     text, re.I if not call.genotypes else 0) is not None


def _for_patient(item: dict[str, Any], others: tuple[GeneCall, ...]) -> dict[str, Any]:
    """The item with the citations that state the patient's other results first (a dose table's row
    for the patient's VKORC1 genotype when the alert is about CYP2C9); its recommendation is then
    that row. The knowledge layer's item is not changed."""
    cited = [item["citation"], *item.get("also", [])]
    order = sorted(range(len(cited)), key=lambda k: -sum(names_result(cited[k]["text"], o) for o in others))
    if not others or order[0] == 0:
        return item
    first = cited[order[0]]
    return {**item, "citation": first, "also": [cited[k] for k in order[1:]], "recommendation": first["text"]}


def alert_for(drug: DrugRef, call: GeneCall, matched: list[tuple[str, str, dict[str, Any]]],
              others: tuple[GeneCall, ...] = ()) -> dict[str, Any] | None:
    """One alert for one gene from every claim that applies; the strongest specific claim leads.

    Citations are one per sentence: a sentence stated in several label versions, generics or set
    ids is cited once, with the other places under `also_at`. The patient's results for other genes
    (`others`) bring forward the citations that state them: a two-gene dose table's matching row."""
    if not matched:
        return None
    matched = [(k, how, _for_patient(item, others)) for k, how, item in matched]
    ranked = sorted(matched, key=lambda m: (m[2]["strength"], _specificity(m[1]), item_rank(m[2])), reverse=True)
    key, how, lead = ranked[0]
    citations: list[dict[str, Any]] = []
    seen: set[str] = set()
    supporting: list[str] = []
    claims: dict[tuple, dict[str, Any]] = {}
    for _key, _how, item in ranked:
        for c in [item["citation"], *item.get("also", [])]:
            ident = _sentence_key(c["text"])
            if ident in seen:
                continue
            seen.add(ident)
            citations.append(c)
        claim = item["claim"]
        claims.setdefault(claim.key, claim.to_json(applies=True))
        text = item["recommendation"]
        if item is not lead and len(supporting) < 3 and item["strength"] >= 0 and text != lead["recommendation"] \
                and _sentence_key(text) not in {_sentence_key(s) for s in supporting}:
            supporting.append(text if len(text) <= 220 else text[:219].rstrip() + "…")
    action, severity = lead["action"], lead["severity"]
    label_backed = any(c["source"] == "fda_label" for c in citations)
    if not label_backed:
        severity = "info"
    where = _where(lead["citation"])
    reviewed = "accepted" if any(m[2].get("review_status") == "accepted" for m in ranked) else lead["review_status"]
    pmids = sorted({c["pmid"] for c in citations if c["source"] == "pubmed" and c.get("pmid")})
    detail_lines = [
        f"**Recommendation (from the evidence):** {lead['recommendation']}",
        f"**Patient:** {call.gene} {call.diplotype + ' → ' if call.diplotype and call.source != 'hla' else ''}{call.phenotype}"
        + (f" ({call.derivation})" if call.derivation and call.source != 'phenotype' else ""),
        f"**Why this applies:** {how}; {len(claims)} claim{'s' if len(claims) != 1 else ''}, "
        f"{'label-backed' if label_backed else f'literature only ({len(pmids)} abstract' + ('s' if len(pmids) != 1 else '') + ')'}"
        f"; confidence {lead['confidence']:.2f}, review status {reviewed}.",
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
        "evidence_count": len(citations),
        "status": "label" if label_backed else "literature_only",
        "claims": list(claims.values()),
    }


def _background(item: dict[str, Any]) -> bool:
    """A gene-level statement with nothing to do and nothing to fear (informative or "tests exist")."""
    claim = item["claim"]
    return claim.group == "gene" and claim.action in ("informative", "test") and claim.severity == "info"


def _outcome(call: GeneCall, outcome: str, **more: Any) -> dict[str, Any]:
    return {"gene": call.gene, "phenotype": call.phenotype, "diplotype": call.diplotype, "outcome": outcome, **more}


def check(drug: DrugRef, profile: Profile, knowledge: Knowledge) -> CheckResult:
    """Alerts for one ordered drug and one patient: a lookup per gene in the compiled claims.

    Each gene of the profile ends in one outcome: an alert; "no_interaction" (the evidence covers
    the gene and states nothing, or no change, for this result); "not_covered" (nothing stored links
    drug and gene: never to be read as safe); "normal"; "indeterminate". A gene only the literature
    links to the drug gives an informational alert citing its abstracts."""
    by_gene = knowledge.drugs.get(drug.name.lower(), {})
    explanation: list[str] = []
    alerts: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
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
        coverage = knowledge.coverage(drug.name, call.gene)
        if not keys:
            outcomes.append(_outcome(call, "not_covered", coverage=coverage))
            explanation.append(f"{call.gene} {call.phenotype}: not covered: nothing stored links {call.gene} to "
                               f"{drug.name} (this is no evidence of safety)")
            continue
        if call.phenotype == INDETERMINATE:
            outcomes.append(_outcome(call, "indeterminate", coverage=coverage))
            explanation.append(f"{call.gene} {call.diplotype or ''} is Indeterminate ({call.derivation}); no alert can be given")
            continue
        if call.is_normal:
            n = sum(len(v) for k, v in keys.items() if k != "gene")
            outcomes.append(_outcome(call, "normal", coverage=coverage))
            explanation.append(f"{call.gene} {call.phenotype}: standard use applies (normal result; "
                               f"{n} evidence item{'s' if n != 1 else ''} for other {call.gene} results)")
            continue
        applying = [(key, how, item) for key, items in keys.items() for item in items
                    if (how := _matches(call, key, item)) is not None]
        matched = [m for m in applying if not m[2]["weak"]]
        if not matched and coverage == "literature_only":
            matched = applying  # only abstracts link drug and gene: an informational alert, citing them
        elif coverage == "label" and all(_background(m[2]) for m in matched):
            # the label discusses the gene ("subject to variability based on CYP2D6 genotype") but states
            # nothing for this result: that is "no interaction stated", not an alert
            matched = []
        if matched and all(m[2]["action"] == "no action" for m in matched):
            said = matched[0][2]
            outcomes.append(_outcome(call, "no_interaction", coverage=coverage, claims=[
                m[2]["claim"].to_json(applies=True) for m in matched]))
            explanation.append(f"{call.gene} {call.phenotype}: no interaction stated for this result: "
                               f"“{said['recommendation']}” ({_where(said['citation'])})")
            continue
        others = tuple(c for c in profile.calls if c.gene != call.gene and c.phenotype != INDETERMINATE)
        alert = alert_for(drug, call, [m for m in matched if m[2]["action"] != "no action"], others)
        if alert is None:
            outcomes.append(_outcome(call, "no_interaction", coverage=coverage))
            explanation.append(f"{call.gene} {call.phenotype}: no interaction stated for this result: the evidence "
                               f"for {drug.name} and {call.gene} does not mention it")
            continue
        alerts.append(alert)
        outcomes.append(_outcome(call, "alert", coverage=coverage, action=alert["action"], severity=alert["severity"]))
        explanation.append(f"{call.gene} {call.phenotype}: {alert['action']} ({alert['severity']}) from "
                           f"{alert['evidence_count']} cited sentence(s), {alert['basis']}")
    for gene in sorted(set(by_gene) - set(profile.genes)):
        explanation.append(f"{gene}: relevant to {drug.name} but not in the profile")
    alerts.sort(key=lambda a: (_SEVERITY_ORDER[a["severity"]], ACTIONS.index(a["action"]), a["gene"]))
    return CheckResult(drug=drug.name, alerts=alerts, explanation=explanation, genes_considered=considered,
                       messages=list(profile.messages), outcomes=outcomes)
