"""The default path's speed, against the built-in model alone and sentence-transformers, in one run.

Two candidate sets of 100 BM25 candidates per query: Cranfield abstracts (long, ~200 tokens with the query)
and web-length passages (~80 tokens, like MS MARCO's) made from WikiQA's Wikipedia sentences (consecutive
sentences of one article joined to at least 45 words), searched with WikiQA's questions. For each query every
system ranks the same candidates, in turn (so a busy moment hits them all): the default path
(`Reranker()`: crossrank-tiny -> crossrank-default, static int8), the same path in float32, the built-in
model alone (static int8 and float32), and sentence-transformers' `CrossEncoder` on the built-in
architecture's float32 weights (the reference every ratio divides). Also: where the default path's time goes
(tokenizing, the tiny pass, the full pass, the rest), and how often its top 10 equals the float32 path's.

    .venv/bin/python benchmarks/default_path.py --threads 2 --out benchmarks/results/default-path-KIND.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crossrank import Reranker
from crossrank.corpora import load_dataset, wikiqa_passages
from crossrank.evaluation.harness import percentile
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.outputs import write_atomic
from crossrank.retrieval.bm25 import BM25Retriever

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
REFERENCE = "sentence-transformers CrossEncoder, float32"
SYSTEMS = (
    "default path (static int8)",
    "default path (float32)",
    "crossrank-default alone (static int8)",
    "crossrank-default alone (float32)",
    REFERENCE,
)


def web_set(folder: Path, *, queries: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """WikiQA questions and, for each, the BM25 top-100 of every question's article sentences joined into
    passages of >= 45 words (questions, in a seeded order, whose words match at least 100 passages)."""
    groups: dict[str, tuple[str, list[str]]] = {}
    with (folder / "WikiQA-train.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            question = line.split("\t")[1]
            groups.setdefault(question, (question, []))
    passages = [text for _, text in wikiqa_passages(folder / "WikiQA-train.tsv")]
    rng = np.random.default_rng(seed)
    order = [groups[k][0] for k in rng.permutation(sorted(groups))]
    shortlists = _top100(order, passages)
    full = [(q, s) for q, s in zip(order, shortlists, strict=True) if len(s) == 100][:queries]
    return [q for q, _ in full], [s for _, s in full]


def cranfield_set(folder: Path, *, queries: int) -> tuple[list[str], list[list[str]]]:
    """The first judged Cranfield queries and their BM25 top-100 abstracts."""
    data = load_dataset(folder)
    asked = list(data.judged_queries().values())[:queries]
    return asked, _top100(asked, [d.full_text for d in data.corpus.values()])


def _top100(queries: list[str], texts: list[str]) -> list[list[str]]:
    bm25 = BM25Retriever.build(texts)
    return [[texts[p] for p in hit.positions.tolist()] for hit in bm25.retrieve(queries, k=100)]


def systems(threads: int) -> tuple[dict[str, Callable[[str, list[str]], Any]], Reranker, Reranker]:
    """Each system as a function ranking one query's candidates; and the default path in int8 and in float32."""
    import torch
    from sentence_transformers import CrossEncoder

    from crossrank.basemodels import default_as_base

    torch.set_num_threads(threads)
    default = Reranker(threads=threads)
    default_float = Reranker(backend="onnx", threads=threads)
    alone = Reranker(cascade_model=None, threads=threads)
    alone_float = Reranker(backend="onnx", cascade_model=None, threads=threads)
    st = CrossEncoder(str(default_as_base()), device="cpu", max_length=alone.spec.max_length)
    run = dict(
        zip(
            SYSTEMS,
            [
                default.rerank,
                default_float.rerank,
                alone.rerank,
                alone_float.rerank,
                lambda q, docs: st.rank(q, docs, batch_size=32),
            ],
            strict=True,
        )
    )
    return run, default, default_float


def profile(reranker: Reranker, query: str, docs: list[str]) -> dict[str, float]:
    """Milliseconds of each step of the default path on one query (the steps `rerank` takes, timed apart)."""
    assert reranker.cascade is not None and reranker.cascade.scorer is not None
    start = time.perf_counter()
    encoded = reranker.encode(query, docs)
    tokenized = time.perf_counter()
    assert encoded.first_pass is not None
    reranker.cascade.scorer.engine.score_documents(
        [encoded.first_pass], [encoded.unique], raw=True, show_progress=False
    )
    tiny = time.perf_counter()
    kept = np.arange(min(reranker.cascade.keep, encoded.unique))
    reranker.engine.score_documents([encoded.pairs.select(kept)], [len(kept)], raw=False, show_progress=False)
    full = time.perf_counter()
    begin_all = time.perf_counter()
    reranker.rerank_encoded([reranker.encode(query, docs)])
    whole = (time.perf_counter() - begin_all) * 1000
    steps = {
        "tokenize": (tokenized - start) * 1000,
        "tiny pass": (tiny - tokenized) * 1000,
        "full pass": (full - tiny) * 1000,
    }
    steps["the rest"] = max(whole - sum(steps.values()), 0.0)
    return steps


