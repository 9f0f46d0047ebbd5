"""Load test: concurrent asks and checks against a running pgxlit server; prints p50/p95/p99 and errors.

    pgxlit serve --host 127.0.0.1 --port 8000 &          # or --start to launch one here
    python bench/load.py --url http://127.0.0.1:8000 --seconds 60 --concurrency 8

Bounded twice: it stops after --seconds or --max-requests, whichever comes first. A request
counts as an error when it fails, times out (--timeout) or answers anything but 200. The first
ask and check (model loading) are made before the clock starts and reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CHECKS = (
    ("clopidogrel", "CYP2C19 *2/*2"),
    ("abacavir", "HLA-B*57:01 positive"),
    ("codeine", "CYP2D6 ultrarapid metabolizer"),
    ("warfarin", "CYP2C9 *1/*3\nrs9923231 CT"),
    ("carbamazepine", "HLA-B*15:02 positive"),
    ("Plavix", "CYP2C19 *1/*1"),
)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(q / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def questions(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def one(client: httpx.AsyncClient, kind: str, n: int, qs: list[str]) -> tuple[str, float, str | None]:
    started = time.perf_counter()
    try:
        if kind == "ask":
            r = await client.post("/api/ask", json={"question": qs[n % len(qs)]})
        else:
            drug, results = CHECKS[n % len(CHECKS)]
            r = await client.post("/api/check", json={"drug": drug, "results": results})
        error = None if r.status_code == 200 else f"HTTP {r.status_code}: {r.text[:120]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return kind, (time.perf_counter() - started) * 1000, error


async def run(url: str, seconds: float, max_requests: int, concurrency: int, timeout: float, qs: list[str],
              ask_share: float) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        warm: dict[str, float] = {}
        for kind in ("ask", "check"):
            kind_, ms, error = await one(client, kind, 0, qs)
            if error:
                raise SystemExit(f"warm-up {kind} failed: {error}")
            warm[kind] = round(ms, 1)
        latencies: dict[str, list[float]] = {"ask": [], "check": []}
        errors: list[str] = []
        counter = {"n": 0}
        deadline = time.monotonic() + seconds
        started = time.monotonic()

        async def worker() -> None:
            while time.monotonic() < deadline and counter["n"] < max_requests:
                n = counter["n"]
                counter["n"] += 1
                kind = "ask" if int((n + 1) * ask_share) > int(n * ask_share) else "check"  # evenly interleaved
                kind_, ms, error = await one(client, kind, n, qs)
                if error:
                    errors.append(f"{kind_}: {error}")
                else:
                    latencies[kind_].append(ms)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    every = latencies["ask"] + latencies["check"]

    def summary(values: list[float]) -> dict:
        return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
                "p99_ms": round(percentile(values, 99), 1),
                "mean_ms": round(statistics.fmean(values), 1) if values else 0.0}

    return {"url": url, "seconds": round(elapsed, 1), "concurrency": concurrency, "requests": counter["n"],
            "errors": len(errors), "error_samples": errors[:5], "requests_per_s": round(counter["n"] / elapsed, 2),
            "warmup_ms": warm, "all": summary(every), "ask": summary(latencies["ask"]),
            "check": summary(latencies["check"])}


def start_server(port: int) -> subprocess.Popen:
    """`pgxlit serve` in a child process (same PGXLIT_* environment), ready when /api/health answers."""
    proc = subprocess.Popen([sys.executable, "-m", "pgxlit.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"pgxlit serve exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("pgxlit serve did not answer within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--start", action="store_true", help="start `pgxlit serve` on the URL's port first")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--ask-share", type=float, default=0.5, help="fraction of requests that are asks")
    parser.add_argument("--questions", type=Path, default=REPO / "corpora" / "demo_questions.txt")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.ask_share <= 1:
        parser.error("--ask-share is between 0 and 1")
    server = start_server(httpx.URL(args.url).port or 8000) if args.start else None
    try:
        report = asyncio.run(run(args.url.rstrip("/"), args.seconds, args.max_requests, args.concurrency,
                                 args.timeout, questions(args.questions), args.ask_share))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['requests']} requests in {report['seconds']} s with {report['concurrency']} concurrent clients "
          f"({report['requests_per_s']}/s), {report['errors']} errors; warm-up {report['warmup_ms']} ms")
    print(f"{'':8}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for kind in ("all", "ask", "check"):
        s = report[kind]
        print(f"{kind:8}{s['n']:>6}{s['p50_ms']:>10}{s['p95_ms']:>10}{s['p99_ms']:>10}")
    for sample in report["error_samples"]:
        print(f"error: {sample}")


if __name__ == "__main__":
    main()
