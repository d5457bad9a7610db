"""The one ordering rule (best score first, equal scores in a fixed, stated order, never the sort's whim), and
a ranking with the cuts a caller may ask for (`min_score`, `top_k`, a token budget)."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from crossrank.errors import InputError
from crossrank.types import BudgetCounts, Document, Evidence, RankedResult

Key = TypeVar("Key", bound=Hashable)


def best_first(scores: np.ndarray, ties: np.ndarray | None = None) -> np.ndarray:
    """Positions of `scores` from best to worst; equal scores in ascending `ties` (default: their position)."""
    return np.lexsort((np.arange(len(scores)) if ties is None else ties, -np.asarray(scores)))


def keys_best_first(scores: Mapping[Key, float]) -> list[Key]:
    """The keys of `scores` from best to worst; equal scores in ascending key order (runs, reports, fusion)."""
    return sorted(scores, key=lambda key: (-scores[key], key))


def fitting(tokens: Sequence[int] | np.ndarray, budget: int) -> int:
    """How many documents, taken in order, fit in `budget` tokens (the first that does not ends the count)."""
    return int(np.searchsorted(np.cumsum(tokens), budget, side="right"))


@dataclass(frozen=True, slots=True)
class Cut:
    """Which results of a ranking to return, applied down the list in this order: drop those scoring below
    `min_score`, keep the best `top_k`, then keep results while their documents' tokens fit in `max_tokens`
    (stopping at the first that does not: a context budget is filled best first)."""

    top_k: int | None = None
    min_score: float | None = None
    max_tokens: int | None = None
    budget_counts: BudgetCounts = "documents"
    """What `max_tokens` counts: each whole document's tokens, or only its evidence's (the window its score came
    from: what a caller that sends only the matching part to a language model spends)."""

    @classmethod
    def checked(
        cls, *, top_k: object, min_score: object, max_tokens: object, budget_counts: object = "documents"
    ) -> Cut:
        """A cut from caller values, or `InputError` naming the bad one."""
        if budget_counts not in ("documents", "evidence"):
            raise InputError(f"budget_counts must be 'documents' or 'evidence', got {budget_counts!r}")
        for name, value in (("top_k", top_k), ("max_tokens", max_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a positive integer or None, got {value!r}")
        if min_score is not None and (
            isinstance(min_score, bool) or not isinstance(min_score, int | float) or not math.isfinite(min_score)
        ):
            raise InputError(f"min_score must be a number or None, got {min_score!r}")
        return cls(top_k=top_k, min_score=min_score, max_tokens=max_tokens, budget_counts=budget_counts)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Ranking:
    """One query's documents, best first: `positions` (indices into the caller's list) with their `scores`;
    `from_first_pass[i]` marks a document a cascade's first pass scored (`first_pass_model`) and the full
    model (`model`) did not. `document_tokens[d]` counts document d's tokens, for a token budget; `windows[i]`
    is the window the i-th score came from (`Engine.score_documents`)."""

    positions: np.ndarray
    scores: np.ndarray
    from_first_pass: np.ndarray
    model: str
    first_pass_model: str | None
    document_tokens: np.ndarray
    windows: np.ndarray | None = None

    def results(
        self,
        cut: Cut = Cut(),
        *,
        documents: Sequence[Document] | None = None,
        evidence: EvidenceSpans | None = None,
    ) -> list[RankedResult]:
        """The ranking as results after `cut`; with `documents`, each result carries its document; with
        `evidence`, the characters of the window its score came from (what a budget counting evidence spends)."""
        rows = range(len(self.positions))
        if cut.min_score is not None:
            rows = range(int(np.sum(self.scores >= cut.min_score)))  # scores never increase down the list
        rows = rows[: cut.top_k]
        if cut.max_tokens is not None and cut.budget_counts == "evidence":
            if evidence is None:
                raise ValueError("a budget counting evidence needs the evidence")
            found = [self._span(i, evidence) for i in rows]
            counts = evidence.tokens([(int(self.positions[i]), span) for i, span in zip(rows, found, strict=True)])
            rows = rows[: fitting(counts, cut.max_tokens)]
            spans: list[Evidence | None] = list(found[: len(rows)])
        else:
            if cut.max_tokens is not None:
                rows = rows[: fitting(self.document_tokens[self.positions[rows.start : rows.stop]], cut.max_tokens)]
            spans = [None if evidence is None else self._span(i, evidence) for i in rows]
        return [
            RankedResult(
                index=int(self.positions[i]),
                score=float(self.scores[i]),
                document=documents[int(self.positions[i])] if documents is not None else None,
                scored_by=self.first_pass_model if self.from_first_pass[i] else self.model,
                evidence=span,
            )
            for i, span in zip(rows, spans, strict=True)
        ]

    def _span(self, row: int, evidence: EvidenceSpans) -> Evidence:
        """The evidence of the result in `row`: the characters of the window its score came from."""
        window = 0 if self.windows is None else int(self.windows[row])
        return evidence.span(int(self.positions[row]), window, bool(self.from_first_pass[row]))


@dataclass(frozen=True, slots=True)
class EvidenceSpans:
    """Where each document's evidence lies for one query, and its tokens: `main` and `first` map (text, window) to
    the characters that window of the full model or of the cascade's first pass held; `count` counts tokens as
    the model's tokenizer does (`Reranker.count_tokens`), all spans in one call."""

    texts: Sequence[str]
    main: Callable[[str, int], tuple[int, int]]
    first: Callable[[str, int], tuple[int, int]]
    count: Callable[[Sequence[str]], list[int]]

    def span(self, position: int, window: int, first_pass: bool) -> Evidence:
        """The characters of document `position` that `window` held (the first pass reads its own window)."""
        return Evidence(*(self.first if first_pass else self.main)(self.texts[position], window))

    def tokens(self, spans: Sequence[tuple[int, Evidence]]) -> list[int]:
        """The tokens of each (document position, evidence) span."""
        return self.count([self.texts[position][e.start : e.end] for position, e in spans])
