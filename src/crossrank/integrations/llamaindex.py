"""LlamaIndex: `CrossrankPostprocessor`, a node postprocessor (`node_postprocessors=[...]` of a query engine).

Scores replace `NodeWithScore.score`; nodes (and their metadata) are passed through unchanged. Needs
`pip install 'crossrank[llamaindex]'`.
"""

from __future__ import annotations

from typing import Any

from crossrank.errors import InputError, MissingExtra
from crossrank.reranker import Reranker

try:
    from llama_index.core.bridge.pydantic import Field
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtra("llamaindex", "llamaindex", exc.name or "llama-index-core") from exc


class CrossrankPostprocessor(BaseNodePostprocessor):
    """Reorders retrieved nodes by a crossrank cross-encoder and keeps the best `top_n`."""

    reranker: Any = Field(default=None, description="a crossrank Reranker (default: the built-in model)")
    top_n: int | None = Field(default=3, ge=1, description="nodes to keep (None: all)")
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

    @classmethod
    def class_name(cls) -> str:
        return "CrossrankPostprocessor"

    def model_post_init(self, context: Any, /) -> None:
        if self.reranker is None:
            self.reranker = Reranker()

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise InputError("CrossrankPostprocessor needs the query (a QueryBundle or query_str)")
        if not nodes:
            return []
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        ranked = self.reranker.rerank(
            query_bundle.query_str,
            texts,
            top_k=self.top_n,
            min_score=self.min_score,
            max_tokens=self.max_tokens,
            ranked_input=self.ranked_input,
        )
        return [NodeWithScore(node=nodes[r.index].node, score=r.score) for r in ranked]
