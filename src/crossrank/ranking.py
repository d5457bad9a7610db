"""The one ordering rule: best score first, equal scores in a fixed, stated order (never the sort's whim)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np

Key = TypeVar("Key", bound=Hashable)


def best_first(scores: np.ndarray, ties: np.ndarray | None = None) -> np.ndarray:
    """Positions of `scores` from best to worst; equal scores in ascending `ties` (default: their position)."""
    return np.lexsort((np.arange(len(scores)) if ties is None else ties, -np.asarray(scores)))


def keys_best_first(scores: Mapping[Key, float]) -> list[Key]:
    """The keys of `scores` from best to worst; equal scores in ascending key order (runs, reports, fusion)."""
    return sorted(scores, key=lambda key: (-scores[key], key))
