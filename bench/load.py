"""Load test: concurrent requests against a running pgxlit server; prints p50/p95/p99 per kind and errors.

    pgxlit serve --host 127.0.0.1 --port 8000 &          # or --start to launch one here
    python bench/load.py --url http://127.0.0.1:8000 --seconds 60 --concurrency 8
    python bench/load.py --start --profile mixed --concurrency 16 --seconds 60   # reads and review writes

Profiles: `ask-check` (asks and checks, `--ask-share` of them asks) and `mixed` (`--mix`, by default
asks 1 : checks 4 : triple listings 3 : review writes 2). Review writes accept and reset pending
triples with a curator token (`--token`, else PGXLIT_WEB_TOKEN; with --start one is made for the
server). Bounded twice: it stops after --seconds or --max-requests, whichever comes first. A request
counts as an error when it fails, times out (--timeout) or answers anything but 200. The first
request of each kind (model loading, compiling the check's knowledge) is made before the clock
starts and reported apart. The server's peak RSS (VmHWM) is read from /proc when its pid is known
(--start, or --server-pid), and so is each of its worker processes' (their pids from /health); CPU
per ask counts the ask workers only, not the digest worker (it builds the digest once after start).

The server caches answers until the next write, and the demo has three questions, so most asks of a
plain run are cache hits: the report gives the hit rate. `--unique-questions` makes every ask a
new question (the question plus " (request N)"), so every ask is answered by a worker: that is
the uncached figure, and the one to quote for ask latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
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


KINDS = ("ask", "check", "triples", "review")
TRIPLE_QUERIES = (
    {"drug": "clopidogrel", "limit": 20}, {"gene": "CYP2D6", "pgx": "true", "limit": 50},
    {"status": "pending", "limit": 100}, {"drug": "Plavix", "gene": "CYP2C19", "limit": 20},
    {"source": "pubmed", "min_confidence": 0.5, "limit": 50}, {"limit": 20, "offset": 200},
)


class Workload:
    """What each request of a kind sends: questions, check pairs, triple filters, and triple ids to review."""

    def __init__(self, questions: list[str], token: str | None, review_ids: list[int], unique: bool = False) -> None:
        self.questions = questions
        self.unique = unique
        self.token = token
        self.review_ids = review_ids
        self.run = secrets.token_hex(3)  # unique questions differ between runs too, so none is cached from the last

    async def send(self, client: httpx.AsyncClient, kind: str, n: int) -> httpx.Response:
        if kind == "ask":
            question = self.questions[n % len(self.questions)]
            return await client.post("/api/ask", json={"question": f"{question} (request {self.run}-{n})" if self.unique
                                                       else question})
        if kind == "check":
            drug, results = CHECKS[n % len(CHECKS)]
            return await client.post("/api/check", json={"drug": drug, "results": results})
        if kind == "triples":
            return await client.get("/api/triples", params=TRIPLE_QUERIES[n % len(TRIPLE_QUERIES)])
        triple = self.review_ids[n % len(self.review_ids)]
        action = "accept" if (n // len(self.review_ids)) % 2 == 0 else "reset"  # accept, then put back
        return await client.post(f"/api/triples/{triple}/review", json={"action": action, "reason": "load test"},
                                 headers={"Authorization": f"Bearer {self.token}", "X-Curator": "bench"})


async def one(client: httpx.AsyncClient, work: Workload, kind: str, n: int) -> tuple[str, float, str | None]:
    started = time.perf_counter()
    try:
        r = await work.send(client, kind, n)
        error = None if r.status_code == 200 else f"HTTP {r.status_code}: {r.text[:120]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return kind, (time.perf_counter() - started) * 1000, error


def parse_mix(text: str) -> dict[str, int]:
    """"ask=1,check=4,triples=3,review=2" -> weights; unknown kinds are an error."""
    mix: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        if kind not in KINDS or not weight.isdigit():
            raise ValueError(f"--mix takes kind=weight pairs with kinds {', '.join(KINDS)}; got {part!r}")
        if int(weight):
            mix[kind] = int(weight)
    if not mix:
        raise ValueError("--mix gives every kind weight 0")
    return mix


def schedule(mix: dict[str, int]) -> list[str]:
    """One round of kinds, interleaved so every kind recurs evenly (smooth weighted round robin)."""
    total = sum(mix.values())
    current = dict.fromkeys(mix, 0)
    order = []
    for _ in range(total):
        for kind, weight in mix.items():
            current[kind] += weight
        kind = max(current, key=current.__getitem__)
        current[kind] -= total
        order.append(kind)
    return order


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU the process has used so far (from /proc), or None when it cannot be read."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(before: dict[int, float | None], after: dict[int, float | None], requests: int) -> float | None:
    """Milliseconds of CPU the processes used per request during the run (None when unreadable)."""
    spent = [after[p] - before[p] for p in after if after.get(p) is not None and before.get(p) is not None]
    return round(sum(spent) * 1000 / requests, 2) if spent and requests else None


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def peak_rss_mb(pid: int | None) -> float | None:
    """The process's peak resident memory (VmHWM), in MB, or None when it cannot be read."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def server_health(client: httpx.AsyncClient) -> dict:
    """/health: the answer cache's hits and misses and the worker pids (empty for an older server)."""
    try:
        r = await client.get("/health")
        return r.json() if r.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


