"""Outlier channels split out into float32: the float32 function is unchanged, only inputs with outlier channels
are touched, and quantising leaves the split-out products in float32 while the rest goes to int8."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from crossrank.export.activation_pairs import activation_feeds
from crossrank.export.onnx import onnx_file
from crossrank.export.outliers import LIMIT, RATIO, outlier_channels, split_outliers
from crossrank.export.smoothing import activation_ranges, matmul_inputs


def _outputs(model: Path, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return [session.run(None, {n: f[n] for n in names})[0] for f in feeds]


def test_outlier_channels_are_the_few_far_above_the_median() -> None:
    peak = np.ones(64)
    peak[[5, 9]] = [RATIO * 3, RATIO * 1.5]
    peak[20] = RATIO * 0.9  # large, but not an outlier
    assert outlier_channels(peak).tolist() == [5, 9]  # largest first
    assert outlier_channels(np.ones(64)).tolist() == []
    many = np.ones(64)
    many[:10] = 50.0
    assert len(outlier_channels(many)) == int(64 * LIMIT)  # the float part stays small


def test_the_split_changes_no_fp32_score(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    fp32 = onnx_file(tiny_bert, "tiny", quantized=False, cache_dir=cache_dir)
    feeds = activation_feeds(tiny_bert)
    ranges = activation_ranges(fp32, feeds)
    inputs = matmul_inputs(onnx.load(str(fp32)))
    # One channel of each input made an outlier (as trained models have them), one input left alone.
    left_alone = sorted(ranges)[0]
    forced = {name: r.copy() for name, r in ranges.items()}
    for name, r in forced.items():
        if name == left_alone:
            forced[name] = np.ones_like(r)
        else:
            r[3] = 100.0 * float(np.median(r))
    out = tmp_path / "split.onnx"
    kept_float = split_outliers(fp32, out, forced)
    products = sum(len(inputs[name]) for name in inputs if name != left_alone)
    assert len(kept_float) == products
    graph = onnx.load(str(out)).graph
    ops_before = Counter(n.op_type for n in onnx.load(str(fp32)).graph.node)
    ops = Counter(n.op_type for n in graph.node)
    assert ops["MatMul"] - ops_before["MatMul"] == products and ops["Gather"] - ops_before["Gather"] == len(inputs) - 1
    for before, after in zip(_outputs(fp32, feeds), _outputs(out, feeds), strict=True):
        np.testing.assert_allclose(after, before, atol=1e-5, rtol=0)
    # Each split-out product multiplies the outlier channel's weight row alone; the int8 side has that row zeroed.
    weights = {t.name: t for t in graph.initializer}
    rows = [w for name, w in weights.items() if name.endswith("_outlier_rows")]
    assert rows and all(w.dims[0] == 1 for w in rows)


def test_quantising_with_the_split_keeps_the_outlier_products_in_float32(
    tiny_bert: Path, cache_dir: Path, tmp_path: Path
) -> None:
    from onnx import numpy_helper

    from crossrank.export.onnx import quantize

    # One LayerNorm channel scaled up 30x: its output has an outlier channel, as trained encoders' do.
    model = onnx.load(str(onnx_file(tiny_bert, "tiny", quantized=False, cache_dir=cache_dir)))
    consumers = matmul_inputs(model)
    norm = next(n for n in model.graph.node if n.op_type == "LayerNormalization" and n.output[0] in consumers)
    gamma = next(t for t in model.graph.initializer if t.name == norm.input[1])
    scaled = numpy_helper.to_array(gamma).copy()
    scaled[3] *= 30.0
    gamma.CopyFrom(numpy_helper.from_array(scaled, gamma.name))
    fp32 = tmp_path / "outlier.onnx"
    onnx.save(model, str(fp32))
    feeds = activation_feeds(tiny_bert)
    assert 3 in outlier_channels(activation_ranges(fp32, feeds)[norm.output[0]]).tolist()

    quantize(fp32, tmp_path / "int8.onnx", calibration=feeds, outliers="split")
    graph = onnx.load(str(tmp_path / "int8.onnx")).graph
    split = {n.name for n in graph.node if n.op_type == "MatMul" and n.name.endswith("_outliers")}
    assert {f"{p}_outliers" for p in consumers[norm.output[0]]} <= split  # the outlier channel's products: float32
    assert len([n for n in graph.node if n.op_type == "MatMulInteger"]) >= len(consumers[norm.output[0]])
    assert not (tmp_path / "int8.prepared.onnx").exists()  # the split float32 graph was a temporary file
