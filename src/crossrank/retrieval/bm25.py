"""BM25 with `bm25s` (sparse-matrix scoring), English Snowball stemming and stopwords by default."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.errors import MissingExtra
from crossrank.types import Hits


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise MissingExtra("bm25", "eval", "bm25s") from exc
    return bm25s


def _stemmer(language: str | None) -> Any:
    if language is None:
        return None
    try:
        import Stemmer
    except ImportError as exc:
        raise MissingExtra("bm25 stemming", "eval", "PyStemmer") from exc
    return Stemmer.Stemmer(language)


class BM25Retriever:
    """BM25 over a list of texts: `build` indexes them, `save` / `load` keep the index on disk.

    `stemmer` is a Snowball language ("english") or None; `stopwords` a bm25s list name ("en") or None.
    """

    name = "bm25"

    def __init__(self, index: Any, *, size: int, stemmer: str | None, stopwords: str | None) -> None:
        self.index = index
        self.size = size
        self.stemmer, self.stopwords = stemmer, stopwords
        self._stem = _stemmer(stemmer)

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        *,
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        k1: float = 1.2,
        b: float = 0.75,
        show_progress: bool = False,
    ) -> BM25Retriever:
        bm25s = _bm25s()
        tokens = bm25s.tokenize(
            list(texts), stopwords=stopwords or [], stemmer=_stemmer(stemmer), show_progress=show_progress
        )
        index = bm25s.BM25(k1=k1, b=b, method="lucene")
        index.index(tokens, show_progress=show_progress)
        return cls(index, size=len(texts), stemmer=stemmer, stopwords=stopwords)

    def save(self, folder: Path) -> None:
        self.index.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, *, size: int, stemmer: str | None, stopwords: str | None) -> BM25Retriever:
        index = _bm25s().BM25.load(str(folder), show_progress=False)
        return cls(index, size=size, stemmer=stemmer, stopwords=stopwords)

    def _tokenize(self, queries: list[str], *, return_ids: bool) -> Any:
        """Queries tokenized as the texts were indexed (same stopwords and stemmer)."""
        return _bm25s().tokenize(
            queries, stopwords=self.stopwords or [], stemmer=self._stem, return_ids=return_ids, show_progress=False
        )

    def scores(self, query: str) -> np.ndarray:
        """The query's BM25 score for every indexed text, in index order (0 where no term is shared)."""
        known = [t for t in self._tokenize([query], return_ids=False)[0] if t in self.index.vocab_dict]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.index.get_scores(known), dtype=np.float32)

    def retrieve(self, queries: Sequence[str], *, k: int, show_progress: bool = False) -> list[Hits]:
        k = min(k, self.size)
        tokens = self._tokenize(list(queries), return_ids=True)
        positions, scores = self.index.retrieve(tokens, k=k, show_progress=show_progress, n_threads=1)
        hits = []
        for row_pos, row_scores in zip(positions, scores, strict=True):
            keep = row_scores > 0  # a document sharing no term with the query is not retrieved
            hits.append(Hits(np.asarray(row_pos[keep], dtype=np.int64), np.asarray(row_scores[keep])))
        return hits
