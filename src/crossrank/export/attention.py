"""Attention in one operator: each layer's scaled dot-product attention becomes ONNX Runtime's
`com.microsoft.MultiHeadAttention`, which ONNX Runtime does not fuse by itself once the projections are integer.

An exported BERT-style layer computes attention as ~10 operators: the query, key and value projections reshaped
to heads and transposed, the scores `MatMul`, a `Mul` by the scale, an `Add` of the padding mask, `Softmax`,
the context `MatMul`, a transpose and a reshape back. `fuse_attention` rewrites each such block in place into
one `MultiHeadAttention` on the projections (batch, length, hidden), with the padding mask as a key padding mask
built once from the `attention_mask` input. The operator runs the same GEMM, mask and softmax kernels on the
same numbers, so every pair keeps its bits (`tests/test_attention_fusion.py`); it skips the transposes and the
broadcast mask `Add` (~1.2x on the attention of 232-token pairs). A last layer cut to the first token
(`crossrank.export.cls_only`) keeps its cut: the query projection is sliced to position 0 before the operator.
The mask is taken for a padding mask, as in the encoders this serves (BERT, ELECTRA, XLM-R); a decoder's block
(rotary positions between the reshape and the product, a causal mask) does not have this shape. A graph with any
block of another shape (a `Div` by the scale, a scaled query) is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crossrank.export.graph_edit import attribute, links, prune, small_constants, use_microsoft_domain

_PREFIX = "crossrank_attention"


@dataclass(frozen=True, slots=True)
class _Block:
    """One attention block found in a graph: the tensors it reads, its scale and heads, what it outputs."""

    query: str
    query_cut: bool  # a last layer under `cls_only`: its transposed query was sliced to position 0
    key: str
    value: str
    mask: str
    scale: float
    heads: int
    output: str
    nodes: tuple[Any, ...]


def fuse_attention(model: Any) -> int:
    """Rewrite every standard attention block of `model` (an `onnx.ModelProto` with an `attention_mask` input)
    into one `MultiHeadAttention`; how many were rewritten (0: the model is left untouched)."""
    graph = model.graph
    if "attention_mask" not in {i.name for i in graph.input}:
        return 0
    blocks = _blocks(graph)
    if not blocks:
        return 0
    from onnx import TensorProto, helper, numpy_helper

    mask = f"{_PREFIX}_key_padding_mask"
    graph.initializer.extend(
        numpy_helper.from_array(np.array([value], dtype=np.int64), f"{_PREFIX}_{name}")
        for name, value in (("start", 0), ("end", 1), ("axis_tokens", 1))
    )
    fused: dict[int, list[Any]] = {}
    for number, block in enumerate(blocks):
        name = f"{_PREFIX}_{number}"
        new: list[Any] = []
        query = block.query
        if block.query_cut:
            cut_inputs = [query, f"{_PREFIX}_start", f"{_PREFIX}_end", f"{_PREFIX}_axis_tokens"]
            new.append(helper.make_node("Slice", cut_inputs, [f"{name}_query_position0"], name=f"{name}_query_cut"))
            query = new[-1].output[0]
        new.append(
            helper.make_node(
                "MultiHeadAttention",
                [query, block.key, block.value, "", mask],
                [block.output],
                name=name,
                domain="com.microsoft",
                num_heads=block.heads,
                scale=block.scale,
            )
        )
        fused[id(block.nodes[-1])] = new  # where the block's output was made: every input exists by then
    dropped = {id(n) for block in blocks for n in block.nodes}
    nodes = [helper.make_node("Cast", ["attention_mask"], [mask], name=mask, to=TensorProto.INT32)]
    for node in graph.node:
        nodes += fused.get(id(node), []) if id(node) in dropped else [node]
    prune(graph, nodes)  # the removed reshapes' shape arithmetic and constants (`cls_only`'s among them)
    use_microsoft_domain(model)
    return len(blocks)


def _blocks(graph: Any) -> list[_Block]:
    """Every attention block of the graph when all have the shape this module fuses and share one padding mask;
    otherwise none (a graph is fused whole or not at all)."""
    producer, consumers = links(graph.node)
    shapes = {t.name: tuple(int(d) for d in t.dims) for t in graph.initializer}
    graph_view = _Graph(producer, consumers, small_constants(graph), shapes)
    found = [_block(s, graph_view) for s in graph.node if s.op_type == "Softmax"]
    blocks = [b for b in found if b is not None]
    if len(blocks) != len(found) or len({b.mask for b in blocks}) != 1:
        return []
    return blocks


@dataclass(frozen=True, slots=True)
class _Graph:
    """What the pattern matching asks of a graph: who makes and who reads each tensor, small constants, shapes."""

    producer: dict[str, Any]
    consumers: dict[str, list[Any]]
    constants: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]  # of the initializers

    def width(self, name: str) -> int:
        """The last dimension of a projection's output, from its weight's columns or its bias's length (followed
        through `Add` and `Identity`); 0 when neither is found."""
        node = self.producer.get(name)
        if node is None:  # an initializer: a bias has one dimension
            shape = self.shapes.get(name, ())
            return shape[0] if len(shape) == 1 else 0
        if node.op_type in ("MatMul", "MatMulIntegerToFloat") and len(self.shapes.get(node.input[1], ())) == 2:
            return self.shapes[node.input[1]][1]
        if node.op_type in ("Add", "Identity"):
            return max(self.width(i) for i in node.input)
        return 0

    def made_by(self, name: str, op_type: str) -> Any:
        """The node of `op_type` that makes tensor `name`, or None."""
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def only_consumer(self, name: str, op_type: str) -> Any:
        """The one node that reads tensor `name` when it is of `op_type`, or None."""
        found = self.consumers.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op_type else None

    def single_use(self, *nodes: Any) -> bool:
        """Whether each node's output feeds exactly one node (so the block may drop it)."""
        return all(len(self.consumers.get(n.output[0], [])) == 1 for n in nodes)


