"""Are the PGx drug–gene pairs pgxlit flags in the labels right, and are the labels' biomarkers found?

Headline (raw, what a curator lives with): every PGx-flagged drug–gene pair of every latest
label version, whatever its drug (the label's own drug or any other drug a sentence names),
against PharmGKB's FDA label list plus the genes each label's own pharmacogenomics section
(12.5, or the `pharmacogenomics` field) names. Precision over those pairs; germline recall over
each label's expected genes that are not tumour or expression biomarkers. False pairs are
grouped by their likely cause, so a change can be aimed at a class and its effect seen.

Beside it, kept as it was: the label's own drug only, on the drugs both the stored labels and
PharmGKB's 2016 DEV list have (60), raw and author-adjudicated.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from pgxlit.extract.lexicons import SALT_WORDS, DictionaryMatcher, load_lexicons
from pgxlit.extract.triples import label_subject, label_triples

from pgxlit.records import LabelVersion, Triple

ADJUDICATION = Path(__file__).resolve().parent / "expected" / "labels_adjudication.yaml"

_NAME = re.compile(r"^FDA Label for (?P<drugs>.+?) and (?P<genes>[^ ]+)$")


def read_fda_label_rows(path: Path) -> list[tuple[str, str, str]]:
    """(drug, gene, testing level) for every FDA row of PharmGKB's drugLabels.tsv, names normalised."""
    lex = load_lexicons()
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 3 or cols[2] != "FDA":
            continue
        match = _NAME.match(cols[1])
        if not match:
            continue
        level = cols[4].strip() if len(cols) > 4 else ""
        for g in match.group("genes").split(","):
            found_gene = lex.normalise_gene(g.strip())
            gene = found_gene[1] if found_gene else g.strip()
            for drug in re.split(r",| / ", match.group("drugs")):
                found = lex.normalise_drug(drug.strip())
                rows.append((found[1] if found else drug.strip().lower(), gene, level))
    return rows


def read_fda_label_gold(path: Path) -> dict[str, set[str]]:
    """drug (canonical name) -> genes (HGNC symbols) from PharmGKB's drugLabels.tsv, FDA rows."""
    gold: dict[str, set[str]] = defaultdict(set)
    for drug, gene, _level in read_fda_label_rows(path):
        gold[drug].add(gene)
    return dict(gold)


def label_pairs(triples: Iterable[Triple], subject: str, min_confidence: float) -> set[str]:
    """Genes of the biomarker triples (germline PGx or a tumour's marker, as PharmGKB's list has
    both) whose subject is the label's own drug.

    A negated statement ("no relevant effect of CYP2C19 variants") still makes the gene one of the
    label's PGx biomarkers, as PharmGKB annotates it.
    """
    return {t.gene for t in triples if (t.pgx or t.origin == "somatic") and t.gene and t.drug == subject
            and t.confidence >= min_confidence}


@dataclass
class LabelScore:
    drugs: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def adjudicated(self, verdicts: dict[str, bool]) -> "LabelScore":
        """The same score with the extras a reader judged right counted as true positives."""
        right = [e for e in self.extras if verdicts.get(e) is True]
        return LabelScore(self.drugs, self.tp + len(right), self.fp - len(right), self.fn, self.misses,
                          [e for e in self.extras if e not in right])

    def as_dict(self) -> dict[str, object]:
        return {"drugs": self.drugs, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": round(self.precision, 3), "recall": round(self.recall, 3),
                "misses": self.misses, "extras": self.extras}


def read_adjudication(path: Path = ADJUDICATION) -> dict[str, bool]:
    """"drug–gene" -> judged right, for pairs the 2016 list lacks (see the YAML's header)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {pair: bool(entry["right"]) for pair, entry in data.items()}


def latest_labels(labels: Iterable[LabelVersion]) -> list[LabelVersion]:
    latest: dict[str, LabelVersion] = {}
    for lv in labels:
        if lv.source_format == "openfda" and (lv.set_id not in latest or lv.version > latest[lv.set_id].version):
            latest[lv.set_id] = lv
    return list(latest.values())


TriplesCache = dict[tuple[str, int], list[Triple]]


def _triples_of(label: LabelVersion, cache: TriplesCache | None) -> list[Triple]:
    """A label's triples, extracted once when several evaluations share `cache`."""
    if cache is None:
        return label_triples(label)
    if label.key not in cache:
        cache[label.key] = label_triples(label)
    return cache[label.key]


