"""Backend registry: explicit names, each loaded lazily so its heavy dependency is imported only on use."""

from __future__ import annotations

from pathlib import Path

from crossrank.backends.base import Backend
from crossrank.errors import InputError
from crossrank.types import ModelSpec

BACKENDS = ("onnx", "onnx-int8", "torch")
"""Names accepted by `Reranker(backend=...)`; `default_backend` picks one when none is named."""


def default_backend(folder: Path) -> str:
    """`onnx-int8` for a folder whose int8 file ships calibrated activation scales (the built-in models and
    optimised folders: static int8, the same bits in any batch, ~2e-3 apart across CPU kinds, ~2x faster than
    float32 with VNNI or AMX), `onnx` (float32) for every other (an optimised folder kept in float32)."""
    from crossrank.export.static_int8 import SCALES_FILE

    return "onnx-int8" if (folder / "onnx" / SCALES_FILE).is_file() else "onnx"


def load_backend(name: str, spec: ModelSpec, *, threads: int | None, cache_dir: Path | None) -> Backend:
    """Build the named backend for a model."""
    if name == "onnx" or name == "onnx-int8":
        from crossrank.backends.onnx import OnnxBackend

        return OnnxBackend(spec, quantized=name == "onnx-int8", threads=threads, cache_dir=cache_dir)
    if name == "torch":
        from crossrank.backends.torch import TorchBackend

        return TorchBackend(spec, threads=threads)
    if name == "fake":  # no model: tests of everything around it (crossrank.backends.fake)
        from crossrank.backends.fake import FakeBackend

        return FakeBackend(spec)
    raise InputError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "default_backend", "load_backend"]
