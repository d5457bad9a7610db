"""IR metrics through `ir-measures` (pytrec_eval underneath), and paired significance tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossrank.errors import MissingExtra
from crossrank.types import Qrels, Run

MEASURES = ("nDCG@10", "RR@10", "R@100", "AP")
"""Reported for every stage: nDCG@10, MRR@10, Recall@100, MAP (graded gains, linear, as trec_eval)."""


def per_query(qrels: Qrels, run: Run, measures: tuple[str, ...] = MEASURES) -> dict[str, dict[str, float]]:
    """measure -> query id -> value, for every judged query (a query with no results scores 0)."""
    try:
        import ir_measures
    except ImportError as exc:
        raise MissingExtra("evaluation", "eval", "ir-measures") from exc
    parsed = [ir_measures.parse_measure(m) for m in measures]
    values: dict[str, dict[str, float]] = {m: dict.fromkeys(qrels, 0.0) for m in measures}
    names = {str(p): m for p, m in zip(parsed, measures, strict=True)}
    for metric in ir_measures.iter_calc(parsed, qrels, run):
        if metric.query_id in qrels:
            values[names[str(metric.measure)]][metric.query_id] = float(metric.value)
    return values


def mean(values: dict[str, float]) -> float:
    return float(np.mean(list(values.values()))) if values else 0.0


@dataclass(frozen=True, slots=True)
class Significance:
    """Paired comparison of two systems on the same queries."""

    delta: float
    t_test_p: float
    randomization_p: float


def paired_test(a: dict[str, float], b: dict[str, float], *, permutations: int = 10_000, seed: int = 0) -> Significance:
    """Two-sided paired t-test and sign-flip randomisation test of mean(b - a) over shared queries."""
    from scipy import stats

    queries = sorted(set(a) & set(b))
    diff = np.array([b[q] - a[q] for q in queries], dtype=np.float64)
    if len(diff) < 2 or not np.any(diff):
        return Significance(delta=float(diff.mean()) if len(diff) else 0.0, t_test_p=1.0, randomization_p=1.0)
    t_p = float(stats.ttest_rel([b[q] for q in queries], [a[q] for q in queries]).pvalue)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(permutations, len(diff)))
    observed = abs(diff.mean())
    extreme = np.count_nonzero(np.abs((signs * diff).mean(axis=1)) >= observed - 1e-12)
    return Significance(delta=float(diff.mean()), t_test_p=t_p, randomization_p=(extreme + 1) / (permutations + 1))