def _block(softmax: Any, g: _Graph) -> _Block | None:
    """The block around one `Softmax`, or None when any step differs from the standard shape."""
    add = g.made_by(softmax.input[0], "Add") if attribute(softmax, "axis", -1) == -1 else None
    mul = next((g.made_by(i, "Mul") for i in add.input if g.made_by(i, "Mul")), None) if add else None
    scores = next((g.made_by(i, "MatMul") for i in mul.input if g.made_by(i, "MatMul")), None) if mul else None
    if add is None or mul is None or scores is None or not g.single_use(scores, mul, add):
        return None
    scale = next((g.constants[i] for i in mul.input if i in g.constants), None)
    mask = next(i for i in add.input if i != mul.output[0])
    query_cut = g.made_by(scores.input[0], "Slice")
    query_heads = g.made_by(query_cut.input[0] if query_cut else scores.input[0], "Transpose")
    key_heads = g.made_by(scores.input[1], "Transpose")
    context = g.only_consumer(softmax.output[0], "MatMul")
    value_heads = g.made_by(context.input[1], "Transpose") if context else None
    back = g.only_consumer(context.output[0], "Transpose") if context else None
    joined = g.only_consumer(back.output[0], "Reshape") if back else None
    heads_of: tuple[Any, ...] = (query_heads, key_heads, value_heads)
    if scale is None or scale.size != 1 or joined is None or None in heads_of:
        return None
    if query_cut is not None and not (g.single_use(query_cut) and _cuts_position0(query_cut, g.constants)):
        return None
    perms = [attribute(n, "perm", None) for n in (*heads_of, back)]
    if perms != [[0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3], [0, 2, 1, 3]]:
        return None
    splits = [g.made_by(n.input[0], "Reshape") for n in heads_of]
    if None in splits or not g.single_use(*splits, *heads_of, context, back):
        return None
    heads = {_heads(s, g) for s in splits}
    if len(heads) != 1 or None in heads:
        return None
    cut = [query_cut] if query_cut is not None else []
    return _Block(
        query=splits[0].input[0],
        query_cut=query_cut is not None,
        key=splits[1].input[0],
        value=splits[2].input[0],
        mask=mask,
        scale=float(scale.reshape(-1)[0]),
        heads=int(heads.pop()),  # type: ignore[arg-type]
        output=joined.output[0],
        nodes=(*splits, *heads_of, *cut, scores, mul, add, softmax, context, back, joined),
    )


def _heads(split: Any, g: _Graph) -> int | None:
    """The head count a (batch, length, heads, head size) `Reshape` splits into, from its shape (a constant, or
    the `Concat` that builds it at run time); a head count of -1 is the hidden size over the head size."""
    shape = g.constants.get(split.input[1])
    concat = g.made_by(split.input[1], "Concat")
    if shape is not None and shape.size == 4:
        heads, size = int(shape[2]), int(shape[3])
    elif concat is not None and len(concat.input) == 4:
        parts = [g.constants.get(i) for i in concat.input[2:]]
        if any(p is None or p.size != 1 for p in parts):
            return None
        heads, size = (int(p.reshape(-1)[0]) for p in parts)  # type: ignore[union-attr]
    else:
        return None
    width = g.width(split.input[0])
    if heads == -1 and size > 0 and width % size == 0:
        heads = width // size
    return heads if heads > 0 else None


def _cuts_position0(node: Any, constants: dict[str, np.ndarray]) -> bool:
    """Whether a `Slice` keeps position 0 only of the query rows (axis 2 of batch, heads, length, head size)."""
    values = [constants.get(i) for i in node.input[1:4]]
    if len(node.input) < 4 or any(v is None or v.size != 1 for v in values):
        return False
    start, end, axis = (int(v.reshape(-1)[0]) for v in values)  # type: ignore[union-attr]
    return (start, end, axis) == (0, 1, 2)