def cache_rate(before: dict, after: dict) -> dict | None:
    """Answer-cache hits and misses during the run (from /health before and after)."""
    a, b = before.get("answer_cache"), after.get("answer_cache")
    if not a or not b:
        return None
    hits, misses = b["hits"] - a["hits"], b["misses"] - a["misses"]
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / (hits + misses), 3) if hits + misses else 0.0}


async def pending_ids(client: httpx.AsyncClient, want: int) -> list[int]:
    r = await client.get("/api/triples", params={"status": "pending", "limit": want})
    if r.status_code != 200:
        raise SystemExit(f"cannot list pending triples to review: HTTP {r.status_code} {r.text[:200]}")
    ids = [item["id"] for item in r.json()["items"]]
    if not ids:
        raise SystemExit("no pending triples to review: run `pgxlit extract` on the store first")
    return ids


async def run(url: str, seconds: float, max_requests: int, concurrency: int, timeout: float, qs: list[str],
              mix: dict[str, int], token: str | None, server_pid: int | None, unique: bool = False) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
        if "review" in mix and not token:
            raise SystemExit("review writes need a curator token: --token or PGXLIT_WEB_TOKEN")
        work = Workload(qs, token, await pending_ids(client, 200) if "review" in mix else [], unique)
        warm: dict[str, float] = {}
        for kind in mix:
            waited = 0.0
            while True:  # the server's workers may still be loading: 503/504/timeouts are retried for up to 300 s
                kind_, ms, error = await one(client, work, kind, 0)
                waited += ms
                if not error or not error.startswith(("HTTP 503", "HTTP 504", "ReadTimeout")) or waited > 300_000:
                    break
                await asyncio.sleep(1)
            if error:
                raise SystemExit(f"warm-up {kind} failed: {error}")
            warm[kind] = round(waited, 1)
        order = schedule(mix)
        before = await server_health(client)
        pool = list((before.get("workers") or {}).get("pids") or []) if server_pid is not None else []
        cpu_before = {"server": {server_pid: cpu_seconds(server_pid)}, "workers": {p: cpu_seconds(p) for p in pool}}
        load_before = load_average()
        latencies: dict[str, list[float]] = {kind: [] for kind in mix}
        errors: list[str] = []
        counter = {"n": 0}
        deadline = time.monotonic() + seconds
        started = time.monotonic()

        async def worker() -> None:
            while time.monotonic() < deadline and counter["n"] < max_requests:
                n = counter["n"]
                counter["n"] += 1
                kind = order[n % len(order)]
                kind_, ms, error = await one(client, work, kind, n + 1)
                if error:
                    errors.append(f"{kind_}: {error}")
                else:
                    latencies[kind_].append(ms)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        cpu_after = {"server": {server_pid: cpu_seconds(server_pid)}, "workers": {p: cpu_seconds(p) for p in pool}}
        load_after = load_average()
        after = await server_health(client)
    worker_pids = [*((after.get("workers") or {}).get("pids") or []), *((after.get("workers") or {}).get("digest_pids") or [])]
    worker_rss = [peak_rss_mb(pid) for pid in worker_pids] if server_pid is not None else []
    every = [ms for values in latencies.values() for ms in values]

    def summary(values: list[float]) -> dict:
        return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
                "p99_ms": round(percentile(values, 99), 1),
                "mean_ms": round(statistics.fmean(values), 1) if values else 0.0}

    errors_by_kind = {kind: sum(1 for e in errors if e.startswith(f"{kind}:")) for kind in mix}
    return {"url": url, "seconds": round(elapsed, 1), "concurrency": concurrency, "mix": mix,
            "requests": counter["n"], "errors": len(errors), "errors_by_kind": errors_by_kind,
            "error_samples": errors[:5], "requests_per_s": round(counter["n"] / elapsed, 2),
            "warmup_ms": warm, "server_peak_rss_mb": peak_rss_mb(server_pid),
            "workers_peak_rss_mb": [r for r in worker_rss if r is not None], "unique_questions": unique,
            "answer_cache": cache_rate(before, after) if "ask" in mix else None,
            "load_average": {"before": load_before, "after": load_after},
            # server: per request of any kind; workers: per request they answer (asks and listings)
            "cpu_ms_per_request": {"server": cpu_per_request(cpu_before["server"], cpu_after["server"], counter["n"]),
                                   "workers": cpu_per_request(cpu_before["workers"], cpu_after["workers"],
                                                              sum(len(latencies.get(k, ())) for k in ("ask", "triples")))},
            "all": summary(every),
            **{kind: summary(values) for kind, values in latencies.items()}}