def evaluate_labels(
    labels: Iterable[LabelVersion], gold: dict[str, set[str]], thresholds: Iterable[float] = (0.0, 0.5, 0.6, 0.7),
    cache: TriplesCache | None = None,
) -> dict[float, LabelScore]:
    """Per threshold, pairs found vs. pairs expected, pooled over every drug judged (the label's own
    drug only, on the drugs both the stored labels and the gold list have)."""
    per_drug: dict[str, list[Triple]] = defaultdict(list)
    for lv in latest_labels(labels):
        subject = label_subject(lv)
        if subject and subject.name in gold:
            per_drug[subject.name] += _triples_of(lv, cache)
    scores: dict[float, LabelScore] = {}
    for threshold in thresholds:
        score = LabelScore(drugs=len(per_drug))
        for drug, triples in sorted(per_drug.items()):
            found = label_pairs(triples, drug, threshold)
            expected = gold[drug]
            score.tp += len(found & expected)
            score.fp += len(found - expected)
            score.fn += len(expected - found)
            score.misses += [f"{drug}–{g}" for g in sorted(expected - found)]
            score.extras += [f"{drug}–{g}" for g in sorted(found - expected)]
        scores[threshold] = score
    return scores


# ---- raw: every PGx-flagged pair of every label ----------------------------------------------
# Gold-side only (never used by extraction): genes that FDA labels name as a tumour's or a cell's
# biomarker (mutation, fusion, amplification or expression in the tumour or the target cells), not
# as an inherited trait. Germline recall leaves these out; a pair with one of them that the truth
# lacks is a "somatic" false pair.
NOT_GERMLINE_GENES = frozenset({
    "ERBB2", "BRAF", "KRAS", "NRAS", "EGFR", "ALK", "ROS1", "BCR", "ABL1", "ABL2", "KIT", "PDGFRA", "PDGFRB",
    "FIP1L1", "PML", "RARA", "MS4A1", "ESR1", "ESR2", "PGR", "CD274", "MET", "RET", "FLT3", "IDH1", "IDH2",
    "PIK3CA", "NTRK1", "NTRK2", "NTRK3", "TNFRSF8", "IL2RA", "MYCN", "CCR5", "TNFSF13B", "VEGFA", "ABI1",
    "FGFR2", "FGFR3", "ERBB3", "MAP2K1", "BRCA1", "BRCA2", "ATM", "PALB2", "CD33", "CD19", "CD22", "CD38",
})

# A pharmacogenomics section starts at its heading ("12.5 Pharmacogenomics", "12. 5 Pharmacogenetics",
# "Pharmacogenomics:") and runs to the end of its field; a cross-reference ("see Pharmacogenomics
# (12.5)") is no heading.
_PGX_HEADING = re.compile(
    r"(?<![/\-])(?<!see )(?<!See )(?<!SEE )\b(?:12\.\s?5\s+)?Pharmacogen(?:om|et)ics\b(?!\s*\(\s*12)"
)


def pgx_section_text(label: LabelVersion) -> str:
    """The text of the label's own pharmacogenomics section(s), empty when it has none."""
    for section in label.sections:
        if section.field == "pharmacogenomics" and section.text.strip():
            return section.text
    parts = []
    for section in label.sections:
        if section.is_table or section.field not in ("clinical_pharmacology", "pharmacokinetics", None):
            continue
        numbered = list(re.finditer(r"\b12\.\s?5\s+Pharmacogen(?:om|et)ics\b", section.text))
        match = numbered[0] if numbered else _PGX_HEADING.search(section.text)
        if match:
            parts.append(section.text[match.start():])
    return "\n".join(parts)


