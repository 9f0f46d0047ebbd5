"""Train the nested CRF tagger of extract/nested_crf.py for PGxCorpus's ten entity types.

    python tools/train_pgxcorpus_crf.py --shared ../shared --out corpora/models/pgxcorpus_crf

Data: PGxCorpus DEV, **train fold only** (`extract.gold.dev_split(docs, "train")`). A fixed
fifth of it (by sentence id, the span model's `held_back`) is held back: the L1/L2 strengths,
the context window, the gazetteer and the number of levels are chosen on it by exact-span
macro-F1 over the ten types (extract.evaluate.score_entities, nested spans scored as the
headline scores them). The chosen settings are then trained again on the whole train fold.
Each level above the first learns from the lower levels' predictions out of fold (a model of
the lower level trained on the other four of five folds tags each sentence), so what it sees
in training looks like what it sees on new text. CRFsuite's L-BFGS gives the same model for
the same data and settings. The test fold is read only after the model is written, to print
and record its figures. Every sentence goes through the pipeline pgxlit ships
(`benchmarks.predict`) once; its rule mentions are features.

The marginal threshold for spans off the Viterbi path (nested_crf.marginal_spans) is chosen last,
on the held-back fifth with the chosen settings' fit-part levels (`--thresholds`; none unless one
beats the paths alone). `--tune-marginal` does only that for the model already in --out and records
it in its meta.json without retraining the shipped levels (then `--record-test`).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_crf_ner import first_pass_out_of_fold as out_of_fold_spans  # noqa: E402  (one CRF trainer)
from train_crf_ner import spans_all as tag_with  # noqa: E402
from train_crf_ner import train  # noqa: E402
from train_span_ner import LICENCES, held_back, load_docs  # noqa: E402  (one fifth, one loader)

from pgxlit.extract.benchmarks import predict  # noqa: E402
from pgxlit.extract.crf_ner import GAZETTEER_FILE, Gazetteer, spans_of, tokens_of  # noqa: E402
from pgxlit.extract.evaluate import scheme_figures  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.nested_crf import (  # noqa: E402
    KIND,
    NestedSettings,
    Span,
    base_features,
    build_command,
    gold_tags,
    layer_file,
    layers_of,
    load_nested,
    tag_level,
    with_stack,
)
from pgxlit.extract.pgxcorpus_types import PGXCORPUS_TYPES  # noqa: E402
from pgxlit.records import Mention  # noqa: E402

FOLDS = 5
Features = list[list[list[str]]]


def fold_of(doc_id: str, folds: int = FOLDS) -> int:
    """A fixed fold of a sentence, by id (for the gazetteer's and the lower levels' out-of-fold views)."""
    return int(hashlib.sha256(f"nested-crf:{doc_id}".encode()).hexdigest(), 16) % folds


def gold_spans(d: GoldDoc) -> list[Span]:
    return [(e.start, e.end, e.label) for e in d.entities if e.label in PGXCORPUS_TYPES]


def jackknife(docs: list[GoldDoc]) -> dict[str, Gazetteer]:
    """Each sentence's gazetteer built from the other folds' sentences only."""
    out: dict[str, Gazetteer] = {}
    for k in range(FOLDS):
        others = Gazetteer.build([(d.text, gold_spans(d)) for d in docs if fold_of(d.id) != k])
        out.update({d.id: others for d in docs if fold_of(d.id) == k})
    return out


def features_of(docs: list[GoldDoc], mentions: dict[str, list[Mention]], settings: NestedSettings,
                gazetteers: dict[str, Gazetteer] | Gazetteer | None) -> Features:
    def gaz(d: GoldDoc) -> Gazetteer | None:
        return gazetteers.get(d.id) if isinstance(gazetteers, dict) else gazetteers

    return [base_features(d.text, tokens_of(d.text), mentions[d.id], settings, gaz(d)) for d in docs]


def stacked(docs: list[GoldDoc], xs: Features, below: list[list[Span]]) -> Features:
    return [with_stack(x, tokens_of(d.text), b) for d, x, b in zip(docs, xs, below, strict=True)]


def fit_levels(docs: list[GoldDoc], xs: Features, layers: int, c1: float, c2: float, iterations: int,
               out: Path) -> list[Path]:
    """One model per level, written to `out`; level k learns from levels < k's out-of-fold spans."""
    ys = [gold_tags(tokens_of(d.text), gold_spans(d), layers) for d in docs]
    below: list[list[Span]] = [[] for _ in docs]
    paths = []
    for k in range(layers):
        xk = stacked(docs, xs, below) if k else xs
        yk = [y[k] for y in ys]
        path = out / layer_file(k)
        train(xk, yk, c1, c2, iterations, path)
        paths.append(path)
        if k + 1 < layers:  # this level's out-of-fold spans, for the levels above
            with tempfile.TemporaryDirectory() as tmp:
                oof = out_of_fold_spans(docs, xk, yk, c1, c2, iterations, Path(tmp), fold_of)
            below = [b + spans for b, spans in zip(below, oof, strict=True)]
    return paths


