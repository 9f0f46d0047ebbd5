"""Throughput of extraction and embedding per engine and worker count, and what a stored abstract costs.

The recorded PubMed XML in ../shared/corpora/pubmed is parsed once and replicated (new PMIDs)
to --replicate abstracts; --limit of them (distinct texts first) go through each engine. Each
run reports documents/s, the per-core rate, the resident memory of each worker process and the load
average, because the machine is shared: on a loaded box the 2-worker figures understate scaling.

    python bench/scale.py --shared ../shared --limit 2000 --embed-limit 1500
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_abstracts(shared: Path, replicate: int) -> tuple[list[Any], int]:
    """Every recorded abstract with text, then copies with shifted PMIDs up to `replicate`."""
    from pgxlit.ingest.pubmed_xml import iter_pubmed_xml, sniff_pubmed_root
    from pgxlit.records import Abstract

    seen: dict[str, Abstract] = {}
    for path in sorted((shared / "corpora" / "pubmed").rglob("*")):
        if not path.is_file() or path.suffix in (".md", ".tsv", ".txt", ".json"):
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as f:
                if sniff_pubmed_root(f.read(4096)) != "pubmed":
                    continue
            with opener(path, "rb") as f:
                for rec in iter_pubmed_xml(f, str(path)):
                    if isinstance(rec, Abstract) and rec.has_text and rec.pmid.isdigit():
                        seen.setdefault(rec.pmid, rec)
        except Exception:  # noqa: BLE001 - error samples in the corpus are not PubMed sets
            continue
    originals = [seen[k] for k in sorted(seen, key=int)]
    out = list(originals)
    copy = 1
    while len(out) < replicate:
        shift = copy * 100_000_000
        out += [dataclasses.replace(a, pmid=str(int(a.pmid) + shift)) for a in originals]
        copy += 1
    return out[:replicate], len(originals)


def load_pubtator(paths: list[Path]) -> list[Any]:
    """Title and abstract of each document of PubTator files (e.g. BioRED's): general biomedical abstracts,
    without MeSH headings, so only the pre-filter's text test applies to them."""
    from pgxlit.records import Abstract, AbstractSection

    texts: dict[str, dict[str, str]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("|", 2)
            if len(parts) == 3 and parts[1] in ("t", "a") and parts[0].isdigit():
                texts.setdefault(parts[0], {})[parts[1]] = parts[2]
    return [Abstract(pmid=pmid, title=t.get("t", ""), sections=(AbstractSection(text=t.get("a", "")),))
            for pmid, t in texts.items() if t.get("a")]


def prefilter_figures(abstracts: list[Any], label: str) -> dict[str, Any]:
    """How many abstracts the PGx pre-filter keeps, and how many PGx triples full extraction finds in the
    kept and in the dropped ones (the dropped should have none: that is the filter's recall here)."""
    from pgxlit.extract.shards import extract_shard, pgx_relevant

    pgx_relevant(abstracts[0])  # loads the lexicons once, outside the clock
    t = time.perf_counter()
    keep = {a.pmid: pgx_relevant(a) for a in abstracts}
    filter_s = time.perf_counter() - t
    docs = [(f"pubmed:{a.pmid}", "x", a) for a in abstracts]
    found = {key.split(":", 1)[1]: sum(t.pgx for t in triples) for key, _, triples in extract_shard(docs)}
    kept = [p for p, k in keep.items() if k]
    dropped = [p for p, k in keep.items() if not k]
    return {"corpus": label, "abstracts": len(abstracts), "kept": len(kept),
            "pass_rate": round(len(kept) / max(len(abstracts), 1), 3),
            "filter_ms_each": round(1000 * filter_s / max(len(abstracts), 1), 2),
            "kept_with_pgx_triples": sum(found[p] > 0 for p in kept),
            "dropped_with_pgx_triples": sum(found[p] > 0 for p in dropped),
            "pgx_triples_in_kept": sum(found[p] for p in kept), "pgx_triples_in_dropped": sum(found[p] for p in dropped)}


def ivf_costs(nlists: list[int], n: int = 50_000, dim: int = 384, shard: int = 4096) -> list[dict[str, Any]]:
    """CPU cost of filling a trained IVF-PQ index shard by shard and merging, per list count (one thread).

    Random unit vectors and a quick training (3 k-means rounds) suffice: encoding and merging cost
    depend on the list count and code size, not on how good the centroids are."""
    import faiss
    import numpy as np

    from pgxlit.index import dense

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    out = []
    for nlist in nlists:
        train = rng.normal(size=(max(4 * nlist, 256 * 39), dim)).astype(np.float32)
        train /= np.linalg.norm(train, axis=1, keepdims=True)
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 3
        index.pq.cp.niter = 3
        t = time.process_time()
        index.train(train)
        train_s = time.process_time() - t
        trained, merged = dense.empty_copy(index), dense.empty_copy(index)
        encode = merge = 0.0
        shipped = 0
        for start in range(0, n, shard):
            ids = np.arange(start, min(n, start + shard), dtype=np.int64)
            t = time.process_time()
            part = dense.shard_lists(dense.encode_shard(trained, ids, x[ids]))  # what a worker does
            encode += time.process_time() - t
            shipped += part.nbytes
            t = time.process_time()
            dense.merge_lists(merged, part)  # what the driver does
            merge += time.process_time() - t
        dense.set_nprobe(merged, 32)
        t = time.perf_counter()
        merged.search(x[:200], 10)
        search_ms = 1000 * (time.perf_counter() - t) / 200
        out.append({"nlist": nlist, "vectors": n, "train_cpu_s_3_rounds": round(train_s, 1),
                    "encode_us_per_vector": round(1e6 * encode / n, 1), "merge_us_per_vector": round(1e6 * merge / n, 2),
                    "shipped_bytes_per_vector": round(shipped / n, 1),
                    "trained_index_mb": round(len(dense.to_bytes(trained)) / 2**20, 1),
                    "search_ms_nprobe32_at_this_size": round(search_ms, 2)})
        print(json.dumps({"ivf": out[-1]}), flush=True)
    return out


def driver_reads(abstracts: list[Any], url: str) -> dict[str, Any]:
    """The driver's side of a run that is not extraction: saving the abstracts, reading them back for
    extraction, and asking the store, document by document, whether each is already extracted."""
    from pgxlit.extract.run import pending_documents
    from pgxlit.store import SaveCounts, Store

    store = Store(url)
    t = time.perf_counter()
    for i in range(0, len(abstracts), 1000):
        with store.transaction() as session:
            for a in abstracts[i : i + 1000]:
                store.save_abstract(session, a, None, SaveCounts())
    save_s = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(1 for _ in store.documents_for_extraction())
    read_s = time.perf_counter() - t
    counts = {"already_current": 0, "documents": n}
    t = time.perf_counter()
    pending = sum(1 for _ in pending_documents(store, "bench", False, counts))
    pending_s = time.perf_counter() - t
    t = time.perf_counter()
    keys: list[tuple[str, str]] = []
    batched = 0
    for key, sha, _ in store.documents_for_extraction():  # the same check, one query per 500 documents
        keys.append((key, sha))
        if len(keys) == 500:
            states = store.extraction_states(k for k, _ in keys)
            batched += sum(states.get(k) != (s, "bench") for k, s in keys)
            keys = []
    states = store.extraction_states(k for k, _ in keys)
    batched += sum(states.get(k) != (s, "bench") for k, s in keys)
    batched_s = time.perf_counter() - t
    assert batched == pending
    store.close()
    return {"abstracts": len(abstracts), "saved_per_s": round(len(abstracts) / save_s, 1),
            "read_for_extraction_per_s": round(n / read_s, 1), "pending_check_per_s": round(pending / pending_s, 1),
            "read_and_batched_check_per_s": round(batched / batched_s, 1)}


def _rss_mb() -> float:
    """Resident memory now, after a shard (models and the batch are resident). Not ru_maxrss: Linux keeps
    that across exec, so a spawned worker would report its parent's peak."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measured_extract(shard: list[Any]) -> tuple[list[Any], int, float, float]:
    """extract_shard plus which process ran it, its resident memory and the CPU seconds it took.

    CPU seconds do not grow when other jobs share the cores, so they give the time per core."""
    from pgxlit.extract.shards import extract_shard

    cpu = time.process_time()
    out = extract_shard(shard)
    return out, os.getpid(), _rss_mb(), time.process_time() - cpu


def measured_embed(job: tuple[str, str, int, int, list[str], str, bool]) -> tuple[int, int, float, float]:
    from pgxlit.index.shards import embed_shard

    cpu = time.process_time()
    vectors = embed_shard(job)
    return len(vectors), os.getpid(), _rss_mb(), time.process_time() - cpu


def warm(engine: Any, fn: Any, job: Any) -> None:
    """Load the models in every worker before the clock starts (a long run amortises loading)."""
    list(engine.map(fn, [job] * engine.workers * 2))


def run(engine_name: str, workers: int, docs: list[Any], texts: list[str], shard: int, what: str,
        write_url: str | None = None, report_every: int = 0) -> dict[str, Any]:
    """One engine over the documents (or passages); with `write_url` the driver also stores every shard's
    triples as `pgxlit extract` does (one transaction per shard, bulk inserts), and times those writes."""
    from pgxlit.engine import get_engine, shard_documents
    from pgxlit.config import get_settings
    from pgxlit.store import Store

    settings = get_settings()
    engine = get_engine(engine_name, workers, settings)
    store = Store(write_url) if write_url and what == "extract" else None
    loads: list[float] = []
    driver_cpu = time.process_time()
    try:
        rss: dict[int, float] = {}
        cpu = 0.0
        started_load = os.getloadavg()[0]
        if what == "extract":
            warm(engine, measured_extract, docs[:4])
            t = time.perf_counter()
            n = triples = 0
            write_s = 0.0
            next_report = report_every
            for results, pid, peak, cpu_s in engine.map(measured_extract, shard_documents(docs, shard)):
                cpu += cpu_s
                n += len(results)
                triples += sum(len(tr) for _, _, tr in results)
                rss[pid] = max(rss.get(pid, 0.0), peak)
                loads.append(os.getloadavg()[0])
                if store is not None:
                    w = time.perf_counter()
                    with store.transaction() as session:
                        store.replace_triples_many(session, "bench", results)
                    write_s += time.perf_counter() - w
                if report_every and n >= next_report:
                    next_report += report_every
                    elapsed = time.perf_counter() - t
                    print(f"  {n:,} abstracts in {elapsed:.0f} s ({n / elapsed:.1f}/s), cpu {1000 * cpu / n:.1f} ms each, "
                          f"load {loads[-1]:.2f}, worker rss {sorted(round(v) for v in rss.values())} MB", flush=True)
            extra = {"triples": triples}
            if store is not None:
                extra |= {"driver_write_s": round(write_s, 1), "stored_triples": store.stats()["triples"],
                          "write_docs_per_s": round(n / max(write_s, 1e-9), 1)}
        else:
            threads = 1
            job = (settings.embed.model, settings.embed.device, settings.embed.batch_size, threads, texts[:8],
                   settings.embed.runtime, settings.embed.quantize)
            warm(engine, measured_embed, job)
            t = time.perf_counter()
            n = 0
            jobs = ((settings.embed.model, settings.embed.device, settings.embed.batch_size, threads,
                     texts[i : i + shard], settings.embed.runtime, settings.embed.quantize)
                    for i in range(0, len(texts), shard))
            for count, pid, peak, cpu_s in engine.map(measured_embed, jobs):
                cpu += cpu_s
                n += count
                rss[pid] = max(rss.get(pid, 0.0), peak)
            extra = {}
        seconds = time.perf_counter() - t
    finally:
        engine.close()
        if store is not None:
            store.close()
    extra |= {"driver_cpu_s": round(time.process_time() - driver_cpu, 1), "driver_rss_mb": round(_rss_mb())}
    if loads:
        extra |= {"load_1min_during": [round(min(loads), 2), round(sum(loads) / len(loads), 2), round(max(loads), 2)]}
    return {"what": what, "engine": engine_name, "workers": workers, "items": n, "seconds": round(seconds, 1),
            "per_s": round(n / seconds, 1), "per_s_per_worker": round(n / seconds / workers, 1),
            "cpu_ms_per_item": round(1000 * cpu / max(n, 1), 1),
            "worker_rss_mb": sorted(round(v) for v in rss.values()),
            "load_1min_before": round(started_load, 2), "load_1min_after": round(os.getloadavg()[0], 2), **extra}


def _size(name: str, store: Any, folder: Path) -> int:
    """Bytes on disk of the store's database (SQLite file and WAL, or the Postgres database)."""
    from sqlalchemy import text

    if name == "sqlite":
        with store.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return sum(p.stat().st_size for p in folder.glob("cost.sqlite*"))
    with store.engine.connect() as conn:
        return int(conn.execute(text("select pg_database_size(current_database())")).scalar())


def store_cost(docs: list[Any], results: list[Any], url: str | None) -> dict[str, Any]:
    """Bytes per stored abstract with its revision and triples, on SQLite (and Postgres when given)."""
    from pgxlit.store import SaveCounts, Store

    out: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="pgxlit-scale-"))
    targets = [("sqlite", f"sqlite:///{folder / 'cost.sqlite'}")] + ([("postgres", url)] if url else [])
    for name, target in targets:
        store = Store(target)
        empty = _size(name, store, folder)
        t = time.perf_counter()
        counts = SaveCounts()
        with store.transaction() as session:
            for a in docs:
                store.save_abstract(session, a, None, counts)
        load_s = time.perf_counter() - t
        # The same extraction results written three ways, each under its own document keys (all new):
        # one transaction per document (`run_extraction`), per shard of 64 with a `replace_triples` per
        # document (the sharded driver before bulk writes), and per shard through `replace_triples_many`.
        rates = {}
        for method in ("per_document", "per_shard", "bulk"):
            rows = [(f"{key}/{method}", sha, triples) for key, sha, triples in results]
            t = time.perf_counter()
            if method == "per_document":
                for key, sha, triples in rows:
                    with store.transaction() as session:
                        store.replace_triples(session, key, sha, "bench", triples)
            else:
                for i in range(0, len(rows), 64):
                    with store.transaction() as session:
                        if method == "bulk":
                            store.replace_triples_many(session, "bench", rows[i : i + 64])
                        else:
                            for key, sha, triples in rows[i : i + 64]:
                                store.replace_triples(session, key, sha, "bench", triples)
            rates[method] = round(len(rows) / (time.perf_counter() - t), 1)
            if method == "per_document":
                size = _size(name, store, folder) - empty  # abstracts and one copy of their triples
        # Re-extraction of documents that have rows takes the careful path inside the bulk call.
        t = time.perf_counter()
        for i in range(0, len(results), 64):
            with store.transaction() as session:
                store.replace_triples_many(session, "bench", [(f"{k}/bulk", sha, tr) for k, sha, tr in results[i : i + 64]])
        rates["bulk_rewrite_existing"] = round(len(results) / (time.perf_counter() - t), 1)
        store.close()
        out[name] = {"abstracts": len(docs), "triples": sum(len(r[2]) for r in results),
                     "abstracts_per_s_saved": round(len(docs) / load_s, 1),
                     "docs_per_s_triples_written": rates,
                     "bytes": size, "bytes_per_abstract": round(size / len(docs))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--replicate", type=int, default=100_000, help="abstracts in the replicated corpus")
    parser.add_argument("--limit", type=int, default=2000, help="abstracts each extraction run processes")
    parser.add_argument("--embed-limit", type=int, default=1500, help="passages each embedding run encodes")
    parser.add_argument("--engines", default="local:1,local:2,ray:1,ray:2")
    parser.add_argument("--what", default="extract,embed",
                        help="extract, embed, store (write rates only), prefilter (pass rate on BioRED and the recorded set), "
                        "ivf (index encode/merge cost), driver (save, read back and pending check of --limit abstracts)")
    parser.add_argument("--shard", type=int, default=64)
    parser.add_argument("--pg-url", default=None, help="also measure store cost on this Postgres URL")
    parser.add_argument("--pg-throwaway", action="store_true",
                        help="start a private PostgreSQL server (tests/pg.py) for the store figures")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--write", choices=("none", "sqlite", "postgres"), default="none",
                        help="the driver stores each extraction run's triples in a fresh store (postgres needs --pg-throwaway)")
    parser.add_argument("--ivf-nlists", default="1024,4096,16384", help="list counts for --what ivf")
    parser.add_argument("--report-every", type=int, default=0, help="print progress every N abstracts")
    parser.add_argument("--skip-store-cost", action="store_true", help="skip the store write-rate figures")
    args = parser.parse_args()

    server = None
    if args.pg_throwaway:
        sys.path.insert(0, str(REPO / "tests"))
        from pg import start_server

        server = start_server()
        args.pg_url = server.create_database()
    args.new_pg_database = server.create_database if server is not None else None
    try:
        _main(args)
    finally:
        if server is not None:
            from pg import stop_server

            stop_server(server)