def section_genes(text: str) -> set[str]:
    """HGNC symbols of the genes (and alleles' genes) a pharmacogenomics section names."""
    if not text:
        return set()
    from pgxlit.extract.pipeline import annotate_texts, rules_nlp
    from pgxlit.extract.triples import is_table_soup

    lex = load_lexicons()
    genes: set[str] = set()
    for sentences in annotate_texts([text], rules_nlp()):
        for sent in sentences:
            if is_table_soup(sent.text):
                continue  # a table's cells ("VASP-PRI (%)") are not what the section names as a biomarker
            for m in sent.mentions:
                if m.label == "GENE" and m.norm and "|" in m.norm and m.kind != "condition":
                    genes.add(m.norm.split("|", 1)[1])
                elif m.label == "ALLELE" and m.norm and "*" in m.norm:
                    found = lex.normalise_gene(m.norm.split("*")[0])
                    if found:
                        genes.add(found[1])
    return genes


@dataclass(frozen=True)
class FlaggedPair:
    """One PGx-flagged drug–gene pair of one label, with the first sentence that gave it."""

    set_id: str
    label_drug: str
    drug: str
    gene: str
    right: bool
    cause: str | None  # why a false pair is false (see FALSE_CAUSES); None for a right one
    section: str | None
    sentence: str
    # the label's own text names the gene (symbol, protein, deficiency or variant) in a sentence
    # with a genotype or phenotype word that gave this pair: a biomarker, right or not in the truth
    named_pgx: bool = False

    @property
    def name(self) -> str:
        return f"{self.drug}–{self.gene}"


FALSE_CAUSES = (
    "flattened table", "analyte as drug", "brand not normalised", "condition-inferred gene", "somatic",
    "drug interaction", "passing mention", "label's own drug, gene not in the truth list", "other",
)


