"""First-stage retrievers behind one protocol: BM25, dense (bi-encoder) and hybrid (reciprocal-rank fusion)."""

from crossrank.retrieval.base import Hits, Retriever

__all__ = ["Hits", "Retriever"]
