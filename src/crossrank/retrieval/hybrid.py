"""Hybrid retrieval: several retrievers' rankings fused by reciprocal rank (`crossrank.fusion.rrf`)."""

from __future__ import annotations

from collections.abc import Sequence

from crossrank.fusion import rrf
from crossrank.retrieval.base import Retriever
from crossrank.types import Hits


class HybridRetriever:
    """Retrieves `depth` candidates from each retriever and fuses them with RRF."""

    name = "hybrid"

    def __init__(self, retrievers: Sequence[Retriever], *, depth: int = 100, constant: int = 60) -> None:
        self.retrievers = list(retrievers)
        self.depth = depth
        self.constant = constant

    def retrieve(self, queries: Sequence[str], *, k: int, show_progress: bool = False) -> list[Hits]:
        per_retriever = [
            r.retrieve(queries, k=max(k, self.depth), show_progress=show_progress) for r in self.retrievers
        ]
        return [rrf(list(hits), k=k, constant=self.constant) for hits in zip(*per_retriever, strict=True)]
