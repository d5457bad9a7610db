"""The evaluation harness: first stage(s) -> rerank their top-k -> metrics per stage.

Only what a first stage returned is reranked; judged documents are never added to the candidates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from crossrank.corpora import Dataset
from crossrank.errors import InputError
from crossrank.evaluation.calibration import Reliability
from crossrank.evaluation.cuts import CutRow, cut_table, stage_reliability
from crossrank.evaluation.metrics import MEASURES, Significance, mean, paired_test, per_query
from crossrank.fusion import fuse_runs
from crossrank.progress import progress_bar
from crossrank.retrieval.base import Retriever
from crossrank.scorers import CandidateReranker
from crossrank.types import Hits, Qrels, Run

FIRST_STAGES = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class StageResult:
    """One stage's run and its metrics; `latency_ms` holds per-query rerank times for reranked stages."""

    name: str
    run: Run
    per_query: dict[str, dict[str, float]]
    latency_ms: list[float] = field(default_factory=list)
    versus: str | None = None
    significance: dict[str, Significance] = field(default_factory=dict)
    reliability: Reliability | None = None  # for rerankers whose scores are probabilities
    cuts: list[CutRow] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, float]:
        return {m: mean(v) for m, v in self.per_query.items()}


@dataclass(frozen=True)
class Comparison:
    """Two rerankings of the same first stage's candidates, paired per query: `delta` is `stage - against`."""

    stage: str
    against: str
    significance: dict[str, Significance]


def head_to_head(results: Sequence[StageResult]) -> list[Comparison]:
    """Every pair of rerankers over the same first stage, in the order they ran (the model first, then baselines).

    The first-stage column of the table already tests each reranker against its first stage; this answers the
    other question a reader asks: is the model better than the baselines on the very same candidates?
    """
    comparisons = []
    for i, stage in enumerate(results):
        for against in results[i + 1 :]:
            if stage.versus is not None and against.versus == stage.versus:
                significance = {m: paired_test(against.per_query[m], stage.per_query[m]) for m in MEASURES}
                comparisons.append(Comparison(stage.name, against.name, significance))
    return comparisons


def build_retrievers(
    dataset: Dataset, names: Sequence[str], *, show_progress: bool = False, cache_dir: Path | None = None
) -> dict[str, Retriever]:
    """Index the corpus for each named first stage (hybrid fuses BM25 and dense)."""
    unknown = [n for n in names if n not in FIRST_STAGES]
    if unknown:
        raise InputError(f"unknown first stage {unknown[0]!r}; choose from {', '.join(FIRST_STAGES)}")
    texts = [p.full_text for p in dataset.corpus.values()]
    built: dict[str, Retriever] = {}
    if "bm25" in names or "hybrid" in names:
        from crossrank.retrieval.bm25 import BM25Retriever

        built["bm25"] = BM25Retriever.build(texts, show_progress=show_progress)
    if "dense" in names or "hybrid" in names:
        from crossrank.retrieval.dense import DenseRetriever, Embedder

        built["dense"] = DenseRetriever.build(
            texts, embedder=Embedder(cache_dir=cache_dir), show_progress=show_progress
        )
    if "hybrid" in names:
        from crossrank.retrieval.hybrid import HybridRetriever

        built["hybrid"] = HybridRetriever([built["bm25"], built["dense"]])
    return {n: built[n] for n in names}