@dataclass
class RawLabelScore:
    """Raw precision over every flagged pair and germline recall over every label's expected genes."""

    labels: int = 0
    pairs: list[FlaggedPair] = field(default_factory=list)
    expected: int = 0
    found: int = 0
    misses: list[str] = field(default_factory=list)
    # the same, over the expected genes the label's text names (symbol, name, allele or deficiency),
    # leaving out those it only implies by a condition ("urea cycle disorders") or no longer names
    expected_named: int = 0
    found_named: int = 0
    # the misses by why they are missed: the label names the gene; the label implies it only by a
    # condition ("urea cycle disorders" -> ASL) with no stated genetic cause, which the rules may
    # not turn into a gene (issue 17); or the current label does not name it at all
    miss_reasons: dict[str, list[str]] = field(default_factory=dict)
    # label drugs the truth has any gene for (a PharmGKB row or a pharmacogenomics section); on the
    # others every flagged pair counts false, right or not (labelled figure, not the headline)
    covered: frozenset[str] = frozenset()

    @property
    def covered_precision(self) -> float:
        pairs = [p for p in self.pairs if p.label_drug in self.covered]
        return sum(p.right for p in pairs) / len(pairs) if pairs else 0.0

    @property
    def right(self) -> int:
        return sum(p.right for p in self.pairs)

    @property
    def precision(self) -> float:
        return self.right / len(self.pairs) if self.pairs else 0.0

    @property
    def germline_recall(self) -> float:
        return self.found / self.expected if self.expected else 0.0

    @property
    def named_recall(self) -> float:
        return self.found_named / self.expected_named if self.expected_named else 0.0

    def adjudicated(self, verdicts: dict[str, bool]) -> "RawLabelScore":
        """The same pairs with those a reader judged right (labels_adjudication.yaml) counted right."""
        pairs = [replace(p, right=True, cause=None) if not p.right and verdicts.get(p.name) is True else p
                 for p in self.pairs]
        return RawLabelScore(self.labels, pairs, self.expected, self.found, self.misses, self.expected_named,
                             self.found_named, self.miss_reasons, self.covered)

    def by_cause(self) -> dict[str, list[FlaggedPair]]:
        out: dict[str, list[FlaggedPair]] = {c: [] for c in FALSE_CAUSES}
        for p in self.pairs:
            if not p.right:
                out[p.cause or "other"].append(p)
        return {c: ps for c, ps in out.items() if ps}

    def as_dict(self) -> dict[str, object]:
        distinct = {(p.drug, p.gene): p.right for p in self.pairs}
        return {
            "labels": self.labels, "pairs": len(self.pairs), "right": self.right, "false": len(self.pairs) - self.right,
            "precision": round(self.precision, 3),
            "distinct_pairs": len(distinct),
            "distinct_precision": round(sum(distinct.values()) / len(distinct), 3) if distinct else 0.0,
            "germline_expected": self.expected, "germline_found": self.found,
            "germline_recall": round(self.germline_recall, 3),
            "named_expected": self.expected_named, "named_found": self.found_named,
            "named_recall": round(self.named_recall, 3),
            "false_by_cause": {c: len(ps) for c, ps in self.by_cause().items()},
            "false_named_in_pgx_statement": sum(1 for p in self.pairs if not p.right and p.named_pgx),
            "germline_misses_by_reason": {r: len(ms) for r, ms in self.miss_reasons.items()},
            "covered_pairs": sum(p.label_drug in self.covered for p in self.pairs),
            "covered_precision": round(self.covered_precision, 3),
        }

    def details(self) -> dict[str, object]:
        """The false pairs by cause (label drug: pair) and the germline misses, for reading."""
        return {
            "false_pairs": {c: [f"[{p.label_drug}] {p.name}" for p in ps] for c, ps in self.by_cause().items()},
            "germline_misses": self.misses,
            "germline_misses_by_reason": self.miss_reasons,
            "false_pairs_not_named_in_pgx_statement": [f"[{p.label_drug}] {p.name}" for p in self.pairs
                                                       if not p.right and not p.named_pgx],
            # what a reader needs to judge each false pair: where the label says it, and the sentence
            "false_pair_evidence": [
                {"label_drug": p.label_drug, "pair": p.name, "cause": p.cause, "section": p.section,
                 "set_id": p.set_id, "sentence": p.sentence}
                for p in self.pairs if not p.right],
            "false_by_section": self.false_by_section(),
        }

    def false_by_section(self) -> dict[str, int]:
        """How many false pairs each label section gave (their first evidence), most first: a
        biomarker stated outside the pharmacogenomics section is what the truth list misses most."""
        counts: dict[str, int] = defaultdict(int)
        for p in self.pairs:
            if not p.right:
                counts[p.section or "unknown"] += 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def evaluate_raw(labels: Iterable[LabelVersion], gold: dict[str, set[str]],
                 cache: TriplesCache | None = None) -> RawLabelScore:
    """Every PGx-flagged pair of every latest label version, judged against the gold list plus the
    genes each label's pharmacogenomics section names (for the drug of that label)."""
    latest = sorted(latest_labels(labels), key=lambda lv: lv.set_id)
    subjects = {lv.set_id: label_subject(lv) for lv in latest}
    named: dict[str, set[str]] = defaultdict(set)  # drug -> genes its labels' PGx sections name
    for lv in latest:
        subject = subjects[lv.set_id]
        if subject is not None:
            named[subject.name] |= section_genes(pgx_section_text(lv))
    truth = defaultdict(set, {d: set(g) for d, g in gold.items()})
    for drug, genes in named.items():
        truth[drug] |= genes
    score = RawLabelScore(labels=len(latest), covered=frozenset(d for d, g in truth.items() if g))
    for lv in latest:
        subject = subjects[lv.set_id]
        label_drug = subject.name if subject else (lv.generic_names or ("?",))[0].lower()
        seen: dict[tuple[str, str], list[Triple]] = {}
        for t in _triples_of(lv, cache):
            if t.pgx and t.gene:
                seen.setdefault((t.drug, t.gene), []).append(t)
        for (drug, gene), ts in sorted(seen.items()):
            t = ts[0]
            right = gene in truth.get(drug, set())
            cause = None if right else false_cause(t, lv, label_drug)
            score.pairs.append(FlaggedPair(lv.set_id, label_drug, drug, gene, right, cause, t.evidence.section,
                                           t.evidence.sentence, any(names_in_pgx_statement(x) for x in ts)))
        expected = {g for g in truth.get(label_drug, set()) if g not in NOT_GERMLINE_GENES}
        found = {g for (d, g) in seen if d == label_drug}
        score.expected += len(expected)
        score.found += len(expected & found)
        score.misses += [f"[{lv.set_id[:8]}] {label_drug}–{g}" for g in sorted(expected - found)]
        in_text = genes_named_in(lv)
        implied = label_condition_genes(lv) - in_text
        for g in sorted(expected - found):
            reason = ("named in the label" if g in in_text else
                      "implied only by a condition that names no gene product" if g in implied
                      else "not named in the current label")
            score.miss_reasons.setdefault(reason, []).append(f"{label_drug}–{g}")
        named = expected & in_text
        score.expected_named += len(named)
        score.found_named += len(named & found)
    return score


