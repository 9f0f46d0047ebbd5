"""Train the statistical PGx NER used by the `pgx_ner_model` component (extract/ner_model.py).

    python tools/train_ner.py --shared ../shared --out corpora/models/pgx_ner

Training data (DEV parts of ../shared/gold, **train fold only** -- `dev_split(docs,
"train")`; the test fold is never read here):

* PGxCorpus DEV (gold/pgxcorpus, BRAT), labels mapped with PGXCORPUS_TO_PGXLIT.
* BioRED Train + Dev (gold/biored/*.PubTator), BIORED_TO_PGXLIT, split into
  sentences; used for the DRUG/GENE/DISEASE head only by default (see below).

Two heads, each a spaCy `ner` with its own small CNN tok2vec (HashEmbedCNN-style
MultiHashEmbed + MaxoutWindowEncoder, width 96, depth 4, no static vectors):

* ner_inner: DRUG, GENE, DISEASE   (PGxCorpus + BioRED)
* ner_outer: ALLELE, VARIANT, PHENOTYPE   (PGxCorpus only)

(`--layout names` puts DISEASE in the outer head instead and keeps BioRED's
diseases out of training; it measured worse on the held-back part.)

PGxCorpus nests entities across these groups ("CYP2D6 genotype" VARIANT around
"CYP2D6" GENE, "pharmacokinetics of warfarin" PHENOTYPE around "warfarin"); two
heads can output both (a perfect single flat tagger would reach only 0.74
entity macro-F1 on the test fold, two heads 0.90). Within one head nested or
overlapping gold entities are reduced to one non-overlapping set: longest first
for ner_inner, shortest first for ner_outer (`--order`; shortest keeps more of
PGxCorpus's stacked phenotype phrases). Discontinuous gold entities (PGxCorpus
coordinations, "estradiol ... levels of") are dropped by default and their
tokens marked *missing* rather than "O" (`--discontinuous outer` trains on the
outer extent instead; it measured worse).

BioRED has no PHENOTYPE and no ALLELE type, and it leaves PGxCorpus-style
phenotypes ("response to clopidogrel", "plasma concentrations") unannotated,
so it never trains the outer head by default; in the inner head its
SequenceVariant spans are marked missing (not "O"), because PGxCorpus
annotates the gene inside them ("CYP2C19" in "CYP2C19 * 2"). With
`--biored-outer` BioRED also trains the outer head (VARIANT; star/HLA alleles
relabelled ALLELE; tokens near phenotype cue words marked missing).

Rule features: every token also carries, as a hashed feature (token.tag_ of the
model's own doc copy, 50 rows), the label of the `pgx_entities` mention over it
("R_DRUG", ..., or "O"): the lexicons and grammars tell the model which words
are known drugs/genes/alleles, and the model learns the phrases around them.
So the model expects pgx_entities before it, and should be retrained when the
lexicons or grammars change a lot (`--no-rule-features` trains without them;
it scored 0.776 vs 0.781 rules+model on the held-back part, and 0.740 vs 0.770
model alone).

Early stopping: a fixed fifth of the train fold (by a hash of the PMID, salt
below) is held back and scored after every epoch (entity macro-F1, overlap, of
that head's labels); the best epoch's weights are kept and training stops after
`--patience` epochs without improvement or at `--max-minutes`. The two heads
train in parallel processes (`--jobs 2`). Fixed seed.

The output folder is a spaCy pipeline (vocab + the two ner components; the
tokenizer is not saved -- the component builds docs from our own tokens) with
spaCy's meta.json extended by a "pgxlit" block (heads, data, settings, figures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import random
import re
import shutil
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

LAYOUTS = {
    # which labels each head predicts
    "names": {"ner_inner": ("DRUG", "GENE"), "ner_outer": ("ALLELE", "VARIANT", "PHENOTYPE", "DISEASE")},
    "names+disease": {"ner_inner": ("DRUG", "GENE", "DISEASE"), "ner_outer": ("ALLELE", "VARIANT", "PHENOTYPE")},
}
HOLDBACK_SALT = "pgxlit-ner-holdback-v1"
# Words around which BioRED leaves PGxCorpus-style phenotypes unannotated (used with --biored-outer).
PHENOTYPE_CUES = re.compile(
    r"(respons|toxicit|concentration|clearance|metaboli|efficac|adverse|side|exposure|level|dose|dosage|"
    r"sensitiv|pharmacokinetic|pharmacodynamic|plasma|serum|activity|effect|outcome|survival|risk|"
    r"requirement|reaction|tolerance|resistance|benefit|inhibition|aggregation|reactivity|AUC|half-life)",
    re.IGNORECASE,
)
STAR_ALLELE = re.compile(r"\*\s*\d|HLA-[A-Z0-9]+\s*\*")


@dataclass
class Item:
    """One training text: its entities (start, end, label) and spans whose tokens are unknown."""

    id: str
    text: str
    ents: list[tuple[int, int, str]]
    missing: list[tuple[int, int]]
    source: str


def holdback(doc_id: str) -> bool:
    from pgxlit.extract.gold import split_group

    digest = hashlib.sha256(f"{HOLDBACK_SALT}:{split_group(doc_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 5 == 0


def longest_first(ents: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    kept: list[tuple[int, int, str]] = []
    for e in sorted(set(ents), key=lambda e: (-(e[1] - e[0]), e[0], e[2])):
        if all(e[1] <= k[0] or k[1] <= e[0] for k in kept):
            kept.append(e)
    return sorted(kept)


def shortest_first(ents: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    kept: list[tuple[int, int, str]] = []
    for e in sorted(set(ents), key=lambda e: (e[1] - e[0], e[0], e[2])):
        if all(e[1] <= k[0] or k[1] <= e[0] for k in kept):
            kept.append(e)
    return sorted(kept)


def pgxcorpus_items(shared: Path, discontinuous: str = "drop") -> tuple[list[Item], list[Any]]:
    """PGxCorpus DEV train fold -> (training items, held-back GoldDocs)."""
    from pgxlit.extract.evaluate import PGXCORPUS_TO_PGXLIT
    from pgxlit.extract.gold import dev_split, read_pgxcorpus

    docs = dev_split(read_pgxcorpus(shared / "gold" / "pgxcorpus"), "train")
    train, held = [], []
    for d in docs:
        if holdback(d.id):
            held.append(d)
            continue
        ents, missing = [], []
        for e in d.entities:
            lab = PGXCORPUS_TO_PGXLIT.get(e.label)
            if not lab:
                continue
            if e.discontinuous and discontinuous == "drop":
                missing.append((e.start, e.end, lab))
            else:
                ents.append((e.start, e.end, lab))
        train.append(Item(d.id, d.text, ents, missing, "pgxcorpus"))
    return train, held


def biored_items(shared: Path, sentencizer: Any) -> list[Item]:
    """BioRED Train+Dev train fold (minus the held-back fifth), one item per sentence."""
    from pgxlit.extract.evaluate import BIORED_TO_PGXLIT
    from pgxlit.extract.gold import dev_split, read_biored

    files = sorted((shared / "gold" / "biored").glob("*.PubTator"))
    docs = dev_split([d for f in files for d in read_biored(f)], "train")
    items: list[Item] = []
    for d in docs:
        if holdback(d.id):
            continue
        ents = []
        for e in d.entities:
            lab = BIORED_TO_PGXLIT.get(e.label)
            if lab == "VARIANT" and STAR_ALLELE.search(e.text):
                lab = "ALLELE"
            if lab:
                ents.append((e.start, e.end, lab))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sents = [(s.start_char, s.end_char) for s in sentencizer(d.text).sents]
        for n, (s, t) in enumerate(sents):
            inside = [(a - s, b - s, lab) for a, b, lab in ents if a >= s and b <= t]
            crossing = [(max(a, s) - s, min(b, t) - s) for a, b, _ in ents if a < t and b > s and not (a >= s and b <= t)]
            items.append(Item(f"{d.id}.{n}", d.text[s:t], inside, crossing, "biored"))
    return items


def head_view(item: Item, labels: tuple[str, ...], outer_cues: bool, order: str = "longest") -> Item:
    """The item as one head sees it: its labels only (longest first), with the spans to leave unknown."""
    ents = [e for e in item.ents if e[2] in labels]
    missing = [m[:2] for m in item.missing if len(m) == 2 or m[2] in labels]
    if item.source == "biored":
        if "GENE" in labels:
            # PGxCorpus annotates the gene/drug inside variants and phrases; BioRED does not.
            missing += [(a, b) for a, b, lab in item.ents if lab in ("VARIANT", "ALLELE")]
            if "DISEASE" not in labels:
                missing += [(a, b) for a, b, lab in item.ents if lab == "DISEASE" and " " in item.text[a:b].strip()]
        elif outer_cues:
            # BioRED leaves PGxCorpus-style phenotypes ("response to X") unannotated: don't call them O.
            for m in PHENOTYPE_CUES.finditer(item.text):
                a = item.text.rfind(" ", 0, max(0, m.start() - 25))
                b = item.text.find(" ", m.end() + 25)
                missing.append((a + 1 if a >= 0 else 0, b if b >= 0 else len(item.text)))
    ents = longest_first(ents) if order == "longest" else shortest_first(ents)
    return Item(item.id, item.text, ents, missing, item.source)


_RULES: list[Any] = []


def rule_mentions(text: str) -> list[Any]:
    """What pgx_entities finds in a text (lexicons + grammars; no abbreviation step)."""
    if not _RULES:
        from pgxlit.extract.pipeline import PgxEntityRecognizer

        _RULES.append(PgxEntityRecognizer())
    return _RULES[0].find(text)


def make_doc(nlp: Any, text: str, rule_features: bool) -> Any:
    from pgxlit.extract.ner_model import rule_tags

    doc = nlp.make_doc(text)
    if rule_features:
        for token, tag in zip(doc, rule_tags(doc, rule_mentions(text)), strict=True):
            token.tag_ = tag
    return doc


def to_example(nlp: Any, item: Item, rule_features: bool = False) -> tuple[Any, int]:
    """A spaCy Example (gold tags; unknown tokens '-'), and how many entities did not align to tokens."""
    from spacy.training import Example, offsets_to_biluo_tags

    doc = make_doc(nlp, item.text, rule_features)
    lost = 0
    ents = []
    for a, b, lab in item.ents:
        span = doc.char_span(a, b, alignment_mode="strict")
        if span is None:
            span = doc.char_span(a, b, alignment_mode="expand")
            lost += 1
            if span is None:
                continue
        ents.append((span.start_char, span.end_char, lab))
    ents = longest_first(ents)  # expanding to token edges can make two entities overlap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tags = offsets_to_biluo_tags(doc, ents)
    for a, b in item.missing:
        for tok in doc:
            if tok.idx < b and tok.idx + len(tok) > a and tags[tok.i] == "O":
                tags[tok.i] = "-"
    return Example.from_dict(doc, {"entities": tags}), lost


def ner_config(width: int, depth: int, rows: list[int], attrs: list[str] | None = None) -> dict[str, Any]:
    return {
        "model": {
            "@architectures": "spacy.TransitionBasedParser.v2",
            "state_type": "ner",
            "extra_state_tokens": False,
            "hidden_width": 64,
            "maxout_pieces": 2,
            "use_upper": True,
            "nO": None,
            "tok2vec": {
                "@architectures": "spacy.Tok2Vec.v2",
                "embed": {
                    "@architectures": "spacy.MultiHashEmbed.v2",
                    "width": width,
                    "attrs": attrs or ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
                    "rows": rows,
                    "include_static_vectors": False,
                },
                "encode": {
                    "@architectures": "spacy.MaxoutWindowEncoder.v2",
                    "width": width,
                    "depth": depth,
                    "window_size": 1,
                    "maxout_pieces": 3,
                },
            },
        }
    }


def score_head(nlp: Any, held: list[Any], labels: tuple[str, ...], rule_features: bool = False) -> dict[str, float]:
    from pgxlit.extract.evaluate import PGXCORPUS_TO_PGXLIT, score_entities
    from pgxlit.records import Mention

    pred = {}
    docs = [make_doc(nlp, d.text, rule_features) for d in held]
    for d, doc in zip(held, nlp.get_pipe("ner").pipe(docs, batch_size=64), strict=True):
        pred[d.id] = [Mention(e.start_char, e.end_char, e.label_, e.text, source="model") for e in doc.ents]
    s = score_entities(held, pred, PGXCORPUS_TO_PGXLIT, labels=labels)
    return {
        "overlap_macro_f1": round(s.overlap.macro.f1, 4),
        "exact_macro_f1": round(s.exact.macro.f1, 4),
        **{f"overlap_{r.label}": round(r.f1, 4) for r in s.overlap.per_label},
    }


def train_head(args: dict[str, Any]) -> dict[str, Any]:
    """Train one head in this process; returns its log and the best weights (bytes)."""
    import spacy
    from spacy.util import fix_random_seed, minibatch

    from pgxlit.extract.pipeline import build_nlp

    name, labels, seed = args["name"], tuple(args["labels"]), args["seed"]
    fix_random_seed(seed)
    rng = random.Random(seed)
    nlp = build_nlp(components=())
    config = ner_config(args["width"], args["depth"], args["rows"], args.get("attrs"))
    ner = nlp.add_pipe("ner", config=config)
    for lab in labels:
        ner.add_label(lab)
    examples, lost = [], 0
    pgx, bio = [], []
    for item in args["items"]:
        view = head_view(item, labels, args["outer_cues"], args["order"])
        ex, n = to_example(nlp, view, args["rule_features"])
        lost += n
        (pgx if item.source == "pgxcorpus" else bio).append(ex)
    examples = pgx * args["pgx_weight"] + bio
    optimizer = nlp.initialize(lambda: examples[:500] + pgx, sgd=None)
    optimizer.learn_rate = args["learn_rate"]
    if args.get("init_tok2vec"):
        source = spacy.load(args["init_tok2vec"], exclude=[n for n in spacy.load(args["init_tok2vec"]).pipe_names if n != "tok2vec"])
        ner.model.get_ref("tok2vec").layers[0].from_bytes(source.get_pipe("tok2vec").model.to_bytes())
        print(f"[{name}] tok2vec initialised from {args['init_tok2vec']}", flush=True)
    held = args["held"]
    log: list[dict[str, Any]] = []
    best, best_bytes, best_epoch, bad = -1.0, None, 0, 0
    t0 = time.time()
    for epoch in range(1, args["max_epochs"] + 1):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=args["batch_size"]):
            nlp.update(batch, drop=args["dropout"], sgd=optimizer, losses=losses)
        scores = score_head(nlp, held, labels, args["rule_features"])
        elapsed = time.time() - t0
        log.append({"epoch": epoch, "loss": round(losses.get("ner", 0.0), 1), "seconds": round(elapsed, 1), **scores})
        print(f"[{name}] epoch {epoch:2d} loss {losses.get('ner', 0):9.1f} held-back {scores}  {elapsed:6.0f}s", flush=True)
        if scores["overlap_macro_f1"] > best:
            best, best_epoch, bad = scores["overlap_macro_f1"], epoch, 0
            best_bytes = ner.to_bytes(exclude=["vocab"])
        else:
            bad += 1
        if bad >= args["patience"] or elapsed > args["max_minutes"] * 60:
            break
    return {
        "name": name,
        "labels": list(labels),
        "best_epoch": best_epoch,
        "best_heldback": best,
        "log": log,
        "weights": best_bytes,
        "config": config,
        "train_examples": {"pgxcorpus": len(pgx), "biored": len(bio)},
        "unaligned_entities_expanded": lost,
        "seconds": round(time.time() - t0, 1),
    }


# ---- measuring (reads the TEST folds: reporting only, never used for training or model choice) ----


def _predict_with(nlp: Any, docs: list[Any]) -> dict[str, list[Any]]:
    from pgxlit.extract.pipeline import annotate_texts
    from pgxlit.records import Mention

    out = {}
    for d, sents in zip(docs, annotate_texts((d.text for d in docs), nlp), strict=True):
        out[d.id] = [Mention(m.start + s.start, m.end + s.start, m.label, m.text, m.norm, m.kind, m.source)
                     for s in sents for m in s.mentions]
    return out


def _model_only(model_dir: Path, docs: list[Any]) -> dict[str, list[Any]]:
    from pgxlit.extract.ner_model import load_model, predict_mentions
    from pgxlit.extract.pipeline import build_nlp

    model = load_model(model_dir)
    tok = build_nlp() if model.rule_features else build_nlp(components=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = predict_mentions(model, list(tok.pipe(d.text for d in docs)))
    return {d.id: ms for d, ms in zip(docs, found, strict=True)}


def _pipeline(model_dir: Path | None, **config: Any) -> Any:
    import pgxlit.extract.ner_model  # noqa: F401  (registers "pgx_ner_model")
    from pgxlit.extract.pipeline import build_nlp

    nlp = build_nlp()
    if model_dir is not None:
        nlp.add_pipe("pgx_ner_model", config={"path": str(model_dir), **config})
    return nlp


def _pubmed_texts(shared: Path, n: int) -> list[str]:
    from pgxlit.ingest.pubmed_xml import parse_pubmed_xml
    from pgxlit.records import Abstract

    texts: list[str] = []
    for f in sorted((shared / "corpora" / "pubmed" / "efetch" / "pharmgkb_vda_2018").glob("*.xml")):
        for rec in parse_pubmed_xml(f.read_bytes(), str(f)):
            if isinstance(rec, Abstract) and rec.sections:
                texts.append(" ".join([rec.title, *(s.text for s in rec.sections)]))
                if len(texts) >= n:
                    return texts
    return texts


def evaluate(model_dir: Path, shared: Path, n_abstracts: int = 2000) -> dict[str, Any]:
    """Rules / model / rules+model on the PGxCorpus and BioRED DEV test folds, and throughput."""
    from pgxlit.extract.evaluate import BIORED_TO_PGXLIT, PGXCORPUS_TO_PGXLIT, format_table, score_entities
    from pgxlit.extract.gold import dev_split, read_biored, read_pgxcorpus
    from pgxlit.extract.pipeline import build_nlp

    figures: dict[str, Any] = {}
    pgx = dev_split(read_pgxcorpus(shared / "gold" / "pgxcorpus"), "test")
    bio = dev_split([d for f in sorted((shared / "gold" / "biored").glob("*.PubTator")) for d in read_biored(f)], "test")
    systems = {
        "rules": lambda docs: _predict_with(build_nlp(), docs),
        "model": lambda docs: _model_only(model_dir, docs),
        "rules+model (fill)": lambda docs: _predict_with(_pipeline(model_dir, mode="fill"), docs),
        "rules+model (fill, flat)": lambda docs: _predict_with(_pipeline(model_dir, mode="fill", nested=False), docs),
        "rules+model (replace)": lambda docs: _predict_with(_pipeline(model_dir, mode="replace"), docs),
    }
    for corpus, docs, lmap, labels in (
        ("pgxcorpus_test", pgx, PGXCORPUS_TO_PGXLIT, None),
        ("biored_test", bio, BIORED_TO_PGXLIT, ("DRUG", "GENE", "VARIANT", "DISEASE")),
    ):
        figures[corpus] = {"documents": len(docs)}
        for name, run in systems.items():
            s = score_entities(docs, run(docs), lmap, labels=labels)
            figures[corpus][name] = s.to_dict()
            print(f"== {corpus} ({len(docs)} docs): {name}")
            print(format_table(s))
    texts = _pubmed_texts(shared, n_abstracts)
    figures["throughput"] = {"abstracts": len(texts)}
    for name, nlp in (("rules", build_nlp()), ("rules+model (fill)", _pipeline(model_dir, mode="fill"))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            list(nlp.pipe(texts[:50]))  # warm up
            t = time.time()
            n_sent = sum(len(list(doc.sents)) for doc in nlp.pipe(texts, batch_size=64))
            secs = time.time() - t
        figures["throughput"][name] = {"sentences": n_sent, "seconds": round(secs, 1),
                                       "sentences_per_second": round(n_sent / secs, 1)}
        print(f"throughput {name}: {n_sent} sentences in {secs:.1f}s = {n_sent / secs:.0f} sentences/s")
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (holds gold/)")
    p.add_argument("--out", type=Path, default=REPO / "corpora" / "models" / "pgx_ner")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--rows", type=int, nargs=4, default=[5000, 1000, 2500, 2500], help="hash rows: NORM PREFIX SUFFIX SHAPE")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--learn-rate", type=float, default=0.001)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--max-minutes", type=float, default=6.0, help="per head; the heads train in parallel")
    p.add_argument("--pgx-weight", type=int, default=3, help="PGxCorpus sentences are repeated this often per epoch")
    p.add_argument("--no-biored", action="store_true", help="PGxCorpus only")
    p.add_argument("--biored-outer", action="store_true",
                   help="also train the outer head on BioRED (its VARIANT spans; star/HLA alleles as ALLELE)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--discontinuous", choices=("drop", "outer"), default="drop",
                   help="discontinuous gold: drop (its tokens are left unknown) or train on its outer extent")
    p.add_argument("--layout", choices=tuple(LAYOUTS), default="names+disease", help="which labels each head predicts")
    p.add_argument("--order", nargs=2, choices=("longest", "shortest"), default=["longest", "shortest"],
                   metavar=("INNER", "OUTER"),
                   help="which of nested/overlapping gold entities of one head to keep (longest or shortest first), "
                        "for ner_inner and ner_outer")
    p.add_argument("--init-tok2vec", type=Path, default=None,
                   help="a spaCy pipeline folder whose `tok2vec` (MultiHashEmbed + MaxoutWindowEncoder) starts both "
                        "heads' tok2vec, e.g. en_core_web_sm's; width/depth/attrs/rows are taken from it")
    p.add_argument("--no-rule-features", dest="rule_features", action="store_false",
                   help="do not give the model the rules' labels (pgx_entities' mentions) as an extra token feature")
    p.add_argument("--heads", nargs="+", choices=("ner_inner", "ner_outer"), default=["ner_inner", "ner_outer"],
                   help="(experiments) train only these")
    p.add_argument("--evaluate", action="store_true",
                   help="do not train: score the model in --out on the DEV *test* folds (rules / model / both), "
                        "measure throughput, and write the figures to <out>/figures.json")
    p.add_argument("--abstracts", type=int, default=2000, help="PubMed abstracts for the throughput measurement")
    a = p.parse_args(argv)
    if a.evaluate:
        figures = evaluate(a.out.resolve(), a.shared.resolve(), a.abstracts)
        (a.out / "figures.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        return 0

    from pgxlit.extract.pipeline import build_nlp

    t0 = time.time()
    shared = a.shared.resolve()
    pgx, held = pgxcorpus_items(shared, a.discontinuous)
    bio = [] if a.no_biored else biored_items(shared, build_nlp(components=("sentencizer",)))
    print(f"PGxCorpus train fold: {len(pgx)} sentences for training, {len(held)} held back; "
          f"BioRED train fold: {len(bio)} sentences", flush=True)
    t2v_shape: dict[str, Any] = {}
    if a.init_tok2vec and a.rule_features:
        p.error("--init-tok2vec and --rule-features cannot be combined (the source tok2vec has no TAG feature)")
    if a.init_tok2vec:
        from thinc.api import Config

        cfg = Config().from_disk(a.init_tok2vec / "config.cfg", interpolate=False)
        model = cfg["components"]["tok2vec"]["model"]
        a.width, a.depth = model["encode"]["width"], model["encode"]["depth"]
        a.rows = list(model["embed"]["rows"])
        t2v_shape = {"attrs": list(model["embed"]["attrs"]), "init_tok2vec": str(a.init_tok2vec.resolve())}
    if a.rule_features:
        t2v_shape.setdefault("attrs", ["NORM", "PREFIX", "SUFFIX", "SHAPE"])
        t2v_shape["attrs"] = [*t2v_shape["attrs"], "TAG"]
        a.rows = [*a.rows, 50]
    jobs = []
    for name, labels in LAYOUTS[a.layout].items():
        if name not in a.heads:
            continue
        use_bio = bool(bio) and (name == "ner_inner" or a.biored_outer)
        jobs.append({
            "name": name, "labels": labels, "seed": a.seed, "items": pgx + (bio if use_bio else []), "held": held,
            "outer_cues": True, "width": a.width, "depth": a.depth, "rows": a.rows, "dropout": a.dropout,
            "learn_rate": a.learn_rate, "batch_size": a.batch_size, "max_epochs": a.max_epochs,
            "patience": a.patience, "max_minutes": a.max_minutes, "pgx_weight": a.pgx_weight,
            "order": a.order[0] if name == "ner_inner" else a.order[1],
            "rule_features": a.rule_features,
            **t2v_shape,
        })
    if a.jobs > 1:
        with mp.get_context("fork").Pool(min(a.jobs, len(jobs))) as pool:
            results = pool.map(train_head, jobs)
    else:
        results = [train_head(j) for j in jobs]

    nlp = build_nlp(components=())
    for r in results:
        head = nlp.add_pipe("ner", name=r["name"], config=r["config"])
        for lab in r["labels"]:
            head.add_label(lab)
    nlp.initialize()
    for r in results:
        nlp.get_pipe(r["name"]).from_bytes(r["weights"], exclude=["vocab"])
    train_seconds = round(time.time() - t0, 1)
    counts = Counter(lab for it in pgx for *_, lab in it.ents)
    nlp.meta.update({
        "name": "pgx_ner",
        "version": "0.1.0",
        "description": "pgxlit PGx NER: two spaCy ner heads (DRUG/GENE; ALLELE/VARIANT/PHENOTYPE/DISEASE)",
        "license": "CC BY-NC 4.0 (trained on PGxCorpus, non-commercial); BioRED research use",
        "sources": [
            {"name": "PGxCorpus DEV, train fold (dev_split)", "license": "CC BY-NC 4.0",
             "url": "https://github.com/practikpharma/PGxCorpus"},
            *([] if a.no_biored else [{"name": "BioRED Train+Dev, train fold (dev_split)",
                                       "license": "research use (NCBI)"}]),
        ],
    })
    nlp.meta["pgxlit"] = {
        "heads": {r["name"]: r["labels"] for r in results},
        "rule_features": a.rule_features,
        "command": "python tools/train_ner.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()
                     if k not in ("shared", "out", "evaluate")},
        "training_data": {
            "pgxcorpus_train_sentences": len(pgx),
            "pgxcorpus_heldback_sentences": len(held),
            "pgxcorpus_train_entities": dict(counts),
            "biored_train_sentences": len(bio),
        },
        "heads_log": [{k: v for k, v in r.items() if k not in ("weights", "config")} for r in results],
        "train_seconds": train_seconds,
    }
    out = a.out if a.out.is_absolute() else (Path.cwd() / a.out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    nlp.to_disk(tmp, exclude=["tokenizer"])
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    meta["pgxlit"]["size_bytes"] = size
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for r in results:
        print(f"{r['name']}: best epoch {r['best_epoch']} held-back overlap macro-F1 {r['best_heldback']:.3f} "
              f"({r['seconds']:.0f}s; {r['train_examples']})")
    print(f"saved {out} ({size / 1e6:.1f} MB) in {train_seconds:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
