"""The one interface every backend implements: a padded batch in, one row of logits per input out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np


class Backend(Protocol):
    """Runs a cross-encoder on padded int64 inputs (`input_ids`, `attention_mask`, `token_type_ids`)."""

    name: str
    workers: int
    """How many batches `run` may be given at once, from as many threads (1: one at a time)."""
    max_batch: int | None
    """Most inputs one `run` may take (None: no limit). 1 where an input's logits would depend on its batch
    companions (dynamic int8 computes one activation scale per batch tensor), so a pair scores the same
    whatever else is being scored."""

    keeps_bits: bool
    """Whether a pair's logits are the same bits in any batch (ONNX Runtime's float32 and static int8, and dynamic
    int8 one pair per pass; not torch): what makes a cached score exactly the computed one."""

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Return float32 logits of shape (batch, num_labels)."""
        ...
