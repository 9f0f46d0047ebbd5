"""Relation classifier benchmark: sentences/s of one classifier, alone and inside triple extraction, and peak memory.

    python bench/relations.py --shared ../shared --model transformer [--limit 500] [--threads 2]

--model: sparse (corpora/models/pgx_rel), transformer (corpora/models/pgx_rel_tf) or rules.
Run once per model: peak RSS is per process. Input: the first --limit abstracts of
../shared/corpora/pubmed/efetch/pharmgkb_vda_2018, through default_nlp() (rules + the shipped
NER model). Rows: (1) every candidate pair of every sentence; (2) only drug x genetic-factor
pairs, as the triples ask (`only=`); (3) the whole triple extraction (iter_triples, entities
included). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract import load_abstracts, timed  # noqa: E402  (bench/extract.py)

from pgxlit.extract import relations as rel  # noqa: E402
from pgxlit.extract import triples as triples_module  # noqa: E402
from pgxlit.extract.pipeline import annotate_texts, default_nlp  # noqa: E402
from pgxlit.extract.triples import is_genetic_factor, iter_triples  # noqa: E402


def load_model(name: str, threads: int):
    if name == "rules":
        return None
    if name == "sparse":
        from pgxlit.extract.relation_model import RelationModel

        return RelationModel.load()
    import torch

    torch.set_num_threads(threads)
    from pgxlit.extract.relation_transformer import TransformerRelationModel

    return TransformerRelationModel.load()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--model", choices=("sparse", "transformer", "rules"), default="transformer")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (transformer)")
    args = ap.parse_args()
    root = args.shared / "corpora/pubmed/efetch/pharmgkb_vda_2018"
    if not root.is_dir():
        print(f"no abstracts at {root}", file=sys.stderr)
        return 2
    abstracts = load_abstracts(root, args.limit)
    texts = ["\n".join([a.title, *(s.text for s in a.sections)]) for a in abstracts]
    nlp = default_nlp()
    sentences = [s for doc in annotate_texts(texts, nlp) for s in doc]
    n = len(sentences)
    start = time.perf_counter()
    model = load_model(args.model, args.threads)
    load_s = time.perf_counter() - start

    def judge(only_drug_factor: bool) -> int:
        found = 0
        for s in sentences:
            ms = s.mentions
            if model is None:
                found += len(rel.relate(s.text, ms))
                continue
            only = None
            if only_drug_factor:
                only = [(i, j) for i, d in enumerate(ms) if d.label == "DRUG" for j, f in enumerate(ms) if is_genetic_factor(f)]
            found += len(model.predict(s.text, ms, None, only=only))
        return found

    rows = [("every candidate pair", timed(lambda: judge(False))), ("drug x genetic factor (only=)", timed(lambda: judge(True)))]
    triples_module.relation_model = lambda: model
    records = [(a.pmid, "", a) for a in abstracts]
    rows.append(("triples, entities included", timed(lambda: list(iter_triples(records, nlp)))))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {args.model}: {len(abstracts)} abstracts, {n} sentences; model loaded in {load_s:.1f} s")
    print(f"{'row':34} {'seconds':>8} {'sentences/s':>12} {'CPU s':>8}")
    for name, (seconds, cpu) in rows:
        print(f"{name:34} {seconds:8.2f} {n / seconds:12.1f} {cpu:8.2f}")
    print(f"peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
