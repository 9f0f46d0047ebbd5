"""Which retrieved sentences an answer may rest on for the question asked, and the claims read off them.

Pure functions over candidates (qa.evidence picks sentences naming the drug and gene): keep an
answer allele-exact (HLA-B*58:01 is not HLA-B*57:01), about the asked drug (not another drug's
label text that names it), add label sentences about the asked phenotype group that do not
repeat the gene, and read each chosen sentence as a claim (drug, gene, group, action) with the
one action reader, for when the knowledge layer has no claim to offer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from pgxlit.extract.actions import action_of, looks_like_table, mentions_testing, read_action
from pgxlit.extract.lexicons import entity_names
from pgxlit.qa.bottom_line import ClaimView
from pgxlit.qa.drugs import DrugCatalogue
from pgxlit.knowledge.facts import is_heading_or_pointer
from pgxlit.qa.evidence import Candidate, is_instruction
from pgxlit.qa.question import Question, phenotype_groups, recognise

from pgxlit.records import Hit

HLA_IN_TEXT = re.compile(r"\b(HLA)[\s\u2010\u2011\u2012\u2013-]*([A-Z]{1,3}\d?)\s?\*\s?(\d{2}):?(\d{2})")
STAR_IN_TEXT = re.compile(r"\b([A-Z][A-Z0-9]{2,})\s?\*\s?(\d{1,3}[A-Z]?)\b")


def named_alleles(text: str) -> set[str]:
    """HLA and star alleles a sentence names, in the lexicon's spelling (HLA-B*58:01, CYP2D6*4)."""
    text = re.sub(r"[\u2010\u2011\u2012\u2013]", "-", text)
    found = {f"HLA-{m.group(2)}*{m.group(3)}:{m.group(4)}" for m in HLA_IN_TEXT.finditer(text)}
    found |= {f"{m.group(1)}*{m.group(2)}" for m in STAR_IN_TEXT.finditer(text) if not m.group(1).startswith("HLA")}
    return found


def about_asked_drugs(q: Question, cands: Sequence[Candidate], catalogue: DrugCatalogue) -> list[Candidate]:
    """Keep label sentences only from an asked drug's own label: another drug's label text that names it
    (metoprolol as a CYP2D6 substrate in eliglustat's interaction study) is not evidence about it.
    Abstracts stay (qa.evidence already requires them to name the drug)."""
    if not q.drugs:
        return list(cands)
    asked = set(q.drugs)
    return [c for c in cands
            if c.passage.source != "fda_label" or catalogue.drug_of_set.get(c.passage.set_id or "") in asked]


def gene_free_or_asked(sentence: str, q: Question) -> bool:
    """The sentence names no gene but the asked ones (a status word alone takes the label's gene)."""
    named = entity_names(recognise(sentence))[1]
    return not named - set(q.genes)


def group_candidates(q: Question, hits: Sequence[Hit], found: Sequence[Candidate],
                     catalogue: DrugCatalogue, label_genes: Callable[[str], Sequence[str]]) -> list[Candidate]:
    """Sentences of an asked drug's own label that speak of the asked group without naming the gene
    ("Therefore, individuals who are ultra-rapid metabolizers should not use ..."), when that label's
    PGx statements are about the asked gene: the status word stands for it there."""
    patterns = [p for g in q.groups if (p := group_pattern(g)) is not None]
    drugs = [d for d in q.drugs if not q.genes or set(q.genes) & set(label_genes(d))]
    if not patterns or not drugs:
        return []
    have = {(c.passage.id, c.offset) for c in found}
    out: list[Candidate] = []
    for rank, hit in enumerate(hits, start=1):
        p = hit.passage
        if p.source != "fda_label" or catalogue.drug_of_set.get(p.set_id or "") not in drugs:
            continue
        for offset, sentence in p.sentences():
            if (p.id, offset) in have or len(sentence) < 20 or is_instruction(sentence) or looks_like_table(sentence) \
                    or is_heading_or_pointer(sentence):
                continue
            if any(pattern.search(sentence) for pattern in patterns) and gene_free_or_asked(sentence, q):
                action, weight = action_of(sentence)
                out.append(Candidate(sentence, p, offset, 1.0 / rank + weight + 1.0, action, True, ()))
    return out


def group_pattern(group: str) -> re.Pattern[str] | None:
    """How evidence text says a genotype/phenotype group: "ultra-rapid", "PMs", "HLA-B*5801", "partial"."""
    low = group.lower()
    allele = re.match(r"(hla)-([a-z0-9]+)\*(\d{2}):(\d{2})", low)
    if allele:
        return re.compile(rf"hla[\s\u2010\u2011-]*{allele.group(2)}\s?\*\s?{allele.group(3)}:?{allele.group(4)}", re.I)
    for words, pattern in (("ultrarapid", r"ultra[\s-]?rapid|\bUMs?\b"), ("intermediate metaboli", r"intermediate metaboli|\bIMs?\b"),
                           ("poor metaboli", r"poor metaboli|\bPMs?\b"), ("normal metaboli", r"(?:normal|extensive) metaboli|\b[EN]Ms?\b"),
                           ("rapid metaboli", r"(?<!ultra)(?<!ultra-)rapid metaboli|\bRMs?\b"),
                           ("partial deficiency", r"partial|heterozyg|one (?:copy|allele)"),
                           ("complete deficiency", r"complete|homozyg|two (?:copies|alleles)|total"),
                           ("deficiency", r"deficien"), ("poor function", r"poor function|no function|non-?functional|loss[- ]of[- ]function"),
                           ("decreased function", r"decreased function|reduced function"),
                           ("activity score", r"activity score")):
        if words in low:
            return re.compile(pattern, re.I)
    return None


