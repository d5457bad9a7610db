"""PyTorch and `transformers` at arm's length: the one check that they are installed, and quiet loading.

Both are optional (`crossrank[torch]`); the core install runs ONNX models without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crossrank.errors import MissingExtra, ModelError


def require_torch(feature: str) -> None:
    """Import torch and transformers, or raise `MissingExtra` naming `feature` and the extra to install."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(feature, "torch", exc.name or "torch") from exc


@contextmanager
def hf_quiet() -> Iterator[None]:
    """Silence transformers' weight-loading bars and load reports for the duration; restore after."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_torch_model(folder: Path, *, task: str = "classify", attention: str | None = None) -> Any:
    """Load a sequence classifier (or, for `task="embed"`, the bare encoder) in eval mode.

    `attention` picks a `transformers` attention implementation ("eager" for ONNX export).
    Raises `MissingExtra` without torch.
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
            if attention is None:
                model = auto.from_pretrained(str(folder))
            else:
                model = auto.from_pretrained(str(folder), attn_implementation=attention)
    except Exception as exc:  # noqa: BLE001 - surface as one model error
        raise ModelError(f"transformers cannot load {folder}: {exc}") from exc
    return model.eval()
