"""Batch planning: every input once, similar lengths together, budgets and worker counts respected."""

from __future__ import annotations

import numpy as np
import pytest

from crossrank.batching import plan_batches

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


def test_the_default_path_tokenizes_each_document_once_and_each_window_cuts_its_own_copy() -> None:
    """crossrank-tiny and crossrank-default cut text into the same tokens, so the first pass assembles the
    full model's tokens; a window cutting a long document leaves it whole for the other window."""
    from crossrank.models import built_in_dir
    from crossrank.tokenization import PairEncoder, load_tokenizer

    full = PairEncoder(load_tokenizer(built_in_dir("crossrank-default")), max_length=64)
    first = PairEncoder(load_tokenizer(built_in_dir("crossrank-tiny")), max_length=24)
    assert full.same_tokens_as(first)
    documents = ["short one", "a much longer document " * 30, "", "mid length text about wings " * 4]
    shared = full.tokenize(documents, max_document_tokens=100)
    long_pairs = full.assemble("wings lift", shared, window_overlap=8)
    short_pairs = first.assemble("wings lift", shared)
    assert short_pairs.ids == first.encode("wings lift", documents, max_document_tokens=100).ids
    assert long_pairs.ids == full.encode("wings lift", documents, window_overlap=8, max_document_tokens=100).ids
    assert [len(e.ids) for e in shared.encodings] == shared.tokens.tolist() == [2, 100, 0, 20]
    assert max(len(ids) for ids in short_pairs.ids) == 24 and long_pairs.owner.tolist().count(1) > 1


def test_the_last_round_of_batches_keeps_every_worker_busy() -> None:
    """15 pairs of 100 tokens fit 5 to a 512-token batch: on two workers they go as two rounds of two batches."""
    lengths = np.full(15, 100)
    assert [len(b) for b in plan_batches(lengths, batch_size=32, token_budget=512, min_batches=1)] == [5, 5, 5]
    assert [len(b) for b in plan_batches(lengths, batch_size=32, token_budget=512, min_batches=2)] == [4, 4, 4, 3]
    assert [len(b) for b in plan_batches(lengths, batch_size=32, token_budget=512, min_batches=3)] == [5, 5, 5]
