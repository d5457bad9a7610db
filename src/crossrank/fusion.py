"""Rank fusion, the one home of it: reciprocal-rank fusion (Cormack et al., 2009) of retrievers' rankings (hybrid
search), and of a reranking with the first stage it reordered (the hedge for a reranker out of its domain).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

import numpy as np

from crossrank.ranking import best_first, keys_best_first
from crossrank.types import Hits, Run


def rrf(rankings: Sequence[Hits], *, k: int, constant: int = 60) -> Hits:
    """Fuse rankings: each document scores the sum of 1 / (constant + rank) over the rankings holding it."""
    fused: dict[int, float] = {}
    for hits in rankings:
        for rank, position in enumerate(hits.positions.tolist(), start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (constant + rank)
    best = keys_best_first(fused)[:k]
    return Hits(np.array(best, dtype=np.int64), np.array([fused[p] for p in best], dtype=np.float64))


Item = TypeVar("Item", bound=Hashable)


def fuse_with_first_stage(
    reranked: Sequence[Item], first: Sequence[Item], *, constant: int = 60
) -> list[tuple[Item, float]]:
    """RRF of a reranker's order with the first-stage order it reordered: (item, fused score), best first.

    A hedge for a reranker out of its domain: no score scales to tune, no extra model calls. Equal sums keep
    the reranker's order; an item the first stage did not rank counts as just below its list.
    """
    first_rank = {item: rank for rank, item in enumerate(first, start=1)}
    absent = len(first_rank) + 1
    fused = [
        (item, 1.0 / (constant + rank) + 1.0 / (constant + first_rank.get(item, absent)))
        for rank, item in enumerate(reranked, start=1)
    ]
    return [fused[i] for i in best_first(np.array([score for _, score in fused]))]  # ties: the reranker's order


def fuse_runs(reranked: Run, first: Run, *, constant: int = 60) -> Run:
    """`fuse_with_first_stage` per query, as a run: fused scores, nudged apart so ties keep the reranker's order."""
    fused: Run = {}
    for qid, scores in reranked.items():
        order = fuse_with_first_stage(keys_best_first(scores), keys_best_first(first.get(qid, {})), constant=constant)
        fused[qid] = {doc: score - i * 1e-12 for i, (doc, score) in enumerate(order)}
    return fused
