"""Backend registry: explicit names, each loaded lazily so its heavy dependency is imported only on use."""

from __future__ import annotations

from pathlib import Path

from crossrank.backends.base import Backend
from crossrank.errors import InputError
from crossrank.types import ModelSpec

BACKENDS = ("onnx", "onnx-int8", "torch")
"""Names accepted by `Reranker(backend=...)`; `onnx` (fp32 ONNX Runtime) is the default."""


def default_backend(folder: Path) -> str:
    """ "onnx", unless the folder ships nothing but an int8 ONNX file: then "onnx-int8"."""
    only_int8 = (folder / "onnx" / "model_int8.onnx").is_file() and not (folder / "onnx" / "model.onnx").is_file()
    has_weights = any((folder / f).is_file() for f in ("model.safetensors", "pytorch_model.bin"))
    return "onnx-int8" if only_int8 and not has_weights else "onnx"


def load_backend(name: str, spec: ModelSpec, *, threads: int | None, cache_dir: Path | None) -> Backend:
    """Build the named backend for a model."""
    if name == "onnx" or name == "onnx-int8":
        from crossrank.backends.onnx import OnnxBackend

        return OnnxBackend(spec, quantized=name == "onnx-int8", threads=threads, cache_dir=cache_dir)
    if name == "torch":
        from crossrank.backends.torch import TorchBackend

        return TorchBackend(spec, threads=threads)
    raise InputError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "default_backend", "load_backend"]
