"""Load on `crossrank serve` from a second process over loopback: throughput and latency percentiles.

Starts the server as a subprocess, waits for /health, then for 1, 8 and 32 concurrent clients sends
50-document /v2/rerank requests (Cranfield abstracts, bounded by --requests and --seconds per level).

    .venv/bin/python benchmarks/server_load.py --model M --requests 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from crossrank.evaluation.loaders import load_cranfield
from crossrank.evaluation.report import cpu_name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def level(
    url: str, clients: int, requests: int, seconds: float, payloads: list[dict[str, object]]
) -> dict[str, float]:
    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.monotonic() + seconds
    counter = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        for i in counter:
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            response = await http.post(f"{url}/v2/rerank", json=payloads[i % len(payloads)])
            latencies.append(time.perf_counter() - start)
            statuses.append(response.status_code)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "ok": statuses.count(200),
        "req_per_s": len(latencies) / wall,
        "pairs_per_s": 50 * statuses.count(200) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the built-in model)")
    parser.add_argument("--backend", default=None)
    parser.add_argument(
        "--dataset", default=str(Path(__file__).resolve().parents[1].parent / "shared/datasets/cranfield")
    )
    parser.add_argument("--requests", type=int, default=64, help="requests per concurrency level")
    parser.add_argument("--seconds", type=float, default=120, help="time bound per concurrency level")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    data = load_cranfield(Path(args.dataset))
    docs = [p.text for p in data.corpus.values()]
    queries = list(data.queries.values())
    payloads: list[dict[str, object]] = [
        {"query": q, "documents": [docs[(i * 50 + j) % len(docs)] for j in range(50)]}
        for i, q in enumerate(queries[:32])
    ]
    port = free_port()
    command = [sys.executable, "-m", "crossrank.cli", "serve", "--port", str(port), "--threads", str(args.threads)]
    if args.model:
        command += ["--model", args.model]
    if args.backend:
        command += ["--backend", args.backend]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            sys.exit("server did not become ready")
        model = httpx.get(f"{url}/v1/models").json()["data"][0]
        print(f"machine: {cpu_name()}, {os.cpu_count()} cores; server threads={args.threads}")
        setup = f"{model['id']} ({model['backend']}, max_length {model['max_length']})"
        print(f"model: {setup}; 50 Cranfield abstracts per request")
        header = ("clients", "requests", "ok", "req/s", "pairs/s", "p50 ms", "p95 ms", "p99 ms")
        print(" ".join(f"{h:>8}" for h in header))
        for clients in (1, 8, 32):
            r = asyncio.run(level(url, clients, args.requests, args.seconds, payloads))
            print(
                f"{clients:>8} {r['requests']:>8} {r['ok']:>8} {r['req_per_s']:>8.2f} {r['pairs_per_s']:>8.1f} "
                f"{r['p50']:>8.0f} {r['p95']:>8.0f} {r['p99']:>8.0f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
