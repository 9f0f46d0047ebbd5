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


def _rss_mb() -> float:
    """Resident memory now, after a shard (models and the batch are resident). Not ru_maxrss: Linux keeps
    that across exec, so a spawned worker would report its parent's peak."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measured_extract(shard: list[Any]) -> tuple[list[Any], int, float, float]:
    """extract_shard plus which process ran it, its resident memory and the CPU seconds it took.

    CPU seconds do not grow when other jobs share the cores, so they give the time per core."""
    from pgxlit.engine import extract_shard

    cpu = time.process_time()
    out = extract_shard(shard)
    return out, os.getpid(), _rss_mb(), time.process_time() - cpu


def measured_embed(job: tuple[str, str, int, int, list[str]]) -> tuple[int, int, float, float]:
    from pgxlit.engine import embed_shard

    cpu = time.process_time()
    vectors = embed_shard(job)
    return len(vectors), os.getpid(), _rss_mb(), time.process_time() - cpu


def warm(engine: Any, fn: Any, job: Any) -> None:
    """Load the models in every worker before the clock starts (a long run amortises loading)."""
    list(engine.map(fn, [job] * engine.workers * 2))


def run(engine_name: str, workers: int, docs: list[Any], texts: list[str], shard: int, what: str) -> dict[str, Any]:
    from pgxlit.engine import get_engine, shard_documents
    from pgxlit.config import get_settings

    settings = get_settings()
    engine = get_engine(engine_name, workers, settings)
    try:
        rss: dict[int, float] = {}
        cpu = 0.0
        started_load = os.getloadavg()[0]
        if what == "extract":
            warm(engine, measured_extract, docs[:4])
            t = time.perf_counter()
            n = triples = 0
            for results, pid, peak, cpu_s in engine.map(measured_extract, shard_documents(docs, shard)):
                cpu += cpu_s
                n += len(results)
                triples += sum(len(tr) for _, _, tr in results)
                rss[pid] = max(rss.get(pid, 0.0), peak)
            extra = {"triples": triples}
        else:
            threads = 1
            job = (settings.embed_model, settings.embed_device, settings.embed_batch_size, threads, texts[:8])
            warm(engine, measured_embed, job)
            t = time.perf_counter()
            n = 0
            jobs = ((settings.embed_model, settings.embed_device, settings.embed_batch_size, threads,
                     texts[i : i + shard]) for i in range(0, len(texts), shard))
            for count, pid, peak, cpu_s in engine.map(measured_embed, jobs):
                cpu += cpu_s
                n += count
                rss[pid] = max(rss.get(pid, 0.0), peak)
            extra = {}
        seconds = time.perf_counter() - t
    finally:
        engine.close()
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
        half = len(results) // 2
        t = time.perf_counter()
        for key, sha, triples in results[:half]:  # one transaction per document (`run_extraction`)
            with store.transaction() as session:
                store.replace_triples(session, key, sha, "bench", triples)
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(half, len(results), 64):  # one per shard of 64 (`run_extraction_on`)
            with store.transaction() as session:
                for key, sha, triples in results[i : i + 64]:
                    store.replace_triples(session, key, sha, "bench", triples)
        shard_write_s = time.perf_counter() - t
        size = _size(name, store, folder) - empty  # what the rows added, not the empty schema
        store.close()
        out[name] = {"abstracts": len(docs), "triples": sum(len(r[2]) for r in results),
                     "abstracts_per_s_saved": round(len(docs) / load_s, 1),
                     "docs_per_s_triples_written": round(half / write_s, 1),
                     "docs_per_s_triples_written_per_shard": round((len(results) - half) / shard_write_s, 1),
                     "bytes": size, "bytes_per_abstract": round(size / len(docs))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--replicate", type=int, default=100_000, help="abstracts in the replicated corpus")
    parser.add_argument("--limit", type=int, default=2000, help="abstracts each extraction run processes")
    parser.add_argument("--embed-limit", type=int, default=1500, help="passages each embedding run encodes")
    parser.add_argument("--engines", default="local:1,local:2,ray:1,ray:2")
    parser.add_argument("--what", default="extract,embed")
    parser.add_argument("--shard", type=int, default=64)
    parser.add_argument("--pg-url", default=None, help="also measure store cost on this Postgres URL")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    args = parser.parse_args()

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
    for what in args.what.split(","):
        for spec in args.engines.split(","):
            name, workers = spec.split(":")
            if name == "ray":
                try:
                    import ray  # noqa: F401
                except ImportError:
                    print("ray is not installed: skipping ray runs", flush=True)
                    continue
            r = run(name, int(workers), docs, texts, args.shard, what)
            results.append(r)
            print(json.dumps(r), flush=True)

    extracted = []
    if args.pg_url is not None or "extract" in args.what:
        from pgxlit.engine import LocalEngine, extract_shard, shard_documents

        few = docs[: min(len(docs), 500)]
        extracted = [r for shard in LocalEngine(1).map(extract_shard, shard_documents(few, 64)) for r in shard]
        cost = store_cost([d[2] for d in few], extracted, args.pg_url)
        print(json.dumps({"store": cost}), flush=True)
    else:
        cost = {}
    if args.json:
        args.json.write_text(json.dumps({"runs": results, "store": cost, "passages_per_abstract": passages_per_abstract,
                                         "corpus": len(corpus), "distinct": distinct, "limit": len(docs)}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
