"""Choose the vote of the nested CRF and the MiniLM span model (extract/span_vote.py) on held-back data.

    python tools/choose_span_vote.py --shared ../shared --out corpora/models/pgxcorpus_vote

Both taggers must not have seen what the vote is chosen on. The span model is trained on the fit
part of the train fold only (tools/train_span_ner.py holds the fifth back); the shipped nested CRF is
trained on the whole train fold, so its settings (meta.json) are trained again on the fit part here
(`--crf-fit`, written once and reused; never over the shipped one). On the held-back fifth
(extract.gold_folds.held_back, 101 sentences) every rule of a small grid is scored by exact-span
macro-F1 over the ten types; a rule is adopted only if it beats the CRF as shipped (Viterbi paths +
marginal spans) by at least --min-gain. The same run measures, for the chosen rule and the CRF
alone, typed relations end to end on the held-back fifth with spans that only the marginal step or
only one tagger added kept out of the relation candidates, or not (the shipped relation model,
which was trained on the whole train fold: optimistic alike for every row). The test fold is not
read here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_pgxcorpus_crf import features_of, fit_levels, gold_spans, jackknife  # noqa: E402
from train_span_ner import held_back, load_docs  # noqa: E402

from pgxlit.extract.benchmarks import predict  # noqa: E402
from pgxlit.extract.crf_ner import GAZETTEER_FILE, Gazetteer  # noqa: E402
from pgxlit.extract.evaluate import scheme_figures, score_relations  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.nested_crf import NestedSettings, default_model_dir, load_nested  # noqa: E402
from pgxlit.extract.pgxcorpus_types import PGXCORPUS_TYPES, crf_scores, relate_on  # noqa: E402
from pgxlit.extract.span_ner import default_model_dir as span_dir  # noqa: E402
from pgxlit.extract.span_ner import load_tagger  # noqa: E402
from pgxlit.extract.span_vote import VoteRule, vote  # noqa: E402
from pgxlit.records import Mention  # noqa: E402

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 19))
CRF_FLOOR = 0.1  # the CRF's spans off its path are offered down to this marginal; the vote decides
SPAN_FLOOR = 0.05  # the span model's spans are offered down to this probability


def fit_part_crf(folder: Path, shipped: Path, fit_docs: list[GoldDoc], mentions: dict[str, list[Mention]]) -> Path:
    """The shipped CRF's settings trained on the fit part only, in `folder` (reused when there)."""
    if (folder / "meta.json").is_file():
        return folder
    meta = json.loads((shipped / "meta.json").read_text(encoding="utf-8"))
    settings = NestedSettings.from_meta(meta)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fit_levels(fit_docs, features_of(fit_docs, mentions, settings, jackknife(fit_docs)), settings.layers,
                   meta["settings"]["c1"], meta["settings"]["c2"], meta["settings"]["max_iterations"], work)
        if settings.use_gazetteer:
            rows = Gazetteer.build([(d.text, gold_spans(d)) for d in fit_docs]).to_json()
            (work / GAZETTEER_FILE).write_text(json.dumps(rows, separators=(",", ":")) + "\n", encoding="utf-8")
        meta["data"] = "fit part of the train fold only (tools/choose_span_vote.py): for choosing on the held-back fifth"
        meta.get("figures", {}).pop("test", None)
        (work / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(work, folder)
    return folder


def as_mentions(docs: list[GoldDoc], spans: dict[str, list[tuple[int, int, str]]]) -> dict[str, list[Mention]]:
    return {d.id: [Mention(s, e, lab, d.text[s:e], source="vote") for s, e, lab in sorted(set(spans[d.id]))]
            for d in docs}


def macro(docs: list[GoldDoc], spans: dict[str, list[tuple[int, int, str]]]) -> dict[str, Any]:
    return scheme_figures(docs, as_mentions(docs, spans), PGXCORPUS_TYPES)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, required=True, help="vote folder to write (meta.json with the rule)")
    ap.add_argument("--span", type=Path, default=None, help="span model folder (default: the shipped one)")
    ap.add_argument("--crf-fit", type=Path, default=Path("/tmp/pgxcorpus_crf_fit"),
                    help="where the fit-part CRF is written (reused when there)")
    ap.add_argument("--min-gain", type=float, default=0.01, help="held-back exact macro-F1 a rule must add")
    ap.add_argument("--json", type=Path, default=None, help="also write every row here")
    args = ap.parse_args(argv)
    t0 = time.process_time()
    train_docs = dev_split(load_docs("pgxcorpus", args.shared), "train")  # the test fold is never read here
    fit_docs = [d for d in train_docs if not held_back(d.id)]
    dev_docs = [d for d in train_docs if held_back(d.id)]
    predicted = predict(train_docs)
    mentions = {k: v[0] for k, v in predicted.items()}
    crf = load_nested(fit_part_crf(args.crf_fit, default_model_dir("pgxcorpus"), fit_docs, mentions))
    span = load_tagger(args.span or span_dir("pgxcorpus"))
    print(f"fit-part CRF and span model ready ({time.process_time() - t0:.0f} CPU-s)", flush=True)
    crf_raw = {d.id: crf.tag_scored(d.text, mentions[d.id], threshold=CRF_FLOOR) for d in dev_docs}
    span_raw = dict(zip([d.id for d in dev_docs], span.tag_scored([d.text for d in dev_docs], threshold=SPAN_FLOOR), strict=True))
    t_crf = crf.threshold
    rows: list[dict[str, Any]] = []

    def row(name: str, spans: dict[str, list[tuple[int, int, str]]], **extra: Any) -> dict[str, Any]:
        fig = macro(dev_docs, spans)
        r = {"rule": name, **extra, "held_back": fig}
        rows.append(r)
        return r

    base = row("crf as shipped (Viterbi + marginal)",
               {k: [(s, e, lab) for s, e, lab, p, path in v if path or (t_crf is not None and p >= t_crf)]
                for k, v in crf_raw.items()})
    row("crf Viterbi only", {k: [(s, e, lab) for s, e, lab, _, path in v if path] for k, v in crf_raw.items()})
    span_alone = row("span model alone (its threshold)",
                     {k: [(s, e, lab) for s, e, lab, p in v if p >= span.threshold] for k, v in span_raw.items()})
    print(json.dumps(base), json.dumps(span_alone), sep="\n", flush=True)
    best = base
    for mapping in ("path", "marginal"):
        first = {k: crf_scores(v, mapping) for k, v in crf_raw.items()}
        for w in WEIGHTS:
            for t in THRESHOLDS:
                for one in (True, False):
                    rule = VoteRule(w, t, one)
                    r = row("vote", {k: [(x.start, x.end, x.label) for x in vote(first[k], span_raw[k], rule)]
                                     for k in first}, crf_score=mapping, **rule.to_json())
                    if r["held_back"]["exact_macro_f1"] > best["held_back"]["exact_macro_f1"]:
                        best = r
    gain = best["held_back"]["exact_macro_f1"] - base["held_back"]["exact_macro_f1"]
    print(f"best on the held-back fifth: {json.dumps(best)} (gain {gain:+.4f})", flush=True)
    adopted = best is not base and gain >= args.min_gain

    # relations end to end on the held-back fifth: which spans may be relation candidates
    from pgxlit.extract.pipeline import relate

    def relations_row(name: str, typed: dict[str, list[Mention]], candidate: dict[str, list[bool]]) -> dict[str, Any]:
        full = {d.id: (typed[d.id], relate_on(d.text, typed[d.id], candidate[d.id], relate)) for d in dev_docs}
        exact = score_relations(dev_docs, full, match="exact").typed.micro
        r = {"relations": name, "typed_exact_f1": round(exact.f1, 4), "precision": round(exact.precision, 4),
             "recall": round(exact.recall, 4), "predicted": exact.tp + exact.fp}
        print(json.dumps(r), flush=True)
        return r

    rel_rows = []
    crf_kept = {k: [x for x in v if x[4] or (t_crf is not None and x[3] >= t_crf)] for k, v in crf_raw.items()}
    typed_crf = {d.id: [Mention(s, e, lab, d.text[s:e]) for s, e, lab, _, _ in crf_kept[d.id]] for d in dev_docs}
    rel_rows.append(relations_row("crf: all spans", typed_crf, {k: [True] * len(v) for k, v in typed_crf.items()}))
    rel_rows.append(relations_row("crf: marginal-only spans out", typed_crf,
                                  {k: [x[4] for x in v] for k, v in crf_kept.items()}))
    if best is not base:
        rule = VoteRule.from_json(best)
        first = {k: crf_scores(v, best["crf_score"]) for k, v in crf_raw.items()}
        voted = {k: vote(first[k], span_raw[k], rule) for k in first}
        path_of = {k: {(s, e, lab) for s, e, lab, _, path in v if path} for k, v in crf_raw.items()}
        typed_v = {d.id: [Mention(x.start, x.end, x.label, d.text[x.start:x.end]) for x in voted[d.id]] for d in dev_docs}
        rel_rows.append(relations_row("vote: all spans", typed_v, {k: [True] * len(v) for k, v in voted.items()}))
        rel_rows.append(relations_row("vote: only spans on the CRF's path or both taggers'", typed_v,
                                      {k: [(x.start, x.end, x.label) in path_of[k] or x.agreed for x in v]
                                       for k, v in voted.items()}))
        rel_rows.append(relations_row("vote: only spans both taggers gave", typed_v,
                                      {k: [x.agreed for x in v] for k, v in voted.items()}))
        rel_rows.append(relations_row("vote: only the CRF's path spans", typed_v,
                                      {k: [(x.start, x.end, x.label) in path_of[k] for x in v] for k, v in voted.items()}))
    result = {
        "name": args.out.name, "kind": "span_vote",
        "first": "nested CRF (corpora/models/pgxcorpus_crf)", "second": "MiniLM span model (corpora/models/pgxcorpus_span)",
        "chosen_on": f"held-back fifth of the train fold ({len(dev_docs)} sentences), CRF levels trained on the fit part "
                     f"({len(fit_docs)} sentences), span model trained on the fit part; exact-span macro-F1 over the ten types",
        "adopted": adopted, "min_gain": args.min_gain, "gain": round(gain, 4),
        "baseline": base, "best": best, "span_alone": span_alone,
        "rule": {k: best[k] for k in ("weight", "threshold", "one_type_per_extent")} if best is not base else None,
        "crf_score": best.get("crf_score"), "crf_marginal_floor": CRF_FLOOR, "span_floor": SPAN_FLOOR,
        "relation_candidates": "all", "relations_held_back": rel_rows,
        "command": "python tools/choose_span_vote.py " + " ".join(sys.argv[1:]),
        "licence": "a rule over two models derived from PGxCorpus (CC BY-NC 4.0): non-commercial use only",
        "cpu_seconds": round(time.process_time() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "meta.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"{'adopted' if adopted else 'NOT adopted'}: wrote {args.out}/meta.json ({result['cpu_seconds']} CPU-s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
