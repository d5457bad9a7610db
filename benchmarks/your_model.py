"""Bring your own model: what `crossrank optimize` (static int8, checked) and the crossrank-tiny cascade give a
cross-encoder that is not built in, against sentence-transformers' `CrossEncoder` on the same weights, in one run.

For each `--model` (a folder of float weights): the optimisation itself (time, the quality guard's figures);
latency to rank one query's 100 BM25 candidates (p50/p95 over `--queries` queries; Cranfield abstracts and
web-length WikiQA passages, as `benchmarks/default_path.py` builds them) for sentence-transformers (torch
float32, the reference every ratio divides), crossrank's torch backend, crossrank float32 (`backend="onnx"`),
crossrank optimised (the default for such a folder) and optimised with crossrank-tiny first (best 15 to the
model); and nDCG@10 over BM25's top 100 on Cranfield and SciFact (test collections, measured only) for float32,
optimised and the cascade (`--quality-depth`, `--quality-queries`: fewer candidates or queries, for a model
too large to score every pair twice on a CPU; the JSON says which). Quality scores are kept in
runs/your-model-scores, so a rerun measures only speed.

    .venv/bin/python benchmarks/your_model.py --model runs/default-float-weights --threads 2 \
        --out benchmarks/results/your-model-KIND.json
    .venv/bin/python benchmarks/your_model.py --model runs/mpnet-ce --threads 2 --queries 10 \
        --quality-queries 100 --quality-depth 20 --out benchmarks/results/your-model-mpnet-KIND.json

(How both models were made: docs/experiments/your-model.md.)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from cascade import all_scores, candidates, cascade_run  # benchmarks/cascade.py
from crossrank import Reranker
from crossrank.corpora import Dataset, load_dataset
from crossrank.evaluation.metrics import mean, per_query
from crossrank.export.optimize import read_record
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.outputs import write_atomic
from default_path import cranfield_set, latency_rows, web_set  # benchmarks/default_path.py

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
REFERENCE = "sentence-transformers CrossEncoder (float32)"


def optimised(model: Path, threads: int, cache: Path) -> tuple[Reranker, dict[str, Any]]:
    """The model as crossrank loads it by default (optimised once into `cache`), and the optimisation's record."""
    start = time.perf_counter()
    reranker = Reranker(model, threads=threads, cache_dir=cache)
    seconds = time.perf_counter() - start
    record = read_record(Path(reranker.spec.path)) or {}
    return reranker, record | {"load_seconds_with_optimising": round(seconds, 1)}


