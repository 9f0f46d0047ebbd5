"""Ingest benchmark: parse throughput against raw lxml/orjson, store load time, peak memory.

    python bench/ingest.py --shared ../shared

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil
from lxml import etree

from pgxlit.config import Settings
from pgxlit.ingest.load import Loader, _open, iter_files, sniff
from pgxlit.ingest.openfda_json import iter_openfda_bulk
from pgxlit.ingest.pubmed_xml import iter_pubmed_xml
from pgxlit.ingest.spl_xml import parse_spl_zip_or_xml
from pgxlit.store import Store


def _read(path: Path) -> bytes:
    with _open(path) as stream:
        return stream.read()


def classify(root: Path) -> dict[str, list[bytes]]:
    groups: dict[str, list[bytes]] = {"openfda": [], "spl": [], "pubmed": []}
    for path in iter_files([root]):
        data = _read(path)
        kind = sniff(data[:4096])
        if kind in groups:
            groups[kind].append(data)
    return groups


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    corpora = args.shared / "corpora"
    if not corpora.is_dir():
        print(f"no corpora at {corpora}", file=sys.stderr)
        return 2
    import io

    groups = classify(corpora)
    rows = []

    def openfda_ours() -> int:
        return sum(1 for d in groups["openfda"] for _ in iter_openfda_bulk(io.BytesIO(d), "bench"))

    def openfda_raw() -> None:
        for d in groups["openfda"]:
            orjson.loads(d)

    def spl_ours() -> None:
        for d in groups["spl"]:
            parse_spl_zip_or_xml(d, "bench")

    def spl_raw() -> None:
        for d in groups["spl"]:
            etree.fromstring(d)

    def pubmed_ours() -> int:
        return sum(1 for d in groups["pubmed"] for _ in iter_pubmed_xml(io.BytesIO(d), "bench"))

    def pubmed_raw() -> None:
        for d in groups["pubmed"]:
            etree.fromstring(d, etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False))

    counts = {"openfda": openfda_ours(), "spl": len(groups["spl"]), "pubmed": pubmed_ours()}
    for kind, ours, raw, unit in (
        ("openfda", openfda_ours, openfda_raw, "label versions"),
        ("spl", spl_ours, spl_raw, "label versions"),
        ("pubmed", pubmed_ours, pubmed_raw, "abstracts"),
    ):
        t_ours, t_raw = best_of(ours), best_of(raw)
        mb = sum(len(d) for d in groups[kind]) / 1e6
        rows.append({
            "format": kind, "records": counts[kind], "unit": unit, "mb": round(mb, 1),
            "ours_s": round(t_ours, 3), "raw_s": round(t_raw, 3),
            "records_per_s": round(counts[kind] / t_ours, 1),
            "ratio_to_raw": round(t_ours / t_raw, 2),
        })

    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), db_url=f"sqlite:///{tmp}/bench.sqlite")
        store = Store(settings.resolved_db_url)
        rss_before = proc.memory_info().rss
        start = time.perf_counter()
        report = Loader(store, settings).load([corpora])
        load_s = time.perf_counter() - start
        stats = store.stats()
        db_mb = Path(f"{tmp}/bench.sqlite").stat().st_size / 1e6
    peak_rss = getattr(proc.memory_info(), "rss", 0)
    try:
        import resource

        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except ImportError:  # pragma: no cover
        pass
    summary = {
        "parse": rows,
        "load_all_corpora_s": round(load_s, 2),
        "files": report.files_seen, "loaded": report.files_loaded,
        "skipped": report.files_skipped, "failed": report.files_failed,
        "store": stats, "db_mb": round(db_mb, 1),
        "rss_before_load_mb": round(rss_before / 1e6, 1),
        "peak_rss_mb": round(peak_rss / 1e6, 1),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{'format':8} {'records':>8} {'MB':>6} {'ours s':>8} {'raw s':>8} {'rec/s':>9} {'x raw':>6}")
    for r in rows:
        print(f"{r['format']:8} {r['records']:>8} {r['mb']:>6} {r['ours_s']:>8} {r['raw_s']:>8} "
              f"{r['records_per_s']:>9} {r['ratio_to_raw']:>6}")
    print(f"load of all corpora into SQLite: {summary['load_all_corpora_s']} s, {report.files_loaded} files loaded, "
          f"{report.files_skipped} skipped, {report.files_failed} failed; db {summary['db_mb']} MB")
    print(f"store: {stats}")
    print(f"peak RSS {summary['peak_rss_mb']} MB (before load {summary['rss_before_load_mb']} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
