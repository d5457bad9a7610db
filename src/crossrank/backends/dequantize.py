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

from crossrank.export.graph_edit import prune


def dequantize(init: dict[str, np.ndarray], stem: str) -> np.ndarray:
    """The float32 tensor behind the 8-bit initializer `{stem}_quantized` (scale and zero point per column)."""
    values = init[f"{stem}_quantized"].astype(np.float32) - init[f"{stem}_zero_point"].astype(np.float32)
    return (values * init[f"{stem}_scale"].astype(np.float32)).astype(np.float32)


def float_graph(int8: Path, *, keep_int8_weights: bool = False) -> Any:
    """The model in `int8` (dynamically quantised by `quantize_dynamic`) with float32 arithmetic.

    Each `DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales)` chain becomes one float `MatMul`
    of the (smoothed) activation by the dequantised weight. With `keep_int8_weights` the weight stays 8-bit in
    the file behind a `DequantizeLinear` (same values, computed the same way; a quarter of the size, for the
    browser demo); otherwise it is stored dequantised. Embedding rows stay 8-bit tables dequantised after the
    lookup (exact arithmetic on every CPU). Returns an `onnx.ModelProto`.
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

    replaced: dict[int, list[Any]] = {}  # id(node) -> its replacement nodes (empty: dropped)
    new_init: list[Any] = []
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            quantizer = produced_by[node.input[0]]
            (cast,) = consumers[node.output[0]]
            (rescale,) = consumers[cast.output[0]]
            if quantizer.op_type != "DynamicQuantizeLinear" or cast.op_type != "Cast" or rescale.op_type != "Mul":
                raise ValueError(f"{int8}: {node.name} is not a dynamic-quantisation chain")
            stem = node.input[1].removesuffix("_quantized")
            weight = f"{node.name}_float_weight"
            steps = []
            if keep_int8_weights:
                steps.append(
                    onnx.helper.make_node(
                        "DequantizeLinear",
                        [f"{stem}_quantized", f"{stem}_scale", f"{stem}_zero_point"],
                        [weight],
                        name=f"{node.name}_dequantize",
                        axis=1,
                    )
                )
            else:
                new_init.append(numpy_helper.from_array(dequantize(init, stem), weight))
            steps.append(
                onnx.helper.make_node(
                    "MatMul", [quantizer.input[0], weight], [rescale.output[0]], name=f"{node.name}_float"
                )
            )
            replaced[id(node)] = steps
            replaced[id(cast)] = replaced[id(rescale)] = []
    graph.initializer.extend(new_init)
    prune(graph, [step for node in graph.node for step in replaced.get(id(node), [node])])
    return model