def measure(
    name: str,
    queries: list[str],
    shortlists: list[list[str]],
    loaded: tuple[dict[str, Callable[[str, list[str]], Any]], Reranker, Reranker],
) -> dict[str, Any]:
    """p50/p95 of every system over the queries, the default path's profile and its top-10 agreement."""
    run, default, default_float = loaded
    for system in run.values():  # warm up: first calls allocate
        system(queries[0], shortlists[0])
    times: dict[str, list[float]] = {s: [] for s in run}
    steps: list[dict[str, float]] = []
    same_top10 = 0
    for query, docs in zip(queries, shortlists, strict=True):
        for system_name, system in run.items():
            start = time.perf_counter()
            system(query, docs)
            times[system_name].append((time.perf_counter() - start) * 1000)
        steps.append(profile(default, query, docs))
        ours = [r.index for r in default.rerank(query, docs)][:10]
        same_top10 += ours == [r.index for r in default_float.rerank(query, docs)][:10]
    return latency_rows(name, queries, shortlists, times, default, REFERENCE) | {
        "profile_ms": {k: statistics.median(p[k] for p in steps) for k in steps[0]},
        "top10_same_as_float32": same_top10 / len(queries),
    }


def latency_rows(
    name: str,
    queries: list[str],
    shortlists: list[list[str]],
    times: dict[str, list[float]],
    reranker: Reranker,
    reference: str,
) -> dict[str, Any]:
    """One candidate set's figures: its pairs' token counts and each system's p50 / p95 and ratio to `reference`."""
    lengths = [
        len(ids) for q, docs in zip(queries, shortlists, strict=True) for ids in reranker.encoder.encode(q, docs).ids
    ]
    base = percentile(times[reference], 50)
    return {
        "set": name,
        "queries": len(queries),
        "candidates": 100,
        "pair_tokens": {"median": int(statistics.median(lengths)), "max": int(max(lengths))},
        "systems": [
            {
                "name": s,
                "p50_ms": percentile(v, 50),
                "p95_ms": percentile(v, 95),
                "times_faster_than_reference": base / percentile(v, 50),
            }
            for s, v in times.items()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--queries", type=int, default=20, help="queries per candidate set")
    parser.add_argument("--out", type=Path, help="write the results as JSON here (e.g. benchmarks/results/...)")
    args = parser.parse_args()
    import onnxruntime

    machine = {
        "cpu": cpu_name(),
        "family": cpu_family(),
        "features": cpu_features(),
        "cores": os.cpu_count(),
    }
    print(f"machine: {machine}; threads={args.threads}")
    sets = {
        "web (WikiQA passages, ~80 tokens)": web_set(DATASETS / "wikiqa", queries=args.queries, seed=0),
        "cranfield (abstracts)": cranfield_set(DATASETS / "cranfield", queries=args.queries),
    }
    results = []
    loaded = systems(args.threads)
    for name, (queries, shortlists) in sets.items():
        found = measure(name, queries, shortlists, loaded)
        results.append(found)
        print(f"\n{name}: {found['queries']} queries x 100, pair tokens median {found['pair_tokens']['median']}")
        for s in found["systems"]:
            print(
                f"  {s['name']:<42} p50 {s['p50_ms']:7.0f} ms  p95 {s['p95_ms']:7.0f} ms  "
                f"{s['times_faster_than_reference']:5.1f}x the reference"
            )
        print("  default path, median ms per step:", {k: round(v, 1) for k, v in found["profile_ms"].items()})
        print(f"  top 10 identical to the float32 default path: {found['top10_same_as_float32']:.0%}")
    body = {
        "kind": "benchmarks/default_path.py",
        "machine": machine,
        "threads": args.threads,
        "versions": {"onnxruntime": onnxruntime.__version__},
        "sets": results,
    }
    if args.out:
        write_atomic(args.out, json.dumps(body, indent=1) + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
