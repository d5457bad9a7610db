"""Backend registry: explicit names, each loaded lazily so its heavy dependency is imported only on use."""

from __future__ import annotations

from pathlib import Path

from crossrank.backends.base import Backend
from crossrank.errors import InputError
from crossrank.types import ModelSpec

BACKENDS = ("onnx", "onnx-int8", "torch")
"""Names accepted by `Reranker(backend=...)`; `onnx` (fp32 ONNX Runtime) is the default."""


def load_backend(name: str, spec: ModelSpec, *, threads: int | None, cache_dir: Path | None) -> Backend:
    """Build the named backend for a model."""
    if name == "onnx" or name == "onnx-int8":
        from crossrank.backends.onnx import OnnxBackend

        return OnnxBackend(spec, quantized=name == "onnx-int8", threads=threads, cache_dir=cache_dir)
    if name == "torch":
        from crossrank.backends.torch import TorchBackend

        return TorchBackend(spec, threads=threads)
    raise InputError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "load_backend"]
