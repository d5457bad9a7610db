"""Activation smoothing keeps the fp32 function exactly and only touches inputs with outlier channels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from crossrank.export.activation_pairs import activation_feeds
from crossrank.export.onnx import onnx_file
from crossrank.export.smoothing import activation_ranges, matmul_inputs, smooth


def _outputs(path: Path, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return [session.run(None, {n: f[n] for n in names})[0] for f in feeds]


def test_smoothing_changes_no_fp32_score(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    fp32 = onnx_file(tiny_bert, "tiny", quantized=False, cache_dir=cache_dir)
    feeds = activation_feeds(tiny_bert)
    ranges = activation_ranges(fp32, feeds)
    inputs = matmul_inputs(onnx.load(str(fp32)))
    assert set(ranges) == set(inputs) and len(inputs) >= 4  # Q/K/V share one input; then attn-out, FFN in/out
    assert all(r.shape == (r.shape[0],) and (r >= 0).all() for r in ranges.values())

    # Forced onto every input (clip below the median scales about half of each input's channels).
    out = tmp_path / "smoothed.onnx"
    assert smooth(fp32, out, ranges, min_ratio=0.0, clip=0.5) == len(inputs)
    ops_before = Counter(n.op_type for n in onnx.load(str(fp32)).graph.node)
    ops_after = Counter(n.op_type for n in onnx.load(str(out)).graph.node)
    assert ops_after["Mul"] - ops_before["Mul"] == len(inputs)
    for before, after in zip(_outputs(fp32, feeds), _outputs(out, feeds), strict=True):
        np.testing.assert_allclose(after, before, atol=1e-5, rtol=0)


def test_inputs_without_outliers_are_left_alone(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    fp32 = onnx_file(tiny_bert, "tiny", quantized=False, cache_dir=cache_dir)
    ranges = activation_ranges(fp32, activation_feeds(tiny_bert))
    assert smooth(fp32, tmp_path / "same.onnx", ranges, min_ratio=1e6) == 0
    assert Counter(n.op_type for n in onnx.load(str(tmp_path / "same.onnx")).graph.node) == Counter(
        n.op_type for n in onnx.load(str(fp32)).graph.node
    )
