"""LangChain: `CrossrankCompressor`, a `BaseDocumentCompressor` for `ContextualCompressionRetriever`.

Scores land in `metadata["relevance_score"]` (as LangChain's own rerankers put them); the rest of each document's
metadata is kept. Needs `pip install 'crossrank[langchain]'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossrank.errors import MissingExtra
from crossrank.reranker import Reranker

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
    from pydantic import ConfigDict, Field
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtra("langchain", "langchain", exc.name or "langchain-core") from exc


class CrossrankCompressor(BaseDocumentCompressor):
    """Reorders retrieved documents by a crossrank cross-encoder and keeps the best `top_n`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: Any = Field(default=None, description="a crossrank Reranker (default: the built-in model)")
    top_n: int | None = Field(default=3, ge=1, description="documents to keep (None: all)")
    min_score: float | None = Field(
        default=None, description="keep only documents scoring at least this (a probability with the built-in models)"
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="keep documents best first while their tokens fit in this budget"
    )
    ranked_input: bool = Field(
        default=False,
        description="the documents come in the retriever's order, best first, and that order may count "
        "(default: a set, whatever its order)",
    )

    def model_post_init(self, context: Any, /) -> None:
        if self.reranker is None:
            self.reranker = Reranker()

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        texts = [d.page_content for d in documents]
        ranked = self.reranker.rerank(
            query,
            texts,
            top_k=self.top_n,
            min_score=self.min_score,
            max_tokens=self.max_tokens,
            ranked_input=self.ranked_input,
        )
        return [
            Document(
                page_content=documents[r.index].page_content,
                metadata={**documents[r.index].metadata, "relevance_score": r.score},
                id=documents[r.index].id,
            )
            for r in ranked
        ]
