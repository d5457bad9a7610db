"""`crossrank.export.static_int8`: the rewrites after the fixed scales change no bit of any score."""

from __future__ import annotations

import numpy as np
import pytest

from crossrank import Reranker
from crossrank.export.static_int8 import fixed_quantisers, fuse_rescales
from crossrank.models import built_in_dir
from tests.conftest import graph_logits


@pytest.mark.parametrize("name", ["crossrank-tiny", "crossrank-default"])
def test_static_int8_folds_every_rescale_into_its_integer_product_with_the_same_bits(name: str) -> None:
    int8 = built_in_dir(name) / "onnx" / "model_int8.onnx"
    unfused, fused = fixed_quantisers(int8), fixed_quantisers(int8)
    products = sum(n.op_type == "MatMulInteger" for n in unfused.graph.node)
    assert fuse_rescales(fused) == products
    assert sum(n.op_type == "MatMulIntegerToFloat" for n in fused.graph.node) == products
    assert not any(n.op_type == "MatMulInteger" for n in fused.graph.node)
    assert len(fused.graph.node) <= len(unfused.graph.node) - 3 * products  # its Cast, rescale and bias Add
    reranker = Reranker(name, cascade_model=None)
    assert np.array_equal(graph_logits(unfused, reranker), graph_logits(fused, reranker))
