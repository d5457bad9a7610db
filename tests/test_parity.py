"""Score parity with the `transformers` reference (AutoModelForSequenceClassification + sigmoid/softmax)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossrank import Reranker
from tests.tiny_models import CORPUS, reference_scores

TOLERANCE = 1e-4  # fp32 backends against the fp32 reference
LONG_DOC = " ".join(CORPUS * 8)  # ~400 words: far past the 128-token window, so truncation is exercised
QUERIES = ["cat on the mat", "supersonic wing flow", "capital of france", "rain at night in the city"]
PAIRS = [(q, d) for q in QUERIES for d in [*CORPUS, LONG_DOC, ""]]


def _check(folder: Path, backend: str, cache_dir: Path, num_labels: int = 1) -> None:
    reranker = Reranker(folder, backend=backend, cache_dir=cache_dir)
    ours = np.array(reranker.score(PAIRS))
    ref = np.array(reference_scores(folder, PAIRS, max_length=reranker.spec.max_length, num_labels=num_labels))
    assert ref.max() - ref.min() > 0.05, "reference scores barely vary: parity would prove nothing"
    np.testing.assert_allclose(ours, ref, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_bert_one_logit(tiny_bert: Path, cache_dir: Path, backend: str) -> None:
    _check(tiny_bert, backend, cache_dir)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_bert_two_logits_softmax_positive_class(tiny_bert_two_logits: Path, cache_dir: Path, backend: str) -> None:
    _check(tiny_bert_two_logits, backend, cache_dir, num_labels=2)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_electra(tiny_electra: Path, cache_dir: Path, backend: str) -> None:
    _check(tiny_electra, backend, cache_dir)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_xlm_roberta(tiny_xlmr: Path, cache_dir: Path, backend: str) -> None:
    _check(tiny_xlmr, backend, cache_dir)


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_electra", "tiny_xlmr"])
def test_int8_keeps_top1(fixture: str, cache_dir: Path, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    """Random tiny models quantise worse than trained ones (wide weights, 32-dim layers), so this pins the
    top-1 on a fixed set and bounds the score error; the real-weights test in test_minilm.py is stricter."""
    fp32 = Reranker(folder, backend="onnx", cache_dir=cache_dir)
    int8 = Reranker(folder, backend="onnx-int8", cache_dir=cache_dir)
    for query in QUERIES:
        assert fp32.rerank(query, CORPUS)[0].index == int8.rerank(query, CORPUS)[0].index
    error = np.abs(np.array(fp32.score(PAIRS)) - np.array(int8.score(PAIRS)))
    assert error.max() < 0.15  # a broken quantisation (wrong scales, saturation) errs by ~0.5 here


def test_raw_scores_are_logits(tiny_bert: Path, tiny_bert_two_logits: Path, cache_dir: Path) -> None:
    for folder in (tiny_bert, tiny_bert_two_logits):
        reranker = Reranker(folder, backend="onnx", cache_dir=cache_dir)
        probs = np.array(reranker.score(PAIRS[:10]))
        logits = np.array(reranker.score(PAIRS[:10], raw=True))
        np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probs, atol=1e-9)


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_electra", "tiny_xlmr"])
def test_export_is_plain_attention(fixture: str, cache_dir: Path, request: pytest.FixtureRequest) -> None:
    """The ONNX export uses eager attention: no per-layer IsNaN/Where guards (SDPA's export adds them and they
    cost ~30% of int8 run time on CPU; the mask is built once with <= 2 Where), and the int8 file runs its
    matrix products as integer kernels."""
    from collections import Counter

    import onnx

    from crossrank.export.onnx import onnx_file

    folder: Path = request.getfixturevalue(fixture)
    for quantized in (False, True):
        path = onnx_file(folder, fixture, quantized=quantized, cache_dir=cache_dir)
        ops = Counter(node.op_type for node in onnx.load(str(path)).graph.node)
        assert ops["IsNaN"] == 0 and ops["Where"] <= 2, ops
        assert (ops["MatMulInteger"] > 0) == quantized, ops
