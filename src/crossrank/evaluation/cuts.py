"""What a reranker's scores are worth as probabilities, and what cutting its ranking costs.

For every reranked stage whose scores are probabilities: the reliability table and its expected calibration
error over all candidates of the judged queries (relevant = any positive judgement), and for each cut a user
may make (`min_score`, a token budget) the passages and tokens kept per query and the share of queries whose
best relevant candidate survives the cut.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from crossrank.evaluation.calibration import Reliability, reliability
from crossrank.ranking import fitting, keys_best_first
from crossrank.types import Qrels, Run

MIN_SCORES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
BUDGETS = (250, 500, 1000, 2000, 4000)


@dataclass(frozen=True, slots=True)
class CutRow:
    """One cut over every query: mean passages and tokens kept, and the share of queries (among those with a
    relevant candidate) whose best relevant candidate is kept."""

    cut: str
    passages: float
    tokens: float
    best_relevant_kept: float


def stage_reliability(run: Run, qrels: Qrels) -> Reliability:
    """Reliability of a run's scores over all its candidates; judged-relevant means a grade above 0."""
    scores, labels = [], []
    for qid, docs in run.items():
        judged = qrels.get(qid, {})
        for doc, score in docs.items():
            scores.append(score)
            labels.append(1 if judged.get(doc, 0) > 0 else 0)
    return reliability(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0), np.asarray(labels))


SHARES = (0.8, 0.9, 0.95)
"""Shares of queries for which the cut table finds the `min_score` that keeps their best relevant candidate."""


def cut_table(run: Run, qrels: Qrels, tokens: Mapping[str, int]) -> list[CutRow]:
    """The cut rows for `MIN_SCORES` and `BUDGETS`, and for each of `SHARES` the highest `min_score` that keeps the
    best relevant candidate of that share of the queries that have one; `tokens[doc]` counts a document's tokens."""
    rankings = {qid: keys_best_first(docs) for qid, docs in run.items()}
    spent: Callable[[str, str], int] = lambda qid, doc: tokens[doc]  # noqa: E731
    rows = [_row(f"min_score {t:g}", rankings, qrels, spent, _above(run, t)) for t in MIN_SCORES]
    best = sorted(
        run[qid][doc] for qid, ranking in rankings.items() if (doc := _best_relevant(ranking, qrels.get(qid, {})))
    )
    for share in SHARES if best else ():
        threshold = best[int(np.floor((1 - share) * len(best) + 1e-9))]  # the highest that keeps the share
        name = f"min_score {threshold:.3g} (keeps {share:.0%})"
        rows.append(_row(name, rankings, qrels, spent, _above(run, threshold)))
    return rows + [_row(f"{b} tokens", rankings, qrels, spent, _within(spent, b)) for b in BUDGETS]


def _row(
    name: str,
    rankings: Mapping[str, list[str]],
    qrels: Qrels,
    tokens: Callable[[str, str], int],
    keep: Callable[[str, list[str]], int],
) -> CutRow:
    passages, spent, survived, answerable = [], [], 0, 0
    for qid, ranking in rankings.items():
        kept = ranking[: keep(qid, ranking)]
        passages.append(len(kept))
        spent.append(sum(tokens(qid, d) for d in kept))
        best = _best_relevant(ranking, qrels.get(qid, {}))
        if best is not None:
            answerable += 1
            survived += best in kept
    return CutRow(
        cut=name,
        passages=float(np.mean(passages)) if passages else 0.0,
        tokens=float(np.mean(spent)) if spent else 0.0,
        best_relevant_kept=survived / answerable if answerable else float("nan"),
    )


def _above(run: Run, threshold: float) -> Callable[[str, list[str]], int]:
    """How many of a query's ranking score at least `threshold` (scores never increase down a ranking)."""
    return lambda qid, ranking: sum(1 for doc in ranking if run[qid][doc] >= threshold)


def _within(tokens: Callable[[str, str], int], budget: int) -> Callable[[str, list[str]], int]:
    """How many of a ranking fit, best first, in `budget` tokens (`tokens(qid, doc)`: what a document spends)."""
    return lambda qid, ranking: fitting([tokens(qid, d) for d in ranking], budget)


def _best_relevant(ranking: Sequence[str], judged: Mapping[str, int]) -> str | None:
    """The highest-graded relevant candidate; among equal grades the one ranked first."""
    graded = [(judged.get(d, 0), -i, d) for i, d in enumerate(ranking) if judged.get(d, 0) > 0]
    return max(graded)[2] if graded else None


def evidence_budget_rows(run: Run, qrels: Qrels, tokens: Mapping[tuple[str, str], int]) -> list[CutRow]:
    """The `BUDGETS` rows when a budget counts only each result's evidence (`budget_counts="evidence"`):
    `tokens[(qid, doc)]` counts the tokens of the part of `doc` its score for query `qid` came from."""
    rankings = {qid: keys_best_first(docs) for qid, docs in run.items()}

    def spent(qid: str, doc: str) -> int:
        return tokens[(qid, doc)]

    return [_row(f"{b} tokens, matching windows", rankings, qrels, spent, _within(spent, b)) for b in BUDGETS]
