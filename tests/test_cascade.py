"""The cascade's arithmetic without a model: which documents go on, and how the ranking is assembled."""

from __future__ import annotations

import numpy as np

from crossrank.cascade import assemble, best_kept


def test_the_best_keep_go_on_and_ties_follow_the_tie_order() -> None:
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1])
    assert best_kept(scores, 2, ties=np.arange(5)).tolist() == [1, 3]
    assert best_kept(scores, 3, ties=np.array([4, 3, 2, 1, 0])).tolist() == [1, 2, 3]
    # equal scores: the tie order decides which of them goes on
    assert best_kept(np.zeros(4), 2, ties=np.array([3, 0, 2, 1])).tolist() == [1, 3]


def test_ranked_input_fuses_the_first_pass_with_the_input_order() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9])  # the first pass prefers the last documents
    alone = best_kept(scores, 2, ties=np.arange(5))
    fused = best_kept(scores, 2, ties=np.arange(5), fuse_order=True)
    assert alone.tolist() == [3, 4]
    assert fused.tolist() == [0, 4]  # the first stage's best (position 0) earns its place back


def test_assemble_puts_the_kept_first_and_never_raises_a_score_down_the_list() -> None:
    ranking = assemble(
        documents=5,
        kept=np.array([1, 3]),
        main=np.array([0.4, 0.7]),
        first=np.array([0.9, 0.5, 0.6, 0.2, 0.8]),
        model="full",
        first_pass_model="first",
        document_tokens=np.ones(5, dtype=np.int64),
        ties=np.arange(5),
    )
    assert ranking.positions.tolist() == [3, 1, 0, 4, 2]
    assert ranking.scores.tolist() == [0.7, 0.4, 0.4, 0.4, 0.4]  # the first pass's scores capped at the floor
    assert [r.scored_by for r in ranking.results()] == ["full", "full", "first", "first", "first"]
    alone = assemble(
        documents=2,
        kept=np.array([0, 1]),
        main=np.array([0.3, 0.3]),
        first=None,
        model="full",
        first_pass_model="first",
        document_tokens=np.ones(2, dtype=np.int64),
        ties=np.array([1, 0]),
    )
    assert alone.positions.tolist() == [1, 0] and alone.first_pass_model is None  # no first pass ran
