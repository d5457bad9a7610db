"""Throughput, arithmetic ceiling, quality and latency of crossrank's CPU backends, in one run.

1. Throughput: sentence-transformers' CrossEncoder (torch fp32) and every crossrank backend on the same model
   folder, the same (query, passage) pairs (Cranfield queries with a deterministic spread of Cranfield
   abstracts), the same thread count and window. Repeats are interleaved across systems and the best kept,
   so a noisy neighbour slows every system alike. Prints pairs/s, the ratio to sentence-transformers, the
   largest score difference and the top-10 overlap with its ranking.
2. Ceiling: FLOPs per pair from the model's shape and the real (unpadded) tokens of every pair, against a
   GEMM peak measured here on the same threads (fp32: torch matmul; int8: ONNX Runtime MatMulInteger u8s8),
   at the model's own matrix shapes.
3. Quality and latency of the built-in model: Cranfield BM25 top-100 reranked by the shipped int8 model and
   by its fp32 reference (the training folder, `--reference`); nDCG@10 of both, the delta, the top-10
   overlap of the two rankings, and p50/p95 latency to rerank one query's 100 passages; the same for the
   int8 model run as a cascade (every passage on a short window, the best `--cascade-keep` on the full one).

    .venv/bin/python benchmarks/throughput.py --model models/minilm-untrained --reference runs/default --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from crossrank import Reranker
from crossrank.corpora import load_cranfield
from crossrank.machine import describe

Scorer = Callable[[list[tuple[str, str]]], Sequence[float]]
ROOT = Path(__file__).resolve().parents[1]


def make_pairs(dataset_dir: Path, *, queries: int, per_query: int) -> list[tuple[str, str]]:
    data = load_cranfield(dataset_dir)
    doc_ids = list(data.corpus)
    query_texts = list(data.queries.values())[:queries]
    return [
        (q, data.corpus[doc_ids[(qi * 37 + j * 13) % len(doc_ids)]].text)
        for qi, q in enumerate(query_texts)
        for j in range(per_query)
    ]


def time_all(
    systems: dict[str, Scorer], pairs: list[tuple[str, str]], repeats: int
) -> dict[str, tuple[float, np.ndarray]]:
    """Best pairs/s of each system over `repeats` rounds; each round runs every system once, in turn."""
    for score in systems.values():
        score(pairs[:16])  # warm-up: allocations, ONNX sessions, thread pools
    best = dict.fromkeys(systems, float("inf"))
    scores: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, score in systems.items():
            start = time.perf_counter()
            scores[name] = np.asarray(score(pairs), dtype=np.float64)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (len(pairs) / best[name], scores[name]) for name in systems}


def top10_overlap(a: np.ndarray, b: np.ndarray, per_query: int) -> float:
    overlaps = []
    for start in range(0, len(a), per_query):
        top_a = set(np.argsort(-a[start : start + per_query])[:10])
        top_b = set(np.argsort(-b[start : start + per_query])[:10])
        overlaps.append(len(top_a & top_b) / 10)
    return float(np.mean(overlaps))


def flops_per_pair(config: object, tokens: int) -> float:
    """Multiply-adds x 2 of one encoder pass over `tokens` real tokens: projections, attention, feed-forward."""
    hidden = int(config.hidden_size)  # type: ignore[attr-defined]
    inter = int(config.intermediate_size)  # type: ignore[attr-defined]
    layers = int(config.num_hidden_layers)  # type: ignore[attr-defined]
    per_layer = tokens * (4 * hidden * hidden + 2 * hidden * inter) + 2 * tokens * tokens * hidden
    return 2.0 * layers * per_layer


def _giga_ops_per_second(run: Callable[[], object], ops: float, *, runs: int = 20) -> float:
    run()  # warm-up
    start = time.perf_counter()
    for _ in range(runs):
        run()
    return ops * runs / (time.perf_counter() - start) / 1e9


def gemm_peak_fp32(shapes: list[tuple[int, int, int]], threads: int) -> float:
    """Best GFLOP/s of torch fp32 matmul at the given (M, K, N) shapes on `threads` threads."""
    import torch

    torch.set_num_threads(threads)
    best = 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        best = max(best, _giga_ops_per_second(lambda: torch.matmul(a, b), 2 * m * k * n))  # noqa: B023
    return best


def gemm_peak_int8(shapes: list[tuple[int, int, int]], threads: int) -> float:
    """Best GOP/s of ONNX Runtime's MatMulInteger (uint8 x int8, the kernel dynamic int8 models run)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    best = 0.0
    rng = np.random.default_rng(0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    for m, k, n in shapes:
        weight = numpy_helper.from_array(rng.integers(-127, 127, (k, n), dtype=np.int8), "B")
        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
            "gemm",
            [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
            [helper.make_tensor_value_info("Y", TensorProto.INT32, [m, n])],
            [weight],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        feed = {"A": rng.integers(0, 255, (m, k), dtype=np.uint8)}
        best = max(best, _giga_ops_per_second(lambda: session.run(None, feed), 2 * m * k * n))  # noqa: B023
    return best


def throughput_section(args: argparse.Namespace) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(args.threads)
    pairs = make_pairs(Path(args.dataset), queries=args.queries, per_query=args.per_query)
    probe = Reranker(args.model, backend="onnx", max_length=args.max_length, threads=args.threads)
    lengths = [len(ids) for q, d in pairs for ids in probe.encoder.encode(q, [d]).ids]
    print(f"model: {args.model} ({probe.spec.model_type}), max_length={args.max_length}, batch_size={args.batch_size}")
    print(
        f"pairs: {len(pairs)} Cranfield (query, abstract) pairs, tokens per pair: "
        f"median {int(statistics.median(lengths))}, min {min(lengths)}, max {max(lengths)}"
    )
    st = CrossEncoder(args.model, device="cpu", max_length=args.max_length)
    reference = "sentence-transformers CrossEncoder (torch fp32)"
    systems: dict[str, Scorer] = {
        reference: lambda p: st.predict(p, batch_size=args.batch_size, show_progress_bar=False)  # type: ignore[no-any-return]
    }
    for backend in args.backends.split(","):
        reranker = Reranker(
            args.model, backend=backend, max_length=args.max_length, batch_size=args.batch_size, threads=args.threads
        )
        systems[f"crossrank {backend}"] = reranker.score
    measured = time_all(systems, pairs, args.repeats)

    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(args.model)
    work = sum(flops_per_pair(config, n) for n in lengths) / len(pairs)
    hidden, inter = int(config.hidden_size), int(config.intermediate_size)
    shapes = [(2048, hidden, 3 * hidden), (2048, hidden, inter), (2048, inter, hidden)]
    peak32, peak8 = gemm_peak_fp32(shapes, args.threads), gemm_peak_int8(shapes, args.threads)
    print(
        f"work: {work / 1e9:.2f} GFLOP per pair on average (real tokens, no padding); GEMM peak on {args.threads} "
        f"threads at this model's shapes: fp32 {peak32:.0f} GFLOP/s, int8 {peak8:.0f} GOP/s"
    )
    base_rate, base_scores = measured[reference]
    columns = f"{'pairs/s':>8} {'x ST':>6} {'max |d| vs ST':>14} {'top-10 overlap':>15} {'GFLOP/s':>8} {'of peak':>8}"
    print(f"\n{'system':<48} {columns}")
    for name, (rate, scores) in measured.items():
        diff = float(np.abs(scores - base_scores).max())
        overlap = top10_overlap(scores, base_scores, args.per_query)
        achieved = rate * work / 1e9
        peak = peak8 if "int8" in name else peak32
        print(
            f"{name:<48} {rate:>8.1f} {rate / base_rate:>6.2f} {diff:>14.2e} {overlap:>15.2f} "
            f"{achieved:>8.0f} {achieved / peak:>8.0%}"
        )


def _top10(scores: dict[str, float]) -> set[str]:
    return set(sorted(scores, key=scores.__getitem__, reverse=True)[:10])


def quality_section(args: argparse.Namespace) -> None:
    from crossrank.evaluation.harness import build_retrievers, evaluate, percentile

    reference = Path(args.reference)
    if not (reference / "config.json").is_file():
        print(
            f"\nquality: skipped, no fp32 reference at {reference}; it is the training folder of the built-in "
            "model (bash scripts/train_default.sh writes runs/default)"
        )
        return
    data = load_cranfield(Path(args.dataset))
    retrievers = build_retrievers(data, ["bm25"])
    shipped = Reranker(backend="onnx-int8", threads=args.threads, cascade_model=None)
    fp32 = Reranker(str(reference), backend="onnx", threads=args.threads)
    cascade = Reranker(
        backend="onnx-int8", threads=args.threads, cascade_keep=args.cascade_keep, cascade_length=args.cascade_length
    )
    results = evaluate(data, retrievers, rerankers=[fp32, shipped, cascade], k=100, max_queries=args.quality_queries)
    bm25, ref_stage, int8_stage, cascade_stage = results
    ndcg = {s.name: s.scores["nDCG@10"] for s in results}
    print(
        f"\nquality: Cranfield, {len(ref_stage.run)} queries, BM25 top-100 reranked by the built-in model "
        f"(fp32 reference: {reference})"
    )
    print(
        f"  nDCG@10  BM25 {ndcg[bm25.name]:.4f}  fp32 {ndcg[ref_stage.name]:.4f}  "
        f"shipped int8 {ndcg[int8_stage.name]:.4f}"
    )
    for stage, label in ((int8_stage, "shipped int8"), (cascade_stage, "cascade")):
        overlap = np.mean([len(_top10(ref_stage.run[q]) & _top10(stage.run[q])) / 10 for q in ref_stage.run])
        print(
            f"  delta {label} - fp32: {ndcg[stage.name] - ndcg[ref_stage.name]:+.4f} "
            f"(nDCG@10 {ndcg[stage.name]:.4f}); top-10 overlap with fp32 {overlap:.3f}"
        )
    labels = (
        (int8_stage, "shipped int8"),
        (cascade_stage, f"int8 cascade: all at {args.cascade_length} tokens, best {args.cascade_keep} in full"),
        (ref_stage, "fp32 onnx"),
    )
    for stage, label in labels:
        print(
            f"  latency to rerank 100 passages ({label}, {args.threads} threads): "
            f"p50 {percentile(stage.latency_ms, 50):.0f} ms, p95 {percentile(stage.latency_ms, 95):.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models/minilm-untrained"), help="model for throughput")
    parser.add_argument("--reference", default=str(ROOT / "runs/default"), help="fp32 training folder of the default")
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared/datasets/cranfield"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--queries", type=int, default=6)
    parser.add_argument("--per-query", type=int, default=50)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="onnx,onnx-int8,torch")
    parser.add_argument("--cascade-keep", type=int, default=30, help="section 3: documents the cascade keeps")
    parser.add_argument("--cascade-length", type=int, default=64, help="section 3: the cascade's first-pass window")
    parser.add_argument("--quality-queries", type=int, default=None, help="Cranfield queries for section 3 (all)")
    parser.add_argument("--skip", choices=["throughput", "quality"], action="append", default=[])
    args = parser.parse_args()
    print(f"machine: {describe()}, {os.cpu_count()} logical cores; threads={args.threads}")
    if "throughput" not in args.skip:
        throughput_section(args)
    if "quality" not in args.skip:
        quality_section(args)


if __name__ == "__main__":
    main()
