"""Train the CRF tagger of extract/crf_ner.py for a gold corpus's own entity scheme.

    python tools/train_crf_ner.py --scheme biored --shared ../shared --out corpora/models/biored_crf

Data: BioRED DEV (Train+Dev), **train fold only** (`extract.gold.dev_split(docs, "train")`).
A fixed fifth of it (by document id, the span model's `held_back`) is held back: the
L1/L2 strengths and the feature choices (with or without the NER model's mentions, the
train fold's gazetteer, MiniLM word classes, name morphology, document consistency, a
second pass) are chosen on it by exact-span macro-F1 over the scheme's types
(extract.evaluate.score_entities). The chosen settings are then trained again on the whole
train fold and written with CRFsuite (L-BFGS: the same data and settings give the same
model). The test fold is read only after the model is written, to print and record its
figures. Every document goes through the pipeline pgxlit ships (`benchmarks.predict`) once;
its mentions are features. The NER model was trained on this train fold, so its mentions
here are better than on new text: the held-back choice between with and without them is
biased towards them, and the test fold shows what they are worth.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgxlit.extract.benchmarks import predict  # noqa: E402
from pgxlit.extract.context_features import (  # noqa: E402
    CONTEXT_FILE,
    ContextClassifier,
    context_feature_lists,
    token_vectors,
)
from pgxlit.extract.crf_ner import (  # noqa: E402
    GAZETTEER_FILE,
    MODEL_FILE,
    SECOND_PASS_FILE,
    TAGGER_PREFIX,
    CrfSettings,
    Gazetteer,
    build_command,
    features_for,
    load_tagger,
    second_pass_features,
    spans_of,
    tags_of,
    tokens_of,
)
from pgxlit.extract.evaluate import scheme_figures  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.gold_folds import FOLDS, fold_of, held_back, load_docs  # noqa: E402
from pgxlit.records import Mention  # noqa: E402

TYPES: dict[str, tuple[str, ...]] = {
    # BioRED's four types that pgxlit's labels cover (organisms and cell lines are not scored)
    "biored": ("ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature"),
}
LICENCES = {
    "biored": "weights derived from BioRED (Luo et al. 2022; see its licence at NCBI): research use",
}


def features_of(
    docs: list[GoldDoc], mentions: dict[str, list[Mention]], settings: CrfSettings,
    gazetteers: dict[str, Gazetteer] | Gazetteer | None = None,
    contexts: dict[str, list[list[str]]] | None = None, taggers: dict[str, list[list[str]]] | None = None,
) -> list[list[list[str]]]:
    """Each document's token features; `gazetteers`: one for all, or one per document id; `contexts`:
    each document's contextual classifier features (`context_out_of_fold`, `context_of`); `taggers`:
    each document's token tagger features (`tagger_features`)."""
    def gaz(d: GoldDoc) -> Gazetteer | None:
        if not settings.use_gazetteer:
            return None
        return gazetteers.get(d.id) if isinstance(gazetteers, dict) else gazetteers

    return [features_for(settings, d.text, tokens_of(d.text), mentions[d.id], gaz(d),
                         context=contexts.get(d.id) if contexts is not None else None,
                         tagger=taggers.get(d.id) if taggers is not None else None) for d in docs]


def tagger_features(files: list[Path], docs: list[GoldDoc]) -> dict[str, list[list[str]]]:
    """Each document's token tagger features from probabilities tools/train_token_tagger.py wrote
    (`--probs-out`) for documents its model did not train on; every document of `docs` must be in
    one of `files` with one row per token, or the CRF would learn from in-sample predictions."""
    import numpy as np

    probs: dict[str, Any] = {}
    labels: tuple[str, ...] | None = None
    for f in files:
        with np.load(f) as z:
            lab = tuple(str(t) for t in z["__labels__"])
            if labels is not None and lab != labels:
                raise ValueError(f"{f}: labels {lab} differ from those of the other probability files {labels}")
            labels = lab
            probs.update({k: z[k].astype(np.float32) for k in z.files if k != "__labels__"})
    out = {}
    for d in docs:
        if d.id not in probs:
            raise ValueError(f"no token tagger probabilities for document {d.id} in {', '.join(map(str, files))}; "
                             f"write them with tools/train_token_tagger.py --probs-out (and --fold for the fit part)")
        p = probs[d.id]
        if len(p) != len(tokens_of(d.text)):
            raise ValueError(f"document {d.id}: {len(p)} probability rows for {len(tokens_of(d.text))} tokens")
        out[d.id] = context_feature_lists(labels, p, TAGGER_PREFIX)  # type: ignore[arg-type]
    return out


