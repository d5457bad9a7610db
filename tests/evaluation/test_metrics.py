"""Metric wiring proven on hand-made qrels and runs, with values computed by hand."""

from __future__ import annotations

import math

import pytest

from crossrank.evaluation.metrics import mean, paired_test, per_query


def test_exact_values_on_a_hand_made_run() -> None:
    qrels = {"q1": {"a": 2, "b": 1, "z": 0}, "q2": {"c": 1}}
    run = {"q1": {"b": 3.0, "x": 2.0, "a": 1.0}, "q2": {"x": 2.0, "y": 1.5, "c": 1.0}}
    values = per_query(qrels, run)
    # q1: DCG = 1/log2(2) + 0 + 2/log2(4) = 2; ideal = 2/log2(2) + 1/log2(3)
    assert values["nDCG@10"]["q1"] == pytest.approx(2 / (2 + 1 / math.log2(3)))
    # q2: the only relevant document at rank 3
    assert values["nDCG@10"]["q2"] == pytest.approx(1 / math.log2(4))
    assert values["RR@10"] == pytest.approx({"q1": 1.0, "q2": 1 / 3})
    assert values["R@100"] == pytest.approx({"q1": 1.0, "q2": 1.0})
    assert values["AP"]["q1"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert mean(values["RR@10"]) == pytest.approx((1 + 1 / 3) / 2)


def test_query_without_results_scores_zero() -> None:
    values = per_query({"q1": {"a": 1}, "q2": {"b": 1}}, {"q1": {"a": 1.0}})
    assert values["nDCG@10"] == {"q1": 1.0, "q2": 0.0}


def test_paired_tests() -> None:
    a = {str(i): 0.2 for i in range(30)}
    better = {str(i): 0.5 + (i % 3) * 0.01 for i in range(30)}
    result = paired_test(a, better)
    assert result.delta == pytest.approx(0.31, abs=1e-9)
    assert result.t_test_p < 1e-6 and result.randomization_p < 0.001
    same = paired_test(a, dict(a))
    assert (same.delta, same.t_test_p, same.randomization_p) == (0.0, 1.0, 1.0)
    noise = {str(i): 0.2 + (0.01 if i % 2 else -0.01) for i in range(30)}
    assert paired_test(a, noise).randomization_p > 0.5
