"""`pgxlit eval extraction`: score the pipeline against a gold corpus (DEV data only).

The DEV data is split once, deterministically (`extract.gold.dev_split`): rules
were written looking at the train fold; figures are reported on the test fold.
Expected figures live in `extract/expected/*.json` so a drop shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pgxlit.extract import negation
from pgxlit.extract import relations as rel
from pgxlit.extract.evaluate import (
    BIORED_TO_PGXLIT,
    PGXCORPUS_TO_PGXLIT,
    PGXMINE_TO_PGXLIT,
    format_table,
    score_entities,
    score_relations,
    to_mentions,
)
from pgxlit.extract.gold import GoldDoc, dev_split, read_biored, read_pgxcorpus, read_pgxmine
from pgxlit.extract.pgxcorpus_types import FineTyper, describe_typer, shipped_typer, to_pgxcorpus
from pgxlit.extract.pipeline import annotate_texts, default_nlp, relate, relation_model
from pgxlit.records import Mention, RelationMention

EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
GOLDS = ("pgxcorpus", "biored", "pgxmine")
# Entity labels we predict that each corpus annotates.
BIORED_LABELS = ("DRUG", "GENE", "VARIANT", "DISEASE")


def _load(gold: str, path: Path) -> list[GoldDoc]:
    if gold == "pgxcorpus":
        return read_pgxcorpus(path)
    if gold == "biored":
        files = [path] if path.is_file() else sorted(path.glob("*.PubTator"))
        return [d for f in files for d in read_biored(f)]
    if gold == "pgxmine":
        files = [path] if path.is_file() else sorted(path.glob("*.bioc.xml"))
        return [d for f in files for d in read_pgxmine(f)]
    raise ValueError(f"unknown gold corpus {gold!r}; choose one of {', '.join(GOLDS)}")


def predict(docs: list[GoldDoc], nlp: Any = None) -> dict[str, tuple[list[Mention], list[RelationMention]]]:
    """Mentions and relations for each gold text, with document offsets (`nlp`: default_nlp())."""
    out: dict[str, tuple[list[Mention], list[RelationMention]]] = {}
    for doc, sentences in zip(docs, annotate_texts((d.text for d in docs), nlp or default_nlp()), strict=True):
        mentions: list[Mention] = []
        relations: list[RelationMention] = []
        for sent in sentences:
            base = len(mentions)
            shifted = [
                Mention(m.start + sent.start, m.end + sent.start, m.label, m.text, m.norm, m.kind, m.source)
                for m in sent.mentions
            ]
            mentions += shifted
            for r in relate(sent.text, sent.mentions):
                relations.append(RelationMention(r.head + base, r.tail + base, r.type, r.confidence, r.negated, r.hedged))
        out[doc.id] = (mentions, relations)
    return out


def in_pgxcorpus_scheme(
    docs: list[GoldDoc], predicted: dict[str, tuple[list[Mention], list[RelationMention]]], typer: FineTyper | None,
    relations: bool = True,
) -> dict[str, tuple[list[Mention], list[RelationMention]]]:
    """Each document's predictions in a gold corpus's own types and span edges (`pgxcorpus_types`;
    PGxCorpus's coarse mapping when no typer is given)."""
    again = relate if relations else None
    return {d.id: to_pgxcorpus(d.text, *predicted[d.id], typer=typer, relate=again) for d in docs if d.id in predicted}


def pgxcorpus_scheme_scores(
    docs: list[GoldDoc], predicted: dict[str, tuple[list[Mention], list[RelationMention]]]
) -> tuple[dict[str, Any], list[str]]:
    """The headline in PGxCorpus's own scheme: entity macro-F1 over the ten types and typed
    relation F1 (seven types), exact spans; overlap spans beside, labelled."""
    typer = shipped_typer()
    full = in_pgxcorpus_scheme(docs, predicted, typer)
    entities = score_entities(docs, {k: v[0] for k, v in full.items()}, lambda label: label)
    exact = score_relations(docs, full, match="exact")
    overlap = score_relations(docs, full, match="overlap")
    how = describe_typer(typer)
    data = {
        "typer": bool(typer),
        "entities": entities.to_dict(),
        "relations_exact": exact.to_dict(),
        "relations_overlap": overlap.to_dict(),
    }
    lines = [
        f"HEADLINE, PGxCorpus's own scheme (10 entity types, 7 relation types) via {how}:",
        f"  exact spans:   entity macro-F1 {entities.exact.macro.f1:.3f} (micro {entities.exact.micro.f1:.3f}); "
        f"typed relation F1 {exact.typed.micro.f1:.3f} (micro; macro over types {exact.typed.macro.f1:.3f})",
        f"  overlap spans: entity macro-F1 {entities.overlap.macro.f1:.3f} (micro {entities.overlap.micro.f1:.3f}); "
        f"typed relation F1 {overlap.typed.micro.f1:.3f} (micro; macro over types {overlap.typed.macro.f1:.3f})",
        "",
        "entities, PGxCorpus scheme", format_table(entities),
        "relations, PGxCorpus scheme, exact spans", format_table(exact),
    ]
    return data, lines


def negation_scores(docs: list[GoldDoc]) -> dict[str, Any]:
    """Is each gold relation negated? PGxCorpus marks a denied relation with a "neg" note; pgxlit's answer is
    an abstract triple's `negated` (`negation.triple_negated`) for the relation's two gold entities, with the
    sentence's other gold entities as its mentions. Every gold relation whose two ends have pgxlit labels
    counts, not only drug–gene ones."""
    tp = fp = fn = pairs = 0
    for doc in docs:
        entities = {e.id: e for e in doc.entities}
        as_mention = {i: Mention(e.start, e.end, label, e.text) for i, e in entities.items()
                      if (label := PGXCORPUS_TO_PGXLIT.get(e.label)) is not None}
        for r in doc.relations:
            if r.head not in as_mention or r.tail not in as_mention:
                continue
            drug, factor = sorted((as_mention[r.head], as_mention[r.tail]), key=lambda m: m.label != "DRUG")
            said = negation.triple_negated(doc.text, drug, factor, tuple(as_mention.values()), study=True)
            pairs += 1
            tp += said and r.negated
            fp += said and not r.negated
            fn += r.negated and not said
    p = tp / (tp + fp) if tp + fp else 0.0
    r_ = tp / (tp + fn) if tp + fn else 0.0
    return {"relations": pairs, "gold_negated": tp + fn, "said_negated": tp + fp, "precision": round(p, 4),
            "recall": round(r_, 4), "f1": round(2 * p * r_ / (p + r_), 4) if p + r_ else 0.0}


def pgxmine_scores(docs: list[GoldDoc]) -> list[tuple[float, bool, bool]]:
    """(score, negated by the rules, gold) for every gold chemical–variant pair of the sentences."""
    out: list[tuple[float, bool, bool]] = []
    model = relation_model()
    for doc in docs:
        others = to_mentions(doc.entities, PGXMINE_TO_PGXLIT)
        chems = [e for e in doc.entities if e.label == "Chemical"]
        muts = [e for e in doc.entities if e.label == "Mutation"]
        positive = {frozenset((r.head, r.tail)) for r in doc.relations}
        for c in chems:
            for m in muts:
                dm = Mention(c.start, c.end, "DRUG", c.text)
                vm = Mention(m.start, m.end, "VARIANT", m.text, kind="rsid" if m.text.startswith("rs") else None)
                gold = frozenset((c.id, m.id)) in positive
                if model is not None:
                    out.append((model.pair_probability(doc.text, dm, vm, others=others), False, gold))
                else:
                    s = rel.signals(doc.text, dm, vm)
                    out.append((rel.confidence_of(s, vm), s.negated, gold))
    return out


def pgxmine_pairs(
    docs: list[GoldDoc], threshold: float, scores: list[tuple[float, bool, bool]] | None = None
) -> dict[str, Any]:
    """PGxMine's task: is each gold chemical–variant pair of a sentence an association?
    `scores`: pgxmine_scores(docs), to sweep thresholds without scoring again."""
    tp = fp = fn = tn = 0
    for score, negated, gold in scores if scores is not None else pgxmine_scores(docs):
        predicted = score >= threshold and not negated
        tp += predicted and gold
        fp += predicted and not gold
        fn += (not predicted) and gold
        tn += (not predicted) and not gold
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"threshold": threshold, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}