def document_vectors(docs: list[GoldDoc], cache: Path | None, layers: tuple[int, ...] = (6,)) -> dict[str, Any]:
    """Each document's contextual token vectors (extract/context_features.token_vectors), kept in
    `cache` (one .npy per document and text hash) when given: encoding is the slow part."""
    import hashlib

    import numpy as np

    from pgxlit.extract.encoder import TokenEncoder

    def file_of(d: GoldDoc) -> Path | None:
        if cache is None:
            return None
        name = "-".join(map(str, layers))
        return cache / f"L{name}" / f"{d.id}-{hashlib.sha1(d.text.encode()).hexdigest()[:12]}.npy"

    out = {}
    todo = []
    for d in docs:
        f = file_of(d)
        if f is not None and f.is_file():
            out[d.id] = np.load(f)
        else:
            todo.append(d)
    if todo:
        vecs = token_vectors(TokenEncoder(), [d.text for d in todo], [tokens_of(d.text) for d in todo], layers)
        for d, v in zip(todo, vecs, strict=True):
            out[d.id] = v
            f = file_of(d)
            if f is not None:
                f.parent.mkdir(parents=True, exist_ok=True)
                np.save(f, v)
    return out


def context_of(train_docs: list[GoldDoc], ys: list[list[str]], docs: list[GoldDoc], vectors: dict[str, Any],
               hidden: int = 0, layers: tuple[int, ...] = (6,)) -> tuple[ContextClassifier, dict[str, list[list[str]]]]:
    """A classifier trained on `train_docs` and its features of `docs`."""
    clf = ContextClassifier.train([vectors[d.id] for d in train_docs], ys, hidden=hidden, layers=layers)
    return clf, {d.id: clf.features(vectors[d.id]) for d in docs}


def context_out_of_fold(docs: list[GoldDoc], ys: list[list[str]], vectors: dict[str, Any], hidden: int = 0,
                        layers: tuple[int, ...] = (6,)) -> dict[str, list[list[str]]]:
    """Each document's classifier features from a classifier trained on the other folds only (the
    crf's folds, `fold_of`): the CRF learns how far to trust it on text it has not seen."""
    out: dict[str, list[list[str]]] = {}
    for k in range(FOLDS):
        rest = [i for i, d in enumerate(docs) if fold_of(d.id) != k]
        mine = [d for d in docs if fold_of(d.id) == k]
        out.update(context_of([docs[i] for i in rest], [ys[i] for i in rest], mine, vectors, hidden, layers)[1])
    return out


def settings_of(row: dict[str, Any]) -> CrfSettings:
    """The feature settings of a grid row."""
    return CrfSettings(use_model=row["use_model"], use_gazetteer=row["gazetteer"], window=row["window"],
                       word_clusters=row["word_clusters"], char_features=row["char_features"],
                       doc_consistency=row["doc_consistency"], context_classifier=row.get("context", False),
                       token_tagger=row.get("token_tagger", ""))


def gold_spans(docs: list[GoldDoc], types: tuple[str, ...]) -> list[tuple[str, list[tuple[int, int, str]]]]:
    return [(d.text, [(e.start, e.end, e.label) for e in d.entities if e.label in types]) for d in docs]


def jackknife(docs: list[GoldDoc], types: tuple[str, ...], folds: int = FOLDS) -> dict[str, Gazetteer]:
    """Each document's gazetteer built from the other folds' documents only (so its own entities
    never match for free, as on new text)."""
    def fold(doc_id: str) -> int:
        return fold_of(doc_id, folds)

    out = {}
    for k in range(folds):
        others = Gazetteer.build(gold_spans([d for d in docs if fold(d.id) != k], types))
        out.update({d.id: others for d in docs if fold(d.id) == k})
    return out


