"""What each rewrite of the static int8 graph buys, in one run: the built-in models' graphs with fixed scales
only, with the last layer cut to the first token (`crossrank.export.cls_only`), with the rescales folded into
the integer products (`crossrank.export.static_int8.fuse_rescales`), with each attention block in one operator
(`crossrank.export.attention`), and with all three (the shipped graph). Every variant gives the same bits
(tests/test_cls_only.py, tests/test_static_int8.py, tests/test_attention_fusion.py); this times them on batches
of the BM25 top 100 of web-length pairs or Cranfield abstracts (as in `benchmarks/default_path.py`), one
thread, each batch's best of several passes.

    .venv/bin/python benchmarks/graph_rewrites.py --set web
    .venv/bin/python benchmarks/graph_rewrites.py --set cranfield
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from crossrank import Reranker
from crossrank.backends.onnx import open_session
from crossrank.batching import pad_batch, plan_batches
from crossrank.export.attention import fuse_attention
from crossrank.export.cls_only import cls_only
from crossrank.export.static_int8 import fixed_quantisers, fuse_rescales
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.models import built_in_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_path import DATASETS, cranfield_set, web_set  # noqa: E402


def variants(int8: Path) -> dict[str, Any]:
    """The graphs, each an `onnx.ModelProto`: fixed scales, each rewrite alone, all three (what ships)."""

    def made(*, cut: bool = False, fold: bool = False, attention: bool = False) -> Any:
        model = fixed_quantisers(int8)
        if cut:
            cls_only(model)
        if fold:
            fuse_rescales(model)
        if attention:
            fuse_attention(model)
        return model

    return {
        "fixed scales": made(),
        "+ first-token last layer": made(cut=True),
        "+ folded rescales": made(fold=True),
        "+ attention in one operator": made(attention=True),
        "+ first two (shipped before)": made(cut=True, fold=True),
        "+ all three (shipped)": made(cut=True, fold=True, attention=True),
    }


def timed(sessions: dict[str, Any], feeds: list[dict[str, np.ndarray]], *, repeats: int) -> dict[str, float]:
    """Per variant, the sum over batches of each batch's best time (ms): the variants take turns on every
    batch, so a busy moment hits them all."""
    best = {label: [float("inf")] * len(feeds) for label in sessions}
    for _ in range(repeats):
        for k, feed in enumerate(feeds):
            for label, session in sessions.items():
                start = time.perf_counter()
                session.run(["logits"], feed)
                best[label][k] = min(best[label][k], time.perf_counter() - start)
    return {label: sum(times) * 1000 for label, times in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=5, help="queries whose BM25 top 100 make the batches")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", choices=["web", "cranfield"], default="web", help="the pairs: web-length or long")
    args = parser.parse_args()
    print(f"machine: {cpu_name()} ({cpu_family()}; {', '.join(cpu_features())}), 1 thread")
    if args.set == "web":
        queries, shortlists = web_set(DATASETS / "wikiqa", queries=args.queries, seed=0)
    else:
        queries, shortlists = cranfield_set(DATASETS / "cranfield", queries=args.queries)
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
        times = timed(sessions, feeds, repeats=args.repeats)
        base = times["fixed scales"]
        pairs_count = len(queries) * 100
        print(f"\n{name}: {pairs_count} {args.set} pairs in {len(feeds)} batches of at most 512 tokens")
        for label, ms in times.items():
            print(f"  {label:<29} {ms:8.0f} ms  {base / ms:5.2f}x the fixed-scales graph")


if __name__ == "__main__":
    main()
