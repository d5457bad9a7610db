"""Haystack: `CrossrankRanker`, a ranker `@component` (documents in, the best `top_k` out).

Scores land in `Document.score`; content, id and `meta` are kept. Needs `pip install 'crossrank[haystack]'`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crossrank.errors import MissingExtra
from crossrank.reranker import Reranker

try:
    from haystack import Document, component
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtra("haystack", "haystack", exc.name or "haystack-ai") from exc


@component
class CrossrankRanker:
    """Reorders documents by a crossrank cross-encoder (`reranker`, default the built-in model)."""

    def __init__(
        self,
        reranker: Reranker | None = None,
        top_k: int | None = 10,
        min_score: float | None = None,
        max_tokens: int | None = None,
        ranked_input: bool = False,
    ) -> None:
        self.reranker = reranker  # the init parameter as given: Pipeline.dumps() writes it back (None serialises)
        self.top_k = top_k
        self.min_score = min_score  # keep only documents scoring at least this (a probability, built-in models)
        self.max_tokens = max_tokens  # keep documents best first while their tokens fit in this budget
        self.ranked_input = ranked_input  # the documents come in the retriever's order and that order may count
        self._loaded: Reranker | None = reranker

    def warm_up(self) -> None:
        """Load the model (Haystack calls this before the first run); the init parameter stays as it was."""
        if self._loaded is None:
            self._loaded = Reranker()

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, documents: list[Document], top_k: int | None = None, min_score: float | None = None
    ) -> dict[str, Any]:
        self.warm_up()
        assert self._loaded is not None
        if not documents:
            return {"documents": []}
        ranked = self._loaded.rerank(
            query,
            [d.content or "" for d in documents],
            top_k=top_k or self.top_k,
            min_score=self.min_score if min_score is None else min_score,
            max_tokens=self.max_tokens,
            ranked_input=self.ranked_input,
        )
        return {"documents": [replace(documents[r.index], score=r.score) for r in ranked]}