def labels_of(docs: list[GoldDoc], types: tuple[str, ...]) -> list[list[str]]:
    return [tags_of(tokens_of(d.text), [(e.start, e.end, e.label) for e in d.entities if e.label in types]) for d in docs]


def train(xs: list[list[list[str]]], ys: list[list[str]], c1: float, c2: float, iterations: int, out: Path) -> None:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for x, y in zip(xs, ys, strict=True):
        trainer.append(x, y)
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": iterations, "feature.possible_transitions": True})
    trainer.train(str(out))


def tag_all(model: Path, docs: list[GoldDoc], xs: list[list[list[str]]], types: tuple[str, ...]) -> dict[str, list[Mention]]:
    """Predicted mentions per document from already computed features."""
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(model))
    out = {}
    for d, x in zip(docs, xs, strict=True):
        spans = spans_of(tokens_of(d.text), tagger.tag(x))
        out[d.id] = [Mention(s, e, lab, d.text[s:e], source="crf") for s, e, lab in spans if lab in types]
    tagger.close()
    return out


def figures(docs: list[GoldDoc], predicted: dict[str, list[Mention]], types: tuple[str, ...]) -> dict[str, Any]:
    return scheme_figures(docs, predicted, types)


def first_pass_out_of_fold(
    docs: list[GoldDoc], xs: list[list[list[str]]], ys: list[list[str]], c1: float, c2: float, iterations: int,
    tmp: Path, fold: Callable[[str], int] = fold_of,
) -> list[list[tuple[int, int, str]]]:
    """Each document's first-pass spans from a model trained on the other folds only (`fold`: a
    document id's fold, of FOLDS): the second pass learns from first passes as wrong as they are on
    new text."""
    out: list[list[tuple[int, int, str]]] = [[] for _ in docs]
    for k in range(FOLDS):
        rest = [i for i, d in enumerate(docs) if fold(d.id) != k]
        mine = [i for i, d in enumerate(docs) if fold(d.id) == k]
        path = tmp / f"oof{k}.crfsuite"
        train([xs[i] for i in rest], [ys[i] for i in rest], c1, c2, iterations, path)
        for i, spans in zip(mine, spans_all(path, [docs[i] for i in mine], [xs[i] for i in mine]), strict=True):
            out[i] = spans
    return out


def spans_all(model: Path, docs: list[GoldDoc], xs: list[list[list[str]]]) -> list[list[tuple[int, int, str]]]:
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(model))
    out = [spans_of(tokens_of(d.text), tagger.tag(x)) for d, x in zip(docs, xs, strict=True)]
    tagger.close()
    return out


def with_second(docs: list[GoldDoc], xs: list[list[list[str]]], first: list[list[tuple[int, int, str]]]) -> list[list[list[str]]]:
    return [[f + g for f, g in zip(x, second_pass_features(d.text, tokens_of(d.text), spans), strict=True)]
            for d, x, spans in zip(docs, xs, first, strict=True)]


