"""The engine: model inputs in, one score per document out. Batch planning by tokens, a persistent pool of
workers (one backend run each at a time), activation (margins -> probabilities), window aggregation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crossrank.backends import Backend
from crossrank.batching import concat, pad_batch, plan_batches
from crossrank.calibration import Calibration, sigmoid
from crossrank.errors import Cancelled, InputError
from crossrank.progress import progress_bar
from crossrank.score_cache import ScoreCache
from crossrank.tokenization import EncodedPairs

Aggregate = Literal["max", "first", "mean"]


@dataclass(frozen=True, slots=True)
class Activation:
    """How a model's margins become scores: its calibration's probabilities, else a sigmoid (or the margins
    themselves for an identity head)."""

    calibration: Calibration | None
    identity: bool

    def apply(self, margins: np.ndarray, *, raw: bool) -> np.ndarray:
        """Margins as scores; `raw` returns the margins unchanged."""
        if raw:
            return margins
        if self.calibration is not None:
            return self.calibration.apply(margins)
        if self.identity:
            return margins
        return sigmoid(margins)


class Engine:
    """Scores model inputs with one backend: `backend.workers` batches at a time on a pool kept for the engine's
    life (no thread start-up per call), batches planned by length within `batch_size` and `token_budget`."""

    def __init__(
        self,
        backend: Backend,
        *,
        pad_id: int,
        batch_size: int,
        token_budget: int,
        activation: Activation,
        aggregate: Aggregate,
        cache: ScoreCache | None = None,
    ) -> None:
        if cache is not None and not backend.keeps_bits:
            raise InputError(
                f"a score cache needs a backend whose batches keep bits (onnx, onnx-int8), not {backend.name}"
            )
        self.backend = backend
        self.cache = cache
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.activation = activation
        self.aggregate: Aggregate = aggregate
        self._pool: ThreadPoolExecutor | None = None

    def score_documents(
        self,
        parts: Sequence[EncodedPairs],
        sizes: Sequence[int],
        *,
        raw: bool,
        show_progress: bool,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """One score per document of each part (`sizes[k]` documents; all inputs share the workers), with the
        window each score came from (0: the first or only one; -1: a mean of them all). With a cache, documents
        whose inputs were scored before are not scored again (the same bits: `crossrank.score_cache`)."""
        pairs = concat(parts, sizes)
        count = int(sum(sizes))
        score = self._score if self.cache is None else self._cached
        scores, windows = score(pairs, count, raw=raw, show_progress=show_progress, should_stop=should_stop)
        bounds = np.cumsum([0, *sizes])
        return [(scores[bounds[k] : bounds[k + 1]], windows[bounds[k] : bounds[k + 1]]) for k in range(len(parts))]

    def _score(
        self, pairs: EncodedPairs, count: int, *, raw: bool, show_progress: bool, should_stop: Callable[[], bool] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        input_scores = self.run(pairs, raw=raw, show_progress=show_progress, should_stop=should_stop)
        scores = aggregate(input_scores, pairs.owner, count, self.aggregate)
        return scores, best_window(input_scores, pairs.owner, count, self.aggregate)

    def _cached(
        self, pairs: EncodedPairs, count: int, *, raw: bool, show_progress: bool, should_stop: Callable[[], bool] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`_score` for the documents the cache does not hold; the cache's scores for the rest."""
        assert self.cache is not None
        inputs: list[list[list[int]]] = [[] for _ in range(count)]
        for ids, owner in zip(pairs.ids, pairs.owner.tolist(), strict=True):
            inputs[owner].append(ids)
        keys = [ScoreCache.key(document, raw=raw) for document in inputs]
        found = self.cache.get_many(keys)
        missing = np.array([d for d, hit in enumerate(found) if hit is None], dtype=np.int64)
        scores = np.array([np.nan if hit is None else hit[0] for hit in found], dtype=np.float64)
        windows = np.array([0 if hit is None else hit[1] for hit in found], dtype=np.int64)
        if len(missing):
            fresh, fresh_windows = self._score(
                pairs.select(missing), len(missing), raw=raw, show_progress=show_progress, should_stop=should_stop
            )
            scores[missing], windows[missing] = fresh, fresh_windows
            self.cache.put_many(
                [(keys[d], (float(s), int(w))) for d, s, w in zip(missing.tolist(), fresh, fresh_windows, strict=True)]
            )
        return scores, windows

    def run(
        self, pairs: EncodedPairs, *, raw: bool, show_progress: bool, should_stop: Callable[[], bool] | None = None
    ) -> np.ndarray:
        """Score every model input. `should_stop` is asked before each batch: True raises `Cancelled` (the
        batches still queued return at once)."""
        scores = np.empty(len(pairs), dtype=np.float64)
        if not len(pairs):
            return scores
        lengths = np.fromiter((len(ids) for ids in pairs.ids), dtype=np.int64, count=len(pairs))
        workers = self.backend.workers
        batch_size = min(self.batch_size, self.backend.max_batch or self.batch_size)
        batches = plan_batches(lengths, batch_size=batch_size, token_budget=self.token_budget, min_batches=workers)

        def run(positions: np.ndarray) -> np.ndarray:
            if should_stop is not None and should_stop():
                raise Cancelled("scoring stopped: nobody waits for the result")
            return self.backend.run(pad_batch(pairs, positions, pad_id=self.pad_id))

        with progress_bar(len(pairs), "reranking", enabled=show_progress and len(pairs) > 64) as advance:
            results = map(run, batches) if len(batches) == 1 or workers == 1 else self._workers().map(run, batches)
            for positions, logits in zip(batches, results, strict=True):
                scores[positions] = self.activation.apply(margins_of(logits), raw=raw)
                advance(len(positions))
        return scores

    def _workers(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.backend.workers, thread_name_prefix="crossrank")
        return self._pool


def margins_of(logits: np.ndarray) -> np.ndarray:
    """Logits (batch, 1 or 2) to one margin per row: the logit, or positive minus negative (softmax(l)[1] ==
    sigmoid(l1 - l0), so a two-logit model's probability is the sigmoid of its margin)."""
    logits = logits.astype(np.float64)
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]


def best_window(scores: np.ndarray, owner: np.ndarray, n: int, how: Aggregate) -> np.ndarray:
    """Which of its windows gave each document its score (inputs of one document are contiguous, first window
    first): the best one for "max" (the first among equals), 0 for "first" or a single window, -1 for "mean"."""
    if len(scores) == n or how == "first":
        return np.zeros(n, dtype=np.int64)
    if how == "mean":
        return np.full(n, -1, dtype=np.int64)
    first = np.unique(owner, return_index=True)[1]
    order = np.lexsort((-scores, owner))  # by document, best first, equal scores in window order
    best = order[np.unique(owner[order], return_index=True)[1]]
    return (best - first).astype(np.int64)


def aggregate(scores: np.ndarray, owner: np.ndarray, n: int, how: Aggregate) -> np.ndarray:
    """Window scores to document scores (inputs of one document are contiguous, first window first)."""
    if len(scores) == n:
        return scores
    if how == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, owner, scores)
        return out
    if how == "first":
        first = np.unique(owner, return_index=True)[1]
        return scores[first]
    total = np.bincount(owner, weights=scores, minlength=n)
    return total / np.bincount(owner, minlength=n)
