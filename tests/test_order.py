"""A ranking is a function of the set of documents: any order of the same documents gives the same results
(each document's score and rank), unless the caller says the order is a first stage's ranking
(`ranked_input=True`). Equal scores come in code-point order of their text, duplicates by index."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossrank import Reranker

SEASONS = "what causes the seasons on earth"
RELEVANT = (
    "The seasons are caused by the tilt of Earth's rotational axis relative to its orbit around the Sun, which "
    "changes how directly sunlight strikes each hemisphere over the year."
)
# Word salad on the query's topic words and off them, as a merged candidate list from several retrievers holds.
_WORDS = [
    "earth",
    "orbit",
    "season",
    "winter",
    "river",
    "cause",
    "summer",
    "rock",
    "planet",
    "tilt",
    "spring",
    "ocean",
    "cloud",
    "sun",
    "light",
    "axis",
]


def distractors(n: int) -> list[str]:
    """`n` distinct word-salad passages (deterministic)."""
    return [" ".join(_WORDS[(i * 7 + j * 3) % len(_WORDS)] for j in range(5 + i % 9)) + f" {i}." for i in range(n)]


# Ties by construction: texts the tokenizer cannot tell apart (spacing) score the same bits, and duplicates.
TIED = ["Seasons.", " Seasons.", "Seasons. ", "Seasons."]
DOCUMENTS = [RELEVANT, *TIED, *distractors(40)]

Ranked = list[tuple[str, float, str | None]]
"""A ranking as (document text, score, scored_by), best first: what must not depend on the input order."""


def ranked_texts(rank: Callable[[list[str]], list[tuple[int, float, str | None]]], documents: list[str]) -> Ranked:
    return [(documents[i], score, by) for i, score, by in rank(documents)]


def library(reranker: Reranker) -> Callable[[list[str]], list[tuple[int, float, str | None]]]:
    return lambda docs: [(r.index, r.score, r.scored_by) for r in reranker.rerank(SEASONS, docs)]


@pytest.fixture(scope="module")
def default_path() -> Reranker:
    return Reranker(threads=1)


@pytest.mark.slow
def test_a_relevant_document_ranks_first_wherever_it_arrives(default_path: Reranker) -> None:
    first = default_path.rerank(SEASONS, [RELEVANT, *distractors(99)])
    last = default_path.rerank(SEASONS, [*distractors(99), RELEVANT])
    assert (first[0].index, last[0].index) == (0, 99)
    assert first[0].score == last[0].score and first[0].scored_by == last[0].scored_by == "crossrank-default"
    assert [r.score for r in first] == [r.score for r in last]


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(order=st.permutations(range(len(DOCUMENTS))))
def test_any_permutation_gives_the_same_ranking(default_path: Reranker, order: Sequence[int]) -> None:
    shuffled = [DOCUMENTS[i] for i in order]
    assert ranked_texts(library(default_path), shuffled) == ranked_texts(library(default_path), DOCUMENTS)


@pytest.mark.slow
def test_ties_follow_the_text_then_the_index(default_path: Reranker) -> None:
    results = default_path.rerank(SEASONS, TIED)
    assert len({r.score for r in results}) == 1  # the tokenizer makes one input of all four
    assert [r.index for r in results] == [1, 0, 3, 2]  # " Seasons." < "Seasons." (twice, by index) < "Seasons. "


@pytest.mark.slow
def test_ranked_input_lets_the_first_stage_order_count(default_path: Reranker) -> None:
    documents = [*distractors(99), RELEVANT]
    unranked = default_path.rerank(SEASONS, documents)
    ranked = default_path.rerank(SEASONS, documents, ranked_input=True)
    assert unranked[0].index == 99  # a set: the relevant passage reaches the full model wherever it is
    # As a first stage's ranking, last place counts against it: fused with that order it misses the full model.
    assert next(r for r in ranked if r.index == 99).scored_by == "crossrank-tiny"
    # Ties keep the input order when it is a ranking.
    assert [r.index for r in default_path.rerank(SEASONS, TIED, ranked_input=True)] == [0, 1, 2, 3]