def allele_exact(q: Question, cands: Sequence[Candidate]) -> list[Candidate]:
    """Drop evidence about other named alleles of the asked allele's gene: a question about
    HLA-B*58:01 is not answered with HLA-B*57:01 or HLA-B*15:02 text."""
    asked = {a for a in q.alleles if "*" in a and "/" not in a}
    if not asked:
        return list(cands)
    genes = {a.split("*")[0] for a in asked}
    kept = []
    for c in cands:
        named = {a for a in named_alleles(c.sentence) if a.split("*")[0] in genes}
        if named and not named & asked:
            continue
        kept.append(c)
    return kept


def verdict_strength(c: Candidate) -> int:
    """How strongly a sentence tells a prescriber to act (avoid 5 ... no action 1), by the verdict reader."""
    return read_action(c.sentence, c.passage.section, next((t.effect for t in c.triples), "other"), c.passage.source).strength


def stated_group(sentence: str, gene: str | None) -> str | None:
    """The genotype/phenotype group a sentence speaks of: a named HLA allele's carriers, or a status."""
    hla = sorted(a for a in named_alleles(sentence) if a.startswith("HLA") and (gene is None or a.startswith(gene)))
    if hla:
        return f"{hla[0]} carrier"
    groups = phenotype_groups(sentence, [], (gene,) if gene else ())
    return groups[0] if groups and (gene is None or groups[0].startswith(gene)) else None


INTERACTION_ONLY = re.compile(r"\b(?:inhibitors?|inducers?|substrates?)\b|\bconcomitant", re.I)
GENETIC_STATUS = re.compile(r"metaboli[sz]ers?\b|\bgenotyp|\bpolymorphi|\balleles?\b|\bcarriers?\b|\bheterozyg|\bhomozyg"
                            r"|\bdeficien|\bvariants?\b|\*\s?\d|-positive\b|\bpositive for\b", re.I)
# What a patient's genotype is called in text (a tumour's "HER2-positive" is an indication, not one).
GENOTYPE_STATUS = re.compile(r"metaboli[sz]ers?\b|\bgenotyp|\bpolymorphi|\balleles?\b|\bcarriers?\b|\bheterozyg"
                             r"|\bhomozyg|\bdeficien|\*\s?\d", re.I)
CONDITIONED = re.compile(r"\b(?:hepatic|renal) impairment\b|\b(?:strong|moderate|potent) (?:or moderate )?\w*\s*"
                         r"(?:inhibitors?|inducers?)\b|\bcoadminist\w*|\bconcomitant\w*", re.I)
READING_ACTION = {"avoid": "avoid", "alternative": "alternative", "dose change": "dose_change", "monitor": "monitor"}


def claims_from_evidence(q: Question, chosen: Sequence[Sequence[Candidate]],
                         catalogue: DrugCatalogue | None) -> list[ClaimView]:
    """Claims read from the chosen evidence sentences: whose drug, which gene, which group, what action."""
    patterns = {g: p for g in q.groups if (p := group_pattern(g)) is not None}
    out: list[ClaimView] = []
    seen: dict[tuple[str, str | None, str | None, str], int] = {}
    for group in chosen:
        first = group[0]
        p = first.passage
        own = catalogue.drug_of_set.get(p.set_id or "") if catalogue and p.source == "fda_label" else None
        drug = own or next((d for d in q.drugs if d in p.drugs), q.drugs[0] if q.drugs else None)
        if drug is None:
            continue
        named = entity_names(recognise(first.sentence))[1]
        # the gene the sentence is about: its triples', one it names, or the asked one when it speaks of a
        # status ("ultra-rapid metabolizers"); never a gene named elsewhere in the passage
        gene = next((t.gene for c in group for t in c.triples if t.gene), None) \
            or next((g for g in q.genes if g in named), None) or next(iter(sorted(named)), None) \
            or (q.genes[0] if q.genes and GENOTYPE_STATUS.search(first.sentence) else None)
        if gene is None:
            continue
        reading = read_action(first.sentence, p.section, next((t.effect for t in first.triples), "other"), p.source)
        action = READING_ACTION.get(reading.action, "informative") if reading.strength > 0 else "informative"
        if action in ("informative", "monitor") and mentions_testing(first.sentence) and re.search(
                r"\b(?:before|prior to)\b", first.sentence, re.I):
            action = "test"
        if INTERACTION_ONLY.search(first.sentence) and not GENETIC_STATUS.search(first.sentence):
            continue  # another drug's effect on the enzyme ("a CYP2D6 inhibitor"), not the patient's genotype
        if CONDITIONED.search(first.sentence) and not GENOTYPE_STATUS.search(first.sentence):
            continue  # a dose for hepatic impairment or with an inducer, not for a genotype
        matched = [g for g, pattern in patterns.items() if pattern.search(first.sentence)]
        phenotype = matched[0] if matched else stated_group(first.sentence, gene)
        # Applies to the asked group when it names it, not when it names another group, unknown otherwise.
        applies = (True if matched else False if phenotype else None) if patterns else None
        key = (drug, gene, phenotype, action)
        if key in seen:  # the same claim in other words: one clause, its evidence merged
            at = seen[key]
            out[at] = replace(out[at], evidence=(*out[at].evidence, *group))
            continue
        seen[key] = len(out)
        out.append(ClaimView(drug=drug, gene=gene, phenotype=phenotype, action=action,
                             status="label" if p.source == "fda_label" else "literature_only",
                             severity=reading.severity, applies=applies, evidence=tuple(group)))
    return out
