"""The cascade's arithmetic without a model (which documents go on, how the ranking is assembled), and a cascade
in front of any model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossrank.cascade import assemble, best_kept


def test_the_best_keep_go_on_and_ties_follow_the_tie_order() -> None:
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1])
    assert best_kept(scores, 2, ties=np.arange(5)).tolist() == [1, 3]
    assert best_kept(scores, 3, ties=np.array([4, 3, 2, 1, 0])).tolist() == [1, 2, 3]
    # equal scores: the tie order decides which of them goes on
    assert best_kept(np.zeros(4), 2, ties=np.array([3, 0, 2, 1])).tolist() == [1, 3]


def test_ranked_input_fuses_the_first_pass_with_the_input_order() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9])  # the first pass prefers the last documents
    alone = best_kept(scores, 2, ties=np.arange(5))
    fused = best_kept(scores, 2, ties=np.arange(5), fuse_order=True)
    assert alone.tolist() == [3, 4]
    assert fused.tolist() == [0, 4]  # the first stage's best (position 0) earns its place back


def test_assemble_puts_the_kept_first_and_never_raises_a_score_down_the_list() -> None:
    ranking = assemble(
        documents=5,
        kept=np.array([1, 3]),
        main=np.array([0.4, 0.7]),
        first=np.array([0.9, 0.5, 0.6, 0.2, 0.8]),
        model="full",
        first_pass_model="first",
        document_tokens=np.ones(5, dtype=np.int64),
        ties=np.arange(5),
    )
    assert ranking.positions.tolist() == [3, 1, 0, 4, 2]
    assert ranking.scores.tolist() == [0.7, 0.4, 0.4, 0.4, 0.4]  # the first pass's scores capped at the floor
    assert [r.scored_by for r in ranking.results()] == ["full", "full", "first", "first", "first"]
    alone = assemble(
        documents=2,
        kept=np.array([0, 1]),
        main=np.array([0.3, 0.3]),
        first=None,
        model="full",
        first_pass_model="first",
        document_tokens=np.ones(2, dtype=np.int64),
        ties=np.array([1, 0]),
    )
    assert alone.positions.tolist() == [1, 0] and alone.first_pass_model is None  # no first pass ran


def test_any_model_cascades_from_a_first_pass_with_another_tokenizer(tiny_xlmr: Path, cache_dir: Path) -> None:
    """An XLM-R model (SentencePiece-style Unigram tokens) behind crossrank-tiny (WordPiece): each model reads
    its own tokens; the kept documents carry the full model's own scores, the rest crossrank-tiny's order."""
    from crossrank import Reranker
    from tests.tiny_models import CORPUS

    query = "wind tunnel flow over a wing"
    cascade = Reranker(tiny_xlmr, cascade_model="crossrank-tiny", cascade_keep=3, cache_dir=cache_dir)
    alone = Reranker(tiny_xlmr, cascade_model=None, cache_dir=cache_dir)
    tiny = Reranker("crossrank-tiny", cascade_model=None)
    results = cascade.rerank(query, CORPUS)
    assert cascade.name.startswith("crossrank-tiny") and alone.spec.name in cascade.name
    first = tiny.score([(query, d) for d in CORPUS])
    kept = sorted(range(len(CORPUS)), key=lambda i: (-first[i], CORPUS[i]))[:3]
    assert sorted(r.index for r in results[:3]) == sorted(kept)
    own = dict(zip(range(len(CORPUS)), alone.score([(query, d) for d in CORPUS]), strict=True))
    assert [r.score for r in results[:3]] == sorted((own[i] for i in kept), reverse=True)
    assert {r.scored_by for r in results[:3]} == {alone.spec.name}
    assert {r.scored_by for r in results[3:]} == {"crossrank-tiny"}
