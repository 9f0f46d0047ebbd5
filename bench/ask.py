"""Warm ask benchmark: one in-process answerer, many varied questions; latency percentiles, throughput, RSS.

    PGXLIT_HOME=.pgxlit-demo python bench/ask.py [--questions 200] [--seed 7] [--profile out.prof]
    PGXLIT_HOME=.pgxlit-demo python bench/ask.py --unique-from corpora/demo_questions.txt   # the load test's asks

Questions are drawn (seeded) from the shipped natural-language question set (qa/expected/questions.jsonl:
every kind of question, drugs with and without labels, classes, misspellings, format requests), then
from templates over the store's own label drug-gene pairs. The first ask (it loads the index, model,
catalogue and claims) is reported apart; `--unique-from FILE` asks that file's questions in turn, each
made new with " (request N)" exactly as `bench/load.py --unique-questions` does; the figures are for the asks after it, as a running
`pgxlit serve` or a `--batch` run answers them. Prints figures and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import psutil

from pgxlit.config import get_settings
from pgxlit.store import Store

QUESTIONS = Path(__file__).resolve().parents[1] / "qa" / "expected" / "questions.jsonl"
TEMPLATES = ("Does {gene} status change {drug} dosing?", "What should I check before prescribing {drug}?",
             "Can I give {drug} to a {gene} poor metabolizer?", "Which drugs are affected by {gene} status?")


def rss_mb() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 1e6


def figures(ms: list[float]) -> str:
    a = np.asarray(ms)
    return (f"p50 {np.percentile(a, 50):7.1f} ms  p95 {np.percentile(a, 95):7.1f} ms  p99 {np.percentile(a, 99):7.1f} ms"
            f"  max {a.max():7.1f} ms")


def question_set(store: Store, n: int, rng: random.Random) -> list[str]:
    """Shipped questions first (shuffled), then template questions over stored label pairs."""
    shipped = [row["question"] for row in map(json.loads, QUESTIONS.read_text(encoding="utf-8").splitlines())
               if "question" in row]
    rng.shuffle(shipped)
    pairs = sorted({(t.drug, t.gene) for t in store.triples(source="fda_label", pgx=True, latest_only=True, limit=20000)
                    if t.gene})
    rng.shuffle(pairs)
    made = [TEMPLATES[i % len(TEMPLATES)].format(drug=d, gene=g) for i, (d, g) in enumerate(pairs)]
    half = n // 2
    return (shipped[:half] + made[: n - half] + shipped[half:])[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, default=None, help="Write a cProfile of the warm asks here.")
    parser.add_argument("--unique-from", type=Path, default=None,
                        help="Ask this file's questions (one a line) in turn, each made new as bench/load.py does.")
    args = parser.parse_args()
    settings = get_settings()
    store = Store(settings.resolved_db_url)
    if args.unique_from is not None:
        lines = [x.strip() for x in args.unique_from.read_text(encoding="utf-8").splitlines() if x.strip()]
        questions = [f"{lines[i % len(lines)]} (request {args.seed}-{i})" for i in range(args.questions)]
    else:
        questions = question_set(store, args.questions, random.Random(args.seed))

    from pgxlit.qa.answer import Answerer
    from pgxlit.qa.llm import make_answerer

    started = time.perf_counter()
    cpu = time.process_time()
    qa = make_answerer(Answerer(store, settings), settings)
    qa.ask(questions[0])
    first_s, first_cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"first ask (loads index, model, catalogue, claims): {first_s:.2f} s wall, {first_cpu:.2f} s CPU, "
          f"RSS {rss_mb():,.0f} MB")

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()
    ms: list[float] = []
    cpu_ms: list[float] = []  # this process's CPU per ask: what the latency is on an idle machine, near enough
    stages: dict[str, list[float]] = {}
    refused = 0
    answered_flags: list[bool] = []
    started = time.perf_counter()
    cpu = time.process_time()
    for question in questions:
        t0, c0 = time.perf_counter(), time.process_time()
        answer = qa.ask(question)
        ms.append((time.perf_counter() - t0) * 1000)
        cpu_ms.append((time.process_time() - c0) * 1000)
        refused += answer.refused
        answered_flags.append(not answer.refused)
        for stage, value in answer.timings_ms.items():
            stages.setdefault(stage, []).append(value)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    load_after = os.getloadavg()
    print(f"warm asks: {len(questions)} questions ({refused} refused) in {wall:.1f} s = {len(questions) / wall:.1f} "
          f"asks/s ({cpu / len(questions) * 1000:.0f} ms CPU each)")
    print(f"  latency  {figures(ms)}")
    answered = [t for t, a in zip(ms, answered_flags, strict=True) if a]
    if answered:
        print(f"  answered {figures(answered)}  ({len(answered)} asks that were not refused)")
    print(f"  CPU      {figures(cpu_ms)}")
    for stage, values in sorted(stages.items(), key=lambda kv: -float(np.percentile(kv[1], 95))):
        print(f"  {stage:>16}  {figures(values)}  (in {len(values)} asks)")
    slow = sorted(zip(ms, questions, strict=True), reverse=True)[:5]
    print("  slowest: " + "; ".join(f"{t:.0f} ms {q[:60]!r}" for t, q in slow))
    print(f"RSS {rss_mb():,.0f} MB · load average {load_before[0]:.2f} before, {load_after[0]:.2f} after · "
          f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
