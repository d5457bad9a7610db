"""Throughput: crossrank backends against sentence-transformers' CrossEncoder, in one run.

Same model folder, same (query, passage) pairs, same thread count, same window. Pairs are Cranfield queries
with a deterministic spread of Cranfield abstracts (a mix of lengths). Prints pairs/s for every system, the
ratio to sentence-transformers, the largest score difference and the top-10 overlap with its ranking.

    .venv/bin/python benchmarks/throughput.py --model models/minilm-untrained --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from crossrank import Reranker
from crossrank.evaluation.loaders import load_cranfield
from crossrank.evaluation.report import cpu_name


def make_pairs(dataset_dir: Path, *, queries: int, per_query: int) -> list[tuple[str, str]]:
    data = load_cranfield(dataset_dir)
    doc_ids = list(data.corpus)
    query_texts = list(data.queries.values())[:queries]
    return [
        (q, data.corpus[doc_ids[(qi * 37 + j * 13) % len(doc_ids)]].text)
        for qi, q in enumerate(query_texts)
        for j in range(per_query)
    ]


def time_it(fn, pairs: list[tuple[str, str]], repeats: int) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
    fn(pairs[:16])  # warm-up: allocations, ONNX session, thread pools
    best = float("inf")
    scores = np.zeros(0)
    for _ in range(repeats):
        start = time.perf_counter()
        scores = np.asarray(fn(pairs), dtype=np.float64)
        best = min(best, time.perf_counter() - start)
    return len(pairs) / best, scores


def top10_overlap(a: np.ndarray, b: np.ndarray, per_query: int) -> float:
    overlaps = []
    for start in range(0, len(a), per_query):
        top_a = set(np.argsort(-a[start : start + per_query])[:10])
        top_b = set(np.argsort(-b[start : start + per_query])[:10])
        overlaps.append(len(top_a & top_b) / 10)
    return float(np.mean(overlaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/minilm-untrained")
    parser.add_argument(
        "--dataset", default=str(Path(__file__).resolve().parents[1].parent / "shared/datasets/cranfield")
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--queries", type=int, default=6)
    parser.add_argument("--per-query", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backends", default="onnx,onnx-int8,torch")
    args = parser.parse_args()

    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(args.threads)
    pairs = make_pairs(Path(args.dataset), queries=args.queries, per_query=args.per_query)
    probe = Reranker(args.model, backend="onnx", max_length=args.max_length, threads=args.threads)
    lengths = [len(ids) for ids in probe.encoder.encode(pairs[0][0], [d for _, d in pairs[: args.per_query]]).ids]
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical cores; threads={args.threads}")
    print(f"model: {args.model} ({probe.spec.model_type}), max_length={args.max_length}, batch_size={args.batch_size}")
    print(
        f"pairs: {len(pairs)} Cranfield (query, abstract) pairs, tokens per pair: "
        f"median {int(statistics.median(lengths))}, min {min(lengths)}, max {max(lengths)}"
    )

    st = CrossEncoder(args.model, device="cpu", max_length=args.max_length)
    rows: list[tuple[str, float, np.ndarray]] = []
    rate, st_scores = time_it(
        lambda p: st.predict(p, batch_size=args.batch_size, show_progress_bar=False), pairs, args.repeats
    )
    rows.append(("sentence-transformers CrossEncoder (torch fp32)", rate, st_scores))
    for backend in args.backends.split(","):
        reranker = Reranker(
            args.model, backend=backend, max_length=args.max_length, batch_size=args.batch_size, threads=args.threads
        )
        rate, scores = time_it(reranker.score, pairs, args.repeats)
        rows.append((f"crossrank {backend}", rate, scores))

    base = rows[0][1]
    print(f"\n{'system':<50} {'pairs/s':>8} {'x ST':>6} {'max |d| vs ST':>14} {'top-10 overlap':>15}")
    for name, rate, scores in rows:
        diff = float(np.abs(scores - st_scores).max())
        overlap = top10_overlap(scores, st_scores, args.per_query)
        print(f"{name:<50} {rate:>8.1f} {rate / base:>6.2f} {diff:>14.2e} {overlap:>15.2f}")


if __name__ == "__main__":
    main()