def genes_named_in(label: LabelVersion) -> set[str]:
    """HGNC symbols the label's prose names: by symbol, alias, protein or enzyme name, deficiency
    or variant (the lead's rule for issue 17); a condition that names no gene product names none."""
    return {g for s in label.sections if not s.is_table for g in genes_named_in_text(s.text)}


def genes_named_in_text(text: str) -> set[str]:
    """HGNC symbols a text names: lexicon names (symbol, alias, protein or enzyme), the genes of its
    alleles, variants and deficiencies (grammars), and conditions that name a gene's product."""
    from pgxlit.extract.conditions import find_conditions
    from pgxlit.extract.grammars import find_all

    lex = load_lexicons()
    genes = {m.norm.split("|", 1)[1] for m in DictionaryMatcher(lex, drugs=False).find(text) if m.norm and "|" in m.norm}
    genes |= {c.norm.split("|", 1)[1] for c in find_conditions(text) if c.norm}
    for m in find_all(text):
        head = re.split(r"[*: ]", m.norm or "", maxsplit=1)[0]
        found = lex.normalise_gene(head) if head and m.label in ("ALLELE", "VARIANT", "PHENOTYPE") else None
        if found:
            genes.add(found[1])
    return genes


def names_in_pgx_statement(triple: Triple) -> bool:
    """Does the triple's own sentence name its gene (not through a condition) with a genotype or
    phenotype: a genotype word, a mutation, or an allele, variant or metabolizer/activity status the
    grammars read? Such a pair is a biomarker the label's text states, whatever the truth list says
    (a labelled, rule-judged count; the headline still counts it false)."""
    from pgxlit.extract.grammars import find_all

    sentence = triple.evidence.sentence
    if triple.gene not in genes_named_in_text(sentence):
        return False
    return bool(_GENOTYPE_WORDS.search(sentence) or _MUTATION.search(sentence) or find_all(sentence))


_MUTATION = re.compile(r"mutat", re.IGNORECASE)


def label_condition_genes(label: LabelVersion) -> set[str]:
    """HGNC symbols of the conditions the label's prose names, stated genetic cause or not."""
    from pgxlit.extract.conditions import condition_genes

    return {g for s in label.sections if not s.is_table for g in condition_genes(s.text)}


_INTERACTION = re.compile(r"\b(inhibit\w*|induc\w*|substrates?)\b", re.IGNORECASE)
_GENOTYPE_WORDS = re.compile(
    r"genotyp|allele|carrier|polymorphi|variant|metaboli[sz]er|deficien|homozyg|heterozyg|\bPMs?\b|\bEMs?\b|"
    r"loss-of-function|genetic", re.IGNORECASE)
_TUMOUR = re.compile(
    r"tumou?r|cancer|carcinoma|leukemia|lymphoma|melanoma|overexpress|amplif|metasta|fusion|rearrang|"
    r"\bIHC\b|\bFISH\b|mutation-positive|Ph\+|Philadelphia", re.IGNORECASE)


