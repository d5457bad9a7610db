"""Load on `crossrank serve` from a second process over loopback: throughput, latency, and /health under load.

Starts the server as a subprocess, waits for /health, then for 1, 8 and 32 concurrent clients sends
50-document /v2/rerank requests (Cranfield abstracts, bounded by --requests and --seconds per level), and
finally probes /health every 10 ms while two 1,000-document requests are scored (its p50 / p99 show whether
anything blocks the event loop). `--baseline-src DIR` first runs the same load against the server code in
another checkout's `src` (e.g. a `git worktree` of an older commit), so both tables come from one run.

    .venv/bin/python benchmarks/server_load.py --requests 24 --baseline-src /tmp/before/src
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

from crossrank.corpora import load_cranfield
from crossrank.machine import describe


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


async def health_under_load(url: str, payload: dict[str, object]) -> dict[str, float]:
    """/health latency, probed every 10 ms while two large requests are being scored."""
    probes: list[float] = []
    done = asyncio.Event()

    async def probe(http: httpx.AsyncClient) -> None:
        while not done.is_set():
            start = time.perf_counter()
            await http.get(f"{url}/health")
            probes.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)

    async with httpx.AsyncClient(timeout=300) as http:
        prober = asyncio.create_task(probe(http))
        statuses = [
            r.status_code
            for r in await asyncio.gather(*(http.post(f"{url}/v2/rerank", json=payload) for _ in range(2)))
        ]
        done.set()
        await prober
    ms = np.array(probes) * 1000
    return {
        "ok": statuses.count(200),
        "probes": len(probes),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def run_server(
    src: str | None, args: argparse.Namespace, payloads: list[dict[str, object]], large: dict[str, object]
) -> None:
    """Start one server (from `src`, or this checkout), print its table, stop it."""
    port = free_port()
    command = [sys.executable, "-m", "crossrank.cli", "serve", "--port", str(port), "--threads", str(args.threads)]
    if args.model:
        command += ["--model", args.model]
    if args.backend:
        command += ["--backend", args.backend]
    env = {**os.environ, **({"PYTHONPATH": src} if src else {})}
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL, env=env)
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
        print(f"\nserver code: {src or 'this checkout'}")
        print(
            f"model: {model['id']} ({model['backend']}, max_length {model['max_length']}); "
            "50 Cranfield abstracts per request"
        )
        header = ("clients", "requests", "ok", "req/s", "pairs/s", "p50 ms", "p95 ms", "p99 ms")
        print(" ".join(f"{h:>8}" for h in header))
        for clients in (1, 8, 32):
            r = asyncio.run(level(url, clients, args.requests, args.seconds, payloads))
            print(
                f"{clients:>8} {r['requests']:>8} {r['ok']:>8} {r['req_per_s']:>8.2f} {r['pairs_per_s']:>8.1f} "
                f"{r['p50']:>8.0f} {r['p95']:>8.0f} {r['p99']:>8.0f}"
            )
        h = asyncio.run(health_under_load(url, large))
        print(
            f"/health while 2 requests of {len(large['documents'])} documents are scored ({h['ok']} ok): "
            f"{h['probes']} probes, p50 {h['p50']:.1f} ms, p99 {h['p99']:.1f} ms, max {h['max']:.0f} ms"
        )
    finally:
        server.terminate()
        server.wait(timeout=60)


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
    parser.add_argument("--baseline-src", default=None, help="another checkout's src folder to run first")
    args = parser.parse_args()

    data = load_cranfield(Path(args.dataset))
    docs = [p.text for p in data.corpus.values()]
    queries = list(data.queries.values())
    payloads: list[dict[str, object]] = [
        {"query": q, "documents": [docs[(i * 50 + j) % len(docs)] for j in range(50)]}
        for i, q in enumerate(queries[:32])
    ]
    large: dict[str, object] = {"query": queries[0], "documents": [docs[j % len(docs)] for j in range(1000)]}
    print(f"machine: {describe()}, {os.cpu_count()} cores; server threads={args.threads}")
    for src in ([args.baseline_src] if args.baseline_src else []) + [None]:
        run_server(src, args, payloads, large)


if __name__ == "__main__":
    main()
