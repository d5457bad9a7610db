"""Small frozen result types returned by the public API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Document = str | Mapping[str, Any]
"""A candidate: plain text, or a mapping holding its text under a named field."""
LongDocuments = Literal["truncate", "window"]
BudgetCounts = Literal["documents", "evidence"]
"""What a token budget (`max_tokens`) counts: whole documents, or only each result's evidence span."""
"""What a `Reranker` does with a document longer than its window: keep the head, or score windows."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """The part of a document its score came from: `text[start:end]` is the scored window (the whole text when
    it fits one window)."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RankedResult:
    """One candidate after reranking.

    `index` points into the caller's `documents` list; `document` is the caller's item
    itself (string or mapping) unless `return_documents=False`; `scored_by` names the model whose score this
    is (with a cascade, the first pass's model for the documents the full model did not score); `evidence`
    (when asked for) is the character span of the window that gave the score.
    """

    index: int
    score: float
    document: Document | None = None
    scored_by: str | None = None
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What crossrank needs to know about a cross-encoder, read from its config files."""

    path: str
    name: str
    model_type: str
    num_labels: int
    max_length: int
    activation: str  # "sigmoid" (one logit), "softmax" (two logits, positive class 1) or "identity"


@dataclass(frozen=True, slots=True)
class Hits:
    """Top-k results of one query: positions into the corpus, best first, with first-stage scores."""

    positions: np.ndarray
    scores: np.ndarray


Run = dict[str, dict[str, float]]
"""A ranking per query, as TREC runs hold it: query id -> document id -> score (higher is better)."""
Qrels = dict[str, dict[str, int]]
"""Relevance judgements: query id -> document id -> grade."""
