"""BM25 with `bm25s` (sparse-matrix scoring), English Snowball stemming and stopwords by default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crossrank.errors import BackendUnavailable
from crossrank.retrieval.base import Hits


class BM25Retriever:
    """BM25 over a list of texts.

    Args:
        stemmer: a Snowball language ("english") or None for no stemming.
        stopwords: a bm25s stopword list name ("en") or None to keep every word.
        k1, b: the usual BM25 parameters (Lucene variant).
    """

    name = "bm25"

    def __init__(
        self,
        texts: Sequence[str],
        *,
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        k1: float = 1.2,
        b: float = 0.75,
        show_progress: bool = False,
    ) -> None:
        try:
            import bm25s
        except ImportError as exc:
            raise BackendUnavailable("bm25", "eval", "bm25s") from exc
        self._bm25s = bm25s
        self._stemmer: Any = None
        if stemmer is not None:
            try:
                import Stemmer
            except ImportError as exc:
                raise BackendUnavailable("bm25 stemming", "eval", "PyStemmer") from exc
            self._stemmer = Stemmer.Stemmer(stemmer)
        self._stopwords: str | list[str] = stopwords or []
        self.size = len(texts)
        tokens = bm25s.tokenize(
            list(texts), stopwords=self._stopwords, stemmer=self._stemmer, show_progress=show_progress
        )
        self.index = bm25s.BM25(k1=k1, b=b, method="lucene")
        self.index.index(tokens, show_progress=show_progress)

    def retrieve(self, queries: Sequence[str], *, k: int, show_progress: bool = False) -> list[Hits]:
        k = min(k, self.size)
        tokens = self._bm25s.tokenize(
            list(queries), stopwords=self._stopwords, stemmer=self._stemmer, show_progress=False
        )
        positions, scores = self.index.retrieve(tokens, k=k, show_progress=show_progress, n_threads=1)
        hits = []
        for row_pos, row_scores in zip(positions, scores, strict=True):
            keep = row_scores > 0  # a document sharing no term with the query is not retrieved
            hits.append(Hits(np.asarray(row_pos[keep], dtype=np.int64), np.asarray(row_scores[keep])))
        return hits