def tag_levels(paths: list[Path], docs: list[GoldDoc], xs: Features, threshold: float | None = None) -> list[list[Span]]:
    """Every sentence's spans of all levels, each level reading the ones below (as NestedCrfTagger does:
    the lower Viterbi paths, plus the spans off the path above a marginal `threshold` in the output)."""
    import pycrfsuite

    paths_found: list[list[Span]] = [[] for _ in docs]
    found: list[list[Span]] = [[] for _ in docs]
    for k, path in enumerate(paths):
        tagger = pycrfsuite.Tagger()
        tagger.open(str(path))
        xk = stacked(docs, xs, paths_found) if k else xs
        for i, (d, x) in enumerate(zip(docs, xk, strict=True)):
            viterbi, extra = tag_level(tagger, tokens_of(d.text), x, threshold)
            paths_found[i] = paths_found[i] + viterbi
            found[i] = found[i] + viterbi + extra
        tagger.close()
    return found


def choose_threshold(paths: list[Path], docs: list[GoldDoc], xs: Features, thresholds: list[float]) -> dict[str, Any]:
    """The marginal threshold with the best held-back exact macro-F1 (none, i.e. the Viterbi paths only,
    unless one beats it; ties go to the higher threshold), and every threshold's figures."""
    rows = []
    for t in [None, *sorted(thresholds, reverse=True)]:
        fig = figures(docs, as_mentions(docs, tag_levels(paths, docs, xs, t)))
        rows.append({"threshold": t, "held_back": fig})
        print(json.dumps(rows[-1]), flush=True)
    best = rows[0]
    for row in rows[1:]:
        if row["held_back"]["exact_macro_f1"] > best["held_back"]["exact_macro_f1"]:
            best = row
    return {"threshold": best["threshold"], "rule": "per type, a B position with marginal P(B-type) >= threshold "
            "run on while P(I-type) >= threshold; kept unless it crosses a kept span of its level",
            "chosen_on": "held-back fifth, levels trained on the fit part (exact macro-F1)", "grid": rows}


def figures(docs: list[GoldDoc], predicted: dict[str, list[Mention]]) -> dict[str, Any]:
    return scheme_figures(docs, predicted, PGXCORPUS_TYPES)


def as_mentions(docs: list[GoldDoc], spans: list[list[Span]]) -> dict[str, list[Mention]]:
    return {d.id: [Mention(s, e, lab, d.text[s:e], source="crf") for s, e, lab in sorted(set(sp))]
            for d, sp in zip(docs, spans, strict=True)}