def evaluate(
    dataset: Dataset,
    retrievers: dict[str, Retriever],
    *,
    rerankers: Sequence[CandidateReranker] = (),
    k: int = 100,
    max_queries: int | None = None,
    fuse: bool = False,
    ranked_input: bool = True,
    show_progress: bool = False,
) -> list[StageResult]:
    """Each first stage, then its candidates reranked by each reranker; metrics for all. The candidates go to a
    reranker in the first stage's order, said to be a ranking (`ranked_input`; False: as a set).

    With `fuse`, every reranked stage is followed by its reciprocal-rank fusion with its own first stage
    (`fuse_runs`): no extra model calls, and a common remedy when the reranker is out of its domain.
    """
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    if fuse and not rerankers:
        raise InputError("fuse=True fuses each reranking with its first stage: pass at least one reranker")
    queries = dataset.judged_queries()
    if max_queries is not None:
        queries = dict(list(queries.items())[:max_queries])
    if not queries:
        raise InputError(f"{dataset.name} has no judged queries")
    qrels = {q: dataset.qrels[q] for q in queries}
    doc_ids = list(dataset.corpus)
    texts = [p.full_text for p in dataset.corpus.values()]
    corpus = dict(zip(doc_ids, texts, strict=True))
    results: list[StageResult] = []
    for name, retriever in retrievers.items():
        hits = retriever.retrieve(list(queries.values()), k=k, show_progress=show_progress)
        first_run = _run_from_hits(list(queries), hits, doc_ids)
        first = StageResult(name=name, run=first_run, per_query=per_query(qrels, first_run))
        results.append(first)
        for reranker in rerankers:
            run, latency = _rerank(
                reranker, queries, hits, texts, doc_ids, ranked_input=ranked_input, show_progress=show_progress
            )
            label = f"{name} > {reranker.name}"
            stage = _reranked_stage(label, run, first=first, qrels=qrels, latency=latency)
            results.append(_with_calibration(stage, reranker, qrels=qrels, corpus=corpus))
            if fuse:
                fused = fuse_runs(run, first_run)
                results.append(
                    _reranked_stage(f"{label} + {name} rrf", fused, first=first, qrels=qrels, latency=latency)
                )
    return results


def _reranked_stage(label: str, run: Run, *, first: StageResult, qrels: Qrels, latency: list[float]) -> StageResult:
    """A reordering of `first`'s candidates: its metrics, each tested against the first stage's."""
    scored = per_query(qrels, run)
    significance = {m: paired_test(first.per_query[m], scored[m]) for m in MEASURES}
    return StageResult(label, run, scored, latency_ms=latency, versus=first.name, significance=significance)


def _with_calibration(stage: StageResult, reranker: object, *, qrels: Qrels, corpus: dict[str, str]) -> StageResult:
    """`stage` with its reliability and cut table, for a reranker whose scores are probabilities."""
    if not getattr(reranker, "gives_probabilities", False):
        return stage
    candidates = sorted({doc for docs in stage.run.values() for doc in docs})
    counts = reranker.count_tokens([corpus[d] for d in candidates])  # type: ignore[attr-defined]
    tokens = dict(zip(candidates, counts, strict=True))
    return replace(stage, reliability=stage_reliability(stage.run, qrels), cuts=cut_table(stage.run, qrels, tokens))


def _run_from_hits(query_ids: list[str], hits: list[Hits], doc_ids: list[str]) -> Run:
    return {
        q: {doc_ids[p]: float(s) for p, s in zip(h.positions.tolist(), h.scores.tolist(), strict=True)}
        for q, h in zip(query_ids, hits, strict=True)
    }


def _rerank(
    reranker: CandidateReranker,
    queries: dict[str, str],
    hits: list[Hits],
    texts: list[str],
    doc_ids: list[str],
    *,
    ranked_input: bool,
    show_progress: bool,
) -> tuple[Run, list[float]]:
    """Rerank each query's candidates, timing every query on its own (the latency a user would see).

    Candidates the reranker did not return (a top-k cut) follow the reranked ones in first-stage order, scored
    below them; equal scores are nudged apart so the run keeps the reranker's order exactly.
    """
    run: Run = {}
    latency: list[float] = []
    with progress_bar(len(queries), "reranking", enabled=show_progress) as advance:
        for (qid, query), h in zip(queries.items(), hits, strict=True):
            candidates = h.positions.tolist()
            start = time.perf_counter()
            ranked = reranker.rerank(query, [texts[p] for p in candidates], ranked_input=ranked_input)
            latency.append((time.perf_counter() - start) * 1000)
            run[qid] = dict(
                zip((doc_ids[candidates[r.index]] for r in ranked), _decreasing([r.score for r in ranked]), strict=True)
            )
            floor = min(run[qid].values(), default=0.0)
            dropped = [p for p in candidates if doc_ids[p] not in run[qid]]
            run[qid].update({doc_ids[p]: floor - 1.0 - rank for rank, p in enumerate(dropped)})
            advance(1)
    return run, latency


def _decreasing(scores: list[float]) -> list[float]:
    """Scores made strictly decreasing down the list (a tie moved just below the score above it), so a run file
    ordered by score keeps the ranking's order."""
    out: list[float] = []
    for score in scores:
        out.append(score if not out or score < out[-1] else float(np.nextafter(out[-1], -np.inf)))
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")
