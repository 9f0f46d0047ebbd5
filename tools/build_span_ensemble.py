"""Build a span-model ensemble: several MiniLM span models of one scheme whose class probabilities
the tagger averages (extract/span_ner.py, meta.json "members").

    # 1. choose: members trained on the fit part (tools/train_span_ner.py without --whole-train-fold);
    #    the ensemble's threshold is chosen on the fifth they held back
    python tools/build_span_ensemble.py --scheme pgxcorpus --shared ../shared --out /tmp/ens_fit \
        --members /tmp/span_fit /tmp/span_transfer_fit
    # 2. ship: the same members refitted on the whole train fold, with the threshold chosen in 1
    python tools/build_span_ensemble.py --scheme pgxcorpus --out corpora/models/pgxcorpus_span \
        --members corpora/models/pgxcorpus_span /tmp/span_transfer_full --chosen-by /tmp/ens_fit

Why: PGxCorpus's train fold is 491 sentences, and two span models trained on it differ a lot from
one fifth to another (one started from MiniLM, one from BioRED's span model: each wins on one fifth).
Averaging their probabilities removes part of that variance. Members must share the scheme, the
word pattern, the widest span and the number of fine-tuned layers (the candidate spans are then the
same); an ensemble is never a member. The folder is written beside --out and moved into place, so
--out may be one of the members.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_span_ner import examples_of, load_docs, macro_f1  # noqa: E402

from pgxlit.extract.gold import dev_split  # noqa: E402
from pgxlit.extract.gold_folds import held_back  # noqa: E402
from pgxlit.extract.span_ner import SCHEMES, WEIGHTS_FILE, SpanTagger, decode  # noqa: E402

THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(5, 17))  # 0.25 .. 0.8
SHARED_SETTINGS = ("types", "token_pattern", "nested", "max_width", "n_upper")


def read_members(folders: list[Path], scheme: str) -> list[dict[str, Any]]:
    """Each member's meta.json, after checking that they can be averaged."""
    metas = []
    for folder in folders:
        meta_file = folder / "meta.json"
        if not meta_file.is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise SystemExit(f"{folder} is not a span model folder (meta.json and {WEIGHTS_FILE})")
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("members"):
            raise SystemExit(f"{folder} is itself an ensemble: name its members instead")
        if meta.get("scheme") != scheme:
            raise SystemExit(f"{folder} is a span model of {meta.get('scheme')}, not {scheme}")
        metas.append(meta)
    first = metas[0]["model"]
    for folder, meta in zip(folders[1:], metas[1:], strict=True):
        differs = [k for k in SHARED_SETTINGS if meta["model"].get(k) != first.get(k)]
        if differs:
            raise SystemExit(f"{folder} differs from {folders[0]} in {', '.join(differs)}: their spans cannot be averaged")
    return metas


def held_back_sweep(folder: Path, scheme: str, shared: Path, part: int) -> tuple[dict[str, Any], int]:
    """Exact macro-F1 over the scheme's types on the held-back fifth at every threshold, for the
    ensemble in `folder`, and the number of held-back sentences."""
    tagger = SpanTagger(folder, threads=1)
    docs = [d for d in dev_split(load_docs(scheme, shared), "train") if held_back(d.id, part)]  # never the test fold
    examples, _ = examples_of(docs, tagger.scheme)
    gold = [{(s, e, t) for (s, e), t in g.items()} for _, g in examples]
    scored = []
    for text, _ in examples:
        enc, probs = tagger.probabilities([text])
        scored.append(([(c[1], c[2]) for c in enc.chars], probs))
    sweep = {}
    for t in THRESHOLDS:
        pred = [{(s, e, lab) for s, e, lab, _ in decode(c, p, tagger.scheme.classes, t, tagger.scheme.nested)}
                for c, p in scored]
        f1, per_type = macro_f1(pred, gold, tagger.scheme.types)
        sweep[t] = {"exact_macro_f1": round(f1, 4), "per_type": per_type}
    return sweep, len(examples)


