"""The retriever protocol: queries in, top-k corpus positions with scores out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from crossrank.ranking import best_first
from crossrank.types import Hits


class Retriever(Protocol):
    """Indexes a corpus once; retrieves the top `k` documents per query."""

    name: str

    def retrieve(self, queries: Sequence[str], *, k: int, show_progress: bool = False) -> list[Hits]: ...


def top_k(scores: np.ndarray, k: int) -> Hits:
    """The k best of one score vector, best first (ties broken by corpus position)."""
    k = min(k, len(scores))
    if k == 0:
        return Hits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = part[best_first(scores[part], ties=part)]
    return Hits(order.astype(np.int64), scores[order])
