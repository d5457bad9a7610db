"""Building ONNX files: export from `transformers` (needs torch) and dynamic int8 quantisation, cached under
`<cache>/onnx/<model>-<task>-<key>/`, where the key hashes the model's files and the export settings.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crossrank.cache import build_once, cache_name, cache_root, content_key
from crossrank.errors import MissingExtra, ModelError
from crossrank.models import ships_int8_only

log = logging.getLogger(__name__)
Task = Literal["classify", "embed"]

OPSET = 17
EXPORT_VERSION = "5"  # bump when the export recipe changes, so stale cache entries are not reused
_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")


def onnx_file(folder: Path, name: str, *, quantized: bool, cache_dir: Path | None, task: Task = "classify") -> Path:
    """Path of the ONNX model in `folder`, exporting and quantising into the cache when needed.

    A folder that ships only an int8 file gives that file either way (`OnnxBackend` runs it with float32
    arithmetic unless `quantized`). `task="classify"` exports the sequence classifier (output `logits`);
    `task="embed"` the bare encoder (output `last_hidden_state`), for bi-encoder embeddings.
    """
    shipped_dir = folder / "onnx" if task == "classify" else folder / "onnx-encoder"
    shipped = shipped_dir / ("model_int8.onnx" if quantized else "model.onnx")
    if shipped.is_file():
        return shipped
    if task == "classify" and ships_int8_only(folder):
        return shipped_dir / "model_int8.onnx"
    fp32 = shipped_dir / "model.onnx"
    sources = [folder / f for f in _MODEL_FILES if (folder / f).is_file()]
    if fp32.is_file():
        sources.append(fp32)
    if len(sources) < 2:
        raise ModelError(f"{folder} has neither weights nor an ONNX file to run")
    key = content_key(sources, EXPORT_VERSION, str(OPSET), task)
    entry = cache_root(cache_dir) / "onnx" / f"{cache_name(name)}-{task}-{key}"
    if not fp32.is_file():
        fp32 = build_once(entry / "fp32", lambda tmp: export(folder, tmp / "model.onnx", task=task)) / "model.onnx"
    if not quantized:
        return fp32
    from crossrank.export.activation_pairs import activation_feeds

    int8 = build_once(
        entry / "int8", lambda tmp: quantize(fp32, tmp / "model.onnx", calibration=activation_feeds(folder))
    )
    return int8 / "model.onnx"


def export(folder: Path, out: Path, *, task: Task = "classify") -> None:
    """Export a `transformers` model to ONNX with dynamic batch and sequence axes."""
    from crossrank.hf import load_torch_model

    # Eager attention exports as plain MatMul/Add/Softmax. The default (SDPA) path exports extra IsNaN/Where
    # nodes that guard fully-masked rows and took ~30% of the int8 run time on CPU (ONNX Runtime profile,
    # MiniLM-L6, ~220 tokens, 2 threads); with eager the int8 model runs ~1.5x faster, same scores.
    model = load_torch_model(folder, task=task, attention="eager")
    output = "logits" if task == "classify" else "last_hidden_state"
    import inspect

    import torch

    with_types = "token_type_ids" in inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask", "token_type_ids"] if with_types else ["input_ids", "attention_mask"]

    class Positional(torch.nn.Module):
        """Fixes the traced signature to the named inputs and a single tensor output."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *inputs: Any) -> Any:
            return getattr(self.inner(**dict(zip(names, inputs, strict=True))), output)

    # Example inputs of batch 2 and length 8; both axes are declared dynamic.
    example = [torch.ones((2, 8), dtype=torch.long) for _ in names]
    example[0][:, 1:7] = 5
    example[1][1, 6:] = 0
    if with_types:
        example[2].zero_()
    # The TorchScript exporter: on CPU its graph runs ~25% faster under ONNX Runtime than the dynamo
    # exporter's for BERT-family models (measured with MiniLM-L6 at ~220 tokens, 2 threads).
    with warnings.catch_warnings(), _quiet("torch.onnx", "torch.export"), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Positional().eval(),
            tuple(example),
            str(out),
            input_names=names,
            output_names=[output],
            opset_version=OPSET,
            dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, output]},
        )
    log.info("exported %s to %s", folder, out)


def quantize(
    fp32: Path,
    out: Path,
    *,
    embeddings: bool = False,
    calibration: Sequence[Mapping[str, np.ndarray]] = (),
    keep_float: Sequence[str] = (),
    outliers: Literal["smooth", "split"] = "smooth",
) -> None:
    """Dynamic int8 quantisation of the matrix products (weights int8, activations uint8 at run time).

    `reduce_range` keeps weights to 7 bits so the u8s8 products cannot saturate on AVX2 CPUs without VNNI.
    `embeddings=True` also stores the embedding tables in int8 (the file shrinks by ~half for small models).
    With `calibration` batches, inputs with outlier channels are smoothed first (`crossrank.export.smoothing`).
    `keep_float` names nodes of `fp32` left in float32 (the parts of a model int8 would hurt).
    `outliers="split"` multiplies the outlier channels in float32 instead of smoothing them into the weights
    (`crossrank.export.outliers`).
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise MissingExtra("onnx-int8", None, exc.name or "onnxruntime") from exc
    source = fp32
    if calibration:
        from crossrank.export.outliers import split_outliers
        from crossrank.export.smoothing import activation_ranges, smooth

        source = out.with_name(f"{out.stem}.prepared.onnx")  # smoothed or split, then quantised
        if outliers == "split":
            keep_float = [*keep_float, *split_outliers(fp32, source, activation_ranges(fp32, calibration))]
        else:
            smooth(fp32, source, activation_ranges(fp32, calibration))
    try:
        with _quiet("root"):
            quantize_dynamic(
                str(source),
                str(out),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul", "Gemm", "Gather"] if embeddings else ["MatMul", "Gemm"],
                nodes_to_exclude=list(keep_float),
            )
    finally:
        if source != fp32:
            source.unlink(missing_ok=True)


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Hold the named loggers at ERROR while exporting: their warnings are about the exporter, not the user."""
    loggers = [logging.getLogger() if n == "root" else logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def export_onnx(out: Path) -> list[Path]:
    """Write onnx/model.onnx and onnx/model_int8.onnx (embeddings in int8 too, smoothed) beside the weights of a
    trained model folder (`crossrank train` and `crossrank adapt` ship both)."""
    from crossrank.export.activation_pairs import activation_feeds

    target = out / "onnx"
    target.mkdir(exist_ok=True)
    export(out, target / "model.onnx")
    quantize(target / "model.onnx", target / "model_int8.onnx", embeddings=True, calibration=activation_feeds(out))
    return [target / "model.onnx", target / "model_int8.onnx"]
