"""Fitting a calibration (Platt scaling on judged pairs: `crossrank calibrate`, `adapt`) and measuring how well
probabilities hold (the reliability table and its expected calibration error, in every eval report). What runs
with every request, applying one, is `crossrank.calibration`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from crossrank.calibration import Calibration, sigmoid
from crossrank.errors import InputError


def fit(
    logits: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, *, fitted_on: str = ""
) -> Calibration:
    """Platt scaling by Newton's method on the log loss (a tiny ridge keeps it finite on separable data)."""
    x = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise InputError("calibration needs one label per logit, and at least two pairs")
    if not set(np.unique(y)) <= {0.0, 1.0} or y.min() == y.max():
        raise InputError("calibration needs relevant (1) and non-relevant (0) pairs, both")
    features = np.stack([x, np.ones_like(x)], axis=1)
    weights = np.array([1.0, 0.0])
    ridge = 1e-6 * len(x)

    def loss(w: np.ndarray) -> float:
        z = features @ w
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * ridge * w @ w)

    for _ in range(100):
        p = sigmoid(features @ weights)
        gradient = features.T @ (p - y) + ridge * weights
        hessian = (features * (p * (1 - p))[:, None]).T @ features + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        current, size = loss(weights), 1.0
        while loss(weights - size * step) > current and size > 1e-6:  # a full Newton step can overshoot
            size /= 2
        weights = weights - size * step
        if np.max(np.abs(size * step)) < 1e-10:
            break
    scale, bias = float(weights[0]), float(weights[1])
    if scale <= 0:
        raise InputError("the model's scores do not rise with relevance on these pairs; nothing to calibrate")
    return Calibration(
        scale=scale,
        bias=bias,
        fitted_on=fitted_on,
        pairs=len(x),
        ece_before=round(expected_calibration_error(sigmoid(x), y), 4),
        ece_after=round(expected_calibration_error(sigmoid(scale * x + bias), y), 4),
    )


@dataclass(frozen=True, slots=True)
class Reliability:
    """Calibration of probabilities against labels in equal-width bins: per bin its mean probability, the share
    of relevant pairs in it and its size; `ece` weighs each bin's gap by its size."""

    mean_probability: tuple[float, ...]
    relevant_share: tuple[float, ...]
    counts: tuple[int, ...]
    ece: float


def reliability(probabilities: np.ndarray, labels: np.ndarray, *, bins: int = 10) -> Reliability:
    """The reliability table of `probabilities` (0..1) against 0/1 `labels`."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    sums_p = np.bincount(which, weights=p, minlength=bins)
    sums_y = np.bincount(which, weights=y, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(counts > 0, sums_p / counts, np.nan)
        share = np.where(counts > 0, sums_y / counts, np.nan)
    gaps = np.where(counts > 0, np.abs(mean_p - share), 0.0)
    ece = float(np.sum(gaps * counts) / max(1, len(p)))
    return Reliability(tuple(mean_p.tolist()), tuple(share.tolist()), tuple(int(c) for c in counts), ece)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, *, bins: int = 10) -> float:
    """ECE over `bins` equal-width bins (the usual 10)."""
    return reliability(probabilities, labels, bins=bins).ece


def read_judged_pairs(path: Path) -> list[tuple[str, str, int]]:
    """(query, text, label) from a JSONL file of `{"query", "text" (or "passage"), "label"}` rows; a label is
    relevant when above 0 (graded judgements count as relevant from grade 1)."""
    from crossrank.documents import read_jsonl_objects

    pairs = []
    for number, row in read_jsonl_objects(path):
        query, text, label = row.get("query"), row.get("text", row.get("passage")), row.get("label")
        if not isinstance(query, str) or not isinstance(text, str):
            raise InputError(f"{path}:{number}: needs a string 'query' and a string 'text'")
        if isinstance(label, bool) or not isinstance(label, int | float):
            raise InputError(f"{path}:{number}: needs a numeric 'label' (above 0: relevant)")
        pairs.append((query, text, int(label > 0)))
    if not pairs:
        raise InputError(f"{path} holds no pairs")
    return pairs


def calibrate(scorer: LogitScorer, pairs: Sequence[tuple[str, str, int]], *, fitted_on: str) -> Calibration:
    """Fit `scorer`'s calibration on judged (query, text, label) pairs it did not train on."""
    logits = scorer.score([(query, text) for query, text, _ in pairs], raw=True, show_progress=True)
    return fit(logits, [label for _, _, label in pairs], fitted_on=fitted_on)


class LogitScorer(Protocol):
    """What `calibrate` needs of a reranker: raw logits for pairs, in order."""

    def score(
        self, pairs: Sequence[tuple[str, str]], *, raw: bool = False, show_progress: bool = False
    ) -> list[float]: ...
