"""ONNX Runtime backend (CPU): float32, static int8 (calibrated activation scales), or dynamic int8.

The ONNX file comes from the model folder when it ships one, else from the build step (`crossrank.export.onnx`),
which exports and quantises it once into the cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crossrank.errors import MissingExtra
from crossrank.export.attention import fuse_attention
from crossrank.export.cls_only import cls_only
from crossrank.export.onnx import onnx_file
from crossrank.export.static_int8 import scales_path, static_graph
from crossrank.models import ships_int8_only
from crossrank.types import ModelSpec


def open_session(model: Path | bytes, *, threads: int | None) -> Any:
    """An ONNX Runtime CPU session (from a file or a serialised model) with full graph optimisation and
    `threads` intra-op threads."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingExtra("onnx", None, "onnxruntime") from exc
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity mask
        return max(1, os.cpu_count() or 1)


Arithmetic = Literal["float32", "static int8", "dynamic int8"]


def arithmetic_of(path: Path, *, quantized: bool) -> Arithmetic:
    """What an ONNX file runs as: int8 with activation scales beside it is static int8, without them dynamic."""
    if not quantized:
        return "float32"
    return "static int8" if scales_path(path).is_file() else "dynamic int8"


def runtime_graph(
    path: Path, arithmetic: Arithmetic, *, int8_weights: bool, keep_int8_weights: bool = False
) -> Path | bytes:
    """What a session runs: the file as it is for dynamic int8; for static int8 and float32 (from an int8-only
    file, `int8_weights`, dequantised unless `keep_int8_weights`) the rewritten graph with its last layer cut to
    the first token (`crossrank.export.cls_only`: the same bits, less work), and for static int8 each
    attention block in one operator (`crossrank.export.attention`: the same bits again). A float32 file whose
    weights live outside it (models over 2 GB) runs as it is: its graph cannot be held in one serialised message."""
    import onnx

    if arithmetic == "dynamic int8":
        return path
    if arithmetic == "static int8":
        model = static_graph(path)
    elif int8_weights:
        from crossrank.backends.dequantize import float_graph

        model = float_graph(path, keep_int8_weights=keep_int8_weights)
    else:
        model = onnx.load(str(path), load_external_data=False)  # inline weights are read all the same
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
            return path
    cls_only(model)
    if arithmetic == "static int8":  # bitwise batch-invariant there; float32 batches moved by ~1e-9 with it
        fuse_attention(model)
    return bytes(model.SerializeToString())


class OnnxBackend:
    """Runs a cross-encoder with ONNX Runtime's CPU provider, `workers` batches at once, one thread each.

    A pair's score is a function of the pair alone on the float32 and static int8 paths: padded batches give
    the same bits as one pair per pass (`tests/test_invariance.py`), so those paths batch. Dynamic int8
    computes one activation scale per batch tensor, so every companion (and its padding) moved a pair's
    score: that path runs one pair per pass (`max_batch = 1`). One intra-op thread per run keeps the thread
    count out of the arithmetic too, and suits MiniLM-sized matrices: splitting each operator over threads
    left cores waiting on each other in the softmax, layer norms and attention products.

    `quantized=True` on a folder whose int8 file has `activation_scales.json` beside it (the built-in models)
    runs static int8 (`crossrank.export.static_int8`); without one, dynamic int8. `quantized=False` on a folder
    that ships only int8 weights runs them with float32 arithmetic (`crossrank.backends.dequantize`).
    """

    def __init__(self, spec: ModelSpec, *, quantized: bool, threads: int | None, cache_dir: Path | None) -> None:
        self.name = "onnx-int8" if quantized else "onnx"
        self.path = onnx_file(Path(spec.path), spec.name, quantized=quantized, cache_dir=cache_dir)
        self.workers = threads if threads is not None else available_cpus()
        self.arithmetic = arithmetic_of(self.path, quantized=quantized)
        self.max_batch: int | None = 1 if self.arithmetic == "dynamic int8" else None
        self.keeps_bits = True
        source = runtime_graph(self.path, self.arithmetic, int8_weights=ships_int8_only(Path(spec.path)))
        self.session = open_session(source, threads=1)
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        feed = {name: inputs[name] for name in self.input_names}
        (logits,) = self.session.run(["logits"], feed)
        return np.asarray(logits, dtype=np.float32)
