"""Fit the span stack (extract/span_stack.py) that decides a scheme's entities after its CRF and span model.

    python tools/train_span_stack.py --shared ../shared --out corpora/models/pgxcorpus_stack \\
        --part 0:/tmp/crf_p0:/tmp/span_p0 --part 1:/tmp/crf_p1:/tmp/span_p1 \\
        --part 2:/tmp/crf_p2:/tmp/span_p2 --part 3:/tmp/crf_p3:/tmp/span_p3

The stack learns from spans the two taggers gave for text they had not seen. Each `--part K:CRF:SPAN`
names a fifth of the train fold (extract.gold_folds.held_back(doc, K)), the nested CRF's settings
fitted without it (written to CRF when absent, as tools/choose_span_vote.py does) and a span model
trained without it (`tools/train_span_ner.py --held-part K`). Both taggers tag that fifth; every span
either gives is a candidate, labelled right when the gold has it with that type and exact edges.

Measured before anything is written, leave one part out: for each part, the stack is fitted on the
other parts' candidates, its threshold chosen on them by an inner leave-one-out (so the part being
scored chose nothing), and its exact-span macro-F1 on the part set against the shipped vote rule's
(corpora/models/<scheme>_vote). The stack is adopted only if the pooled figure gains at least
--min-gain, the mean per-part gain does too, and no part loses more than --max-loss. The shipped
stack is then fitted on every part, its threshold chosen by the same leave-one-part-out. The test
fold is not read here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from choose_span_vote import CRF_FLOOR, SPAN_FLOOR, VOTE_LICENCES, fit_part_crf, macro  # noqa: E402
from train_pgxcorpus_crf import gold_spans  # noqa: E402
from train_span_ner import load_docs  # noqa: E402

from pgxlit.extract.benchmarks import predict  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.gold_folds import held_back  # noqa: E402
from pgxlit.extract.nested_crf import default_model_dir, load_nested  # noqa: E402
from pgxlit.extract.pgxcorpus_types import PGXCORPUS_TYPES, crf_scores, vote_dir  # noqa: E402
from pgxlit.extract.span_ner import load_tagger  # noqa: E402
from pgxlit.extract.span_stack import SpanStack, candidates, feature_names, features, keep  # noqa: E402
from pgxlit.extract.span_vote import load_rule, vote  # noqa: E402

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(2, 13))  # 0.10 .. 0.60
Rows = dict[str, tuple[list[tuple[int, int, str]], np.ndarray, np.ndarray]]


class Part:
    """One held-back fifth: its documents, both taggers' raw spans and the stack's rows."""

    def __init__(self, number: int, docs: list[GoldDoc], crf_raw: dict[str, Any], span_raw: dict[str, Any],
                 weight: float) -> None:
        self.number = number
        self.docs = docs
        self.crf_raw = crf_raw
        self.span_raw = span_raw
        self.rows: Rows = {}
        for d in docs:
            keys, x = features(d.text, candidates(crf_raw[d.id], span_raw[d.id]), PGXCORPUS_TYPES, weight)
            gold = set(gold_spans(d))
            self.rows[d.id] = (keys, x, np.array([k in gold for k in keys], dtype=np.int64))


def span_held_part(meta: dict[str, Any]) -> int | None:
    """The fifth a span model held back (its meta.json's data.fold; part 0 before parts were named), None if none."""
    fold = str(meta.get("data", {}).get("fold", ""))
    if "held back" not in fold:
        return None
    named = re.search(r"\(part (\d)\)", fold)
    return int(named.group(1)) if named else 0


def parse_part(text: str) -> tuple[int, Path, Path]:
    try:
        number, crf, span = text.split(":", 2)
        return int(number), Path(crf), Path(span)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a part is K:CRF_FOLDER:SPAN_FOLDER, not {text!r}") from None


def fit(parts: list[Part], c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([r[1] for p in parts for r in p.rows.values() if r[0]])
    y = np.concatenate([r[2] for p in parts for r in p.rows.values() if r[0]])
    model = LogisticRegression(C=c, max_iter=5000).fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def decided(part: Part, coef: np.ndarray, intercept: float, threshold: float) -> dict[str, list[tuple[int, int, str]]]:
    out = {}
    for doc_id, (keys, x, _) in part.rows.items():
        probs = 1.0 / (1.0 + np.exp(-(x @ coef + intercept))) if keys else np.zeros(0)
        out[doc_id] = [keys[i] for i in keep(keys, probs, threshold)]
    return out


def figure(part: Part, spans: dict[str, list[tuple[int, int, str]]]) -> float:
    return float(macro(part.docs, spans, PGXCORPUS_TYPES)["exact_macro_f1"])


def choose_threshold(parts: list[Part], c: float) -> tuple[float, dict[float, float]]:
    """The threshold with the best mean leave-one-part-out figure over `parts` (ties: nearer 0.3)."""
    scores: dict[float, list[float]] = {t: [] for t in THRESHOLDS}
    for held in parts:
        coef, intercept = fit([p for p in parts if p is not held], c)
        for t in THRESHOLDS:
            scores[t].append(figure(held, decided(held, coef, intercept, t)))
    means = {t: round(float(np.mean(v)), 4) for t, v in scores.items()}
    return max(THRESHOLDS, key=lambda t: (means[t], -abs(t - 0.3))), means


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, required=True, help="stack folder to write (meta.json)")
    ap.add_argument("--part", type=parse_part, action="append", required=True,
                    help="K:CRF_FOLDER:SPAN_FOLDER, a held-back fifth and both taggers fitted without it (at least 3)")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic model")
    ap.add_argument("--min-gain", type=float, default=0.01, help="exact macro-F1 the stack must add, pooled and per part on average")
    ap.add_argument("--max-loss", type=float, default=0.01, help="exact macro-F1 the stack may lose on any one part")
    args = ap.parse_args(argv)
    if len(args.part) < 3 or len({n for n, _, _ in args.part}) != len(args.part):
        raise SystemExit("give at least three distinct --part fifths: the threshold is chosen leaving one out inside leaving one out")
    t0 = time.process_time()
    scheme = "pgxcorpus"  # BioRED's fit-part CRFs read a token tagger per part: not built here
    rule, vote_meta = load_rule(vote_dir(scheme))
    train_docs = dev_split(load_docs(scheme, args.shared), "train")  # the test fold is never read here
    mentions = {k: v[0] for k, v in predict(train_docs).items()}
    parts: list[Part] = []
    for number, crf_folder, span_folder in args.part:
        dev = [d for d in train_docs if held_back(d.id, number)]
        fit_docs = [d for d in train_docs if not held_back(d.id, number)]
        crf = load_nested(fit_part_crf(crf_folder, default_model_dir(scheme), fit_docs, mentions))
        span = load_tagger(span_folder)
        if span_held_part(span.meta) != number:
            raise SystemExit(f"{span_folder} did not hold back part {number} of the train fold "
                             f"(its meta.json: {span.meta.get('data', {}).get('fold')!r}); train one with "
                             f"`python tools/train_span_ner.py --held-part {number} ...`")
        crf_raw = {d.id: crf.tag_scored(d.text, mentions[d.id], threshold=CRF_FLOOR) for d in dev}
        span_raw = dict(zip([d.id for d in dev], span.tag_scored([d.text for d in dev], threshold=SPAN_FLOOR), strict=True))
        parts.append(Part(number, dev, crf_raw, span_raw, rule.weight))
        print(f"part {number}: {len(dev)} sentences, {sum(len(r[0]) for r in parts[-1].rows.values())} candidates "
              f"(span model {span_folder}; {time.process_time() - t0:.0f} CPU-s)", flush=True)

    rows: list[dict[str, Any]] = []
    pooled_docs: list[GoldDoc] = []
    pooled_vote: dict[str, list[tuple[int, int, str]]] = {}
    pooled_stack: dict[str, list[tuple[int, int, str]]] = {}
    for held in parts:
        others = [p for p in parts if p is not held]
        threshold, _ = choose_threshold(others, args.c)
        coef, intercept = fit(others, args.c)
        stacked = decided(held, coef, intercept, threshold)
        first = {k: crf_scores(v, str(vote_meta.get("crf_score") or "path")) for k, v in held.crf_raw.items()}
        voted = {k: [(x.start, x.end, x.label) for x in vote(first[k], held.span_raw[k], rule)] for k in first}
        row = {"part": held.number, "sentences": len(held.docs), "threshold": threshold,
               "vote": round(figure(held, voted), 4), "stack": round(figure(held, stacked), 4)}
        row["gain"] = round(row["stack"] - row["vote"], 4)
        rows.append(row)
        print(json.dumps(row), flush=True)
        pooled_docs += held.docs
        pooled_vote.update(voted)
        pooled_stack.update(stacked)
    vote_fig = macro(pooled_docs, pooled_vote, PGXCORPUS_TYPES)
    stack_fig = macro(pooled_docs, pooled_stack, PGXCORPUS_TYPES)
    gain = stack_fig["exact_macro_f1"] - vote_fig["exact_macro_f1"]
    mean_gain = float(np.mean([r["gain"] for r in rows]))
    adopted = gain >= args.min_gain and mean_gain >= args.min_gain and min(r["gain"] for r in rows) >= -args.max_loss
    print(f"pooled over {len(pooled_docs)} held-back sentences: vote {vote_fig['exact_macro_f1']:.4f}, stack "
          f"{stack_fig['exact_macro_f1']:.4f} ({gain:+.4f}); mean per-part gain {mean_gain:+.4f}: "
          f"{'adopted' if adopted else 'NOT adopted'}", flush=True)

    threshold, grid = choose_threshold(parts, args.c)
    coef, intercept = fit(parts, args.c)
    names = feature_names(PGXCORPUS_TYPES)
    stack = SpanStack(PGXCORPUS_TYPES, rule.weight, {n: round(float(w), 6) for n, w in zip(names, coef, strict=True)},
                      round(intercept, 6), threshold, rule.nested)
    result = {
        "name": args.out.name, "kind": "span_stack", "scheme": scheme,
        "stack": stack.to_json() if adopted else None,  # no stack unless adopted: the vote rule decides then
        "adopted": adopted, "min_gain": args.min_gain, "max_loss": args.max_loss, "c": args.c,
        "trained_on": [{"part": p.number, "sentences": len(p.docs), "crf": str(c), "span": str(s)}
                       for p, (_, c, s) in zip(parts, args.part, strict=True)],
        "leave_one_part_out": rows,
        "pooled": {"vote": vote_fig, "stack": stack_fig, "gain": round(gain, 4), "mean_part_gain": round(mean_gain, 4)},
        "threshold_grid": {str(t): f for t, f in grid.items()},
        "vote": str(vote_dir(scheme)), "crf_marginal_floor": CRF_FLOOR, "span_floor": SPAN_FLOOR,
        "command": "python tools/train_span_stack.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "licence": VOTE_LICENCES[scheme].replace("a rule over", "a logistic stack over"),
        "cpu_seconds": round(time.process_time() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "meta.json.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.replace(args.out / "meta.json")
    print(f"{'adopted' if adopted else 'NOT adopted'}: wrote {args.out}/meta.json ({result['cpu_seconds']} CPU-s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
