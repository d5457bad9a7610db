"""PyTorch backend: the model exactly as `transformers` runs it (fp32, eager)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from crossrank.hf import load_torch_model
from crossrank.types import ModelSpec


class TorchBackend:
    """Runs the `transformers` model under `torch.inference_mode`.

    `threads` sets torch's process-wide intra-op thread count (torch has no per-model setting).
    """

    name = "torch"
    workers = 1  # torch parallelises inside each operator instead
    max_batch: int | None = None  # batched like transformers; batch-invariant scores come from the ONNX backends
    keeps_bits = False

    def __init__(self, spec: ModelSpec, *, threads: int | None) -> None:
        self.model = load_torch_model(Path(spec.path))
        import inspect

        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        self._torch = torch
        self._accepts_types = "token_type_ids" in inspect.signature(self.model.forward).parameters

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        torch = self._torch
        feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
        if not self._accepts_types:
            feed.pop("token_type_ids", None)
        with torch.inference_mode():
            logits = self.model(**feed).logits
        return np.asarray(logits.float().numpy(), dtype=np.float32)