def evaluate(gold: str, path: Path, fold: str = "test") -> tuple[dict[str, Any], str]:
    """Scores as a dict (for --json and the expected-figures check) and as a printable table."""
    docs = _load(gold, path)
    if fold != "all":
        docs = dev_split(docs, fold)
    if not docs:
        raise ValueError(f"no {gold} documents found under {path}")
    result: dict[str, Any] = {"gold": gold, "fold": fold, "documents": len(docs)}
    lines = [f"{gold} DEV, {fold} fold: {len(docs)} documents"]
    if gold == "pgxmine":
        thresholds = [0.4, 0.5, 0.6, 0.7, 0.8]
        model = relation_model()
        chosen = (getattr(model, "meta", None) or {}).get("settings", {}).get("pair", {}).get("threshold_cv_best_p_at_r60")
        if chosen is not None:  # the model's own operating point, chosen on the train fold (best P at R >= 0.60)
            thresholds = sorted({*thresholds, round(float(chosen), 3)})
        scores = pgxmine_scores(docs)
        sweep = [pgxmine_pairs(docs, t, scores) for t in thresholds]
        result["associations"] = {f"threshold_{s['threshold']:g}": s for s in sweep}
        lines.append("chemical–variant association (gold entities given)")
        lines += [f"  threshold {s['threshold']:g}: P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f}"
                  + ("  (chosen on the train fold)" if chosen is not None and s["threshold"] == round(float(chosen), 3) else "")
                  for s in sweep]
        return result, "\n".join(lines)
    predicted = predict(docs)
    if gold == "pgxcorpus":
        full, full_lines = pgxcorpus_scheme_scores(docs, predicted)
        result["pgxcorpus_scheme"] = full
        entities = score_entities(docs, {k: v[0] for k, v in predicted.items()}, PGXCORPUS_TO_PGXLIT)
        relations = score_relations(docs, predicted)
        result["entities"] = entities.to_dict()
        result["relations"] = relations.to_dict()
        lines += full_lines
        lines.append(
            f"coarse (extra row; pgxlit's 6 labels, PGxCorpus types folded): entity macro-F1 exact "
            f"{entities.exact.macro.f1:.3f}, overlap {entities.overlap.macro.f1:.3f}; "
            f"typed relation F1 (overlap spans) {relations.typed.micro.f1:.3f}"
        )
        negation = negation_scores(docs)
        result["negation"] = negation
        lines.append(
            f"negation (extra row; gold entities given): of {negation['relations']} gold relations "
            f"{negation['gold_negated']} are negated, pgxlit says {negation['said_negated']}: "
            f"P {negation['precision']:.3f} R {negation['recall']:.3f} F1 {negation['f1']:.3f}"
        )
        lines += ["", "coarse entities (pgxlit labels)", format_table(entities),
                  "coarse relations (any entity pair)", format_table(relations)]
    else:
        entities = score_entities(docs, {k: v[0] for k, v in predicted.items()}, BIORED_TO_PGXLIT, labels=BIORED_LABELS)
        result["entities"] = entities.to_dict()
        typer = shipped_typer("biored")
        if typer is not None:
            scheme = score_entities(docs, {k: v[0] for k, v in in_pgxcorpus_scheme(docs, predicted, typer, False).items()},
                                    lambda label: label if label in typer.head.classes else None)
            result["biored_scheme"] = scheme.to_dict()
            lines += [
                "HEADLINE, BioRED's own scheme (its 4 types pgxlit covers, its span edges; "
                f"{describe_typer(typer, 'biored')}, trained on the BioRED train fold):",
                f"  exact spans: NER macro-F1 {scheme.exact.macro.f1:.3f} (micro {scheme.exact.micro.f1:.3f}); "
                f"overlap {scheme.overlap.macro.f1:.3f}",
                "", "entities, BioRED scheme", format_table(scheme),
            ]
        lines += [f"coarse (pgxlit labels as they are): NER macro-F1 exact {entities.exact.macro.f1:.3f}, "
                  f"overlap {entities.overlap.macro.f1:.3f}", "entities, pgxlit labels", format_table(entities)]
    return result, "\n".join(lines)