def latency(model: Path, best: Reranker, threads: int, sets: dict[str, Any], cache: Path) -> list[dict[str, Any]]:
    """p50/p95 of each system per candidate set; every system ranks each query in turn."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(threads)
    st = CrossEncoder(str(model), device="cpu", max_length=best.spec.max_length)
    float32 = Reranker(model, backend="onnx", threads=threads, cascade_model=None, cache_dir=cache)
    cascade = Reranker(model, threads=threads, cascade_model="crossrank-tiny", cache_dir=cache)
    on_torch = Reranker(model, backend="torch", threads=threads, cascade_model=None)
    systems = {
        REFERENCE: lambda q, docs: st.rank(q, docs, batch_size=32),
        "crossrank torch (float32, the same weights as the reference)": on_torch.rerank,
        "crossrank float32": float32.rerank,
        "crossrank optimised": best.rerank,
        "crossrank optimised, crossrank-tiny first (best 15)": cascade.rerank,
    }
    found = []
    for name, (queries, shortlists) in sets.items():
        for system in systems.values():
            system(queries[0], shortlists[0])  # warm-up
        times: dict[str, list[float]] = {s: [] for s in systems}
        for query, docs in zip(queries, shortlists, strict=True):
            for system_name, system in systems.items():
                start = time.perf_counter()
                system(query, docs)
                times[system_name].append((time.perf_counter() - start) * 1000)
        found.append(latency_rows(name, queries, shortlists, times, best, REFERENCE))
    return found


def quality(
    model: Path, best: Reranker, data: Dataset, *, queries: int | None, depth: int, threads: int, cache: Path
) -> dict[str, Any]:
    """nDCG@10 of float32, optimised and the cascade over BM25's top `depth` (the first `queries` judged queries)."""
    asked, shortlist = candidates(data, depth)
    if queries is not None:
        asked = dict(list(asked.items())[:queries])
        shortlist = {q: shortlist[q] for q in asked}
    qrels = {q: data.qrels[q] for q in asked}
    scores_cache = ROOT / "runs" / "your-model-scores"
    float32 = Reranker(model, backend="onnx", threads=threads, cascade_model=None, cache_dir=cache)
    tiny = Reranker("crossrank-tiny", threads=threads)
    runs = {
        "float32": all_scores(float32, data, asked, shortlist, scores_cache),
        "optimised": all_scores(best, data, asked, shortlist, scores_cache),
    }
    runs["optimised, crossrank-tiny first (best 15)"] = cascade_run(
        all_scores(tiny, data, asked, shortlist, scores_cache), runs["optimised"], shortlist, 15
    )
    ndcg = {name: round(mean(per_query(qrels, run, ("nDCG@10",))["nDCG@10"]), 4) for name, run in runs.items()}
    return {"dataset": data.name, "queries": len(asked), "of_queries": len(data.qrels), "depth": depth, "ndcg@10": ndcg}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="a folder of float weights (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--queries", type=int, default=20, help="queries per candidate set for latency")
    parser.add_argument("--quality-queries", type=int, default=None, help="judged queries per collection (all)")
    parser.add_argument("--quality-depth", type=int, default=100, help="BM25 candidates reranked for nDCG@10")
    parser.add_argument("--skip", choices=["quality", "latency"], action="append", default=[])
    parser.add_argument("--out", type=Path, help="write the results as JSON here (benchmarks/results/...)")
    args = parser.parse_args()
    import onnxruntime

    machine = {"cpu": cpu_name(), "family": cpu_family(), "features": cpu_features(), "cores": os.cpu_count()}
    print(f"machine: {machine}; threads={args.threads}")
    cache = ROOT / "runs" / "your-model-cache"
    sets = {
        "web (WikiQA passages, ~80 tokens)": web_set(DATASETS / "wikiqa", queries=args.queries, seed=0),
        "cranfield (abstracts)": cranfield_set(DATASETS / "cranfield", queries=args.queries),
    }
    models = []
    for model in map(Path, args.model):
        best, record = optimised(model, args.threads, cache)
        print(f"\n{model}: {record.get('arithmetic')}, {record.get('agreement')}")
        entry: dict[str, Any] = {"model": model.name, "optimisation": record, "config": _shape(model)}
        if "latency" not in args.skip:
            entry["latency"] = latency(model, best, args.threads, sets, cache)
            for found in entry["latency"]:
                print(f"  {found['set']}: pair tokens median {found['pair_tokens']['median']}")
                for s in found["systems"]:
                    print(f"    {s['name']:<52} p50 {s['p50_ms']:7.0f} ms  {s['times_faster_than_reference']:5.1f}x")
        if "quality" not in args.skip:
            entry["quality"] = [
                quality(
                    model,
                    best,
                    load_dataset(DATASETS / name),
                    queries=args.quality_queries,
                    depth=args.quality_depth,
                    threads=args.threads,
                    cache=cache,
                )
                for name in ("cranfield", "scifact")
            ]
            for found in entry["quality"]:
                print(f"  {found['dataset']} ({found['queries']} queries): {found['ndcg@10']}")
        models.append(entry)
    body = {
        "kind": "benchmarks/your_model.py",
        "machine": machine,
        "threads": args.threads,
        "versions": {"onnxruntime": onnxruntime.__version__},
        "models": models,
    }
    if args.out:
        write_atomic(args.out, json.dumps(body, indent=1) + "\n")
        print(f"\nwritten to {args.out}")


def _shape(model: Path) -> dict[str, Any]:
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    keys = ("model_type", "num_hidden_layers", "hidden_size")
    return {k: config.get(k) for k in keys}


if __name__ == "__main__":
    main()