def _main(args: argparse.Namespace) -> None:
    t = time.perf_counter()
    corpus, distinct = load_abstracts(args.shared, args.replicate)
    parse_s = time.perf_counter() - t
    docs = [(f"pubmed:{a.pmid}", "x", a) for a in corpus[: args.limit]]
    print(f"corpus: {len(corpus):,} abstracts ({distinct:,} distinct recorded, replicated) parsed in {parse_s:.1f} s; "
          f"runs use the first {len(docs):,}; cores {os.cpu_count()}; load {os.getloadavg()}", flush=True)

    texts: list[str] = []
    passages_per_abstract = None
    if "embed" in args.what:
        from pgxlit.extract.pipeline import annotate_texts, rules_nlp
        from pgxlit.extract.triples import abstract_text
        from pgxlit.index.passages import abstract_passages

        sample = corpus[: max(1, args.embed_limit // 3)]
        t = time.perf_counter()
        for a, sents in zip(sample, annotate_texts((abstract_text(a) for a in sample), rules_nlp()), strict=True):
            texts += [p.text for p in abstract_passages(a, 3, sentences=sents)]
        split_s = time.perf_counter() - t
        passages_per_abstract = len(texts) / len(sample)
        texts = texts[: args.embed_limit]
        print(f"passages: {passages_per_abstract:.2f} per abstract; splitting {len(sample)} abstracts took "
              f"{split_s:.1f} s ({len(sample) / split_s:.0f}/s, driver)", flush=True)

    results = []
    prefilter = None
    if "prefilter" in args.what:
        pubtator = sorted((args.shared / "gold" / "biored").glob("*.PubTator"))
        prefilter = [prefilter_figures(load_pubtator(pubtator), "BioRED (general biomedical, not PGx-selected)"),
                     prefilter_figures(corpus[: args.limit], "recorded PubMed (PharmGKB's PGx papers)")]
        for figures in prefilter:
            print(json.dumps({"prefilter": figures}), flush=True)
    ivf = ivf_costs([int(x) for x in args.ivf_nlists.split(",")]) if "ivf" in args.what else None
    reads = None
    if "driver" in args.what:
        url = args.pg_url if args.write == "postgres" and args.pg_url else \
            f"sqlite:///{tempfile.mkdtemp(prefix='pgxlit-reads-')}/reads.sqlite"
        reads = driver_reads(corpus[: args.limit], url)
        print(json.dumps({"driver": reads}), flush=True)
    for what in args.what.split(","):
        if what in ("store", "prefilter", "ivf", "driver"):  # figures of their own, above and below
            continue
        for spec in args.engines.split(","):
            name, workers = spec.split(":")
            if name == "ray":
                try:
                    import ray  # noqa: F401
                except ImportError:
                    print("ray is not installed: skipping ray runs", flush=True)
                    continue
            write_url = None
            if args.write == "postgres" and what == "extract":
                if args.new_pg_database is None:
                    raise SystemExit("--write postgres needs --pg-throwaway (a private server for fresh databases)")
                write_url = args.new_pg_database()
            elif args.write == "sqlite" and what == "extract":
                write_url = f"sqlite:///{tempfile.mkdtemp(prefix='pgxlit-run-')}/run.sqlite"
            r = run(name, int(workers), docs, texts, args.shard, what, write_url, args.report_every)
            results.append(r)
            print(json.dumps(r), flush=True)

    extracted = []
    if not args.skip_store_cost and (args.pg_url is not None or "extract" in args.what or "store" in args.what):
        from pgxlit.engine import LocalEngine, shard_documents
        from pgxlit.extract.shards import extract_shard

        few = docs[: min(len(docs), 500)]
        extracted = [r for shard in LocalEngine(1).map(extract_shard, shard_documents(few, 64)) for r in shard]
        cost = store_cost([d[2] for d in few], extracted, args.pg_url)
        print(json.dumps({"store": cost}), flush=True)
    else:
        cost = {}
    if args.json:
        args.json.write_text(json.dumps({"runs": results, "store": cost, "prefilter": prefilter, "ivf": ivf, "driver": reads, "passages_per_abstract": passages_per_abstract,
                                         "corpus": len(corpus), "distinct": distinct, "limit": len(docs)}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
