"""Train the PGxCorpus typer of extract/pgxcorpus_types.py (ten types, exact spans).

    python tools/train_pgxcorpus_types.py --shared ../shared --out corpora/models/pgxcorpus_types
    python tools/train_pgxcorpus_types.py --gold biored --shared ../shared --out corpora/models/biored_types

Data: PGxCorpus DEV, **train fold only** (`dev_split(docs, "train")`). Each sentence is
run through the pipeline pgxlit ships (`benchmarks.predict`: rules + the shipped NER +
relations) and through the rules alone: the shipped NER was trained on most of these
sentences, so its mentions there are near perfect, and a typer that only saw them learns
to trust mention edges it cannot trust on new text (measured: out-of-fold micro-F1 0.77 on
train vs 0.61 on the test fold). The rules' mentions, scored out of fold, choose the
settings. Every mention proposes candidate spans (`pgxcorpus_types.candidates`), and a
candidate's class is the type of the gold entity with exactly its extent (outer extent
for a discontinuous one), else NONE. A multinomial logistic regression (numpy + scipy's
L-BFGS, L2) is fitted on named features; the L2 strength, a prior correction for rare types
(added to the bias), the emission threshold and the threshold of a second, nested mention are
chosen by cross-validation grouped by PMID on the train fold (--folds, default 4), maximising entity
macro-F1 over the ten types with exact spans (extract.evaluate.score_entities). The test
fold is read only to print the figures after the model is written. With --gold biored the
same is done on BioRED's DEV data (Train+Dev, its train fold) over BioRED's four types that
pgxlit's labels cover.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse

from pgxlit.extract.benchmarks import predict
from pgxlit.extract.evaluate import score_entities, score_relations
from pgxlit.extract.gold import GoldDoc, dev_split, read_biored, read_pgxcorpus, split_group
from pgxlit.extract.pgxcorpus_types import (
    NONE,
    Candidate,
    PGXCORPUS_TYPES,
    FineTyper,
    candidate_features,
    candidates,
    tokens_of,
)
from pgxlit.extract.relation_model import LinearHead
from pgxlit.records import Mention, RelationMention

SCHEMES: dict[str, list[str]] = {
    "pgxcorpus": [NONE, *PGXCORPUS_TYPES],
    # BioRED's types that pgxlit's labels cover (organisms and cell lines are not tagged).
    "biored": [NONE, "ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature"],
}
Predicted = dict[str, tuple[list[Mention], list[RelationMention]]]


@dataclass
class DocCandidates:
    doc: GoldDoc
    cands: list[Candidate]
    feats: list[list[str]]
    ys: list[int]


def candidates_of(docs: list[GoldDoc], predicted: Predicted, classes: list[str]) -> list[DocCandidates]:
    """Every document's candidates, their features and classes (the gold type of exactly that extent, else NONE)."""
    out = []
    for d in docs:
        mentions, _ = predicted[d.id]
        gold: dict[tuple[int, int], str] = {}
        for e in d.entities:
            if e.label in classes:
                gold.setdefault((e.start, e.end), e.label)
        tokens = tokens_of(d.text)
        cands = candidates(d.text, mentions, tokens)
        feats = [candidate_features(d.text, tokens, mentions, c) for c in cands]
        out.append(DocCandidates(d, cands, feats, [classes.index(gold.get((c.start, c.end), NONE)) for c in cands]))
    return out


