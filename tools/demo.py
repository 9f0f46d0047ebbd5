"""`make demo`: every stage on the bundled snapshot in a fresh store, then each step's time.

Each step is the `pgxlit` command a user would type; its output is shown as it runs. A failing
step stops the demo with its exit code (the steps after it need what it makes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

STEPS: tuple[tuple[str, list[str]], ...] = (
    ("load the snapshot", ["load", "corpora/snapshot"]),
    ("list labels", ["labels", "--pgx"]),
    ("extract triples", ["extract"]),
    ("clopidogrel triples", ["triples", "--drug", "clopidogrel", "--gene", "CYP2C19", "--pgx", "--limit", "3"]),
    ("abacavir triples", ["triples", "--drug", "abacavir", "--pgx", "--limit", "2"]),
    ("index passages", ["index"]),
    ("answer questions", ["ask", "--batch", "corpora/demo_questions.txt"]),
    ("prescribing check", ["check", "--drug", "clopidogrel", "--diplotype", "CYP2C19 *2/*2"]),
    ("drug summary", ["drug", "codeine"]),
    ("store figures", ["stats"]),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="PGXLIT_HOME for the demo store (emptied first)")
    parser.add_argument("--pgxlit", default=str(Path(sys.executable).with_name("pgxlit")), help="the pgxlit command")
    args = parser.parse_args()
    shutil.rmtree(args.home, ignore_errors=True)
    env = {**os.environ, "PGXLIT_HOME": str(args.home)}
    load_before = os.getloadavg()[0]  # step times on a shared machine mean little without it
    times: list[tuple[str, float]] = []
    for name, argv in STEPS:
        print(f"\n$ pgxlit {' '.join(argv)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run([args.pgxlit, *argv], cwd=REPO, env=env)
        times.append((name, time.perf_counter() - start))
        if done.returncode != 0:
            print(f"\ndemo stopped: `pgxlit {' '.join(argv)}` exited {done.returncode}", file=sys.stderr)
            return done.returncode
    width = max(len(n) for n, _ in times)
    print("\nstep times")
    for name, seconds in times:
        print(f"  {name:<{width}}  {seconds:7.1f} s")
    print(f"  {'total':<{width}}  {sum(s for _, s in times):7.1f} s")
    print(f"  load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores")
    print(f"\nthe demo store is in {args.home}; try: PGXLIT_HOME={args.home} pgxlit serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
