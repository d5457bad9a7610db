"""Outlier channels in float32, the rest in int8 (the decomposition of LLM.int8(), Dettmers et al. 2022, with
static scales).

A few hidden channels of a transformer run 10-50x larger than the rest; one activation scale per tensor then
leaves the ordinary channels a handful of levels. Smoothing (`crossrank.export.smoothing`) moves that range
into the weights, which costs the weights' precision instead: on a 12-layer MPNet it was the larger error of
the two (docs/experiments/your-model.md). Here each product `x W` whose input has such channels becomes
`(x * keep) W' + x[:, outliers] W[outliers]`: the int8 product sees the input without its outlier channels
(and `W'` without their rows, so no column's weight step grows for them), and the few outlier channels are
multiplied in float32. The sum is float32's product up to the int8 rounding of ordinary values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from crossrank.export.graph_edit import drop_unread_initializers, insert_nodes
from crossrank.export.smoothing import matmul_inputs

RATIO = 4.0
"""A channel is an outlier when its largest |x| exceeds this many times the median channel's."""
LIMIT = 1 / 32
"""At most this share of an input's channels is split out (the largest ones), so the float part stays small."""


def outlier_channels(peak: np.ndarray) -> np.ndarray:
    """The indices of `peak`'s outlier channels, largest first (empty when the input quantises as it is)."""
    median = max(float(np.median(peak)), 1e-6)
    order = np.argsort(-peak, kind="stable")[: max(1, int(len(peak) * LIMIT))]
    return order[peak[order] > RATIO * median]


def split_outliers(path: Path, out: Path, ranges: Mapping[str, np.ndarray]) -> list[str]:
    """Write to `out` the float32 model at `path` with every product whose input has outlier channels
    (`ranges`: per-channel max |x| of each product input) split as above; return the names of the small
    float32 products, which quantising must leave alone."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    initializers = {w.name: w for w in graph.initializer}
    nodes = {n.name: n for n in graph.node}
    before: dict[str, list[onnx.NodeProto]] = {}  # product -> nodes to place before it
    after: dict[str, list[onnx.NodeProto]] = {}
    kept_float: list[str] = []
    for name, products in matmul_inputs(model).items():
        channels = outlier_channels(ranges[name]) if name in ranges else np.zeros(0, dtype=np.int64)
        if len(channels) == 0:
            continue
        keep = np.ones(len(ranges[name]), dtype=np.float32)
        keep[channels] = 0.0
        graph.initializer.append(numpy_helper.from_array(keep, f"{name}_keep"))
        graph.initializer.append(numpy_helper.from_array(channels.astype(np.int64), f"{name}_outlier_index"))
        first = next(n.name for n in graph.node if n.name in products)
        before[first] = [
            helper.make_node("Mul", [name, f"{name}_keep"], [f"{name}_ordinary"], name=f"{name}_ordinary"),
            helper.make_node(
                "Gather", [name, f"{name}_outlier_index"], [f"{name}_outliers"], name=f"{name}_gather", axis=-1
            ),
        ]
        for p in products:
            node = nodes[p]
            weight_name, result = node.input[1], node.output[0]
            weight = numpy_helper.to_array(initializers[weight_name])
            ordinary = weight.copy()
            ordinary[channels] = 0.0
            graph.initializer.append(numpy_helper.from_array(ordinary, f"{weight_name}_ordinary"))
            graph.initializer.append(numpy_helper.from_array(weight[channels], f"{weight_name}_outlier_rows"))
            node.input[0], node.input[1] = f"{name}_ordinary", f"{weight_name}_ordinary"
            node.output[0] = f"{result}_ordinary"
            float_part = helper.make_node(
                "MatMul",
                [f"{name}_outliers", f"{weight_name}_outlier_rows"],
                [f"{result}_outliers"],
                name=f"{p}_outliers",
            )
            total = helper.make_node("Add", [f"{result}_ordinary", f"{result}_outliers"], [result], name=f"{p}_sum")
            after[p] = [float_part, total]
            kept_float.append(float_part.name)
    insert_nodes(graph, before=before, after=after)
    drop_unread_initializers(graph)
    onnx.save(model, str(out))
    return kept_float