def kept_share(docs: list[GoldDoc], layers: int) -> float:
    """Share of gold spans the levels can hold (one BIO layer per level, crf_ner's tokens)."""
    from pgxlit.extract.crf_ner import tags_of

    kept = total = 0
    for d in docs:
        tokens = tokens_of(d.text)
        spans = set(gold_spans(d))
        total += len(spans)
        for layer in layers_of(sorted(spans), layers):
            kept += len(set(spans_of(tokens, tags_of(tokens, layer))) & set(layer))
    return round(kept / max(total, 1), 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared data folder (gold/ inside)")
    ap.add_argument("--out", type=Path, required=True, help="model folder to write")
    ap.add_argument("--c1", default="0.01,0.03,0.1", help="L1 strengths to try (comma-separated)")
    ap.add_argument("--c2", default="0.05", help="L2 strengths to try")
    ap.add_argument("--window", default="2", help="context windows to try, in tokens either side")
    ap.add_argument("--gazetteer", default="no,yes", help="the train fold's entity strings as features: no, yes or no,yes")
    ap.add_argument("--cues", default="no", help="the guidelines' cue classes around each token as features: no, yes "
                    "or no,yes")
    ap.add_argument("--skip-test", action="store_true", help="do not read the test fold at the end")
    ap.add_argument("--layers", default="2,3", help="levels to try (the first is used for the c1/c2/window grid)")
    ap.add_argument("--iterations", type=int, default=150, help="L-BFGS iterations")
    ap.add_argument("--record-test", action="store_true", help="only read the test fold for the model already in "
                    "--out and record its figures in its meta.json (after a --skip-test run)")
    ap.add_argument("--thresholds", default="0.5,0.4,0.3,0.25,0.2,0.15,0.1",
                    help="marginal thresholds to try for spans off the Viterbi path ('' = none)")
    ap.add_argument("--tune-marginal", action="store_true", help="only choose the marginal threshold for the model "
                    "already in --out: train its settings on the fit part, tag the held-back fifth, record the "
                    "choice in its meta.json (the shipped levels are not retrained; the test fold is not read)")
    args = ap.parse_args(argv)
    thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]
    t0 = time.process_time()
    docs = load_docs("pgxcorpus", args.shared)
    if args.record_test:
        record_test(args.out, docs)
        return 0
    train_docs = dev_split(docs, "train")
    fit_docs = [d for d in train_docs if not held_back(d.id)]
    dev_docs = [d for d in train_docs if held_back(d.id)]
    if args.tune_marginal:
        tune_marginal(args.out, fit_docs, dev_docs, thresholds, args.iterations)
        print(f"total {time.process_time() - t0:.0f} CPU-s")
        return 0
    print(f"pgxcorpus: train fold {len(train_docs)} sentences = {len(fit_docs)} fit + {len(dev_docs)} held back",
          flush=True)
    layer_choices = [int(x) for x in args.layers.split(",")]
    kept = {n: kept_share(train_docs, n) for n in sorted({1, *layer_choices})}
    print(f"share of train-fold gold spans the levels can hold: {kept}", flush=True)
    mentions = {k: v[0] for k, v in predict(train_docs).items()}
    print(f"pipeline mentions: {time.process_time() - t0:.1f} CPU-s", flush=True)
    fit_gaz, dev_gaz = jackknife(fit_docs), Gazetteer.build([(d.text, gold_spans(d)) for d in fit_docs])
    grid: list[dict[str, Any]] = []
    level_paths: list[list[Path]] = []  # each grid row's fit-part levels

    def run(settings: NestedSettings, c1: float, c2: float, tmp: Path) -> dict[str, Any]:
        t = time.process_time()
        x_fit = features_of(fit_docs, mentions, settings, fit_gaz)
        x_dev = features_of(dev_docs, mentions, settings, dev_gaz)
        folder = tmp / f"g{len(grid)}"
        folder.mkdir()
        paths = fit_levels(fit_docs, x_fit, settings.layers, c1, c2, args.iterations, folder)
        level_paths.append(paths)
        fig = figures(dev_docs, as_mentions(dev_docs, tag_levels(paths, dev_docs, x_dev)))
        row = {"layers": settings.layers, "window": settings.window, "gazetteer": settings.use_gazetteer,
               "cues": settings.use_cues, "c1": c1, "c2": c2, "held_back": fig, "cpu_s": round(time.process_time() - t, 1)}
        grid.append(row)
        print(json.dumps(row), flush=True)
        return row

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        gazs = [u == "yes" for u in args.gazetteer.split(",")]
        cues = [u == "yes" for u in args.cues.split(",")]
        for use_gaz, use_cues, window in itertools.product(gazs, cues, [int(w) for w in args.window.split(",")]):
            for c1, c2 in itertools.product([float(x) for x in args.c1.split(",")], [float(x) for x in args.c2.split(",")]):
                run(NestedSettings(layer_choices[0], window, use_gaz, use_cues=use_cues), c1, c2, tmp)

        def key(r: dict[str, Any]) -> tuple[float, ...]:
            return (r["held_back"]["exact_macro_f1"], -r["layers"], -r["c1"], -r["c2"])

        best = max(grid, key=key)
        for n in layer_choices[1:]:
            run(NestedSettings(n, best["window"], best["gazetteer"], use_cues=best["cues"]), best["c1"], best["c2"], tmp)
        best = max(grid, key=key)
        best_settings = NestedSettings(best["layers"], best["window"], best["gazetteer"], use_cues=best["cues"])
        marginal = choose_threshold(level_paths[grid.index(best)], dev_docs,
                                    features_of(dev_docs, mentions, best_settings, dev_gaz), thresholds)
    settings = NestedSettings(best["layers"], best["window"], best["gazetteer"], use_cues=best["cues"])
    print(f"chosen on the held-back fifth: layers={settings.layers} window={settings.window} "
          f"gazetteer={settings.use_gazetteer} cues={settings.use_cues} c1={best['c1']} c2={best['c2']} "
          f"(exact macro-F1 {best['held_back']['exact_macro_f1']:.4f}); training on the whole train fold", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.crfsuite"):
        old.unlink()
    x_train = features_of(train_docs, mentions, settings, jackknife(train_docs))
    fit_levels(train_docs, x_train, settings.layers, best["c1"], best["c2"], args.iterations, args.out)
    gaz_file = args.out / GAZETTEER_FILE
    if settings.use_gazetteer:
        rows = Gazetteer.build([(d.text, gold_spans(d)) for d in train_docs]).to_json()
        gaz_file.write_text(json.dumps(rows, separators=(",", ":")) + "\n", encoding="utf-8")
    elif gaz_file.exists():
        gaz_file.unlink()
    meta: dict[str, Any] = {
        "name": "pgxcorpus_crf",
        "kind": KIND,
        "types": list(PGXCORPUS_TYPES),
        "data": f"PGxCorpus DEV, train fold (extract.gold.dev_split, {len(train_docs)} sentences); settings chosen on "
                f"a held-back fifth ({len(dev_docs)} sentences, tools/train_span_ner.held_back)",
        "licence": LICENCES["pgxcorpus"],
        "command": build_command("pgxcorpus"),
        "features": {"layers": settings.layers, "window": settings.window, "use_gazetteer": settings.use_gazetteer,
                     "use_model": False, "use_cues": settings.use_cues, "folds": FOLDS, "levels": "0 = holds no other span; k = 1 + highest held"},
        "settings": {"c1": best["c1"], "c2": best["c2"], "max_iterations": args.iterations, "algorithm": "lbfgs",
                     "labels": "BIO per level", "tokens": "extract.crf_ner.TOKEN_PATTERN"},
        "gold_spans_held_by_levels": {str(k): v for k, v in kept.items()},
        "grid": grid,
        "figures": {"held_back": best["held_back"]},
    }
    if marginal["threshold"] is not None:
        meta["figures"]["held_back"] = next(r["held_back"] for r in marginal["grid"] if r["threshold"] == marginal["threshold"])
    meta["marginal"] = marginal
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    if args.skip_test:
        print(f"total {time.process_time() - t0:.0f} CPU-s (test fold not read; `--record-test` reads it)")
        return 0
    record_test(args.out, docs)
    print(f"total {time.process_time() - t0:.0f} CPU-s")
    return 0


def tune_marginal(folder: Path, fit_docs: list[GoldDoc], dev_docs: list[GoldDoc], thresholds: list[float],
                  iterations: int) -> dict[str, Any]:
    """Choose the marginal threshold of the model in `folder` as a full run does, without retraining it: its
    settings trained on the fit part (as the grid did), the held-back fifth tagged at each threshold."""
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    settings = NestedSettings.from_meta(meta)
    c1, c2 = meta["settings"]["c1"], meta["settings"]["c2"]
    mentions = {k: v[0] for k, v in predict(fit_docs + dev_docs).items()}
    dev_gaz = Gazetteer.build([(d.text, gold_spans(d)) for d in fit_docs])
    with tempfile.TemporaryDirectory() as tmp_name:
        paths = fit_levels(fit_docs, features_of(fit_docs, mentions, settings, jackknife(fit_docs)),
                           settings.layers, c1, c2, iterations, Path(tmp_name))
        marginal = choose_threshold(paths, dev_docs, features_of(dev_docs, mentions, settings, dev_gaz), thresholds)
    meta["marginal"] = marginal
    if marginal["threshold"] is not None:
        meta["figures"]["held_back"] = next(r["held_back"] for r in marginal["grid"] if r["threshold"] == marginal["threshold"])
        meta["figures"].pop("test", None)  # the test figures were of the Viterbi paths only: --record-test again
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"marginal threshold chosen on the held-back fifth: {marginal['threshold']}")
    return marginal


def record_test(folder: Path, docs: list[GoldDoc]) -> dict[str, Any]:
    """The test fold's figures of a written model, with the shipped pipeline's mentions, into its meta.json."""
    test_docs = dev_split(docs, "test")
    tagger = load_nested(folder)
    test_mentions = {k: v[0] for k, v in predict(test_docs).items()}
    test = figures(test_docs, {d.id: tagger.tag(d.text, test_mentions[d.id]) for d in test_docs})
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["figures"]["test"] = test
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"test fold ({len(test_docs)} sentences): exact macro-F1 {test['exact_macro_f1']:.4f} "
          f"(micro {test['exact_micro_f1']:.4f}; overlap macro {test['overlap_macro_f1']:.4f}) {test['exact_per_type_f1']}")
    return test


if __name__ == "__main__":
    raise SystemExit(main())
