"""Typed relation F1 of a relation classifier on PGxCorpus, with gold entities and end to end.

    python tools/eval_relations.py --shared ../shared                        # the shipped default (sparse)
    python tools/eval_relations.py --shared ../shared --relations transformer
    python tools/eval_relations.py --shared ../shared --relations corpora/models/pgx_rel_tf --end-to-end

Why: end-to-end relation F1 mixes NER errors with relation errors. With the gold entities given
(their labels folded to pgxlit's six, as the classifiers see them) the figure is the relation
model's alone. Scored as the headline is: sentence-level (head, tail, type), the seven PGxCorpus
types, direction as the gold states it (isAssociatedWith and isEquivalentTo either way), exact
spans, overlap spans beside. --end-to-end adds `pgxlit eval extraction --gold pgxcorpus`'s
headline (the pipeline's own mentions through the shipped PGxCorpus typer, judged again by the same
relation classifier), and where its gold relations are lost and its false positives come from
(`breakdown`).

Every row reads the one fold --fold names (the output says which, and which shipped models were
fitted on it):
  test       the DEV test fold: report only, never choose by it;
  held       the relation models' held-back fifth of the train fold (train_relations.fold_of == 0):
             the fine-tuned relation transformer and its blend are chosen on it and never trained on
             it, so relation classifiers are compared here;
  held-span  the span/CRF trainers' fifth (extract.gold_folds.held_back): their settings were chosen
             on it; the relation transformer trained on most of it.
On either held fold the shipped NER models, the PGxCorpus typer and the sparse relation model were
fitted on the whole train fold, that fifth included: end-to-end rows there are optimistic for
entities, and the sparse model's rows for relations too. So is a blend over the shipped sparse model
(gold-entity typed F1 0.88 on the held fifth, December 2026); compare the blend there over
the sparse copy that never saw the fifth:

    python tools/train_relation_transformer.py --shared ../shared --held-sparse /tmp/pgx_rel_held
    python tools/eval_relations.py --shared ../shared --fold held --relations transformer --sparse-folder /tmp/pgx_rel_held
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

FOLDS = {
    # What the shipped models were fitted on; the classifier under test says its own (`fitted_on`).
    "test": "DEV test fold (extract.gold.dev_split): no shipped model was fitted on it",
    "held": ("held-back fifth of the DEV train fold, train_relations.fold_of == 0: the relation transformer "
             "never trained on it (its epoch, temperature, thresholds and blend were chosen on it); the sparse "
             "relation model, the NER models and the PGxCorpus typer were fitted on the whole train fold, this "
             "fifth included (end to end: optimistic for entities; sparse rows: optimistic for relations)"),
    "held-span": ("the span/CRF trainers' held-back fifth of the DEV train fold (extract.gold_folds.held_back): "
                  "their settings were chosen on it, the shipped span model, CRF and typer were then refitted on "
                  "the whole train fold; the relation transformer trained on the part outside fold_of == 0 and the "
                  "sparse model on all of it (optimistic for every model)"),
}


def fitted_on(meta: dict[str, Any] | None, sparse_meta: dict[str, Any] | None = None) -> str:
    """What a relation classifier was fitted on, as its meta.json says (None: the rules, nothing);
    `sparse_meta`: the meta of the sparse model a blend reads."""
    if meta is None:
        return "rules: nothing fitted"
    if meta.get("what"):
        return meta["what"]
    data = meta.get("data") or {}
    fold = data.get("fold") or (data.get("typed") or {}).get("fold") or "?"
    blend = meta.get("blend") or {}
    if blend.get("weight", 1.0) < 1.0:
        fold += (f"; blended (weight {blend['weight']}) with the sparse model: "
                 f"{(sparse_meta or {}).get('what') or 'the shipped one, whole train fold'}")
    return fold


def blend_over(relations: str, sparse_folder: Path) -> Any:
    """The blended relation transformer `relations` names ("transformer" or its folder) over another sparse
    model folder: on a held fold, the copy that never saw it (train_relation_transformer.py --held-sparse)."""
    from pgxlit.extract import relation_transformer as rtf

    if relations != "transformer" and not rtf.is_transformer_folder(relations):
        raise ValueError(f"--sparse-folder needs a blended relation transformer (--relations transformer or its "
                         f"folder), not {relations!r}")
    if not (Path(sparse_folder) / "model.json").is_file():
        raise FileNotFoundError(f"no sparse relation model in {sparse_folder} (model.json missing); write one with "
                                "`python tools/train_relation_transformer.py --shared ../shared --held-sparse DIR`")
    return rtf.TransformerRelationModel.load(None if relations == "transformer" else relations, sparse_folder=sparse_folder)


def blend_warning(fold: str, meta: dict[str, Any]) -> str | None:
    """Why a blend's rows on a held fold are not its held-back figure, or None: a blend whose meta.json
    names no other sparse folder reads the shipped sparse model, fitted on the held fifths too."""
    blend = meta.get("blend") or {}
    if fold == "test" or blend.get("weight", 1.0) >= 1.0 or blend.get("sparse_folder"):
        return None
    return ("this blend reads the shipped sparse model, which was fitted on this fold: its rows are not the blend's "
            "held-back figure; pass --sparse-folder with the --held-sparse copy")


def fold_docs(docs: list, fold: str) -> list:
    """The PGxCorpus DEV documents of `fold` (a key of FOLDS); the held folds never hold a test document."""
    sys.path.insert(0, str(REPO / "tools"))
    import train_relations as tr

    from pgxlit.extract.gold import dev_split
    from pgxlit.extract.gold_folds import held_back

    if fold not in FOLDS:
        raise ValueError(f"unknown fold {fold!r}; choose one of {', '.join(FOLDS)}")
    if fold == "test":
        return dev_split(docs, "test")
    train = dev_split(docs, "train")
    if fold == "held":
        return [d for d in train if tr.fold_of(d.id) == 0]
    return [d for d in train if held_back(d.id)]


def _docs(shared: Path, fold: str) -> list:
    from pgxlit.extract.gold import read_pgxcorpus

    return fold_docs(read_pgxcorpus(shared / "gold" / "pgxcorpus"), fold)


def end_to_end(docs: list, label_pairs=None) -> dict[str, Any]:
    """The headline on `docs` (exact spans; overlap beside): the pipeline's own mentions and relations
    (`benchmarks.predict`, the relation classifier the settings select), through the shipped PGxCorpus
    typer, judged again by the same classifier (`benchmarks.in_pgxcorpus_scheme`, as `pgxlit eval
    extraction` does); what it could reach and, with `label_pairs`, where gold relations are lost."""
    from pgxlit.extract.benchmarks import in_pgxcorpus_scheme, predict
    from pgxlit.extract.evaluate import score_entities, score_relations
    from pgxlit.extract.pgxcorpus_types import shipped_typer

    t0 = time.perf_counter()
    typed = in_pgxcorpus_scheme(docs, predict(docs), shipped_typer())
    out: dict[str, Any] = {}
    for match in ("exact", "overlap"):
        sc = score_relations(docs, typed, match=match)
        out[match] = {"typed_micro": sc.typed.micro.to_dict(), "typed_macro_f1": round(sc.typed.macro.f1, 4),
                      "untyped_micro": sc.untyped.micro.to_dict(),
                      "per_type": {s.label: s.to_dict() for s in sc.typed.per_label}}
    entities = score_entities(docs, {k: v[0] for k, v in typed.items()}, lambda label: label)
    out["entity_macro_f1_exact"] = round(entities.exact.macro.f1, 4)
    out["reachable_with_typer"] = reachable(docs, {k: v[0] for k, v in typed.items()})
    if label_pairs is not None:
        out["breakdown"] = breakdown(docs, typed, label_pairs)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def gold_entity_scores(docs: list, predict) -> dict[str, Any]:
    """`predict(sentence, mentions)` over each sentence's gold entities (coarse labels), scored
    exact and overlap."""
    sys.path.insert(0, str(REPO / "tools"))
    import train_relations as tr

    from pgxlit.extract.evaluate import score_relations

    predicted = {}
    for d in docs:
        mentions, _ = tr.pgxcorpus_sentence(d)
        predicted[d.id] = (mentions, predict(d.text, mentions))
    return {match: score_relations(docs, predicted, match=match) for match in ("exact", "overlap")}


def reachable(docs: list, mentions_of: dict) -> dict[str, Any]:
    """How many gold relations have both ends among the predicted mentions (exact spans; any
    overlap): the most an end-to-end relation classifier can find, whatever its quality."""
    total = exact = overlap = 0
    for d in docs:
        ms = mentions_of.get(d.id, [])
        spans = {(m.start, m.end) for m in ms}
        ents = d.entities_by_id()
        for r in d.relations:
            ends = (ents[r.head], ents[r.tail])
            total += 1
            exact += all((e.start, e.end) in spans for e in ends)
            overlap += all(any(m.start < e.end and e.start < m.end for m in ms) for e in ends)
    return {"gold_relations": total, "both_ends_exact": exact, "both_ends_overlap": overlap,
            "recall_ceiling_exact": round(exact / total, 4) if total else 0.0,
            "recall_ceiling_overlap": round(overlap / total, 4) if total else 0.0}


def breakdown(docs: list, predicted: dict, label_pairs) -> dict[str, Any]:
    """Where end-to-end typed relations go (exact spans, the headline's criterion).

    Each gold relation lands in one bucket: an end missed (no predicted mention overlaps it),
    an end found with wrong edges (overlapping only), both ends exact but the pair not a
    candidate (label pair never related in training, or the mentions overlap), a candidate
    judged NONE, the right pair with the wrong type (confusions counted gold -> predicted),
    the right type reversed, or found. Each unmatched predicted relation lands in one: an end
    that is no gold entity at all, an end with wrong edges, two gold entities the gold does
    not relate, wrong type, or reversed. `predicted[doc_id]` = (mentions in the scheme,
    relations), as `benchmarks.in_pgxcorpus_scheme` gives them."""
    from collections import Counter

    from pgxlit.extract.evaluate import PGXCORPUS_TO_PGXLIT, SYMMETRIC_RELATION_TYPES
    from pgxlit.extract.relation_model import candidate_pairs
    from pgxlit.records import Mention

    gold_buckets: Counter = Counter()
    fp_buckets: Counter = Counter()
    confusions: Counter = Counter()
    for d in docs:
        mentions, rels = predicted.get(d.id, ([], []))
        ents = d.entities_by_id()
        coarse = [Mention(m.start, m.end, PGXCORPUS_TO_PGXLIT.get(m.label) or m.label, m.text) for m in mentions]
        cands = {frozenset(p) for p in candidate_pairs(coarse, label_pairs)}
        by_span: dict[tuple[int, int], list[int]] = {}
        for k, m in enumerate(mentions):
            by_span.setdefault((m.start, m.end), []).append(k)
        pred_of: dict[tuple, list] = {}
        for r in rels:
            a, b = mentions[r.head], mentions[r.tail]
            pred_of.setdefault(frozenset(((a.start, a.end), (b.start, b.end))), []).append(r)
        gold_pairs: dict[frozenset, list] = {}
        matched_pred: set[int] = set()

        def end_state(e) -> str:
            if (e.start, e.end) in by_span:
                return "exact"
            return "edges" if any(m.start < e.end and e.start < m.end for m in mentions) else "missed"

        for g in d.relations:
            if g.level != "sentence":
                continue
            h, t = ents[g.head], ents[g.tail]
            gold_pairs.setdefault(frozenset(((h.start, h.end), (t.start, t.end))), []).append(g)
            states = {end_state(h), end_state(t)}
            if "missed" in states:
                gold_buckets["lost: an end missed by NER/typer"] += 1
                continue
            if "edges" in states:
                gold_buckets["lost: an end found with wrong edges"] += 1
                continue
            hs, ts = by_span[(h.start, h.end)], by_span[(t.start, t.end)]
            if not any(frozenset((i, j)) in cands for i in hs for j in ts):
                gold_buckets["lost: both ends exact, pair not a candidate"] += 1
                continue
            found = pred_of.get(frozenset(((h.start, h.end), (t.start, t.end))), [])
            same = [r for r in found if r.type == g.type]
            right_dir = [r for r in same if g.type in SYMMETRIC_RELATION_TYPES
                         or (mentions[r.head].start, mentions[r.head].end) == (h.start, h.end)]
            if right_dir:
                gold_buckets["found (typed, exact)"] += 1
                matched_pred.update(id(r) for r in right_dir[:1])
            elif same:
                gold_buckets["lost: right type, reversed"] += 1
            elif found:
                gold_buckets["lost: wrong type"] += 1
                confusions[f"{g.type} -> {found[0].type}"] += 1
            else:
                gold_buckets["lost: candidate judged NONE"] += 1
        gold_spans = {(e.start, e.end) for e in d.entities}
        for r in rels:
            if id(r) in matched_pred:
                continue
            a, b = mentions[r.head], mentions[r.tail]
            ends = [(a.start, a.end), (b.start, b.end)]
            if any(not any(e.start < x[1] and x[0] < e.end for e in d.entities) for x in ends):
                fp_buckets["FP: an end is no gold entity"] += 1
            elif any(x not in gold_spans for x in ends):
                fp_buckets["FP: an end has wrong edges"] += 1
            else:
                gs = gold_pairs.get(frozenset(ends), [])
                if not gs:
                    fp_buckets["FP: two gold entities, no gold relation"] += 1
                elif any(g.type == r.type for g in gs):
                    fp_buckets["FP: right type, reversed (or a duplicate)"] += 1
                else:
                    fp_buckets["FP: wrong type"] += 1
    return {"gold": dict(sorted(gold_buckets.items())), "false_positives": dict(sorted(fp_buckets.items())),
            "type_confusions": dict(confusions.most_common())}


def summary(scores: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for match, sc in scores.items():
        out[match] = {"typed_micro": sc.typed.micro.to_dict(), "typed_macro_f1": round(sc.typed.macro.f1, 4),
                      "untyped_micro": sc.untyped.micro.to_dict(),
                      "per_type": {s.label: s.to_dict() for s in sc.typed.per_label}}
    return out


def table(name: str, s: dict[str, Any]) -> list[str]:
    e, o = s["exact"], s["overlap"]
    t = e["typed_micro"]
    lines = [f"{name}: typed F1 exact {t['f1']:.3f} (P {t['precision']:.3f} R {t['recall']:.3f}), "
             f"overlap {o['typed_micro']['f1']:.3f}; untyped exact {e['untyped_micro']['f1']:.3f}; "
             f"macro over types {e['typed_macro_f1']:.3f}"]
    lines += [f"    {k:<17} gold {v['gold']:>4} pred {v['pred']:>4}  P {v['precision']:.3f} R {v['recall']:.3f} "
              f"F1 {v['f1']:.3f}" for k, v in e["per_type"].items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (holds gold/)")
    p.add_argument("--relations", default="auto",
                   help="the relation classifier, as PGXLIT_EXTRACT_RELATIONS: auto, rules, transformer or a folder")
    p.add_argument("--fold", default="test", choices=tuple(FOLDS),
                   help="test: the DEV test fold (report only); held: the relation models' held-back fifth of the "
                        "train fold (choose relation models here); held-span: the span trainers' fifth. Every row reads it")
    p.add_argument("--sparse-folder", type=Path, default=None,
                   help="with a blended relation transformer: blend over this sparse model folder instead of the shipped "
                        "one. On --fold held pass the copy `python tools/train_relation_transformer.py --held-sparse DIR` "
                        "writes: the shipped sparse model was fitted on that fifth, so a blend over it reads far too high "
                        "there")
    p.add_argument("--threshold", default=None, help="a number or a threshold name of the model (default: its own)")
    p.add_argument("--end-to-end", action="store_true",
                   help="also the pipeline's own mentions (NER + PGxCorpus typer), same fold")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    os.environ["PGXLIT_EXTRACT_RELATIONS"] = a.relations
    from pgxlit.extract import relations as rules
    from pgxlit.extract.pipeline import relation_model

    if a.sparse_folder is not None and a.end_to_end:
        p.error("--sparse-folder applies to the gold-entity rows only (the end-to-end rows run the pipeline, which "
                "reads the classifier the settings name): for those, pass --relations a copy of the model folder whose "
                "meta.json names blend.sparse_folder")
    try:
        model = relation_model() if a.sparse_folder is None else blend_over(a.relations, a.sparse_folder)
    except (FileNotFoundError, ValueError) as e:
        p.error(str(e))
    threshold: Any = a.threshold
    if threshold is not None:
        try:
            threshold = float(threshold)
        except ValueError:
            pass
    predict = rules.relate if model is None else (lambda s, m: model.predict(s, m, threshold=threshold))
    docs = _docs(a.shared, a.fold)
    sparse = getattr(model, "sparse", None)  # the sparse model a transformer blend reads
    t0 = time.perf_counter()
    result: dict[str, Any] = {"relations": a.relations, "fold": a.fold, "fold_is": FOLDS[a.fold],
                              "relations_fitted_on": fitted_on(None if model is None else model.meta,
                                                               None if sparse is None else sparse.meta),
                              "sentences": len(docs),
                              "gold_entities": summary(gold_entity_scores(docs, predict))}
    warning = None if model is None else blend_warning(a.fold, model.meta)
    if warning:
        result["warning"] = warning
    result["gold_entities"]["seconds"] = round(time.perf_counter() - t0, 1)
    result["gold_entities"]["sentences_per_second"] = round(len(docs) / max(result["gold_entities"]["seconds"], 1e-9), 1)
    lines = [f"PGxCorpus DEV {a.fold} fold, {len(docs)} sentences, relations={a.relations}",
             f"  (fold: {FOLDS[a.fold]})",
             f"  (this relation classifier was fitted on: {result['relations_fitted_on']})",
             *([f"  (warning: {result['warning']})"] if "warning" in result else []),
             *table("gold entities given", result["gold_entities"]),
             f"  ({result['gold_entities']['seconds']} s)"]
    if a.end_to_end:
        if a.threshold is not None:
            lines.append("  (end to end: the model's own thresholds; --threshold applies to the gold-entity rows only)")
        e2e = end_to_end(docs, model.label_pairs if model is not None else None)
        result["end_to_end"] = e2e
        lines += table(f"end to end, {a.fold} fold, PGxCorpus scheme (entity macro-F1 exact "
                       f"{e2e['entity_macro_f1_exact']:.3f})", e2e)
        c = e2e["reachable_with_typer"]
        lines.append(f"  gold relations with both ends found (rule/NER mentions through the typer): exact spans "
                     f"{c['both_ends_exact']}/{c['gold_relations']} ({c['recall_ceiling_exact']:.3f}), overlapping "
                     f"{c['both_ends_overlap']} ({c['recall_ceiling_overlap']:.3f})")
        for part, counts in e2e.get("breakdown", {}).items():
            lines.append(f"  {part.replace('_', ' ')}: " + "; ".join(f"{k} {v}" for k, v in counts.items()))
        lines.append(f"  ({e2e['seconds']} s)")
    print(json.dumps(result, indent=1) if a.json else "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
