"""Do the labels' own PGx biomarkers come out as drug–gene pairs?

Gold: PharmGKB's list of FDA label annotations ("FDA Label for <drug> and
<genes>"), DEV part only. It is from 2016 while the labels are 2018–2024
versions, and a third of the list is held out, so only drugs present in both
the stored labels and the DEV list are judged; a pair we find for such a drug
that the list lacks counts against precision even when a newer label added it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pgxlit.extract.lexicons import load_lexicons
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
    """Genes of the PGx triples whose subject is the label's own drug.

    A negated statement ("no relevant effect of CYP2C19 variants") still makes the gene one of the
    label's PGx biomarkers, as PharmGKB annotates it.
    """
    return {t.gene for t in triples if t.pgx and t.gene and t.drug == subject and t.confidence >= min_confidence}


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


def evaluate_labels(
    labels: Iterable[LabelVersion], gold: dict[str, set[str]], thresholds: Iterable[float] = (0.0, 0.5, 0.6, 0.7)
) -> dict[float, LabelScore]:
    """Per threshold, pairs found vs. pairs expected, pooled over every drug judged."""
    per_drug: dict[str, list[Triple]] = defaultdict(list)
    for lv in latest_labels(labels):
        subject = label_subject(lv)
        if subject and subject.name in gold:
            per_drug[subject.name] += label_triples(lv)
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