def false_cause(triple: Triple, label: LabelVersion, label_drug: str) -> str:
    """The likely cause of a false pair, for grouping: checked in the order of FALSE_CAUSES."""
    from pgxlit.extract.conditions import find_conditions
    from pgxlit.extract.lexicons import is_not_a_drug
    from pgxlit.extract.triples import is_table_soup

    sentence = triple.evidence.sentence
    if is_table_soup(sentence):
        return "flattened table"
    if is_not_a_drug(triple.drug):
        return "analyte as drug"
    brands = {n.lower() for n in label.brand_names} - {n.lower() for n in label.generic_names}
    if triple.drug_id is None and (triple.drug in brands or any(w in SALT_WORDS for w in triple.drug.split())):
        return "brand not normalised"
    lex = load_lexicons()
    genes_named = {m.norm.split("|", 1)[1] for m in DictionaryMatcher(lex, drugs=False).find(sentence) if m.norm}
    if triple.gene not in genes_named and triple.gene not in sentence and any(
            c.norm and c.norm.endswith("|" + str(triple.gene)) for c in find_conditions(sentence)):
        return "condition-inferred gene"
    if triple.gene in NOT_GERMLINE_GENES or triple.origin == "somatic" or (
            _TUMOUR.search(sentence) and not _GENOTYPE_WORDS.search(sentence)):
        return "somatic"
    if _INTERACTION.search(sentence) and not _GENOTYPE_WORDS.search(sentence):
        return "drug interaction"
    if triple.drug != label_drug:
        return "passing mention"
    # Often a biomarker the 2016 list predates or holds out (hydroxychloroquine–G6PD): read them.
    return "label's own drug, gene not in the truth list"


def format_raw(score: RawLabelScore, verdicts: dict[str, bool] | None = None) -> str:
    """The raw headline as text: figures, false pairs by cause, germline misses; with `verdicts`,
    the author-adjudicated precision beside it, labelled as such."""
    d = score.as_dict()
    lines = [
        "RAW (headline): every PGx-flagged drug–gene pair of every latest label version",
        f"  labels {d['labels']}, pairs {d['pairs']} ({d['distinct_pairs']} distinct drug–gene), right {d['right']}, "
        f"false {d['false']}",
        f"  precision {d['precision']:.3f} (distinct pairs {d['distinct_precision']:.3f})",
        f"  germline recall {d['germline_recall']:.3f} ({d['germline_found']}/{d['germline_expected']})",
        f"  labelled, not the headline: germline recall over genes the label names (gene, protein, deficiency or "
        f"variant) {d['named_recall']:.3f} ({d['named_found']}/{d['named_expected']})",
        f"  labelled, not the headline: precision over the {d['covered_pairs']} pairs of labels whose drug the "
        f"truth has any gene for {d['covered_precision']:.3f} (on the other labels every pair counts false)",
        "  truth: PharmGKB FDA label list (DEV part) + genes each label's pharmacogenomics section names",
    ]
    if verdicts is not None:
        judged = score.adjudicated(verdicts)
        unjudged = sum(1 for p in judged.pairs if not p.right and p.name not in verdicts)
        lines.append(f"  author-adjudicated (labels_adjudication.yaml): precision {judged.precision:.3f}, "
                     f"{len(judged.pairs) - judged.right} false, {unjudged} not judged yet")
    lines.append(f"  labelled, rule-judged, not the headline: {d['false_named_in_pgx_statement']} of the {d['false']} "
                 "false pairs are genes the label's own text names (symbol, protein, deficiency or variant) in a "
                 "sentence with a genotype or phenotype word, i.e. biomarkers the truth list lacks")
    lines.append("false pairs by cause (label drug, pair, section of the first evidence):")
    for cause, pairs in score.by_cause().items():
        lines.append(f"  {cause} ({len(pairs)}): "
                     + ", ".join(f"[{p.label_drug}] {p.name} ({p.section or 'unknown'})" for p in pairs))
    lines.append("false pairs by section: "
                 + (", ".join(f"{s} {n}" for s, n in score.false_by_section().items()) or "none"))
    not_named = [f"[{p.label_drug}] {p.name}" for p in score.pairs if not p.right and not p.named_pgx]
    lines.append("false pairs not named in a PGx statement: " + (", ".join(not_named) or "none"))
    lines.append("germline misses: " + (", ".join(score.misses) or "none"))
    for reason, misses in score.miss_reasons.items():
        lines.append(f"  {reason} ({len(misses)}): " + ", ".join(misses))
    return "\n".join(lines)