def start_server(port: int, token: str | None = None) -> subprocess.Popen:
    """`pgxlit serve` in a child process (same PGXLIT_* environment), ready when /api/health answers."""
    env = {**os.environ, **({"PGXLIT_WEB_TOKEN": token} if token else {})}
    proc = subprocess.Popen([sys.executable, "-m", "pgxlit.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
    parser.add_argument("--profile", choices=("ask-check", "mixed"), default="ask-check")
    parser.add_argument("--ask-share", type=float, default=0.5, help="ask-check profile: fraction of requests that are asks")
    parser.add_argument("--mix", default="ask=1,check=4,triples=3,review=2", help="mixed profile: kind=weight pairs")
    parser.add_argument("--token", default=os.environ.get("PGXLIT_WEB_TOKEN"), help="curator token for review writes")
    parser.add_argument("--server-pid", type=int, help="read this server's peak RSS at the end (implied by --start)")
    parser.add_argument("--questions", type=Path, default=REPO / "corpora" / "demo_questions.txt")
    parser.add_argument("--unique-questions", action="store_true",
                        help="make every ask a new question, so none is answered from the server's cache")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.ask_share <= 1:
        parser.error("--ask-share is between 0 and 1")
    if args.profile == "mixed":
        try:
            mix = parse_mix(args.mix)
        except ValueError as exc:
            parser.error(str(exc))
    else:
        asks = round(args.ask_share * 100)
        mix = {k: v for k, v in (("ask", asks), ("check", 100 - asks)) if v}
    token = args.token
    if args.start and "review" in mix and not token:
        token = secrets.token_urlsafe(24)
    server = start_server(httpx.URL(args.url).port or 8000, token) if args.start else None
    try:
        report = asyncio.run(run(args.url.rstrip("/"), args.seconds, args.max_requests, args.concurrency,
                                 args.timeout, questions(args.questions), mix, token,
                                 server.pid if server is not None else args.server_pid, args.unique_questions))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    rss, workers = report["server_peak_rss_mb"], report["workers_peak_rss_mb"]
    print(f"{report['requests']} requests in {report['seconds']} s with {report['concurrency']} concurrent clients "
          f"({report['requests_per_s']}/s), {report['errors']} errors; warm-up {report['warmup_ms']} ms"
          + (f"; server peak RSS {rss} MB" if rss is not None else "")
          + (f" + workers {' + '.join(map(str, workers))} MB = {round(rss + sum(workers), 1)} MB"
             if rss is not None and workers else ""))
    cpu = report["cpu_ms_per_request"]
    print(f"load average {report['load_average']['before']} before, {report['load_average']['after']} after"
          + (f"; CPU per request: server process {cpu['server']} ms" if cpu["server"] is not None else "")
          + (f", worker processes {cpu['workers']} ms per ask or listing" if cpu["workers"] is not None else ""))
    cache = report["answer_cache"]
    if cache is not None:
        print(f"asks: {'every question unique (uncached)' if report['unique_questions'] else 'repeated questions'}; "
              f"answer cache {cache['hits']} hits, {cache['misses']} misses (hit rate {cache['hit_rate']:.0%})")
    print(f"{'':8}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for kind in ("all", *mix):
        s = report[kind]
        errs = report["errors"] if kind == "all" else report["errors_by_kind"][kind]
        print(f"{kind:8}{s['n']:>6}{s['p50_ms']:>10}{s['p95_ms']:>10}{s['p99_ms']:>10}{errs:>8}")
    for sample in report["error_samples"]:
        print(f"error: {sample}")


if __name__ == "__main__":
    main()
