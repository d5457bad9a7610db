"""The last layer for the first token only: a classification head reads one position, so the last layer needs
every token's keys and values but only the first token's query, attention output and feed-forward.

`cls_only` rewrites an exported cross-encoder graph in place: the last layer's query rows and its residual
input are cut to position 0 (two `Slice` nodes) and the context's reshape keeps whatever length arrives
(`[0, 0, -1]`: batch and length as they come, heads joined). The
arithmetic of the row that is kept is unchanged; the rest of the last layer (~5/6 of it) is never computed.
A graph whose head is not `Gather(LayerNorm(...), 0, axis=1)` after a standard attention block is left alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crossrank.export.graph_edit import attribute, links, small_constants

_WALK_LIMIT = 12  # nodes to walk between two landmarks of one attention block


def cls_only(model: Any) -> bool:
    """Rewrite `model` (an `onnx.ModelProto`) so its last layer computes position 0 only; False (and the model
    untouched) when its shape is not the one described above."""
    graph = model.graph
    found = _last_layer(graph)
    if found is None:
        return False
    residual, layer_input, scores, context_reshape = found
    from onnx import numpy_helper

    prefix = "crossrank_cls_only"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([0], dtype=np.int64), f"{prefix}_start"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), f"{prefix}_end"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), f"{prefix}_axis_tokens"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), f"{prefix}_axis_queries"),
            numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64), f"{prefix}_context_shape"),
        ]
    )
    query = scores.input[0]
    cut_query = _slice(f"{prefix}_query", query, f"{prefix}_axis_queries", prefix)
    cut_input = _slice(f"{prefix}_input", layer_input, f"{prefix}_axis_tokens", prefix)
    scores.input[0] = cut_query.output[0]
    residual.input[list(residual.input).index(layer_input)] = cut_input.output[0]
    context_reshape.input[1] = f"{prefix}_context_shape"
    nodes = list(graph.node)
    nodes.insert(nodes.index(scores), cut_query)
    nodes.insert(nodes.index(residual), cut_input)
    del graph.node[:]
    graph.node.extend(nodes)
    return True


def _slice(name: str, source: str, axis: str, prefix: str) -> Any:
    from onnx import helper

    return helper.make_node(
        "Slice", [source, f"{prefix}_start", f"{prefix}_end", axis], [f"{name}_position0"], name=name
    )


def _last_layer(graph: Any) -> tuple[Any, str, Any, Any] | None:
    """(the attention residual Add, the layer's input, the scores MatMul, the context Reshape) of the layer under
    the head, or None."""
    producer, consumers = links(graph.node)
    outputs = {o.name for o in graph.output}
    constants = _scalar_constants(graph)
    head = next(
        (
            n
            for n in graph.node
            if n.op_type == "Gather"
            and attribute(n, "axis", 0) == 1
            and constants.get(n.input[1]) == 0
            and getattr(producer.get(n.input[0]), "op_type", "") == "LayerNormalization"
        ),
        None,
    )
    if head is None:
        return None
    out_norm = producer[head.input[0]]
    if len(consumers[out_norm.output[0]]) != 1 or out_norm.output[0] in outputs:
        return None
    mid_norm = _up_to(producer, out_norm.input[0], "LayerNormalization")
    if mid_norm is None or mid_norm.output[0] in outputs:
        return None
    residual = producer.get(mid_norm.input[0])
    if residual is None or residual.op_type != "Add":
        return None
    layer_inputs = [i for i in residual.input if getattr(producer.get(i), "op_type", "") == "LayerNormalization"]
    other = [i for i in residual.input if i not in layer_inputs]
    if len(layer_inputs) != 1 or len(other) != 1:
        return None
    softmax = _up_to(producer, other[0], "Softmax")
    scores = None if softmax is None else _up_to(producer, softmax.input[0], "MatMul")
    if softmax is None or scores is None:
        return None
    context = [n for n in consumers[softmax.output[0]] if n.op_type == "MatMul"]
    transpose = [n for n in consumers[context[0].output[0]] if n.op_type == "Transpose"] if len(context) == 1 else []
    reshape = [n for n in consumers[transpose[0].output[0]] if n.op_type == "Reshape"] if len(transpose) == 1 else []
    if len(reshape) != 1:
        return None
    return residual, layer_inputs[0], scores, reshape[0]


def _up_to(producer: dict[str, Any], name: str, op_type: str) -> Any | None:
    """The nearest node of `op_type` up the first-input chain from tensor `name` (any input for Add and Mul)."""
    frontier = [name]
    for _ in range(_WALK_LIMIT):
        nodes = [producer[n] for n in frontier if n in producer]
        match = next((n for n in nodes if n.op_type == op_type), None)
        if match is not None:
            return match
        frontier = [i for n in nodes for i in (n.input if n.op_type in ("Add", "Mul", "Div", "Where") else n.input[:1])]
        if not frontier:
            return None
    return None


def _scalar_constants(graph: Any) -> dict[str, int]:
    """Integer scalars (0-d or one element) held by initializers and Constant nodes, by tensor name."""
    return {
        name: int(value.reshape(-1)[0])
        for name, value in small_constants(graph).items()
        if value.size == 1 and value.dtype in (np.int32, np.int64)
    }
