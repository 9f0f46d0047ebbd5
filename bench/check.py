"""Prescribing-check benchmark: latency percentiles of a check and of a CDS Hooks call, and memory.

    pgxlit load corpora/snapshot && pgxlit extract      # once, into $PGXLIT_HOME
    python bench/check.py [--n 2000] [--cli-runs 5]

Measures, on the store of the current settings:
  knowledge   compile from the triples (cold) and load from the cache file
  core        profile parsing + drug resolution + lookup (`CheckService.run`), in process
  cli         `pgxlit check ... --json` as a new process (Python start-up and imports included)
  cds-asgi    POST /cds-services/pgxlit-order-select through FastAPI's TestClient (in process)
  cds-http    the same request to a real uvicorn on 127.0.0.1 over loopback HTTP
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = [
    ("clopidogrel", {"diplotypes": ["CYP2C19 *2/*2"]}),
    ("abacavir", {"hla": ["HLA-B*57:01 positive"]}),
    ("codeine", {"phenotypes": ["CYP2D6 ultrarapid metabolizer"]}),
    ("carbamazepine", {"hla": ["HLA-B*15:02 positive"]}),
    ("siponimod", {"diplotypes": ["CYP2C9 *3/*3"]}),
    ("warfarin", {"diplotypes": ["CYP2C9 *1/*3", "rs9923231 CT"]}),
    ("clopidogrel", {"diplotypes": ["CYP2C19 *1/*1"]}),
    ("metformin", {"diplotypes": ["CYP2C19 *2/*2"]}),
]


def percentiles(samples_ms: list[float]) -> str:
    s = sorted(samples_ms)
    q = statistics.quantiles(s, n=100, method="inclusive")
    return f"n={len(s)} p50={q[49]:.3f} ms p95={q[94]:.3f} ms p99={q[98]:.3f} ms max={s[-1]:.3f} ms"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="requests per in-process measurement")
    parser.add_argument("--http-n", type=int, default=500, help="requests over loopback HTTP")
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()

    from pgxlit.check.knowledge import knowledge_path, load_knowledge
    from pgxlit.check.profile import profile_from_args
    from pgxlit.check.service import CheckService

    from pgxlit.config import get_settings

    settings = get_settings()
    base_rss = rss_mb()
    service = CheckService(settings)
    t0 = time.perf_counter()
    knowledge = load_knowledge(service.store, settings, service.table, rebuild=True)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_knowledge(service.store, settings, service.table)
    load_s = time.perf_counter() - t0
    path = knowledge_path(settings)
    items = sum(len(v) for g in knowledge.drugs.values() for k in g.values() for v in k.values())
    print(f"store: {settings.resolved_db_url}")
    print(f"knowledge: {len(knowledge.drugs)} drugs, {items} items from {knowledge.facts_used} triples "
          f"(thresholds label {knowledge.min_label}, pubmed {knowledge.min_pubmed}); "
          f"compile {build_s:.2f} s, load from cache {load_s * 1000:.0f} ms, file {path.stat().st_size / 1024:.0f} KiB")
    service.knowledge  # noqa: B018 - warm
    for drug, kw in CASES:  # warm lexicons and caches
        service.run(drug, profile_from_args(kw.get("diplotypes", []), kw.get("phenotypes", []), kw.get("hla", []), service.table))

    samples = []
    for i in range(args.n):
        drug, kw = CASES[i % len(CASES)]
        start = time.perf_counter()
        profile = profile_from_args(kw.get("diplotypes", []), kw.get("phenotypes", []), kw.get("hla", []), service.table)
        service.run(drug, profile)
        samples.append((time.perf_counter() - start) * 1000)
    print(f"core check (parse + resolve + lookup): {percentiles(samples)}")

    cli = []
    for i in range(args.cli_runs):
        drug, kw = CASES[i % 6]
        argv = [sys.executable, "-m", "pgxlit.cli", "check", "--drug", drug, "--json"]
        for flag, key in (("--diplotype", "diplotypes"), ("--phenotype", "phenotypes"), ("--hla", "hla")):
            for v in kw.get(key, []):
                argv += [flag, v]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        cli.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            print("cli failed:", done.stderr[-500:])
    print(f"cli process `pgxlit check --json` (cold, {args.cli_runs} runs): median {statistics.median(cli):.0f} ms, "
          f"min {min(cli):.0f} ms")

    from fastapi.testclient import TestClient

    from pgxlit.web.server import create_app

    body = json.loads((REPO / "tests" / "fixtures" / "check" / "cds_order_select_clopidogrel.json").read_text())
    app = create_app(settings)
    app.state.check_service = service
    with TestClient(app) as client:
        for _ in range(20):
            client.post("/cds-services/pgxlit-order-select", json=body)
        samples = []
        for _ in range(args.n):
            start = time.perf_counter()
            r = client.post("/cds-services/pgxlit-order-select", json=body)
            samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text
    print(f"CDS Hooks order-select via TestClient: {percentiles(samples)} ({len(r.json()['cards'])} card)")

    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(20):
            client.post("/cds-services/pgxlit-order-select", json=body)
        samples = []
        for _ in range(args.http_n):
            start = time.perf_counter()
            r = client.post("/cds-services/pgxlit-order-select", json=body)
            samples.append((time.perf_counter() - start) * 1000)
    server.should_exit = True
    thread.join(timeout=5)
    print(f"CDS Hooks order-select over loopback HTTP (uvicorn): {percentiles(samples)}")
    print(f"memory: peak RSS {rss_mb():.0f} MB (interpreter + imports before loading {base_rss:.0f} MB)")


if __name__ == "__main__":
    main()
