"""Choose the vote of a scheme's CRF and its MiniLM span model (extract/span_vote.py) on held-back data.

    python tools/choose_span_vote.py --shared ../shared --out corpora/models/pgxcorpus_vote
    python tools/choose_span_vote.py --scheme biored --shared ../shared --out corpora/models/biored_vote \
        --span /tmp/biored_span_fit --tagger-fit /tmp/tagger_fit --tagger-probs /tmp/fold0.npz,/tmp/fold1.npz

Both taggers must not have seen what the vote is chosen on. The span model is trained on the fit
part of the train fold only (tools/train_span_ner.py holds the fifth back; pass it with --span); the
shipped CRF is trained on the whole train fold, so its settings (meta.json) are trained again on the
fit part here (`--crf-fit`, written once and reused; never over the shipped one). PGxCorpus's CRF is
nested (extract/nested_crf.py); BioRED's is flat (extract/crf_ner.py) and reads a token tagger's
probabilities: its fit-part copy reads a tagger trained on the fit part (`--tagger-fit`) and learns
from out-of-fold probabilities of the fit part (`--tagger-probs`, tools/train_token_tagger.py
--fold 2/0 and 2/1), as tools/train_crf_ner.py chose it. On the held-back fifth
(extract.gold_folds.held_back) every rule of a small grid is scored by exact-span macro-F1 over the
scheme's types; a flat scheme's rules keep no two overlapping spans. A rule is adopted only if it
beats the CRF as shipped (PGxCorpus: Viterbi paths + marginal spans; BioRED: the Viterbi path) by at
least --min-gain. For PGxCorpus, whose relations are judged again on the typed spans, the same run
measures typed relations end to end on the held-back fifth with spans that only the marginal step
or only one tagger added kept out of the relation candidates, or not (the shipped relation model,
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

import train_crf_ner as flat  # noqa: E402
from train_pgxcorpus_crf import features_of, fit_levels, gold_spans, jackknife  # noqa: E402
from train_span_ner import held_back, load_docs  # noqa: E402

from pgxlit.extract.benchmarks import predict  # noqa: E402
from pgxlit.extract.crf_ner import GAZETTEER_FILE, MODEL_FILE, SECOND_PASS_FILE, CrfSettings, Gazetteer  # noqa: E402
from pgxlit.extract.crf_ner import default_model_dir as flat_dir  # noqa: E402
from pgxlit.extract.crf_ner import load_tagger as load_flat  # noqa: E402
from pgxlit.extract.evaluate import scheme_figures, score_relations  # noqa: E402
from pgxlit.extract.gold import GoldDoc, dev_split  # noqa: E402
from pgxlit.extract.nested_crf import NestedSettings, default_model_dir, load_nested  # noqa: E402
from pgxlit.extract.pgxcorpus_types import PGXCORPUS_TYPES, crf_scores, relate_on  # noqa: E402
from pgxlit.extract.span_ner import SCHEMES as SPAN_SCHEMES  # noqa: E402
from pgxlit.extract.span_ner import default_model_dir as span_dir  # noqa: E402
from pgxlit.extract.span_ner import load_tagger  # noqa: E402
from pgxlit.extract.span_vote import VoteRule, vote  # noqa: E402
from pgxlit.records import Mention  # noqa: E402

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 19))
CRF_FLOOR = 0.1  # the CRF's spans off its path are offered down to this marginal; the vote decides
SPAN_FLOOR = 0.05  # the span model's spans are offered down to this probability
VOTE_LICENCES = {
    "pgxcorpus": "a rule over two models derived from PGxCorpus (CC BY-NC 4.0): non-commercial use only",
    "biored": "a rule over two models derived from BioRED (Luo et al. 2022; see its licence at NCBI): research use",
}


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


def fit_part_flat_crf(folder: Path, shipped: Path, fit_docs: list[GoldDoc], mentions: dict[str, list[Mention]],
                      tagger_fit: Path | None, tagger_probs: list[Path]) -> Path:
    """The shipped flat CRF's settings trained on the fit part only, in `folder`/<its name> (reused when
    there), as tools/train_crf_ner.py trained it on the fit part when it chose them: token tagger features
    from out-of-fold probabilities (`tagger_probs`), a second pass over out-of-fold first passes; beside
    it, under the name the CRF's meta gives its tagger, the tagger trained on the fit part (`tagger_fit`)
    that it reads at run time."""
    out = folder / shipped.name
    if (out / "meta.json").is_file():
        return out
    meta = json.loads((shipped / "meta.json").read_text(encoding="utf-8"))
    settings = CrfSettings.from_meta(meta.get("features", {}))
    if settings.context_classifier:
        raise SystemExit(f"{shipped} reads a contextual classifier: its fit-part copy is not built here")
    if settings.token_tagger and (tagger_fit is None or not tagger_probs):
        raise SystemExit(f"{shipped} reads the token tagger {settings.token_tagger}: pass --tagger-fit (trained on the fit "
                         "part) and --tagger-probs (out-of-fold probabilities of every fit-part document)")
    types = tuple(meta["types"])
    c1, c2, iterations = meta["settings"]["c1"], meta["settings"]["c2"], meta["settings"]["max_iterations"]
    tagged = flat.tagger_features(tagger_probs, fit_docs) if settings.token_tagger else None
    xs = flat.features_of(fit_docs, mentions, settings, flat.jackknife(fit_docs, types), None, tagged)
    ys = flat.labels_of(fit_docs, types)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "model"
        work.mkdir()
        flat.train(xs, ys, c1, c2, iterations, work / MODEL_FILE)
        if meta.get("features", {}).get("second_pass"):
            oof = flat.first_pass_out_of_fold(fit_docs, xs, ys, c1, c2, iterations, Path(tmp))
            flat.train(flat.with_second(fit_docs, xs, oof), ys, c1, c2, iterations, work / SECOND_PASS_FILE)
        if settings.use_gazetteer:
            rows = Gazetteer.build(flat.gold_spans(fit_docs, types)).to_json()
            (work / GAZETTEER_FILE).write_text(json.dumps(rows, separators=(",", ":")) + "\n", encoding="utf-8")
        meta["data"] = (f"fit part of the train fold only ({len(fit_docs)} documents; tools/choose_span_vote.py): "
                        "for choosing on the held-back fifth")
        if settings.token_tagger:
            meta["token_tagger"] = {"folder": settings.token_tagger, "copied_from": str(tagger_fit),
                                    "training_features": ",".join(map(str, tagger_probs))}
        meta.get("figures", {}).pop("test", None)
        (work / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        folder.mkdir(parents=True, exist_ok=True)
        if settings.token_tagger:
            shutil.copytree(tagger_fit, folder / settings.token_tagger, dirs_exist_ok=True)
        shutil.copytree(work, out)
    return out


def as_mentions(docs: list[GoldDoc], spans: dict[str, list[tuple[int, int, str]]]) -> dict[str, list[Mention]]:
    return {d.id: [Mention(s, e, lab, d.text[s:e], source="vote") for s, e, lab in sorted(set(spans[d.id]))]
            for d in docs}


def macro(docs: list[GoldDoc], spans: dict[str, list[tuple[int, int, str]]],
          types: tuple[str, ...] = PGXCORPUS_TYPES) -> dict[str, Any]:
    return scheme_figures(docs, as_mentions(docs, spans), types)


def rules_grid(nested: bool) -> list[VoteRule]:
    """Every rule tried: a flat scheme keeps one span per stretch of text, so one type per extent is implied."""
    return [VoteRule(w, t, one, nested) for w in WEIGHTS for t in THRESHOLDS for one in ((True, False) if nested else (True,))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scheme", choices=("pgxcorpus", "biored"), default="pgxcorpus")
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, required=True, help="vote folder to write (meta.json with the rule)")
    ap.add_argument("--span", type=Path, default=None, help="span model folder trained on the fit part "
                    "(default: the shipped one, which is right only while it is the fit-part model)")
    ap.add_argument("--crf-fit", type=Path, default=None,
                    help="where the fit-part CRF is written (reused when there; default /tmp/<scheme>_crf_fit)")
    ap.add_argument("--tagger-fit", type=Path, default=None, help="biored: the token tagger trained on the fit part "
                    "(tools/train_token_tagger.py without --fold) that the fit-part CRF reads")
    ap.add_argument("--tagger-probs", default="", help="biored: comma-separated .npz files of out-of-fold token tagger "
                    "probabilities for every fit-part document (tools/train_token_tagger.py --fold 2/0, 2/1 --probs-out)")
    ap.add_argument("--min-gain", type=float, default=0.01, help="held-back exact macro-F1 a rule must add")
    ap.add_argument("--held-part", type=int, default=0, choices=range(5),
                    help="the fifth held back (0: the one rules are chosen on; 1-4 check a choice elsewhere, with a "
                         "CRF and span model fitted without that fifth)")
    ap.add_argument("--json", type=Path, default=None, help="also write every row here")
    args = ap.parse_args(argv)
    t0 = time.process_time()
    scheme = args.scheme
    nested = scheme == "pgxcorpus"
    types = PGXCORPUS_TYPES if nested else SPAN_SCHEMES[scheme].types
    crf_fit = args.crf_fit or Path(f"/tmp/{scheme}_crf_fit")
    train_docs = dev_split(load_docs(scheme, args.shared), "train")  # the test fold is never read here
    fit_docs = [d for d in train_docs if not held_back(d.id, args.held_part)]
    dev_docs = [d for d in train_docs if held_back(d.id, args.held_part)]
    predicted = predict(train_docs)
    mentions = {k: v[0] for k, v in predicted.items()}
    if nested:
        crf: Any = load_nested(fit_part_crf(crf_fit, default_model_dir("pgxcorpus"), fit_docs, mentions))
        shipped_crf = "nested CRF (corpora/models/pgxcorpus_crf)"
    else:
        crf = load_flat(fit_part_flat_crf(crf_fit, flat_dir(scheme), fit_docs, mentions, args.tagger_fit,
                                          [Path(f) for f in args.tagger_probs.split(",") if f]))
        shipped_crf = (f"flat CRF (corpora/models/{scheme}_crf)"
                       + (f" reading the token tagger corpora/models/{crf.settings.token_tagger}" if crf.settings.token_tagger else ""))
    span_folder = args.span or span_dir(scheme)
    span = load_tagger(span_folder)
    if span.scheme.name != scheme:
        raise SystemExit(f"{args.span} is a span model of {span.scheme.name}, not {scheme}")
    unit = "sentences" if nested else "documents"
    print(f"{scheme}: {len(fit_docs)} fit + {len(dev_docs)} held-back {unit}; fit-part CRF and span model ready "
          f"({time.process_time() - t0:.0f} CPU-s)", flush=True)
    crf_raw = {d.id: crf.tag_scored(d.text, mentions[d.id], threshold=CRF_FLOOR) for d in dev_docs}
    # what the span model offers the vote: its decoded spans; a flat scheme's may also offer spans that hold
    # one another (alternative edges), of which the flat vote keeps one
    offers: dict[bool | None, dict[str, list[tuple[int, int, str, float]]]] = {None: dict(zip(
        [d.id for d in dev_docs], span.tag_scored([d.text for d in dev_docs], threshold=SPAN_FLOOR), strict=True))} \
        if nested else {n: {d.id: span.tag_document_scored(d.text, SPAN_FLOOR, n) for d in dev_docs} for n in (None, True)}
    span_raw = offers[None]
    rows: list[dict[str, Any]] = []

    def row(name: str, spans: dict[str, list[tuple[int, int, str]]], **extra: Any) -> dict[str, Any]:
        fig = macro(dev_docs, spans, types)
        r = {"rule": name, **extra, "held_back": fig}
        rows.append(r)
        return r

    t_crf = crf.threshold if nested else None  # a flat CRF ships its Viterbi path alone
    viterbi = row("crf Viterbi only", {k: [(s, e, lab) for s, e, lab, _, path in v if path] for k, v in crf_raw.items()})
    base = row("crf as shipped (Viterbi + marginal)",
               {k: [(s, e, lab) for s, e, lab, p, path in v if path or (t_crf is not None and p >= t_crf)]
                for k, v in crf_raw.items()}) if nested else viterbi
    span_alone = row("span model alone (its threshold)",
                     {k: [(s, e, lab) for s, e, lab, p in v if p >= span.threshold] for k, v in span_raw.items()})
    print(json.dumps(base), json.dumps(span_alone), sep="\n", flush=True)
    best = base
    for offer, second in offers.items():
        for mapping in ("path", "marginal"):
            first = {k: crf_scores(v, mapping) for k, v in crf_raw.items()}
            for rule in rules_grid(nested):
                r = row("vote", {k: [(x.start, x.end, x.label) for x in vote(first[k], second[k], rule)]
                                 for k in first}, crf_score=mapping, **rule.to_json(),
                        **({} if nested else {"span_nested": offer}))
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

    rel_rows: list[dict[str, Any]] = []
    if nested:  # BioRED's relations are carried onto the typed spans, not judged again on them: nothing to measure
        rel_rows = relations_rows(dev_docs, crf_raw, t_crf, best if best is not base else None, span_raw, relations_row)
    result = {
        "name": args.out.name, "kind": "span_vote", "scheme": scheme,
        "first": shipped_crf, "second": f"MiniLM span model (corpora/models/{scheme}_span)",
        "chosen_on": f"held-back fifth {args.held_part} of the train fold ({len(dev_docs)} {unit}), CRF trained on the fit part "
                     f"({len(fit_docs)} {unit}), span model trained on the fit part ({span_folder}); exact-span macro-F1 "
                     f"over the {len(types)} types",
        "adopted": adopted, "min_gain": args.min_gain, "gain": round(gain, 4),
        "baseline": base, "best": best, "span_alone": span_alone,
        # no rule unless adopted: extract.pgxcorpus_types ships a vote only when its folder holds a rule
        "rule": {k: best[k] for k in ("weight", "threshold", "one_type_per_extent", "nested")} if adopted else None,
        "crf_score": best.get("crf_score"), "crf_marginal_floor": CRF_FLOOR, "span_floor": SPAN_FLOOR,
        **({} if nested else {"span_nested": best.get("span_nested")}),
        "relation_candidates": "all", "relations_held_back": rel_rows,
        "held_back_rows": [{k: v for k, v in r.items() if k != "rule" or v != "vote"} for r in rows],
        "command": "python tools/choose_span_vote.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "licence": VOTE_LICENCES[scheme],
        "cpu_seconds": round(time.process_time() - t0, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "meta.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"{'adopted' if adopted else 'NOT adopted'}: wrote {args.out}/meta.json ({result['cpu_seconds']} CPU-s)")
    return 0


def relations_rows(dev_docs: list[GoldDoc], crf_raw: dict[str, list[tuple[int, int, str, float, bool]]],
                   t_crf: float | None, best: dict[str, Any] | None, span_raw: dict[str, list[tuple[int, int, str, float]]],
                   relations_row: Any) -> list[dict[str, Any]]:
    """PGxCorpus: held-back typed relations with every kept span a candidate, or only the sure ones."""
    rel_rows = []
    crf_kept = {k: [x for x in v if x[4] or (t_crf is not None and x[3] >= t_crf)] for k, v in crf_raw.items()}
    typed_crf = {d.id: [Mention(s, e, lab, d.text[s:e]) for s, e, lab, _, _ in crf_kept[d.id]] for d in dev_docs}
    rel_rows.append(relations_row("crf: all spans", typed_crf, {k: [True] * len(v) for k, v in typed_crf.items()}))
    rel_rows.append(relations_row("crf: marginal-only spans out", typed_crf,
                                  {k: [x[4] for x in v] for k, v in crf_kept.items()}))
    if best is not None:
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
    return rel_rows


if __name__ == "__main__":
    raise SystemExit(main())
