"""Activation smoothing before int8 quantisation, on the ONNX graph (after SmoothQuant, Xiao et al. 2023).

Dynamic int8 quantises each activation matrix with one scale. BERT-family encoders have a few hidden
channels whose values run 10-15x larger than the rest (the feed-forward inputs of all-MiniLM-L6-v2 reach ~28
where the median channel stays under 2), so that one scale leaves the ordinary channels a handful of levels.
Smoothing divides each outlier channel by a factor `s` that brings it down to `clip` times the median
channel (one `Mul` per input) and multiplies the matching weight rows by `s`: the fp32 product is unchanged,
and the activations quantise with a 5-10x finer step.

On the built-in model smoothing brought int8's ranking closer to float32's at the same speed; SmoothQuant's own
balance over every channel did worse (it also rescales ordinary channels and coarsens the 7-bit weights). The
figures are in docs/experiments/static-int8.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crossrank.export.graph_edit import drop_unread_initializers, insert_nodes

if TYPE_CHECKING:
    import onnx


def matmul_inputs(model: onnx.ModelProto) -> dict[str, list[str]]:
    """Activation tensor -> the MatMul nodes that multiply it by a constant 2-D weight."""
    weights = {w.name for w in model.graph.initializer if len(w.dims) == 2}
    found: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            found.setdefault(node.input[0], []).append(node.name)
    return found


def activation_ranges(path: Path, feeds: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-channel max |x| of every MatMul activation input, over the calibration batches `feeds`."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    names = list(matmul_inputs(model))
    present = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in present)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    ranges: dict[str, np.ndarray] = {}
    for feed in feeds:
        values = session.run(names, {n: feed[n] for n in inputs})
        mask = feed["attention_mask"].astype(bool)
        for name, value in zip(names, values, strict=True):
            rows = value[mask] if value.ndim == 3 else value.reshape(-1, value.shape[-1])
            peak = np.abs(rows).max(axis=0)
            ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    return ranges


def smooth(
    path: Path, out: Path, ranges: Mapping[str, np.ndarray], *, min_ratio: float = 5.0, clip: float = 2.0
) -> int:
    """Write a smoothed copy of the fp32 model at `path` to `out`; return how many inputs were smoothed.

    Only inputs whose largest channel exceeds `min_ratio` times the median channel get a `Mul`: the others
    quantise well as they are. Channel j is divided by `s_j = max(1, max|x_j| / (clip * median))`.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    initializers = {w.name: w for w in graph.initializer}
    consumers = matmul_inputs(model)
    nodes = {n.name: n for n in graph.node}
    muls: dict[str, list[onnx.NodeProto]] = {}  # first MatMul consuming an input -> the Mul to place before it
    for name, matmuls in consumers.items():
        x_peak = ranges.get(name)
        if x_peak is None:
            continue
        median = max(float(np.median(x_peak)), 1e-6)
        if x_peak.max() < min_ratio * median:
            continue
        weights = [numpy_helper.to_array(initializers[nodes[m].input[1]]) for m in matmuls]
        scale = np.maximum(1.0, x_peak / (clip * median)).astype(np.float32)
        for m, w in zip(matmuls, weights, strict=True):
            rescaled = f"{nodes[m].input[1]}_smoothed"
            graph.initializer.append(numpy_helper.from_array((w * scale[:, None]).astype(np.float32), rescaled))
            nodes[m].input[1] = rescaled
        inverse = f"{name}_smooth_inverse"
        graph.initializer.append(numpy_helper.from_array((1.0 / scale).astype(np.float32), inverse))
        for m in matmuls:
            nodes[m].input[0] = f"{name}_smoothed"
        first = next(n.name for n in graph.node if n.name in matmuls)
        muls[first] = [onnx.helper.make_node("Mul", [name, inverse], [f"{name}_smoothed"], name=f"{name}_smooth")]
    insert_nodes(graph, before=muls, after={})
    drop_unread_initializers(graph)
    onnx.save(model, str(out))
    return len(muls)
