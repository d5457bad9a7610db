"""Two-stage search on Cranfield: index build time and size, and search latency (retrieve + rerank).

.venv/bin/python benchmarks/index_search.py --queries 50
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from crossrank import Reranker
from crossrank.corpora import load_cranfield
from crossrank.machine import describe
from crossrank.retrieval.index import Index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default=str(Path(__file__).resolve().parents[1].parent / "shared/datasets/cranfield")
    )
    parser.add_argument("--model", default=None, help="reranker (default: the built-in model)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--first-stage", default="hybrid")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    data = load_cranfield(Path(args.dataset))
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "cranfield.jsonl"
        jsonl.write_text("\n".join(json.dumps({"id": d, "text": p.text}) for d, p in data.corpus.items()))
        report = Index.build(jsonl, Path(tmp) / "index")
        size = sum(p.stat().st_size for p in (Path(tmp) / "index").rglob("*") if p.is_file())
        index = Index.open(Path(tmp) / "index")
        reranker = Reranker(args.model, threads=args.threads)
        queries = list(data.queries.values())[: args.queries]
        index.search(queries[0], k=args.k, first_stage=args.first_stage, reranker=reranker)  # warm-up
        retrieve_ms, total_ms = [], []
        for query in queries:
            start = time.perf_counter()
            index.retrieve([query], k=args.k, first_stage=args.first_stage)
            retrieve_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            index.search(query, k=args.k, first_stage=args.first_stage, reranker=reranker)
            total_ms.append((time.perf_counter() - start) * 1000)
    print(
        f"machine: {describe()}, {os.cpu_count()} cores; reranker {reranker.name} ({reranker.backend.name}), "
        f"threads={args.threads}"
    )
    print(
        f"index: {report.documents} documents, {report.passages} passages, built in {report.seconds:.1f} s, "
        f"{size / 1e6:.1f} MB on disk"
    )
    print(
        f"search ({args.first_stage}, k={args.k}, {len(queries)} queries): first stage p50 "
        f"{np.percentile(retrieve_ms, 50):.0f} ms / p95 {np.percentile(retrieve_ms, 95):.0f} ms; "
        f"with reranking p50 {np.percentile(total_ms, 50):.0f} ms / p95 {np.percentile(total_ms, 95):.0f} ms"
    )


if __name__ == "__main__":
    main()
