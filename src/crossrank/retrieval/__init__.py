"""First-stage retrievers behind one protocol: BM25, dense (bi-encoder) and hybrid (reciprocal-rank fusion)."""

from crossrank.retrieval.base import Retriever
from crossrank.types import Hits

__all__ = ["Hits", "Retriever"]
