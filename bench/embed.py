"""Embedding throughput: the shipped path (ONNX Runtime) against stock sentence-transformers, same texts, same run.

    PGXLIT_HOME=.pgxlit-demo python bench/embed.py                 # every live passage the index embeds
    PGXLIT_HOME=.pgxlit-demo python bench/embed.py --limit 2000 --batch-sizes 16,32,64,128 --int8
    PGXLIT_HOME=.pgxlit-demo python bench/embed.py --retrieval --shared ../shared
    PGXLIT_HOME=<copy rebuilt with PGXLIT_EMBED_QUANTIZE=true> python bench/embed.py --retrieval --shipped-only

Each embedder runs in its own child process (so each one's peak RSS is its own) over the same
texts: the passages `pgxlit index` embeds (live, current versions, in the order it embeds them).
Prints passages/s, speed-up over stock, cosine of each vector to the stock vector and to the
shipped fp32 ONNX vector (mean, 1st percentile, min), batch independence (largest difference
between a text's vector encoded alone and inside the whole run, over the first 16 texts), peak RSS
and the load average (the machine may be shared: read the figures
with it; passages per CPU-second, counted over all threads, move less with the load). Stock is
sentence-transformers' own `encode` at batch size 64, as pgxlit shipped it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def live_texts(limit: int | None) -> list[str]:
    """The texts `pgxlit index` embeds: live passages of current label versions and abstracts, in id order
    (no patient leaflets unless index.embed_boilerplate; triple entries as index.triple_vectors says:
    index.passages.embeddable and vector_text)."""
    from pgxlit.config import get_settings
    from pgxlit.index.passages import embeddable, vector_text
    from pgxlit.store import Store

    settings = get_settings()
    store = Store(settings.resolved_db_url)
    try:
        mode = settings.index.triple_vectors
        rows = {row[0]: row[1] for row in store.passage_rows() if embeddable(
            row[5], bool(row[12]), boilerplate=settings.index.embed_boilerplate, kind=row[1], triple_vectors=mode)}
        ids = list(rows)
        if not ids:
            raise SystemExit(f"no passages in {settings.resolved_db_url}: run `pgxlit index` first")
        if limit and limit < len(ids):
            step = len(ids) / limit
            ids = [ids[int(i * step)] for i in range(limit)]  # spread over labels and abstracts alike
        texts = [vector_text(t, rows[pid], mode) for pid, t in store.passage_texts(ids)]
    finally:
        store.close()
    # Label versions repeat text: index embeds each distinct text once (index/build.py DistinctEncoder).
    return list(dict.fromkeys(texts))


def worker(runtime: str, batch_size: int, threads: int, quantize: bool, texts_file: Path, out: Path) -> None:
    """Child process: load one embedder, encode every text once (after a short warm-up), save vectors and stats."""
    texts = json.loads(texts_file.read_text())
    started = time.perf_counter()
    from pgxlit.index.embed import OnnxEmbedder, SentenceTransformerEmbedder, models_home

    if runtime == "onnx":
        from pgxlit.index.onnx_export import ensure_exported

        embedder: object = OnnxEmbedder(ensure_exported(models_home(), quantize=quantize), batch_size=batch_size,
                                        threads=threads)
    else:
        if threads:
            import torch

            torch.set_num_threads(threads)
        embedder = SentenceTransformerEmbedder("minilm", "cpu", batch_size)
    load_s = time.perf_counter() - started
    embedder.encode(texts[:8])  # type: ignore[attr-defined]  # first-call allocations are not throughput
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    vectors = embedder.encode(texts)  # type: ignore[attr-defined]
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    np.save(out.with_suffix(".npy"), vectors)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    alone = np.stack([embedder.encode([t])[0] for t in texts[:16]])  # type: ignore[attr-defined]
    batch_dev = float(np.abs(alone - vectors[:16]).max())
    out.write_text(json.dumps({"load_s": load_s, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_mb,
                               "batch_dev": batch_dev}))


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: on a shared machine, work per CPU-second is steadier than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(label: str, args: list[str], texts_file: Path, tmp: Path) -> tuple[dict[str, float], np.ndarray]:
    out = tmp / f"{label}.json"
    cmd = [sys.executable, __file__, "--worker", *args, "--texts", str(texts_file), "--out", str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text()), np.load(out.with_suffix(".npy"))


def retrieval(shared: Path, stock: bool = True) -> list[dict[str, object]]:
    """`pgxlit eval qa`'s retrieval figures on the built index, queries encoded by stock and by the shipped embedder.

    The index's vectors are the shipped embedder's; its fp32 vectors are those of stock to cosine
    0.99999, so what could move nDCG is the query side, measured here on the same questions. The int8
    model (embed.quantize) changes both sides: compare `--shipped-only` on a copy of the store rebuilt
    with it (`pgxlit index --rebuild`) against the fp32 store."""
    from pgxlit.config import get_settings
    from pgxlit.index.embed import SentenceTransformerEmbedder
    from pgxlit.index.search import Searcher
    from pgxlit.qa.evaluate import passages_by_pmid, retrieval_figures
    from pgxlit.store import Store

    settings = get_settings()
    store = Store(settings.resolved_db_url)
    rows: list[dict[str, object]] = []
    try:
        by_pmid = passages_by_pmid(store)
        embedders = [("stock sentence-transformers", SentenceTransformerEmbedder)] if stock else []
        # "shipped": the embedder a searcher picks for this index, as `pgxlit eval qa` and `ask` do (the model
        # the index names: `minilm-int8v3` for an index built with embed.quantize).
        for label, make in (*embedders, ("shipped", lambda _model: None)):
            embedder = make("minilm")
            searcher = Searcher(store, settings, embedder)
            figures = retrieval_figures(searcher, shared, by_pmid)
            rows += [{"queries": label, "mode": m, "questions": int(f["questions"]),
                      "ndcg@10": round(f["ndcg@10"], 4), "recall@10": round(f["recall@10"], 4)}
                     for m, f in figures.items()]
    finally:
        store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="at most this many passages (spread evenly)")
    parser.add_argument("--batch-sizes", default="64", help="ONNX batch sizes to time, e.g. 16,32,64,128")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ONNX min(4, cores), torch all)")
    parser.add_argument("--int8", action="store_true", help="also time the int8 ONNX model (embed.quantize)")
    parser.add_argument("--retrieval", action="store_true",
                        help="instead: eval qa's retrieval nDCG@10 with stock vs shipped query encoding")
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="folder holding gold/ (--retrieval)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="--retrieval with the shipped query encoder only (to compare two index builds)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", nargs=4, metavar=("RUNTIME", "BATCH", "THREADS", "QUANTIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        runtime, batch, threads, quantize = args.worker
        worker(runtime, int(batch), int(threads), quantize == "1", args.texts, args.out)
        return

    if args.retrieval:
        found = retrieval(args.shared, stock=not args.shipped_only)
        if args.json:
            print(json.dumps(found, indent=2))
            return
        print(f"load average {os.getloadavg()[0]:.1f}")
        print("| queries encoded by | mode | questions | nDCG@10 | recall@10 |\n|---|---|---|---|---|")
        for r in found:
            print(f"| {r['queries']} | {r['mode']} | {r['questions']} | {r['ndcg@10']} | {r['recall@10']} |")
        return
    texts = live_texts(args.limit)
    load_before = os.getloadavg()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        texts_file = tmp / "texts.json"
        texts_file.write_text(json.dumps(texts))
        plan = [("stock sentence-transformers", ["st", "64", str(args.threads), "0"])]
        plan += [(f"onnx fp32 batch {b}", ["onnx", b, str(args.threads), "0"]) for b in args.batch_sizes.split(",")]
        if args.int8:
            plan += [(f"onnx int8 batch {b}", ["onnx", b, str(args.threads), "1"]) for b in args.batch_sizes.split(",")]
        reference: np.ndarray | None = None  # stock's vectors
        fp32: np.ndarray | None = None  # the first fp32 ONNX run's: what int8 must stay close to
        for i, (label, worker_args) in enumerate(plan):
            stats, vectors = run(f"run{i}", worker_args, texts_file, tmp)
            if reference is None:
                reference = vectors
            if fp32 is None and worker_args[0] == "onnx" and worker_args[3] == "0":
                fp32 = vectors
            cos = np.sum(vectors * reference, axis=1)
            cos32 = np.sum(vectors * (fp32 if fp32 is not None else reference), axis=1)
            rows.append({"embedder": label, "passages": len(texts), "seconds": round(stats["seconds"], 2),
                         "passages_per_s": round(len(texts) / stats["seconds"], 1),
                         "passages_per_cpu_s": round(len(texts) / max(stats["cpu_seconds"], 1e-9), 1),
                         "load_s": round(stats["load_s"], 2), "peak_rss_mb": round(stats["peak_rss_mb"]),
                         "cosine_mean": round(float(cos.mean()), 5), "cosine_p1": round(float(np.percentile(cos, 1)), 5),
                         "cosine_min": round(float(cos.min()), 5),
                         "cosine_fp32_mean": round(float(cos32.mean()), 5),
                         "cosine_fp32_p1": round(float(np.percentile(cos32, 1)), 5),
                         "cosine_fp32_min": round(float(cos32.min()), 5), "batch_dev": stats["batch_dev"]})
    stock = float(rows[0]["passages_per_s"])  # type: ignore[arg-type]
    stock_cpu = float(rows[0]["passages_per_cpu_s"])  # type: ignore[arg-type]
    for row in rows:
        row["x_stock"] = round(float(row["passages_per_s"]) / stock, 2)  # type: ignore[arg-type]
        row["x_stock_cpu"] = round(float(row["passages_per_cpu_s"]) / stock_cpu, 2)  # type: ignore[arg-type]
    load_after = os.getloadavg()
    if args.json:
        print(json.dumps({"rows": rows, "loadavg_before": load_before, "loadavg_after": load_after,
                          "cores": os.cpu_count()}, indent=2))
        return
    print(f"{len(texts)} distinct passage texts; {os.cpu_count()} cores; load average before "
          f"{load_before[0]:.1f}, after {load_after[0]:.1f}")
    print("| embedder | passages/s | × stock | passages/CPU-s | × stock (CPU) | s | load s | peak RSS MB "
          "| cosine to stock mean / p1 / min | cosine to fp32 mean / p1 / min | alone vs batched |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['embedder']} | {r['passages_per_s']} | {r['x_stock']} | {r['passages_per_cpu_s']} | "
              f"{r['x_stock_cpu']} | {r['seconds']} | {r['load_s']} | {r['peak_rss_mb']} | "
              f"{r['cosine_mean']} / {r['cosine_p1']} / {r['cosine_min']} | "
              f"{r['cosine_fp32_mean']} / {r['cosine_fp32_p1']} / {r['cosine_fp32_min']} | {r['batch_dev']:.1e} |")


if __name__ == "__main__":
    main()
