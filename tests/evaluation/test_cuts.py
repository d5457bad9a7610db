"""The cut table: what each cut keeps, and the `min_score` that keeps the best relevant candidate of a share of
queries."""

from __future__ import annotations

import pytest

from crossrank.evaluation.cuts import cut_table


def test_the_share_rows_find_the_threshold_that_keeps_the_best_relevant_candidate() -> None:
    # Ten queries; query i's relevant document scores i / 10 and sits under a non-relevant one at 0.99.
    run = {f"q{i}": {"noise": 0.99, "hit": i / 10} for i in range(10)}
    qrels = {f"q{i}": {"hit": 1} for i in range(10)}
    rows = {row.cut: row for row in cut_table(run, qrels, {"noise": 10, "hit": 20})}
    assert rows["min_score 0.5"].best_relevant_kept == pytest.approx(0.5)
    keeps_80 = rows["min_score 0.2 (keeps 80%)"]  # scores 0.2 .. 0.9 survive: 8 of 10
    assert keeps_80.best_relevant_kept == pytest.approx(0.8) and keeps_80.passages == pytest.approx(1.8)
    assert rows["min_score 0.1 (keeps 90%)"].best_relevant_kept == pytest.approx(0.9)
    assert rows["min_score 0 (keeps 95%)"].best_relevant_kept == pytest.approx(1.0)
    assert rows["1000 tokens"].tokens == pytest.approx(30)
