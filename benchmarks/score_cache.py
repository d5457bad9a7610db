"""The score cache on a replayed workload: `crossrank serve` with `--cache-mb 64` against `--cache-mb 0`, in one run.

A RAG workload sends the same (query, document) pairs again: here a stream of /v2/rerank requests of 30 Cranfield
abstracts each, in which `--repeat` of the requests (default half) replay an earlier request's query and
documents. Each server is a subprocess on loopback; one client sends the same stream to both, one request at a
time, and the answers are checked equal. Prints requests per second, p50 latency and the ratio.

    .venv/bin/python benchmarks/score_cache.py --requests 60
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from crossrank.corpora import load_cranfield
from crossrank.machine import describe

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def workload(requests: int, repeat: float, seed: int) -> list[dict[str, object]]:
    """`requests` bodies; a share `repeat` of them replay an earlier one (its query and documents)."""
    data = load_cranfield(ROOT.parent / "shared" / "datasets" / "cranfield")
    texts = [d.full_text for d in data.corpus.values()]
    queries = list(data.queries.values())
    rng = random.Random(seed)
    bodies: list[dict[str, object]] = []
    for _ in range(requests):
        if bodies and rng.random() < repeat:
            bodies.append(rng.choice(bodies))
        else:
            bodies.append({"query": rng.choice(queries), "documents": rng.sample(texts, 30)})
    return bodies


def serve_and_time(cache_mb: float, bodies: list[dict[str, object]], threads: int) -> tuple[list[float], list[object]]:
    port = free_port()
    command = [sys.executable, "-m", "crossrank.cli", "serve", "--port", str(port), "--threads", str(threads)]
    server = subprocess.Popen([*command, "--cache-mb", str(cache_mb)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        times, answers = [], []
        with httpx.Client(timeout=120) as client:
            for body in bodies:
                started = time.perf_counter()
                answer = client.post(f"{url}/v2/rerank", json=body)
                times.append(time.perf_counter() - started)
                answers.append([(r["index"], r["relevance_score"]) for r in answer.json()["results"]])
        return times, answers
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--repeat", type=float, default=0.5, help="share of requests that replay an earlier one")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    bodies = workload(args.requests, args.repeat, seed=0)
    print(f"machine: {describe()}, {os.cpu_count()} logical cores; threads={args.threads}")
    print(f"{args.requests} /v2/rerank requests of 30 Cranfield abstracts, {args.repeat:.0%} replayed, one at a time")
    results = {label: serve_and_time(mb, bodies, args.threads) for label, mb in (("no cache", 0.0), ("cache", 64.0))}
    assert results["cache"][1] == results["no cache"][1], "the cache changed an answer"
    rates = {label: len(times) / sum(times) for label, (times, _) in results.items()}
    for label, (times, _) in results.items():
        print(f"  {label:<9} {rates[label]:6.2f} requests/s, p50 {statistics.median(times) * 1000:6.0f} ms")
    print(f"  throughput with the cache: {rates['cache'] / rates['no cache']:.2f}x (answers identical)")


if __name__ == "__main__":
    main()
