"""PyTorch backend: the model exactly as `transformers` runs it (fp32, eager)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.errors import ModelError
from crossrank.hf import hf_quiet, require_torch
from crossrank.types import ModelSpec


def load_torch_model(folder: Path, *, task: str = "classify", attention: str | None = None) -> Any:
    """Load a sequence classifier (or, for `task="embed"`, the bare encoder) in eval mode.

    `attention` picks a `transformers` attention implementation ("eager" for ONNX export).
    Raises `BackendUnavailable` without torch.
    """
    require_torch("torch")
    import torch  # noqa: F401
    from transformers import AutoModel, AutoModelForSequenceClassification

    if not any((folder / f).exists() for f in ("model.safetensors", "pytorch_model.bin")) and not any(
        folder.glob("model*.safetensors")
    ):
        raise ModelError(f"{folder} has no PyTorch weights (only ONNX?); use backend 'onnx' or 'onnx-int8'")
    try:
        with hf_quiet():
            auto = AutoModelForSequenceClassification if task == "classify" else AutoModel
            options = {} if attention is None else {"attn_implementation": attention}
            model = auto.from_pretrained(str(folder), **options)
    except Exception as exc:  # noqa: BLE001 - surface as one model error
        raise ModelError(f"transformers cannot load {folder}: {exc}") from exc
    return model.eval()


class TorchBackend:
    """Runs the `transformers` model under `torch.inference_mode`.

    `threads` sets torch's process-wide intra-op thread count (torch has no per-model setting).
    """

    name = "torch"
    workers = 1  # torch parallelises inside each operator instead
    max_batch: int | None = None  # batched like transformers; batch-invariant scores come from the ONNX backends

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
