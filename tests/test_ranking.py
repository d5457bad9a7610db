"""The cuts a caller may ask of a ranking hold whatever the scores and document lengths: the result is a prefix
of the full ranking, no kept score is below `min_score`, at most `top_k` are kept, the kept documents' tokens fit
the budget, and the first result that was cut would not have fitted."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crossrank.ranking import Cut, Ranking


@st.composite
def rankings(draw: st.DrawFn) -> Ranking:
    n = draw(st.integers(min_value=0, max_value=30))
    scores = sorted(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), reverse=True)
    positions = draw(st.permutations(list(range(n))))
    tokens = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    first = draw(st.integers(0, n))
    return Ranking(
        positions=np.array(positions, dtype=np.int64),
        scores=np.array(scores, dtype=np.float64),
        from_first_pass=np.arange(n) >= first,
        model="full",
        first_pass_model="tiny",
        document_tokens=np.array(tokens, dtype=np.int64),
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    ranking=rankings(),
    top_k=st.none() | st.integers(1, 40),
    min_score=st.none() | st.floats(0, 1),
    max_tokens=st.none() | st.integers(1, 3000),
)
def test_a_cut_is_a_prefix_that_honours_every_limit(
    ranking: Ranking, top_k: int | None, min_score: float | None, max_tokens: int | None
) -> None:
    full = ranking.results()
    kept = ranking.results(Cut(top_k=top_k, min_score=min_score, max_tokens=max_tokens))
    assert kept == full[: len(kept)]
    assert [r.scored_by for r in full] == ["tiny" if f else "full" for f in ranking.from_first_pass]
    if top_k is not None:
        assert len(kept) <= top_k
    if min_score is not None:
        assert all(r.score >= min_score for r in kept)
    spent = sum(int(ranking.document_tokens[r.index]) for r in kept)
    if max_tokens is not None:
        assert spent <= max_tokens
    if len(kept) < len(full):  # the next result was cut by one of the limits
        nxt = full[len(kept)]
        cut_by_score = min_score is not None and nxt.score < min_score
        cut_by_k = top_k is not None and len(kept) == top_k
        cut_by_budget = max_tokens is not None and spent + int(ranking.document_tokens[nxt.index]) > max_tokens
        assert cut_by_score or cut_by_k or cut_by_budget
