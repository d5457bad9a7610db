"""Batch planning: every input once, similar lengths together, budgets and worker counts respected."""

from __future__ import annotations

import numpy as np
import pytest

from crossrank.tokenization import plan_batches

LENGTHS = np.array([12, 300, 40, 41, 299, 8, 120, 500, 39, 7, 64, 65])


@pytest.mark.parametrize("min_batches", [1, 2, 3, 5])
def test_batches_cover_every_input_once_longest_first(min_batches: int) -> None:
    batches = plan_batches(LENGTHS, batch_size=32, token_budget=1024, min_batches=min_batches)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(LENGTHS)))
    assert LENGTHS[flat].tolist() == sorted(LENGTHS.tolist(), reverse=True)
    assert all(len(b) * LENGTHS[b].max() <= 1024 or len(b) == 1 for b in batches)
    assert len(batches) >= min_batches


def test_min_batches_splits_a_request_that_fits_one_batch() -> None:
    lengths = np.full(10, 20)
    assert [len(b) for b in plan_batches(lengths, batch_size=32, token_budget=4096)] == [10]
    assert [len(b) for b in plan_batches(lengths, batch_size=32, token_budget=4096, min_batches=2)] == [5, 5]
    assert [len(b) for b in plan_batches(lengths, batch_size=32, token_budget=4096, min_batches=3)] == [4, 4, 2]
    assert len(plan_batches(np.full(1, 20), batch_size=32, token_budget=4096, min_batches=4)) == 1