def as_mentions(docs: list[GoldDoc], spans: list[list[tuple[int, int, str]]], types: tuple[str, ...]) -> dict[str, list[Mention]]:
    return {d.id: [Mention(s, e, lab, d.text[s:e], source="crf") for s, e, lab in sp if lab in types]
            for d, sp in zip(docs, spans, strict=True)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scheme", choices=sorted(TYPES), default="biored")
    ap.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared data folder (gold/ inside)")
    ap.add_argument("--out", type=Path, help="model folder to write (required unless --record-test)")
    ap.add_argument("--c1", default="0.05,0.1", help="L1 strengths to try (comma-separated)")
    ap.add_argument("--c2", default="0.05,0.1", help="L2 strengths to try")
    ap.add_argument("--window", default="2,3", help="context windows to try, in tokens either side")
    ap.add_argument("--use-model", default="no", help="NER model mentions as features: no, yes or no,yes (the NER "
                    "was trained on this train fold, so its mentions look better here than on new text: off by default)")
    ap.add_argument("--gazetteer", default="no", help="the train fold's entity strings as features: no, yes or no,yes")
    ap.add_argument("--clusters", default="no,yes", help="MiniLM word classes as features "
                    "(corpora/models/word_clusters): no, yes or no,yes")
    ap.add_argument("--char", default="no", help="longer affixes and name morphology as features: no, yes or no,yes")
    ap.add_argument("--doc", default="no", help="what the same word does elsewhere in the abstract: no, yes or no,yes")
    ap.add_argument("--context", default="no", help="a contextual MiniLM token classifier's predictions as features "
                    "(extract/context_features.py): no, yes or no,yes")
    ap.add_argument("--context-layers", default="3", help="MiniLM layers the contextual classifier reads "
                    "(0 = input embeddings, 6 = last; comma-separated, side by side)")
    ap.add_argument("--context-hidden", type=int, default=256, help="the contextual classifier's hidden units "
                    "(0: a softmax layer only)")
    ap.add_argument("--cache", type=Path, default=None, help="folder to keep the documents' MiniLM token vectors in "
                    "(outside the repository; encoding takes minutes)")
    ap.add_argument("--tagger", default="", help="a fine-tuned token tagger's model folder (extract/token_tagger.py, "
                    "beside --out, e.g. corpora/models/biored_tagger) whose probabilities become features")
    ap.add_argument("--tagger-probs", default="", help="comma-separated .npz files of that tagger's probabilities for "
                    "every train-fold document, each from a model that did not train on it "
                    "(tools/train_token_tagger.py --probs-out, with --fold K/k for the fit part)")
    ap.add_argument("--tagger-features", default="no,yes", help="with --tagger: its features no, yes or no,yes")
    ap.add_argument("--second-pass", default="no,yes", help="a second CRF over the first's findings: no, yes or no,yes")
    ap.add_argument("--iterations", type=int, default=150, help="L-BFGS iterations")
    ap.add_argument("--no-test", action="store_true", help="write the model but leave the test fold unread "
                    "(read it later, once, with --record-test)")
    ap.add_argument("--record-test", type=Path, default=None, help="read the test fold once for this written model "
                    "folder, record its figures in its meta.json, and stop")
    ap.add_argument("--held-back-only", action="store_true", help="stop after the choice on the held-back fifth "
                    "(writes nothing and never reads the test fold)")
    args = ap.parse_args(argv)
    types = TYPES[args.scheme]
    t0 = time.process_time()
    docs = load_docs(args.scheme, args.shared)
    if args.record_test is not None:
        record_test(args.record_test, docs, types)
        return 0
    if args.out is None:
        ap.error("--out is required: the model folder to write")
    train_docs = dev_split(docs, "train")
    fit_docs = [d for d in train_docs if not held_back(d.id)]
    dev_docs = [d for d in train_docs if held_back(d.id)]
    print(f"{args.scheme}: train fold {len(train_docs)} documents = {len(fit_docs)} fit + {len(dev_docs)} held back",
          flush=True)
    mentions = {k: v[0] for k, v in predict(train_docs).items()}
    print(f"pipeline mentions: {time.process_time() - t0:.1f} CPU-s", flush=True)
    y_fit, y_dev = labels_of(fit_docs, types), labels_of(dev_docs, types)
    grid = []
    c1s = [float(x) for x in args.c1.split(",")]
    c2s = [float(x) for x in args.c2.split(",")]
    uses = [u == "yes" for u in args.use_model.split(",")]
    gazs = [u == "yes" for u in args.gazetteer.split(",")]
    families = list(itertools.product(*[[u == "yes" for u in a.split(",")]
                                        for a in (args.clusters, args.char, args.doc, args.context)]))
    tagger_name = ""
    tagger_ctx = None
    tagger_uses = [False]
    if args.tagger:
        tagger_name = Path(args.tagger).name
        tagger_uses = [u == "yes" for u in args.tagger_features.split(",")]
        tagger_ctx = tagger_features([Path(f) for f in args.tagger_probs.split(",") if f], train_docs)
    fit_gaz, dev_gaz = jackknife(fit_docs, types), Gazetteer.build(gold_spans(fit_docs, types))
    fit_ctx = dev_ctx = None
    if any(f[3] for f in families):
        t = time.process_time()
        layers = tuple(int(k) for k in args.context_layers.split(","))
        vectors = document_vectors(train_docs, args.cache, layers)
        print(f"MiniLM token vectors: {time.process_time() - t:.1f} CPU-s", flush=True)
        t = time.process_time()
        fit_ctx = context_out_of_fold(fit_docs, y_fit, vectors, args.context_hidden, layers)
        dev_ctx = context_of(fit_docs, y_fit, dev_docs, vectors, args.context_hidden, layers)[1]
        print(f"contextual classifiers: {time.process_time() - t:.1f} CPU-s", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for use, use_gaz, window, (clusters, char, doc, ctx), tt in itertools.product(
                uses, gazs, [int(w) for w in args.window.split(",")], families, tagger_uses):
            settings = CrfSettings(use_model=use, use_gazetteer=use_gaz, window=window, word_clusters=clusters,
                                   char_features=char, doc_consistency=doc, context_classifier=ctx,
                                   token_tagger=tagger_name if tt else "")
            x_fit = features_of(fit_docs, mentions, settings, fit_gaz, fit_ctx, tagger_ctx)
            x_dev = features_of(dev_docs, mentions, settings, dev_gaz, dev_ctx, tagger_ctx)
            for c1, c2 in itertools.product(c1s, c2s):
                t = time.process_time()
                path = tmp / f"m{len(grid)}.crfsuite"
                train(x_fit, y_fit, c1, c2, args.iterations, path)
                fig = figures(dev_docs, tag_all(path, dev_docs, x_dev, types), types)
                row = {"use_model": use, "gazetteer": use_gaz, "window": window, "word_clusters": clusters,
                       "char_features": char, "doc_consistency": doc, "context": ctx, "second_pass": False,
                       **({"token_tagger": settings.token_tagger} if settings.token_tagger else {}),
                       "c1": c1, "c2": c2,
                       "held_back": fig, "cpu_s": round(time.process_time() - t, 1)}
                grid.append(row)
                print(json.dumps(row), flush=True)
        best = max(grid, key=lambda r: (r["held_back"]["exact_macro_f1"], -r["c1"], -r["c2"]))
        if "yes" in args.second_pass.split(","):  # a second pass over the best first pass's settings
            t = time.process_time()
            settings = settings_of(best)
            x_fit = features_of(fit_docs, mentions, settings, fit_gaz, fit_ctx, tagger_ctx)
            x_dev = features_of(dev_docs, mentions, settings, dev_gaz, dev_ctx, tagger_ctx)
            oof = first_pass_out_of_fold(fit_docs, x_fit, y_fit, best["c1"], best["c2"], args.iterations, tmp)
            first_dev = spans_all(tmp / f"m{grid.index(best)}.crfsuite", dev_docs, x_dev)
            path = tmp / "second.crfsuite"
            train(with_second(fit_docs, x_fit, oof), y_fit, best["c1"], best["c2"], args.iterations, path)
            second_dev = spans_all(path, dev_docs, with_second(dev_docs, x_dev, first_dev))
            row = {**best, "second_pass": True, "held_back": figures(dev_docs, as_mentions(dev_docs, second_dev, types), types),
                   "cpu_s": round(time.process_time() - t, 1)}
            grid.append(row)
            print(json.dumps(row), flush=True)
            if row["held_back"]["exact_macro_f1"] > best["held_back"]["exact_macro_f1"]:
                best = row
        settings = settings_of(best)
        print(f"chosen on the held-back fifth: use_model={best['use_model']} gazetteer={best['gazetteer']} "
              f"window={best['window']} word_clusters={best['word_clusters']} char_features={best['char_features']} "
              f"doc_consistency={best['doc_consistency']} context={best.get('context', False)} "
              f"token_tagger={best.get('token_tagger', '') or 'no'} "
              f"second_pass={best['second_pass']} c1={best['c1']} c2={best['c2']} "
              f"(exact macro-F1 {best['held_back']['exact_macro_f1']:.4f}); training on the whole train fold", flush=True)
        if args.held_back_only:
            return 0
        args.out.mkdir(parents=True, exist_ok=True)
        y_train = labels_of(train_docs, types)
        train_ctx = None
        context_file = args.out / CONTEXT_FILE
        if settings.context_classifier:
            train_ctx = context_out_of_fold(train_docs, y_train, vectors, args.context_hidden, layers)
            ContextClassifier.train([vectors[d.id] for d in train_docs], y_train, hidden=args.context_hidden,
                                    layers=layers).save(context_file)
        elif context_file.exists():
            context_file.unlink()
        x_train = features_of(train_docs, mentions, settings, jackknife(train_docs, types), train_ctx, tagger_ctx)
        train(x_train, y_train, best["c1"], best["c2"], args.iterations, args.out / MODEL_FILE)
        second_file = args.out / SECOND_PASS_FILE
        if best["second_pass"]:
            oof = first_pass_out_of_fold(train_docs, x_train, y_train, best["c1"], best["c2"], args.iterations, tmp)
            train(with_second(train_docs, x_train, oof), y_train, best["c1"], best["c2"], args.iterations, second_file)
        elif second_file.exists():
            second_file.unlink()
    gaz_file = args.out / GAZETTEER_FILE
    if settings.use_gazetteer:
        rows = Gazetteer.build(gold_spans(train_docs, types)).to_json()
        gaz_file.write_text(json.dumps(rows, separators=(",", ":")) + "\n", encoding="utf-8")
    elif gaz_file.exists():
        gaz_file.unlink()
    meta: dict[str, Any] = {
        "name": f"{args.scheme}_crf",
        "kind": "crf_ner",
        "types": list(types),
        "data": f"{args.scheme} DEV (Train+Dev), train fold (extract.gold.dev_split, {len(train_docs)} documents); "
                f"settings chosen on a held-back fifth ({len(dev_docs)} documents, tools/train_span_ner.held_back)",
        "licence": LICENCES[args.scheme],
        "command": " ".join(["python tools/train_crf_ner.py", *(argv if argv is not None else sys.argv[1:])]),
        "features": {**settings.to_meta(), "second_pass": best["second_pass"], "folds": FOLDS},
        "settings": {"c1": best["c1"], "c2": best["c2"], "max_iterations": args.iterations, "algorithm": "lbfgs",
                     "labels": "BIO", "tokens": "extract.crf_ner.TOKEN_PATTERN"},
        "grid": grid,
        "figures": {"held_back": best["held_back"]},
    }
    if settings.token_tagger:
        meta["token_tagger"] = {
            "folder": settings.token_tagger,
            "training_features": "per-token probabilities of every train-fold document from a tagger that did not "
                                 "train on it (" + args.tagger_probs + "): the fit part out of fold "
                                 "(tools/train_token_tagger.py --fold K/k), the held-back fifth from the shipped tagger, "
                                 "trained on the fit part"}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    if not args.no_test:
        record_test(args.out, docs, types)
    print(f"total {time.process_time() - t0:.0f} CPU-s")
    return 0


def record_test(folder: Path, docs: list[GoldDoc], types: tuple[str, ...]) -> None:
    """The test fold, read only for a written model, with the shipped pipeline's mentions; its
    figures and the tagging speed (sentences/s, at this process's torch threads) go to meta.json."""
    from pgxlit.extract.token_tagger import split_sentences

    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    test_docs = dev_split(docs, "test")
    tagger = load_tagger(folder)
    test_mentions = {k: v[0] for k, v in predict(test_docs).items()}
    t = time.time()
    found = {d.id: tagger.tag(d.text, test_mentions[d.id]) for d in test_docs}
    seconds = time.time() - t
    test = figures(test_docs, found, types)
    sentences = sum(len(split_sentences(d.text)) for d in test_docs)
    meta["figures"]["test"] = test
    meta["speed"] = {"test_sentences": sentences, "seconds": round(seconds, 1),
                     "sentences_per_s": round(sentences / seconds, 1), "note": "CRF tagging after pgxlit's mentions"}
    meta_file.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"test fold ({len(test_docs)} documents): exact macro-F1 {test['exact_macro_f1']:.4f} "
          f"(micro {test['exact_micro_f1']:.4f}; overlap macro {test['overlap_macro_f1']:.4f}) {test['exact_per_type_f1']}; "
          f"{sentences / seconds:.1f} sentences/s", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
