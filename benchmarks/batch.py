"""`crossrank batch` here against `crossrank batch --ray` on the same machine, same input, one run.

Input: Cranfield queries with their BM25 top-`k` (written once as batch rows). Local: one process, `--threads`
threads. Ray: a local Ray with `--threads` CPUs, that many one-CPU actors. Prints pairs/s of each, Ray's
overhead (its time over the local time), and checks that both wrote the same bytes.

    .venv/bin/python benchmarks/batch.py --queries 225 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from crossrank.batch import Workers, rerank_file
from crossrank.corpora import load_cranfield
from crossrank.evaluation.harness import build_retrievers
from crossrank.machine import describe
from crossrank.settings import ModelSettings

ROOT = Path(__file__).resolve().parents[1]


def write_rows(path: Path, *, queries: int, k: int) -> int:
    data = load_cranfield(ROOT.parent / "shared" / "datasets" / "cranfield")
    chosen = dict(list(data.judged_queries().items())[:queries])
    doc_ids = list(data.corpus)
    hits = build_retrievers(data, ["bm25"])["bm25"].retrieve(list(chosen.values()), k=k)
    with path.open("w", encoding="utf-8") as sink:
        for (qid, query), h in zip(chosen.items(), hits, strict=True):
            documents = [{"id": doc_ids[p], "text": data.corpus[doc_ids[p]].full_text} for p in h.positions.tolist()]
            sink.write(json.dumps({"id": qid, "query": query, "documents": documents}) + "\n")
    return sum(1 for _ in hits) * k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model (default: the built-in crossrank-default)")
    parser.add_argument("--queries", type=int, default=225)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=8)
    args = parser.parse_args()
    import ray

    print(f"machine: {describe()}, {os.cpu_count()} logical cores; threads / Ray CPUs = {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "rows.jsonl"
        pairs = write_rows(rows, queries=args.queries, k=args.k)
        model = args.model or "crossrank-default"
        print(f"input: {args.queries} Cranfield queries x BM25 top-{args.k} = {pairs} pairs, model {model}")
        local_settings = ModelSettings(model=args.model, threads=args.threads)
        start = time.perf_counter()
        local = rerank_file(rows, Path(tmp) / "local", model=local_settings, chunk_rows=args.chunk_rows)
        local_s = time.perf_counter() - start
        ray.init(num_cpus=args.threads, include_dashboard=False, log_to_driver=False)
        workers = Workers(ray_address="local", actors=args.threads, cpus_per_actor=1)
        start = time.perf_counter()
        on_ray = rerank_file(
            rows, Path(tmp) / "ray", model=ModelSettings(model=args.model), chunk_rows=args.chunk_rows, workers=workers
        )
        ray_s = time.perf_counter() - start
        ray.shutdown()
        same = local.path.read_bytes() == on_ray.path.read_bytes()
    print(f"  local  {local_s:8.1f} s  {pairs / local_s:7.1f} pairs/s")
    print(f"  ray    {ray_s:8.1f} s  {pairs / ray_s:7.1f} pairs/s  (Ray start-up and actor model loads included)")
    print(f"  Ray's overhead: {ray_s / local_s - 1:+.1%} of the local time; identical output: {same}")


if __name__ == "__main__":
    main()