def matrix(feats: list[list[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows, cols = [], []
    for r, fs in enumerate(feats):
        idx = sorted({vocab[f] for f in fs if f in vocab})
        rows += [r] * len(idx)
        cols += idx
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(feats), len(vocab)))


MAXITER = [200]  # L-BFGS iterations (--maxiter)


def fit(x: sparse.csr_matrix, y: np.ndarray, k: int, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression: mean log-loss + l2/2 |W|^2, L-BFGS."""
    n, d = x.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        ll = -np.log(p[np.arange(n), y] + 1e-12).mean() + 0.5 * l2 * (w * w).sum()
        g = (p - onehot) / n
        gw = x.T @ g + l2 * w
        return ll, np.concatenate([np.asarray(gw).ravel(), g.sum(axis=0)])

    theta0 = np.zeros(d * k + k)
    res = optimize.minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": MAXITER[0]})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


def train_head(data: list[DocCandidates], l2: float, classes: list[str], min_count: int = 2) -> LinearHead:
    feats = [f for dc in data for f in dc.feats]
    counts = Counter(f for fs in feats for f in set(fs))
    names = sorted(f for f, c in counts.items() if c >= min_count)
    vocab = {n: i for i, n in enumerate(names)}
    x = matrix(feats, vocab)
    y = np.array([c for dc in data for c in dc.ys])
    w, b = fit(x, y, len(classes), l2)
    keep = np.abs(w).max(axis=1) > 1e-4
    kept = [n for n, k in zip(names, keep) if k]
    return LinearHead(list(classes), {n: i for i, n in enumerate(kept)}, w[keep].astype(np.float32), b)


def pruned(head: LinearHead, cut: float) -> LinearHead:
    """The head without features whose every weight is below `cut` (62,931 -> 7,410 features at 0.02,
    7.8 MB -> 0.8 MB; test-fold macro-F1 0.467 -> 0.466)."""
    keep = np.abs(head.weights).max(axis=1) >= cut
    names = [n for n in sorted(head.vocab, key=head.vocab.get) if keep[head.vocab[n]]]
    return LinearHead(head.classes, {n: i for i, n in enumerate(names)}, head.weights[keep], head.bias)


def fold_of(doc_id: str, k: int) -> int:
    return int.from_bytes(hashlib.sha256(f"types:{split_group(doc_id)}".encode()).digest()[:4], "big") % k


def scheme_labels(classes: list[str]):
    """Gold labels scored: the scheme's types as they are, every other type left out."""
    return lambda label: label if label in classes else None


def decoded(typer: FineTyper, data: list[DocCandidates], probs: dict[str, np.ndarray], predicted: Predicted) -> Predicted:
    return {dc.doc.id: typer.decode(dc.doc.text, *predicted[dc.doc.id], dc.cands, probs[dc.doc.id]) for dc in data}


def prior_offsets(data: list[DocCandidates], classes: list[str], power: float) -> np.ndarray:
    """Log-score offsets -power * log(class share) for the types (NONE untouched): macro-F1 weighs
    a rare type like a common one, so rare types may need a lower bar."""
    counts = Counter(c for dc in data for c in dc.ys if c != 0)
    total = sum(counts.values())
    off = np.zeros(len(classes))
    for k in range(1, len(classes)):
        off[k] = -power * np.log(max(counts.get(k, 0), 1) / total)
    return off - off[1:].mean() * (power > 0)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_validate(data: list[DocCandidates], held: list[DocCandidates], predicted: Predicted, classes: list[str],
                   l2s, powers, thresholds, nested, k: int = 4, log=print):
    """Out-of-fold entity macro-F1 (exact spans, the scheme's types) per (l2, prior power, threshold, nested):
    fitted on `data` minus a fold, scored on that fold's documents in `held` (mentions: `predicted`)."""
    results: dict[tuple[float, float, float, float], list[float]] = {}
    docs = [dc.doc for dc in held]
    for l2 in l2s:
        scores: dict[str, np.ndarray] = {}
        for f in range(k):
            head = train_head([dc for dc in data if fold_of(dc.doc.id, k) != f], l2, classes)
            for dc in held:
                if fold_of(dc.doc.id, k) == f:
                    scores[dc.doc.id] = head.scores(dc.feats) if dc.feats else np.zeros((0, len(classes)))
            log(f"  l2 {l2:g}: fold {f} fitted")
        for power in powers:
            off = prior_offsets(data, classes, power)
            probs = {i: softmax(z + off) if len(z) else z for i, z in scores.items()}
            for t in thresholds:
                for nt in nested:
                    out = decoded(FineTyper(head, t, nt), held, probs, predicted)
                    ents = score_entities(docs, {i: v[0] for i, v in out.items()}, scheme_labels(classes))
                    results[(l2, power, t, nt)] = [ents.exact.macro.f1, ents.exact.micro.f1]
                    log(f"  l2 {l2:g} prior power {power:g} threshold {t:.2f} nested {nt:.2f}: "
                        f"exact macro-F1 {ents.exact.macro.f1:.4f} micro {ents.exact.micro.f1:.4f}")
    return results


def cached_predictions(docs: list[GoldDoc], cache: Path | None, view: str | None) -> Predicted:
    """benchmarks.predict with the shipped pipeline (view None) or the rules alone ("rules"), kept in `cache`."""
    if cache and cache.is_file():
        return pickle.loads(cache.read_bytes())[1]
    from pgxlit.extract.pipeline import rules_nlp

    predicted = predict(docs, rules_nlp() if view == "rules" else None)
    if cache:
        cache.write_bytes(pickle.dumps((docs, predicted)))
    return predicted


def load_gold(gold: str, shared: Path) -> list[GoldDoc]:
    if gold == "pgxcorpus":
        return read_pgxcorpus(shared / "gold" / "pgxcorpus")
    return [d for f in sorted((shared / "gold" / "biored").glob("*.PubTator")) for d in read_biored(f)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", choices=sorted(SCHEMES), default="pgxcorpus", help="whose scheme to learn")
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, default=Path("corpora/models/pgxcorpus_types"))
    ap.add_argument("--cache", type=Path, help="pickle of the shipped pipeline's predictions on DEV (made when missing)")
    ap.add_argument("--rules-cache", type=Path, help="pickle of the rule pipeline's predictions on DEV (made when missing)")
    ap.add_argument("--l2", type=float, nargs="*", default=[1e-3])
    ap.add_argument("--prior-power", type=float, nargs="*", default=[0.0, 0.25, 0.5])
    ap.add_argument("--thresholds", type=float, nargs="*", default=[0.2, 0.3, 0.4])
    ap.add_argument("--nested", type=float, nargs="*", default=[0.5, 0.3, 0.2])
    ap.add_argument("--prune", type=float, default=0.02, help="drop features whose weights are all below this")
    ap.add_argument("--folds", type=int, default=4, help="cross-validation folds on the train fold")
    ap.add_argument("--maxiter", type=int, default=200, help="L-BFGS iterations per fit")
    args = ap.parse_args(argv)
    MAXITER[0] = args.maxiter
    t0 = time.time()
    classes = SCHEMES[args.gold]
    docs = load_gold(args.gold, args.shared)
    predicted = cached_predictions(docs, args.cache, None)
    rules = cached_predictions(docs, args.rules_cache, "rules")
    train, test = dev_split(docs, "train"), dev_split(docs, "test")
    shipped_view = candidates_of(train, predicted, classes)
    rules_view = candidates_of(train, rules, classes)
    data = shipped_view + rules_view
    print(f"{len(train)} train documents, {sum(len(dc.cands) for dc in data)} candidates, "
          f"{Counter(classes[c] for dc in data for c in dc.ys).most_common()}", flush=True)
    cv = cross_validate(data, rules_view, rules, classes, args.l2, args.prior_power, args.thresholds, args.nested, k=args.folds)
    (l2, power, threshold, nested), (macro, micro) = max(cv.items(), key=lambda kv: kv[1])
    print(f"chosen on train ({args.folds}-fold CV): l2 {l2:g}, prior power {power:g}, threshold {threshold}, "
          f"nested {nested}: macro-F1 {macro:.4f}", flush=True)
    head = train_head(data, l2, classes)
    head.bias = head.bias + prior_offsets(data, classes, power)
    head = pruned(head, args.prune)
    typer = FineTyper(head, threshold, nested, {
        "scheme": args.gold,
        "command": f"python tools/train_pgxcorpus_types.py --gold {args.gold} --shared ../shared --out {args.out}",
        "data": f"{args.gold} DEV train fold (dev_split 'train'), candidates from benchmarks.predict with the "
                "shipped pipeline and with the rules alone",
        "train_documents": len(train), "candidates": sum(len(dc.cands) for dc in data),
        "l2": l2, "prior_power": power, "pruned_below": args.prune, "threshold": threshold, "nested_threshold": nested,
        "cv_exact_macro_f1": round(macro, 4), "cv_exact_micro_f1": round(micro, 4),
        "licence": ("derived from PGxCorpus (CC BY-NC 4.0): non-commercial use only" if args.gold == "pgxcorpus"
                    else "derived from BioRED (NCBI, research use; cite Luo et al. 2022)"),
    })
    typer.save(args.out)
    out = {d.id: typer.retype(d.text, *predicted[d.id]) for d in test}
    ents = score_entities(test, {i: v[0] for i, v in out.items()}, scheme_labels(classes))
    figures: dict[str, Any] = {
        "test_exact_macro_f1": round(ents.exact.macro.f1, 4), "test_overlap_macro_f1": round(ents.overlap.macro.f1, 4),
        "test_exact_per_type": {x.label: round(x.f1, 4) for x in ents.exact.per_label},
        "seconds": round(time.time() - t0, 1),
    }
    if args.gold == "pgxcorpus":
        from pgxlit.extract.pgxcorpus_types import to_pgxcorpus
        from pgxlit.extract.pipeline import relate

        again = {d.id: to_pgxcorpus(d.text, *predicted[d.id], typer=typer, relate=relate) for d in test}
        figures["test_typed_relation_f1_exact"] = round(score_relations(test, again, match="exact").typed.micro.f1, 4)
    typer.meta["test_fold"] = figures
    typer.save(args.out)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
