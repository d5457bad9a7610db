"""`crossrank.export.cls_only`: the last layer cut to the first token gives every pair the same bits as the whole
graph, on the built-in models' runtime graphs and on float exports of the families the tests build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from crossrank import Reranker
from crossrank.backends.dequantize import float_graph
from crossrank.export.cls_only import cls_only
from crossrank.export.onnx import onnx_file
from crossrank.export.static_int8 import static_graph
from crossrank.models import built_in_dir
from tests.conftest import graph_logits


@pytest.mark.parametrize("name", ["crossrank-tiny", "crossrank-default"])
@pytest.mark.parametrize("graph", [static_graph, float_graph], ids=["static int8", "float32"])
def test_built_in_graphs_give_the_same_bits_with_the_last_layer_cut(name: str, graph: object) -> None:
    int8 = built_in_dir(name) / "onnx" / "model_int8.onnx"
    whole, cut = graph(int8), graph(int8)  # type: ignore[operator]
    assert cls_only(cut)
    assert sum(n.op_type == "Slice" for n in cut.graph.node) == sum(n.op_type == "Slice" for n in whole.graph.node) + 2
    reranker = Reranker(name, cascade_model=None)
    assert np.array_equal(graph_logits(whole, reranker), graph_logits(cut, reranker))


@pytest.mark.parametrize("family", ["tiny_bert", "tiny_bert_two_logits", "tiny_electra", "tiny_xlmr"])
def test_float_exports_of_each_family_give_the_same_bits(
    family: str, request: pytest.FixtureRequest, cache_dir: Path
) -> None:
    folder: Path = request.getfixturevalue(family)
    path = onnx_file(folder, folder.name, quantized=False, cache_dir=cache_dir)
    whole, cut = onnx.load(str(path)), onnx.load(str(path))
    assert cls_only(cut), f"{family}: the head was not recognised"
    reranker = Reranker(folder, backend="onnx", cache_dir=cache_dir)
    assert np.array_equal(graph_logits(whole, reranker), graph_logits(cut, reranker))


def test_a_graph_that_also_returns_the_last_hidden_states_is_left_alone() -> None:
    model = static_graph(built_in_dir("crossrank-tiny") / "onnx" / "model_int8.onnx")
    head = next(n for n in model.graph.node if n.op_type == "Gather" and n.name.endswith("pooler/Gather"))
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(head.input[0]))
    before = model.SerializeToString()
    assert not cls_only(model)
    assert model.SerializeToString() == before
