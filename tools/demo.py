"""`make demo`: every stage on the bundled snapshot in a fresh store, then each step's time.

Each step is the `pgxlit` command a user would type; its output is shown as it runs. A failing
step stops the demo with its exit code (the steps after it need what it makes). The table at the end
gives each step's wall time, CPU time (user + system, all threads) and peak memory: on a shared
machine the wall times follow the load, the CPU times much less.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Extraction is the one step that does not use every core by itself (the index's embedder runs batches
# side by side): its documents go to this many worker processes. Each loads the models (~0.6 GB), so
# a large machine still gets at most four.
EXTRACT_WORKERS = str(max(1, min(4, os.cpu_count() or 1)))

STEPS: tuple[tuple[str, list[str]], ...] = (
    ("load the snapshot", ["load", "corpora/snapshot"]),
    ("list labels", ["labels", "--pgx"]),
    ("extract triples", ["extract", "--workers", EXTRACT_WORKERS]),
    ("clopidogrel triples", ["triples", "--drug", "clopidogrel", "--gene", "CYP2C19", "--pgx", "--limit", "3"]),
    ("abacavir triples", ["triples", "--drug", "abacavir", "--pgx", "--limit", "2"]),
    ("index passages", ["index"]),
    ("answer questions", ["ask", "--batch", "corpora/demo_questions.txt"]),
    ("prescribing check", ["check", "--drug", "clopidogrel", "--diplotype", "CYP2C19 *2/*2"]),
    ("drug summary", ["drug", "codeine"]),
    ("store figures", ["stats"]),
)


@dataclass(frozen=True, slots=True)
class StepTime:
    name: str
    wall_s: float
    cpu_s: float  # user + system of the step's process, all its threads
    peak_mb: float  # the step process's peak resident memory


def run_step(name: str, argv: list[str], env: dict[str, str]) -> tuple[StepTime, int]:
    """Run one command to its end; its own CPU time and peak memory come from `wait4` on its pid."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=REPO, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return StepTime(name, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), process.returncode


def step_table(times: list[StepTime]) -> str:
    """Each step's wall time, CPU time and peak memory, then the totals (peak: the largest step's)."""
    width = max(len("total"), *(len(t.name) for t in times))
    lines = [f"step times\n  {'step':<{width}}  {'wall':>9}  {'CPU':>9}  {'peak RSS':>9}"]
    for t in times:
        lines.append(f"  {t.name:<{width}}  {t.wall_s:7.1f} s  {t.cpu_s:7.1f} s  {t.peak_mb:6.0f} MB")
    lines.append(f"  {'total':<{width}}  {sum(t.wall_s for t in times):7.1f} s  {sum(t.cpu_s for t in times):7.1f} s  "
                 f"{max((t.peak_mb for t in times), default=0):6.0f} MB")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="PGXLIT_HOME for the demo store (emptied first)")
    parser.add_argument("--pgxlit", default=str(Path(sys.executable).with_name("pgxlit")), help="the pgxlit command")
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    env = {**os.environ, "PGXLIT_HOME": str(args.home)}
    load_before = os.getloadavg()[0]  # step times on a shared machine mean little without it
    times: list[StepTime] = []
    for name, argv in STEPS:
        print(f"\n$ pgxlit {' '.join(argv)}", flush=True)
        step, code = run_step(name, [args.pgxlit, *argv], env)
        times.append(step)
        if code != 0:
            print(f"\ndemo stopped: `pgxlit {' '.join(argv)}` exited {code}", file=sys.stderr)
            return code
    print("\n" + step_table(times))
    print(f"  load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores")
    print(f"\nthe demo store is in {args.home}; try: PGXLIT_HOME={args.home} pgxlit serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
