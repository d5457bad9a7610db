"""Dropping what a graph rewrite left unused: nodes no output depends on, initializers no node reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
    kept = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(kept)
