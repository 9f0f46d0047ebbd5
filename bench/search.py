"""Search and answer benchmark: retrieval latency and memory at 10k, 100k and 1M passages; answer latency.

    PGXLIT_HOME=.pgxlit-demo python bench/search.py [--sizes 10000,100000,1000000] [--queries 200]

Needs an index built by `pgxlit index` (make demo builds one). Larger sizes replicate the real
passages: each copy's vector is the real vector plus small noise (renormalised), and BM25 indexes
the real token lists repeated, so the index statistics stay those of real text. Latency is for a
warm searcher and includes embedding the query, as a user's search does. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time

import numpy as np
import psutil
from pgxlit.index import dense
from pgxlit.index.paths import index_paths
from pgxlit.index.lexical import LexicalIndex
from pgxlit.index.search import Metadata, Searcher, SearchFilters
from pgxlit.index.tokenize import lexical_tokens

from pgxlit.config import get_settings
from pgxlit.store import Store


def rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 1e6


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):6.1f} ms  p95 {np.percentile(a, 95):6.1f} ms  p99 {np.percentile(a, 99):6.1f} ms"


class ReplicaStore:
    """Passage reads for replicated ids: copy i of passage p reads passage p."""

    def __init__(self, store: Store, real_ids: np.ndarray, span: int) -> None:
        self.store, self.real_ids, self.span = store, real_ids, span

    def passages(self, ids):
        wanted = {int(i): int(self.real_ids[int(i) % self.span]) for i in ids}
        real = self.store.passages(set(wanted.values()))
        return {i: real[r] for i, r in wanted.items() if r in real}


def replicate_meta(meta: Metadata, copies: int, size: int) -> Metadata:
    n = len(meta.ids)
    rows = np.arange(size) % n
    tile = lambda a: a[rows]  # noqa: E731

    def grow(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for key, positions in table.items():
            parts = [positions + c * n for c in range(copies)]
            allp = np.concatenate(parts)
            out[key] = allp[allp < size]
        return out

    return Metadata(np.arange(size, dtype=np.int64), tile(meta.is_triple), tile(meta.source), tile(meta.superseded),
                    tile(meta.date), np.where(tile(meta.evidence) >= 0, -1, -1), tile(meta.section), meta.sections,
                    grow(meta.by_drug), grow(meta.by_gene), grow(meta.by_set))


def embedded_subset(meta: Metadata, with_vectors: np.ndarray) -> Metadata:
    """The passages that have a vector (current label versions, abstracts, triples): the ones replicated."""
    rows = np.flatnonzero(np.isin(meta.ids, with_vectors))
    new_pos = np.full(len(meta.ids), -1, dtype=np.int64)
    new_pos[rows] = np.arange(len(rows))

    def keep(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: new_pos[v][new_pos[v] >= 0] for k, v in table.items()}

    return Metadata(meta.ids[rows], meta.is_triple[rows], meta.source[rows], meta.superseded[rows], meta.date[rows],
                    meta.evidence[rows], meta.section[rows], meta.sections, keep(meta.by_drug), keep(meta.by_gene),
                    keep(meta.by_set))


def build_replica(searcher: Searcher, size: int, kind: str, rng: np.random.Generator):
    base = dense.load(searcher.paths.dense, mmap=False)
    real = embedded_subset(searcher.meta, dense.ids(base))
    n = len(real.ids)
    vectors = np.vstack([base.reconstruct(int(i)) for i in real.ids]).astype(np.float32)
    real_texts = dict(searcher.store.passage_texts(real.ids.tolist()))
    tokens = [lexical_tokens(real_texts[int(i)]) or ["∅"] for i in real.ids]
    copies = -(-size // n)
    started = time.perf_counter()
    if kind == "ivfpq":
        sample = vectors[rng.integers(0, n, min(size, 100_000))] + rng.normal(0, 0.02, (min(size, 100_000), vectors.shape[1])).astype(np.float32)
        sample /= np.linalg.norm(sample, axis=1, keepdims=True)
        index = dense.new_index("ivfpq", vectors.shape[1], sample)
    else:
        index = dense.new_index(kind, vectors.shape[1])
    for start in range(0, size, 50_000):
        ids = np.arange(start, min(size, start + 50_000))
        chunk = vectors[ids % n] + rng.normal(0, 0.02, (len(ids), vectors.shape[1])).astype(np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        dense.add(index, ids, chunk)
    dense_s = time.perf_counter() - started
    started = time.perf_counter()
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([tokens[i % n] for i in range(size)], show_progress=False)
    lexical = LexicalIndex(retriever, np.arange(size, dtype=np.int64))
    lexical_s = time.perf_counter() - started
    meta = replicate_meta(real, copies, size)
    replica = Searcher.from_parts(ReplicaStore(searcher.store, real.ids, n), searcher.settings, searcher.embedder,
                                  index, lexical, meta)
    return replica, dense_s, lexical_s


def queries_from(meta: Metadata, count: int, rng: random.Random) -> list[tuple[str, SearchFilters | None, tuple, tuple]]:
    drugs = sorted(d for d, rows in meta.by_drug.items() if len(rows) >= 5)
    genes = sorted(g for g, rows in meta.by_gene.items() if len(rows) >= 5)
    templates = ("Does {gene} status change {drug} dosing?", "What should I check before prescribing {drug}?",
                 "{drug} {gene} poor metabolizer", "Is {drug} contraindicated in {gene} carriers?")
    out = []
    for i in range(count):
        drug, gene = rng.choice(drugs), rng.choice(genes)
        text = rng.choice(templates).format(drug=drug, gene=gene)
        filters = SearchFilters(source="fda_label") if i % 5 == 0 else None
        out.append((text, filters, (drug,), (gene,)))
    return out


def time_searches(searcher: Searcher, queries) -> tuple[list[float], list[float]]:
    total, index_only = [], []
    for text, filters, drugs, genes in queries:
        searcher._vectors.clear()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        searcher.search(text, 10, filters, boost_drugs=drugs, boost_genes=genes, timings=timings)
        total.append((time.perf_counter() - started) * 1000)
        index_only.append(total[-1] - timings.get("embed_query", 0.0))
    return total, index_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--answers", type=int, default=60)
    args = parser.parse_args()
    settings = get_settings()
    store = Store(settings.resolved_db_url)
    if not index_paths(settings).manifest.exists():
        raise SystemExit(f"no index under {index_paths(settings).folder}: run `pgxlit index` (or `make demo`) first")
    rng = random.Random(7)
    nrng = np.random.default_rng(7)
    searcher = Searcher(store, settings, None)  # the model the index names
    print(f"real index: {len(searcher.meta.ids):,} passages · {os.cpu_count()} cores · torch threads "
          f"{__import__('torch').get_num_threads()}")
    queries = queries_from(searcher.meta, args.queries, rng)
    time_searches(searcher, queries[:10])  # warm-up: model, caches
    total, index_only = time_searches(searcher, queries)
    print(f"{'real':>9}  search incl. query embedding: {percentiles(total)} | index only: {percentiles(index_only)}")

    from pgxlit.qa.answer import Answerer

    answerer = Answerer(store, settings, searcher)
    pairs = sorted({(t.drug, t.gene) for t in store.triples(source="fda_label", pgx=True, latest_only=True) if t.gene})
    rng.shuffle(pairs)
    templates = ("Does {gene} status change {drug} dosing?", "What should I check before prescribing {drug}?")
    questions = [templates[i % 2].format(drug=d, gene=g) for i, (d, g) in enumerate(pairs[: args.answers])]
    answerer.ask(questions[0])
    answer_ms, refused = [], 0
    for question in questions:
        started = time.perf_counter()
        refused += answerer.ask(question).refused
        answer_ms.append((time.perf_counter() - started) * 1000)
    print(f"{'answers':>9}  extractive answerer, {len(questions)} questions ({refused} refused): {percentiles(answer_ms)}")

    for size in (int(s) for s in args.sizes.split(",")):
        kind = dense.choose_kind(settings.index.kind, size, settings.index.flat_max)
        gc.collect()
        before = rss_mb()
        replica, dense_s, lexical_s = build_replica(searcher, size, kind, nrng)
        built = rss_mb()
        time_searches(replica, queries[:10])
        total, index_only = time_searches(replica, queries)
        print(f"{size:>9,}  {kind:5s} build dense {dense_s:5.1f} s, bm25 {lexical_s:5.1f} s · "
              f"RSS +{built - before:,.0f} MB (process {rss_mb():,.0f} MB)")
        print(f"{'':>9}  search incl. query embedding: {percentiles(total)} | index only: {percentiles(index_only)}")
        del replica
        gc.collect()


if __name__ == "__main__":
    main()
