"""What the graph rewrites (`cls_only`, `attention`, `static_int8`, `smoothing`, float dequantising) share: who
makes and who reads each tensor, small constants and attributes, and dropping what a rewrite left unused."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def links(nodes: Iterable[Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(the node that makes each tensor, the nodes that read each tensor; empty for a tensor nothing reads)."""
    producer: dict[str, Any] = {}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in nodes:
        producer.update((out, node) for out in node.output)
        for name in node.input:
            consumers[name].append(node)
    return producer, consumers


def small_constants(graph: Any) -> dict[str, np.ndarray]:
    """Constant tensors of at most 8 values (initializers and Constant nodes), by name: shapes, axes, scales."""
    from onnx import numpy_helper

    tensors = [(t.name, t) for t in graph.initializer if int(np.prod(t.dims)) <= 8]
    for node in graph.node:
        if node.op_type == "Constant":
            tensors += [(node.output[0], a.t) for a in node.attribute if a.name == "value"]
    return {name: numpy_helper.to_array(t) for name, t in tensors if int(np.prod(t.dims)) <= 8}


def attribute(node: Any, name: str, default: Any) -> Any:
    """A node's attribute by name (its Python value), or `default`."""
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def use_microsoft_domain(model: Any) -> None:
    """Declare ONNX Runtime's contrib operator set (`com.microsoft`) once, for the operators a rewrite adds."""
    from onnx import helper

    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def insert_nodes(graph: Any, *, before: Mapping[str, list[Any]], after: Mapping[str, list[Any]]) -> None:
    """Place new nodes just before (`before`) or just after (`after`) the existing node of that name, so that
    `graph`'s node list stays in an order where every input is made before it is read."""
    ordered: list[Any] = []
    for node in graph.node:
        ordered.extend(before.get(node.name, []))
        ordered.append(node)
        ordered.extend(after.get(node.name, []))
    del graph.node[:]
    graph.node.extend(ordered)


def prune(graph: Any, nodes: Iterable[Any]) -> None:
    """Set `graph`'s nodes (an `onnx.GraphProto`) to those of `nodes` that some graph output depends on, in
    their order, and drop the initializers none of them reads."""
    needed = {o.name for o in graph.output}
    live: list[Any] = []
    for node in reversed(list(nodes)):
        if any(out in needed for out in node.output):
            live.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(live[::-1])
    drop_unread_initializers(graph)


def drop_unread_initializers(graph: Any) -> None:
    """Drop the initializers no node of `graph` reads."""
    read = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)
