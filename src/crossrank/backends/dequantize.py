"""Run an int8-stored model with float32 arithmetic: its 8-bit weights become float32 constants at load.

Dynamic int8 rounds every activation to 8 bits with a scale taken from the activation itself, so a
one-ulp difference in a float32 kernel (AVX2 and AVX-512 machines sum in different orders) can flip a
rounding and move a score by ~0.01-0.02. With the weights dequantised once and the activations kept in
float32, the same pair scores the same to ~1e-5 on every CPU, at the speed of the float32 model. The file
on disk stays int8 (a quarter of the size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def dequantize(init: dict[str, np.ndarray], stem: str) -> np.ndarray:
    """The float32 tensor behind the 8-bit initializer `{stem}_quantized` (scale and zero point per column)."""
    values = init[f"{stem}_quantized"].astype(np.float32) - init[f"{stem}_zero_point"].astype(np.float32)
    return (values * init[f"{stem}_scale"].astype(np.float32)).astype(np.float32)


def float_graph(int8: Path) -> Any:
    """The model in `int8` (dynamically quantised by `quantize_dynamic`) with float32 weights and arithmetic.

    Each `DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales)` chain becomes one float `MatMul`
    of the (smoothed) activation by the dequantised weight; each `DequantizeLinear` of a constant table
    becomes that table in float32. Returns an `onnx.ModelProto`.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(int8))
    graph = model.graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    produced_by = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    replaced: dict[int, Any] = {}  # id(node) -> its replacement (None: dropped)
    new_init: list[Any] = []
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            quantizer = produced_by[node.input[0]]
            (cast,) = consumers[node.output[0]]
            (rescale,) = consumers[cast.output[0]]
            if quantizer.op_type != "DynamicQuantizeLinear" or cast.op_type != "Cast" or rescale.op_type != "Mul":
                raise ValueError(f"{int8}: {node.name} is not a dynamic-quantisation chain")
            weight = f"{node.name}_float_weight"
            new_init.append(numpy_helper.from_array(dequantize(init, node.input[1].removesuffix("_quantized")), weight))
            replaced[id(node)] = onnx.helper.make_node(
                "MatMul", [quantizer.input[0], weight], [rescale.output[0]], name=f"{node.name}_float"
            )
            replaced[id(cast)] = replaced[id(rescale)] = None
    nodes = [replaced.get(id(node), node) for node in graph.node]
    del graph.node[:]
    graph.node.extend(_live([n for n in nodes if n is not None], {o.name for o in graph.output}))
    graph.initializer.extend(new_init)
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


def _live(nodes: list[Any], outputs: set[str]) -> list[Any]:
    """The nodes that some graph output depends on, in their original order."""
    needed = set(outputs)
    live: list[Any] = []
    for node in reversed(nodes):
        if any(out in needed for out in node.output):
            live.append(node)
            needed.update(node.input)
    return live[::-1]
