"""Batching: model inputs (`EncodedPairs`) into padded batches under one token budget, used by the engine's
forward passes (and, through the engine, by the server's queue, whose requests it packs by their tokens)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossrank.tokenization import EncodedPairs


def concat(parts: Sequence[EncodedPairs], sizes: Sequence[int]) -> EncodedPairs:
    """One `EncodedPairs` of all parts; part k's owners are shifted past the `sizes` of the parts before it."""
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])[:-1]
    return EncodedPairs(
        ids=[ids for part in parts for ids in part.ids],
        type_ids=[t for part in parts for t in part.type_ids],
        owner=np.concatenate([part.owner + off for part, off in zip(parts, offsets, strict=True)])
        if parts
        else np.zeros(0, dtype=np.int64),
    )


def plan_batches(lengths: np.ndarray, *, batch_size: int, token_budget: int, min_batches: int = 1) -> list[np.ndarray]:
    """Group input positions into batches of similar length.

    Sorting by length keeps padding small; a batch closes when it holds `batch_size` inputs or when
    padding everything to its longest input would pass `token_budget` tokens. `min_batches` (the workers)
    caps the batch size so that (inputs permitting) there are at least that many batches, and evens them out
    so the last round of batches keeps every worker busy: 15 pairs that fit 5 to a batch go as 4 + 4 + 4 + 3
    on two workers (two rounds of two), not 5 + 5 + 5 (a second round with one worker idle).
    """
    order = np.argsort(-lengths, kind="stable")
    workers = max(min_batches, 1)
    batches = _fill(order, lengths, cap=max(1, min(batch_size, -(-len(order) // workers))), budget=token_budget)
    if len(batches) % workers and len(batches) < len(order):
        rounds = -(-len(batches) // workers)
        even = _fill(order, lengths, cap=max(1, -(-len(order) // (rounds * workers))), budget=token_budget)
        batches = even if len(even) <= rounds * workers else batches
    return batches


def _fill(order: np.ndarray, lengths: np.ndarray, *, cap: int, budget: int) -> list[np.ndarray]:
    """`order` cut into consecutive batches of at most `cap` inputs and `budget` padded tokens."""
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        fit = max(1, min(cap, budget // max(longest, 1)))
        batches.append(order[start : start + fit])
        start += fit
    return batches


def pad_batch(pairs: EncodedPairs, positions: np.ndarray | None = None, *, pad_id: int) -> dict[str, np.ndarray]:
    """Right-pad the chosen inputs (None: all of them) into int64 arrays named as transformers names them."""
    if positions is None:
        positions = np.arange(len(pairs))
    width = max(len(pairs.ids[p]) for p in positions)
    input_ids = np.full((len(positions), width), pad_id, dtype=np.int64)
    type_ids = np.zeros((len(positions), width), dtype=np.int64)
    mask = np.zeros((len(positions), width), dtype=np.int64)
    for row, p in enumerate(positions):
        n = len(pairs.ids[p])
        input_ids[row, :n] = pairs.ids[p]
        type_ids[row, :n] = pairs.type_ids[p]
        mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": type_ids}
