"""Scoring extracted mentions and relations against gold (`extract.gold`).

Pure functions; nothing here reads corpora except `compare_to_expected`,
which reads a JSON file of expected figures.

Conventions
-----------
* Gold labels are mapped to pgxlit labels with a label map (a dict such as
  `PGXCORPUS_TO_PGXLIT`, or any callable); a gold entity whose label maps to
  None is left out of scoring. Predicted `Mention.label`s are pgxlit labels
  already and are not mapped.
* Matching is one-to-one: each gold item is matched by at most one
  prediction and each prediction matches at most one gold item. So a
  duplicate prediction costs a false positive, and one long prediction
  overlapping two gold entities earns one true positive only.
  - exact: (start, end, label) equal. A discontinuous gold entity is compared
    on its outer extent (start = min, end = max).
  - overlap: same label and at least one character in common with one of the
    gold entity's fragments. Pairs are assigned greedily, largest overlap
    first (ties: exact extent, then document order), which is deterministic.
* P = tp/pred, R = tp/gold, F1 = 2PR/(P+R); each is 0.0 when its
  denominator is 0 (also for "no gold and no predictions").
  micro = from summed counts; macro = unweighted mean of the per-label
  P, R and F1 over labels that have gold or predictions (macro F1 is the mean
  of per-label F1s, not the F1 of macro P and R).
* Relations are sentence-level: (head span, tail span, type), entity spans
  matched by overlap (or exactly, with match="exact"); types in
  `SYMMETRIC_RELATION_TYPES` match in either orientation. "typed" requires
  the same type; "untyped" collapses both sides to unordered entity pairs
  (any relation between the pair counts). Document-level gold relations
  (BioRED) are not scored here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgxlit.records import ENTITY_LABELS, Mention, RelationMention

from .gold import GoldDoc, GoldEntity

__all__ = [
    "PGXCORPUS_TO_PGXLIT",
    "PGXLIT_TO_PGXCORPUS",
    "BIORED_TO_PGXLIT",
    "PGXLIT_TO_BIORED",
    "PUBTATOR_TO_PGXLIT",
    "PGXMINE_TO_PGXLIT",
    "SYMMETRIC_RELATION_TYPES",
    "Score",
    "ModeScores",
    "EntityScores",
    "RelationScores",
    "score_entities",
    "score_relations",
    "to_mentions",
    "gold_as_predictions",
    "format_table",
    "flatten",
    "compare_to_expected",
]

LabelMap = Mapping[str, str | None] | Callable[[str], str | None]

# ---- label maps -----------------------------------------------------------

# PGxCorpus types -> pgxlit ENTITY_LABELS.
# The guidelines (annotation_guidelines.pdf, 2.1) define a hierarchy:
#   Genomic_factor > Gene_or_protein, Genomic_variation > {Limited_variation, Haplotype}
#   Phenotype > {Pharmacokinetic_phenotype, Pharmacodynamic_phenotype, Disease}
# Genomic_factor is "any genomic factor that does not fit the sub-types": in
# DEV its 57 mentions are gene parts and products -- promoters ("PDYN
# promoter", "promoter region of the DRD2 gene"), exons ("KIT exon 11"),
# mRNAs ("COX-2 mRNA"), "chromosome 17", plus a few oddities ("MSI status",
# "genetic predisposition for alcoholism"). None is a variant; they name a
# gene-level element, so GENE is the closest pgxlit label. (Not ALLELE or
# VARIANT: a variant tagger should not be credited for "exon 3".)
# Genomic_variation (copy number, translocations, "genetic variants") -> VARIANT.
PGXCORPUS_TO_PGXLIT: dict[str, str | None] = {
    "Chemical": "DRUG",
    "Gene_or_protein": "GENE",
    "Genomic_factor": "GENE",
    "Limited_variation": "VARIANT",
    "Genomic_variation": "VARIANT",
    "Haplotype": "ALLELE",
    "Phenotype": "PHENOTYPE",
    "Pharmacodynamic_phenotype": "PHENOTYPE",
    "Pharmacokinetic_phenotype": "PHENOTYPE",
    "Disease": "DISEASE",
}

# The fallback for writing pgxlit annotations in the PGxCorpus scheme when no
# typer is shipped (extract/pgxcorpus_types.py learns the ten types and their span
# edges): the most common specific type of each label (VARIANT ->
# Limited_variation, the SNP/mutation level; PHENOTYPE -> the generic Phenotype).
PGXLIT_TO_PGXCORPUS: dict[str, str] = {
    "DRUG": "Chemical",
    "GENE": "Gene_or_protein",
    "VARIANT": "Limited_variation",
    "ALLELE": "Haplotype",
    "PHENOTYPE": "Phenotype",
    "DISEASE": "Disease",
}

# BioRED types -> pgxlit. BioRED has no phenotype/disease distinction and no
# allele type: star alleles and rsIDs are all SequenceVariant.
BIORED_TO_PGXLIT: dict[str, str | None] = {
    "GeneOrGeneProduct": "GENE",
    "ChemicalEntity": "DRUG",
    "SequenceVariant": "VARIANT",
    "DiseaseOrPhenotypicFeature": "DISEASE",
    "OrganismTaxon": None,
    "CellLine": None,
}

PGXLIT_TO_BIORED: dict[str, str] = {
    "DRUG": "ChemicalEntity",
    "GENE": "GeneOrGeneProduct",
    "VARIANT": "SequenceVariant",
    "ALLELE": "SequenceVariant",
    "PHENOTYPE": "DiseaseOrPhenotypicFeature",
    "DISEASE": "DiseaseOrPhenotypicFeature",
}

# PubTator's types, as in PGxCorpus's pubtator_auto files and PGxMine's
# (PubTator-derived) annotations. PubTator's Mutation covers star alleles too.
PUBTATOR_TO_PGXLIT: dict[str, str | None] = {
    "Gene": "GENE",
    "Chemical": "DRUG",
    "Mutation": "VARIANT",
    "Disease": "DISEASE",
    "Species": None,
    "CellLine": None,
}
PGXMINE_TO_PGXLIT = PUBTATOR_TO_PGXLIT

SYMMETRIC_RELATION_TYPES = frozenset({"isAssociatedWith", "isEquivalentTo"})

assert set(PGXLIT_TO_PGXCORPUS) == set(ENTITY_LABELS) == set(PGXLIT_TO_BIORED)


def _as_callable(m: LabelMap | None) -> Callable[[str], str | None]:
    if m is None:
        return lambda x: x
    if isinstance(m, Mapping):
        return m.get
    return m


# ---- score records ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Score:
    label: str
    gold: int
    pred: int
    tp: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, label: str, gold: int, pred: int, tp: int) -> Score:
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        return cls(label, gold, pred, tp, p, r, 2 * p * r / (p + r) if p + r else 0.0)

    @property
    def fp(self) -> int:
        return self.pred - self.tp

    @property
    def fn(self) -> int:
        return self.gold - self.tp

    def to_dict(self, ndigits: int = 4) -> dict[str, Any]:
        return {
            "gold": self.gold,
            "pred": self.pred,
            "tp": self.tp,
            "precision": round(self.precision, ndigits),
            "recall": round(self.recall, ndigits),
            "f1": round(self.f1, ndigits),
        }


# An error item: (doc id, start, end, label, text); for relations the
# "label" is the relation type and text is "head text -> tail text".
ErrorItem = tuple[str, int, int, str, str]


@dataclass(frozen=True, slots=True)
class ModeScores:
    """Per-label rows plus micro and macro summaries of one matching mode."""

    mode: str
    per_label: tuple[Score, ...]
    micro: Score
    macro: Score
    false_positives: tuple[ErrorItem, ...] = field(default=(), repr=False, compare=False)
    false_negatives: tuple[ErrorItem, ...] = field(default=(), repr=False, compare=False)

    def label(self, name: str) -> Score:
        for s in self.per_label:
            if s.label == name:
                return s
        return Score.from_counts(name, 0, 0, 0)

    def to_dict(self, ndigits: int = 4) -> dict[str, Any]:
        return {
            "micro": self.micro.to_dict(ndigits),
            "macro": self.macro.to_dict(ndigits),
            "per_label": {s.label: s.to_dict(ndigits) for s in self.per_label},
        }


@dataclass(frozen=True, slots=True)
class EntityScores:
    exact: ModeScores
    overlap: ModeScores

    def to_dict(self, ndigits: int = 4) -> dict[str, Any]:
        return {"exact": self.exact.to_dict(ndigits), "overlap": self.overlap.to_dict(ndigits)}


@dataclass(frozen=True, slots=True)
class RelationScores:
    typed: ModeScores
    untyped: ModeScores
    match: str = "overlap"  # how entity spans were matched

    def to_dict(self, ndigits: int = 4) -> dict[str, Any]:
        return {"typed": self.typed.to_dict(ndigits), "untyped": self.untyped.to_dict(ndigits)}


def _summarise(mode: str, counts: Mapping[str, list[int]], fps, fns, order: Iterable[str] = ()) -> ModeScores:
    """counts: label -> [gold, pred, tp]."""
    order = list(order)
    labels = [lab for lab in order if lab in counts] + sorted(lab for lab in counts if lab not in order)
    rows = tuple(Score.from_counts(lab, *counts[lab]) for lab in labels)
    g, p, t = (sum(c[i] for c in counts.values()) for i in range(3))
    micro = Score.from_counts("micro", g, p, t)
    active = [r for r in rows if r.gold or r.pred]
    if active:
        n = len(active)
        macro = Score(
            "macro", g, p, t,
            sum(r.precision for r in active) / n,
            sum(r.recall for r in active) / n,
            sum(r.f1 for r in active) / n,
        )
    else:
        macro = Score("macro", 0, 0, 0, 0.0, 0.0, 0.0)
    return ModeScores(mode, rows, micro, macro, tuple(fps), tuple(fns))


# ---- matching ---------------------------------------------------------------

Spans = tuple[tuple[int, int], ...]


def _overlap(a: Spans, b: Spans) -> int:
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def _greedy(candidates: list[tuple[tuple, int, int]]) -> list[tuple[int, int]]:
    """candidates: (sort key, gold index, pred index); smaller key = better. One-to-one."""
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for _, gi, pi in sorted(candidates):
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        pairs.append((gi, pi))
    return pairs


@dataclass(frozen=True, slots=True)
class _Item:
    label: str
    start: int
    end: int
    spans: Spans
    text: str


def _gold_item(e: GoldEntity, label: str) -> _Item:
    return _Item(label, e.start, e.end, e.spans, e.text)


def _pred_item(m: Mention) -> _Item:
    return _Item(m.label, m.start, m.end, ((m.start, m.end),), m.text)


def _match_items(gold: list[_Item], pred: list[_Item], mode: str) -> list[tuple[int, int]]:
    cands = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if g.label != p.label:
                continue
            exact = g.start == p.start and g.end == p.end
            if mode == "exact":
                if exact:
                    cands.append(((gi, pi), gi, pi))
            else:
                ov = _overlap(g.spans, p.spans)
                if ov > 0:
                    cands.append(((-ov, not exact, gi, pi), gi, pi))
    return _greedy(cands)


# ---- entities ---------------------------------------------------------------


def score_entities(
    gold: list[GoldDoc],
    predicted: Mapping[str, list[Mention]],
    label_map: LabelMap,
    labels: Collection[str] | None = None,
) -> EntityScores:
    """Score predicted mentions per gold document (keyed on GoldDoc.id).

    Documents absent from `predicted` have no predictions; predictions for
    ids not in `gold` are ignored (so predicting over all of DEV and scoring
    on `dev_split(..., "test")` is fine). `labels`, when given, restricts
    scoring to those pgxlit labels on both sides.
    """
    lmap = _as_callable(label_map)
    keep = (lambda lab: lab in labels) if labels is not None else (lambda lab: True)
    results = {}
    for mode in ("exact", "overlap"):
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        fps: list[ErrorItem] = []
        fns: list[ErrorItem] = []
        for doc in gold:
            g_items = []
            for e in doc.entities:
                lab = lmap(e.label)
                if lab is not None and keep(lab):
                    g_items.append(_gold_item(e, lab))
            p_items = [_pred_item(m) for m in predicted.get(doc.id, ()) if keep(m.label)]
            pairs = _match_items(g_items, p_items, mode)
            for it in g_items:
                counts[it.label][0] += 1
            for it in p_items:
                counts[it.label][1] += 1
            for gi, _ in pairs:
                counts[g_items[gi].label][2] += 1
            mg = {gi for gi, _ in pairs}
            mp = {pi for _, pi in pairs}
            fns += [(doc.id, it.start, it.end, it.label, it.text) for i, it in enumerate(g_items) if i not in mg]
            fps += [(doc.id, it.start, it.end, it.label, it.text) for i, it in enumerate(p_items) if i not in mp]
        results[mode] = _summarise(mode, counts, fps, fns, ENTITY_LABELS)
    return EntityScores(results["exact"], results["overlap"])


def scheme_figures(gold: list[GoldDoc], predicted: Mapping[str, list[Mention]], types: Collection[str]) -> dict[str, Any]:
    """The figures a scheme tagger's settings are chosen by (exact-span macro-F1 over the scheme's own
    `types`) with micro, overlap and per-type F1 beside: what the CRF trainers record per grid row."""
    scores = score_entities(gold, predicted, lambda label: label if label in types else None)
    per_type = scores.to_dict()["exact"]["per_label"]
    return {
        "exact_macro_f1": round(scores.exact.macro.f1, 4),
        "exact_micro_f1": round(scores.exact.micro.f1, 4),
        "overlap_macro_f1": round(scores.overlap.macro.f1, 4),
        "exact_per_type_f1": {k: v["f1"] for k, v in per_type.items()},
    }


# ---- relations --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rel:
    type: str
    head: _Item
    tail: _Item


def _span_match(g: _Item, p: _Item, match: str, check_label: bool) -> int:
    """0 = no match, else a positive strength (overlap chars; exact gets a bonus)."""
    if check_label and g.label != p.label:
        return 0
    exact = g.start == p.start and g.end == p.end
    if match == "exact":
        return 1 if exact else 0
    ov = _overlap(g.spans, p.spans)
    return ov + (1 if exact else 0) if ov > 0 else 0


def _pair_strength(g: _Rel, p: _Rel, match: str, check_label: bool, symmetric: bool) -> int:
    best = 0
    h, t = _span_match(g.head, p.head, match, check_label), _span_match(g.tail, p.tail, match, check_label)
    if h and t:
        best = h + t
    if symmetric:
        h, t = _span_match(g.head, p.tail, match, check_label), _span_match(g.tail, p.head, match, check_label)
        if h and t:
            best = max(best, h + t)
    return best


def _unordered_unique(rels: list[_Rel]) -> list[_Rel]:
    seen = set()
    out = []
    for r in rels:
        a = (r.head.start, r.head.end, r.head.spans, r.head.label)
        b = (r.tail.start, r.tail.end, r.tail.spans, r.tail.label)
        key = (min(a, b), max(a, b))
        if key not in seen:
            seen.add(key)
            out.append(_Rel("ANY", r.head, r.tail))
    return out


def score_relations(
    gold: list[GoldDoc],
    predicted: Mapping[str, tuple[list[Mention], list[RelationMention]]],
    label_map: LabelMap | None = None,
    type_map: LabelMap | None = None,
    match: str = "overlap",
    symmetric: Collection[str] = SYMMETRIC_RELATION_TYPES,
) -> RelationScores:
    """Score sentence-level relations: (head span, tail span, type).

    predicted[doc_id] = (mentions, relations) with RelationMention.head/tail
    indexing into mentions. Entity spans match by character overlap
    (match="overlap") or exact extent (match="exact"). With `label_map`
    given, the entity labels must agree too (gold label mapped); without it
    only spans count, so relation scores do not depend on entity typing.
    `type_map` is applied to gold *and* predicted relation types (e.g. to
    collapse increases/decreases/causes into influences); a type mapped to
    None is dropped on both sides. Document-level gold relations are skipped.
    """
    if match not in ("overlap", "exact"):
        raise ValueError(f"match must be 'overlap' or 'exact', not {match!r}")
    lmap = _as_callable(label_map)
    tmap = _as_callable(type_map)
    check_label = label_map is not None
    typed_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    untyped_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    errs: dict[str, tuple[list, list]] = {"typed": ([], []), "untyped": ([], [])}

    def err(doc_id: str, r: _Rel) -> ErrorItem:
        return (doc_id, r.head.start, r.tail.start, r.type, f"{r.head.text} -> {r.tail.text}")

    for doc in gold:
        ents = doc.entities_by_id()
        g_rels: list[_Rel] = []
        for r in doc.relations:
            if r.level != "sentence":
                continue
            rtype = tmap(r.type)
            if rtype is None:
                continue
            h, t = ents[r.head], ents[r.tail]
            hl, tl = (lmap(h.label) or h.label), (lmap(t.label) or t.label)
            g_rels.append(_Rel(rtype, _gold_item(h, hl), _gold_item(t, tl)))
        mentions, prels = predicted.get(doc.id, ([], []))
        p_rels: list[_Rel] = []
        for r in prels:
            rtype = tmap(r.type)
            if rtype is None:
                continue
            p_rels.append(_Rel(rtype, _pred_item(mentions[r.head]), _pred_item(mentions[r.tail])))

        for variant, gs, ps, counts in (
            ("typed", g_rels, p_rels, typed_counts),
            ("untyped", _unordered_unique(g_rels), _unordered_unique(p_rels), untyped_counts),
        ):
            cands = []
            for gi, g in enumerate(gs):
                for pi, p in enumerate(ps):
                    if g.type != p.type:
                        continue
                    sym = variant == "untyped" or g.type in symmetric
                    s = _pair_strength(g, p, match, check_label, sym)
                    if s:
                        cands.append(((-s, gi, pi), gi, pi))
            pairs = _greedy(cands)
            for g in gs:
                counts[g.type][0] += 1
            for p in ps:
                counts[p.type][1] += 1
            for gi, _ in pairs:
                counts[gs[gi].type][2] += 1
            mg = {gi for gi, _ in pairs}
            mp = {pi for _, pi in pairs}
            errs[variant][0].extend(err(doc.id, p) for i, p in enumerate(ps) if i not in mp)
            errs[variant][1].extend(err(doc.id, g) for i, g in enumerate(gs) if i not in mg)

    return RelationScores(
        typed=_summarise("typed", typed_counts, *errs["typed"]),
        untyped=_summarise("untyped", untyped_counts, *errs["untyped"]),
        match=match,
    )


# ---- conversions ------------------------------------------------------------


def to_mentions(entities: Iterable[GoldEntity], label_map: LabelMap, source: str = "gold") -> list[Mention]:
    """GoldEntities (e.g. PubTator-auto annotations) -> pgxlit Mentions, dropping unmapped labels.

    A discontinuous entity becomes one Mention over its outer extent.
    """
    lmap = _as_callable(label_map)
    out = []
    for e in entities:
        lab = lmap(e.label)
        if lab is not None:
            out.append(Mention(e.start, e.end, lab, e.text, norm=e.norm, source=source))
    return out


def gold_as_predictions(
    doc: GoldDoc, label_map: LabelMap, source: str = "gold"
) -> tuple[list[Mention], list[RelationMention]]:
    """A gold document rewritten as a prediction (mentions + sentence-level relations).

    Entities whose label maps to None, and relations touching them, are left
    out. Useful as an upper bound and to check the scorer.
    """
    lmap = _as_callable(label_map)
    mentions: list[Mention] = []
    index: dict[str, int] = {}
    for e in doc.entities:
        lab = lmap(e.label)
        if lab is None:
            continue
        index[e.id] = len(mentions)
        mentions.append(Mention(e.start, e.end, lab, e.text, norm=e.norm, source=source))
    rels = [
        RelationMention(index[r.head], index[r.tail], r.type, negated=r.negated, hedged=r.hedged)
        for r in doc.relations
        if r.level == "sentence" and r.head in index and r.tail in index
    ]
    return mentions, rels


# ---- output -----------------------------------------------------------------


def _mode_lines(title: str, ms: ModeScores) -> list[str]:
    rows = [*ms.per_label, ms.micro, ms.macro]
    width = max([len("label"), *(len(r.label) for r in rows)])
    head = f"{'label':<{width}}  {'gold':>6} {'pred':>6} {'tp':>6}  {'P':>6} {'R':>6} {'F1':>6}"
    lines = [title, head, "-" * len(head)]
    for i, r in enumerate(rows):
        if i == len(ms.per_label):
            lines.append("-" * len(head))
        lines.append(
            f"{r.label:<{width}}  {r.gold:>6} {r.pred:>6} {r.tp:>6}  "
            f"{r.precision:>6.3f} {r.recall:>6.3f} {r.f1:>6.3f}"
        )
    return lines


def format_table(scores: EntityScores | RelationScores | ModeScores) -> str:
    """An aligned plain-text table (label, gold, pred, tp, P, R, F1) per mode."""
    if isinstance(scores, ModeScores):
        blocks = [(scores.mode, scores)]
    elif isinstance(scores, EntityScores):
        blocks = [("entities, exact span", scores.exact), ("entities, overlap", scores.overlap)]
    elif isinstance(scores, RelationScores):
        blocks = [
            (f"relations, typed ({scores.match} spans)", scores.typed),
            (f"relations, untyped ({scores.match} spans)", scores.untyped),
        ]
    else:
        raise TypeError(f"cannot format {type(scores).__name__}")
    out: list[str] = []
    for title, ms in blocks:
        if out:
            out.append("")
        out.extend(_mode_lines(title, ms))
    return "\n".join(out) + "\n"


# ---- regression check -------------------------------------------------------


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}. Keys starting with "_" (comments) are skipped."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if str(k).startswith("_"):
            continue
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def compare_to_expected(scores_dict: Mapping[str, Any], expected_path: Path, tolerance: float = 0.02) -> list[str]:
    """Differences between actual figures and a JSON file of expected ones.

    The expected file is a nested JSON object mirroring (a subset of)
    `scores_dict` -- e.g. {"pgxcorpus_dev": {"overlap": {"micro": {"f1": 0.61}}}};
    keys starting with "_" are comments. Floats may differ by at most
    `tolerance` (absolute); integers (counts) and strings must be equal.
    As in Pyserini's regression checks, a figure that moved *up* beyond the
    tolerance is reported too (the expected file needs updating), so the
    file always describes the code. Returns [] when everything agrees.
    """
    expected = json.loads(Path(expected_path).read_text(encoding="utf-8"))
    exp, act = flatten(expected), flatten(scores_dict)
    problems = []
    for key, want in exp.items():
        if key not in act:
            problems.append(f"{key}: expected {want!r}, missing from the scores")
            continue
        got = act[key]
        if isinstance(want, bool) or isinstance(want, str) or want is None:
            if got != want:
                problems.append(f"{key}: expected {want!r}, got {got!r}")
        elif isinstance(want, int):
            if got != want:
                problems.append(f"{key}: expected {want}, got {got} (counts must match exactly)")
        elif isinstance(want, float):
            if not isinstance(got, (int, float)) or isinstance(got, bool):
                problems.append(f"{key}: expected {want}, got non-number {got!r}")
            elif got < want - tolerance:
                problems.append(f"{key}: REGRESSION {got:.4f} < expected {want:.4f} - {tolerance}")
            elif got > want + tolerance:
                problems.append(f"{key}: improved {got:.4f} > expected {want:.4f} + {tolerance}; update the expected figures")
        else:
            problems.append(f"{key}: unsupported expected value {want!r}")
    return problems
