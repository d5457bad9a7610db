"""`crossrank.export.attention`: each attention block in one `MultiHeadAttention` gives every pair the same bits
on the static int8 graphs (where the runtime graph fuses it), and is recognised, right to rounding, on float
graphs of the built-in models and of every family the tests build; a graph of another shape is left alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from crossrank import Reranker
from crossrank.backends.dequantize import float_graph
from crossrank.export.attention import fuse_attention
from crossrank.export.cls_only import cls_only
from crossrank.export.onnx import onnx_file
from crossrank.export.static_int8 import static_graph
from crossrank.models import built_in_dir
from tests.conftest import graph_logits

LAYERS = {"crossrank-tiny": 2, "crossrank-default": 6}


@pytest.mark.parametrize("name", ["crossrank-tiny", "crossrank-default"])
@pytest.mark.parametrize("last_layer_cut", [False, True], ids=["whole", "cls_only"])
def test_static_int8_graphs_keep_their_bits(name: str, last_layer_cut: bool) -> None:
    int8 = built_in_dir(name) / "onnx" / "model_int8.onnx"
    before, fused = static_graph(int8), static_graph(int8)
    if last_layer_cut:
        assert cls_only(before) and cls_only(fused)
    assert fuse_attention(fused) == LAYERS[name]
    ops = Counter(n.op_type for n in fused.graph.node)
    assert ops["MultiHeadAttention"] == LAYERS[name] and ops["Softmax"] == 0 and ops["Transpose"] == 0
    reranker = Reranker(name, cascade_model=None)
    assert np.array_equal(graph_logits(before, reranker), graph_logits(fused, reranker))


@pytest.mark.parametrize("name", ["crossrank-tiny", "crossrank-default"])
def test_float32_graphs_are_fused_right_to_rounding(name: str) -> None:
    int8 = built_in_dir(name) / "onnx" / "model_int8.onnx"
    before, fused = float_graph(int8), float_graph(int8)
    assert cls_only(before) and cls_only(fused) and fuse_attention(fused) == LAYERS[name]
    reranker = Reranker(name, cascade_model=None)
    np.testing.assert_allclose(graph_logits(fused, reranker), graph_logits(before, reranker), rtol=0, atol=1e-5)


@pytest.mark.parametrize("family", ["tiny_bert", "tiny_bert_two_logits", "tiny_electra", "tiny_xlmr"])
def test_float_exports_of_each_family_are_recognised(
    family: str, request: pytest.FixtureRequest, cache_dir: Path
) -> None:
    folder: Path = request.getfixturevalue(family)
    path = onnx_file(folder, folder.name, quantized=False, cache_dir=cache_dir)
    before, fused = onnx.load(str(path)), onnx.load(str(path))
    assert fuse_attention(fused) > 0, f"{family}: no attention block was recognised"
    reranker = Reranker(folder, backend="onnx", cache_dir=cache_dir)
    np.testing.assert_allclose(graph_logits(fused, reranker), graph_logits(before, reranker), rtol=0, atol=1e-5)


def test_a_graph_scaled_by_division_is_left_alone() -> None:
    model = static_graph(built_in_dir("crossrank-tiny") / "onnx" / "model_int8.onnx")
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    producer = {o: n for n in model.graph.node for o in n.output}
    scale = next(n for n in producer[softmax.input[0]].input if getattr(producer.get(n), "op_type", "") == "Mul")
    producer[scale].op_type = "Div"  # one block of another shape: the whole graph stays as it is
    before = model.SerializeToString()
    assert fuse_attention(model) == 0
    assert model.SerializeToString() == before


def test_a_graph_without_an_attention_mask_input_is_left_alone() -> None:
    model = static_graph(built_in_dir("crossrank-tiny") / "onnx" / "model_int8.onnx")
    model.graph.input[[i.name for i in model.graph.input].index("attention_mask")].name = "mask"
    before = model.SerializeToString()
    assert fuse_attention(model) == 0
    assert model.SerializeToString() == before


def test_the_runtime_graph_fuses_static_int8_only() -> None:
    from crossrank.backends.onnx import runtime_graph

    int8 = built_in_dir("crossrank-tiny") / "onnx" / "model_int8.onnx"
    for arithmetic, fused in (("static int8", 2), ("float32", 0)):
        graph = onnx.load_from_string(runtime_graph(int8, arithmetic, int8_weights=True))  # type: ignore[arg-type]
        assert sum(n.op_type == "MultiHeadAttention" for n in graph.graph.node) == fused, arithmetic
