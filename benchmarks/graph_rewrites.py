"""What each rewrite of the static int8 graph buys, in one run: the built-in models' graphs with fixed scales
only, then with the last layer cut to the first token (`crossrank.export.cls_only`), then with the rescales
folded into the integer products (`crossrank.export.static_int8.fuse_rescales`, the shipped graph). Every variant
gives the same bits (tests/test_cls_only.py, tests/test_static_int8.py); this times them on batches of web-length
pairs (WikiQA passages as in `benchmarks/default_path.py`), one thread, best of several passes.

    .venv/bin/python benchmarks/graph_rewrites.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crossrank import Reranker
from crossrank.backends.onnx import open_session
from crossrank.export.cls_only import cls_only
from crossrank.export.static_int8 import fixed_quantisers, fuse_rescales
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.models import built_in_dir
from crossrank.tokenization import pad_batch, plan_batches

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_path import DATASETS, web_set  # noqa: E402


def variants(int8: Path) -> dict[str, Any]:
    """The three graphs, each an `onnx.ModelProto`."""
    scales_only = fixed_quantisers(int8)
    first_token = fixed_quantisers(int8)
    cls_only(first_token)
    shipped = fixed_quantisers(int8)
    cls_only(shipped)
    fuse_rescales(shipped)
    return {"fixed scales": scales_only, "+ first-token last layer": first_token, "+ folded rescales": shipped}


def timed(runs: dict[str, Callable[[], object]], *, repeats: int) -> dict[str, float]:
    """Best milliseconds of each run, the runs taking turns (a busy moment hits them all)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for label, run in runs.items():
            start = time.perf_counter()
            run()
            best[label] = min(best[label], (time.perf_counter() - start) * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=5, help="queries whose BM25 top 100 make the batches")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {cpu_name()} ({cpu_family()}; {', '.join(cpu_features())}), 1 thread")
    queries, shortlists = web_set(DATASETS / "wikiqa", queries=args.queries, seed=0)
    for name in ("crossrank-tiny", "crossrank-default"):
        reranker = Reranker(name, cascade_model=None)
        feeds = []
        for query, docs in zip(queries, shortlists, strict=True):
            pairs = reranker.encoder.encode(query, docs)
            lengths = np.array([len(ids) for ids in pairs.ids])
            feeds += [
                pad_batch(pairs, b, pad_id=reranker.encoder.pad_id)
                for b in plan_batches(lengths, batch_size=32, token_budget=512)
            ]
        sessions = {
            label: open_session(model.SerializeToString(), threads=1)
            for label, model in variants(built_in_dir(name) / "onnx" / "model_int8.onnx").items()
        }
        runs = {
            label: lambda s=session, f=feeds: [s.run(["logits"], feed) for feed in f]
            for label, session in sessions.items()
        }
        times = timed(runs, repeats=args.repeats)
        base = times["fixed scales"]
        pairs_count = len(queries) * 100
        print(f"\n{name}: {pairs_count} pairs in {len(feeds)} batches of at most 512 tokens")
        for label, ms in times.items():
            print(f"  {label:<26} {ms:8.0f} ms  {base / ms:5.2f}x the fixed-scales graph")


if __name__ == "__main__":
    main()