def write_folder(out: Path, folders: list[Path], metas: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """The ensemble folder, written beside `out` and moved into place (`out` may be a member)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        work = Path(tmp) / out.name
        work.mkdir()
        for k, folder in enumerate(folders):
            shutil.copyfile(folder / WEIGHTS_FILE, work / meta["members"][k]["weights"])
        (work / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        if out.exists():
            old = Path(tmp) / "replaced"
            out.rename(old)
        work.rename(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scheme", choices=sorted(SCHEMES), required=True)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, required=True, help="ensemble folder to write")
    ap.add_argument("--members", type=Path, nargs="+", required=True, help="span model folders (two or more)")
    ap.add_argument("--held-part", type=int, default=0, choices=range(5),
                    help="the fifth the fit-part members held back (choosing only)")
    ap.add_argument("--chosen-by", type=Path, default=None,
                    help="an ensemble folder built from fit-part members: ship its threshold with these members "
                         "(refits on the whole train fold); without it the threshold is chosen on the held-back fifth")
    args = ap.parse_args(argv)
    if len(args.members) < 2:
        ap.error("an ensemble needs two or more --members")
    t0 = time.time()
    metas = read_members(args.members, args.scheme)
    held = [m["data"].get("held_back_sentences", 0) for m in metas]
    if args.chosen_by is None and not all(held):
        ap.error("choosing the threshold needs members trained on the fit part (they held nothing back); "
                 "pass --chosen-by with the ensemble of their fit-part runs instead")
    if args.chosen_by is not None and any(held):
        ap.error("--chosen-by ships refits: these members held sentences back, so they are fit-part models")
    licences = list(dict.fromkeys(m["licence"] for m in metas))
    meta: dict[str, Any] = {
        "name": args.out.name,
        "kind": "span_ner",
        "scheme": args.scheme,
        "build_command": "python tools/build_span_ensemble.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": dt.date.today().isoformat(),
        "model": {**metas[0]["model"], "threshold": None, "ensemble": f"mean of {len(metas)} members' class probabilities"},
        "members": [{"weights": WEIGHTS_FILE if k == 0 else f"weights_{k}.safetensors", "from": str(folder),
                     **{key: meta.get(key) for key in ("build_command", "date", "data", "training", "figures", "chosen_by")}}
                    for k, (folder, meta) in enumerate(zip(args.members, metas, strict=True))],
        "data": {"corpus": args.scheme, "fit_sentences": min(m["data"]["fit_sentences"] for m in metas),
                 "held_back_sentences": max(held), "fold": metas[0]["data"]["fold"]},
        "licence": "; ".join(licences),
    }
    if args.chosen_by is not None:
        chooser = json.loads((args.chosen_by / "meta.json").read_text(encoding="utf-8"))
        if len(chooser.get("members") or []) != len(metas):
            raise SystemExit(f"{args.chosen_by} is not an ensemble of {len(metas)} members")
        meta["model"]["threshold"] = chooser["model"]["threshold"]
        meta["chosen_by"] = {"what": "the ensemble of the members' fit-part runs chose the threshold on the held-back "
                             "fifth; the refits reuse it without looking at any held-back figure",
                             **{k: chooser.get(k) for k in ("build_command", "date", "data", "figures")}}
        write_folder(args.out, args.members, metas, meta)
        print(f"wrote {args.out}: {len(metas)} members, threshold {meta['model']['threshold']} (chosen by {args.chosen_by})")
        return 0
    # choose: write with a provisional threshold, sweep on the held-back fifth, write the chosen one
    meta["model"]["threshold"] = 0.5
    write_folder(args.out, args.members, metas, meta)
    sweep, n = held_back_sweep(args.out, args.scheme, args.shared, args.held_part)
    best = max(sweep, key=lambda t: (sweep[t]["exact_macro_f1"], -abs(t - 0.5)))
    meta["model"]["threshold"] = best
    meta["figures"] = {"held_back_part": args.held_part, "held_back_sentences": n,
                       "held_back_exact_macro_f1": sweep[best]["exact_macro_f1"], "held_back_per_type": sweep[best]["per_type"],
                       "threshold_sweep": {str(t): v["exact_macro_f1"] for t, v in sweep.items()},
                       "members_alone": [m.get("figures", {}).get("held_back_exact_macro_f1") for m in metas]}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: threshold {best}, held-back exact macro-F1 {sweep[best]['exact_macro_f1']} "
          f"(members alone {meta['figures']['members_alone']}; {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
