"""Extraction benchmark: sentences/s for the whole pipeline and for each component, and peak memory.

    python bench/extract.py --shared ../shared [--limit 2000]

Input: the abstracts of ../shared/corpora/pubmed/efetch/pharmgkb_vda_2018. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import resource
import sys
import time
import warnings
from pathlib import Path

from pgxlit.extract import grammars
from pgxlit.extract import relations as rel
from pgxlit.extract.lexicons import DictionaryMatcher, load_lexicons
from pgxlit.extract import triples as triples_module
from pgxlit.extract.pipeline import annotate_texts, build_nlp, default_nlp, relation_model, rules_nlp
from pgxlit.extract.triples import iter_triples
from pgxlit.ingest.pubmed_xml import iter_pubmed_xml
from pgxlit.records import Abstract


def load_abstracts(root: Path, limit: int) -> list[Abstract]:
    out: list[Abstract] = []
    for path in sorted(root.glob("*.xml")):
        for record in iter_pubmed_xml(io.BytesIO(path.read_bytes()), str(path)):
            if isinstance(record, Abstract) and record.has_text:
                out.append(record)
                if len(out) >= limit:
                    return out
    return out


_RECORDS: list = []


def _start_worker() -> None:
    """Each process builds its models once (outside the timing), as an engine worker does."""
    default_nlp()
    list(iter_triples(_RECORDS[:20], rules_nlp()))


def _extract_chunk(bounds: tuple[int, int]) -> float:
    """CPU seconds this chunk took in its worker."""
    cpu = time.process_time()
    list(iter_triples(_RECORDS[bounds[0] : bounds[1]], rules_nlp()))
    return time.process_time() - cpu


def parallel_triples(records: list, processes: int, chunk: int = 50) -> tuple[float, float]:
    """(wall seconds, summed CPU seconds) of the default pipeline to triples over `processes`
    forked processes, the same rules pipeline and relation classifier as the rows before it:
    the figure for "sentences/s on N cores"."""
    global _RECORDS
    _RECORDS = records
    chunks = [(i, i + chunk) for i in range(0, len(records), chunk)]
    with mp.get_context("fork").Pool(processes, initializer=_start_worker) as pool:
        pool.map(_start_worker_barrier, range(processes))
        start = time.perf_counter()
        cpu = sum(pool.map(_extract_chunk, chunks, chunksize=1))
        wall = time.perf_counter() - start
    return wall, cpu


def _start_worker_barrier(_: int) -> None:
    time.sleep(0.2)  # every worker has finished its initializer before the clock starts


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a machine shared with other jobs the CPU
    figure is the steadier one (the pipeline runs on one thread)."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path("../shared"))
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--processes", type=int, default=2, help="processes for the multi-core row (0 skips it)")
    args = ap.parse_args()
    root = args.shared / "corpora/pubmed/efetch/pharmgkb_vda_2018"
    if not root.is_dir():
        print(f"no abstracts at {root}", file=sys.stderr)
        return 2
    abstracts = load_abstracts(root, args.limit)
    texts = ["\n".join([a.title, *(s.text for s in a.sections)]) for a in abstracts]
    chars = sum(map(len, texts))

    start = time.perf_counter()
    nlp = build_nlp()
    load_s = time.perf_counter() - start
    sentences = [s for doc in annotate_texts(texts, nlp) for s in doc]  # warm-up and sentence list
    n = len(sentences)
    sent_texts = [s.text for s in sentences]

    rows: list[tuple[str, float]] = []
    tokenizer_only = build_nlp(components=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows.append(("tokenizer", timed(lambda: list(tokenizer_only.pipe(texts, batch_size=64)))))
        split = build_nlp(components=("sentencizer",))
        rows.append(("tokenizer + sentencizer", timed(lambda: list(split.pipe(texts, batch_size=64)))))
        abbrev = build_nlp(components=("sentencizer", "pgx_abbreviations"))
        rows.append(("+ abbreviation detector", timed(lambda: list(abbrev.pipe(texts, batch_size=64)))))
    matcher = DictionaryMatcher(load_lexicons())
    rows.append(("lexicon matcher alone", timed(lambda: [matcher.find(t) for t in sent_texts])))
    rows.append(("grammars alone", timed(lambda: [grammars.find_all(t) for t in sent_texts])))
    rows.append(("relations alone", timed(lambda: [rel.relate(s.text, s.mentions) for s in sentences])))
    rows.append(("full pipeline: entities", timed(lambda: list(annotate_texts(texts, nlp)))))
    records = [(a.pmid, "", a) for a in abstracts]
    model = relation_model()
    default_nlp()  # the triples ask whether the default pipeline has the NER model: build it outside the timings
    if model is not None:
        triples_module.relation_model = lambda: None  # the rules' relations, same entities
        rows.append(("full pipeline: triples, rule relations", timed(lambda: list(iter_triples(records, nlp)))))
        triples_module.relation_model = relation_model
        rows.append(("full pipeline: triples, classifier", timed(lambda: list(iter_triples(records, nlp)))))
    else:
        rows.append(("full pipeline: triples, rule relations", timed(lambda: list(iter_triples(records, nlp)))))
    if args.processes > 1:
        wall, cpu = parallel_triples(records, args.processes)
        rows.append((f"full pipeline: triples, {args.processes} processes", (wall, cpu)))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"{len(abstracts)} abstracts, {n} sentences, {chars / 1e6:.2f} M characters; pipeline built in {load_s:.2f} s")
    print(f"{'component':40} {'seconds':>8} {'sentences/s':>12} {'CPU s':>8} {'sentences/CPU s':>16}")
    for name, (seconds, cpu) in rows:
        print(f"{name:40} {seconds:8.2f} {n / seconds:12.0f} {cpu:8.2f} {n / max(cpu, 1e-9):16.0f}")
    print(f"peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
