"""A backend with no model, for tests of everything around the model (the request path, the cascade, the cuts,
the server, the CLI): a pair's logit is the share of the query's distinct tokens the document holds, less a
little for the document's length. Deterministic, a function of the pair alone (the same bits in any batch),
and instant; its scores mean nothing about relevance beyond shared words."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crossrank.types import ModelSpec


class FakeBackend:
    """Scores a padded batch from its token ids alone (`token_type_ids` tell the query from the document)."""

    name = "fake"
    workers = 1
    max_batch: int | None = None
    keeps_bits = True

    def __init__(self, spec: ModelSpec) -> None:
        self.num_labels = spec.num_labels

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        ids, mask = inputs["input_ids"], inputs["attention_mask"].astype(bool)
        types = inputs.get("token_type_ids", np.zeros_like(ids))
        logits = np.zeros((len(ids), self.num_labels), dtype=np.float32)
        for row in range(len(ids)):
            query = set(ids[row][mask[row] & (types[row] == 0)][1:-1].tolist())  # [CLS] ... [SEP]
            document = ids[row][mask[row] & (types[row] == 1)][:-1]
            shared = len(query & set(document.tolist())) / max(len(query), 1)
            logits[row, -1] = np.float32(4.0 * shared - 2.0 - 0.002 * len(document))
        return logits
