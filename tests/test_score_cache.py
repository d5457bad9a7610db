"""The exact score cache: a cached score has the computed score's bits, never crosses models or settings, and
stays within its bound."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from crossrank import InputError, Reranker
from crossrank.score_cache import ENTRY_BYTES, ScoreCache, entries_for
from crossrank.server.config import ServerConfig
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS


def test_cached_scores_are_the_computed_bits_and_repeats_are_not_scored_again(tiny_bert: Path, cache_dir: Path) -> None:
    plain = Reranker(tiny_bert, cache_dir=cache_dir)
    cached = Reranker(tiny_bert, cache_dir=cache_dir, cache_size=1000)
    assert cached.engine.cache is not None
    first = [(r.index, r.score) for r in cached.rerank("wing flow", CORPUS)]
    stats = cached.engine.cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (0, len(CORPUS), len(CORPUS))
    again = [(r.index, r.score) for r in cached.rerank("wing flow", CORPUS[::-1])]
    assert cached.engine.cache.stats().hits == len(CORPUS)
    expected = [(r.index, r.score) for r in plain.rerank("wing flow", CORPUS)]
    assert first == expected  # bitwise
    assert sorted(s for _, s in again) == sorted(s for _, s in expected)
    # raw and probability scores are kept apart; another query is another pair
    assert cached.score([("wing flow", CORPUS[0])], raw=True) == plain.score([("wing flow", CORPUS[0])], raw=True)
    assert cached.score([("rain", CORPUS[0])]) == plain.score([("rain", CORPUS[0])])


def test_no_score_crosses_models_or_settings(tiny_bert: Path, tiny_electra: Path, cache_dir: Path) -> None:
    """Each engine has its own cache, and a key holds the inputs themselves: another window, another key."""
    bert = Reranker(tiny_bert, cache_dir=cache_dir, cache_size=100)
    short = Reranker(tiny_bert, cache_dir=cache_dir, cache_size=100, max_length=16)
    electra = Reranker(tiny_electra, cache_dir=cache_dir, cache_size=100)
    for reranker in (bert, short, electra):
        reranker.rerank("wing flow", CORPUS)
        expected = Reranker(reranker.spec.path, cache_dir=cache_dir, max_length=reranker.spec.max_length)
        assert [r.score for r in reranker.rerank("wing flow", CORPUS)] == [
            r.score for r in expected.rerank("wing flow", CORPUS)
        ]
    long_words = [d + " and more words that the short window cuts" for d in CORPUS]
    assert bert.engine.cache is not None and short.engine.cache is not None
    assert ScoreCache.key([[1, 2, 3]], raw=False) != ScoreCache.key([[1, 2, 3]], raw=True)
    assert ScoreCache.key([[1, 2], [3]], raw=False) != ScoreCache.key([[1], [2, 3]], raw=False)
    assert len(short.rerank("wing flow", long_words)) == len(long_words)


def test_the_bound_holds_under_a_random_workload(tiny_bert: Path, cache_dir: Path) -> None:
    plain = Reranker(tiny_bert, cache_dir=cache_dir)
    cached = Reranker(tiny_bert, cache_dir=cache_dir, cache_size=7)
    rng = random.Random(0)
    queries = ["wing flow", "cat", "rain at night", "supersonic"]
    for _ in range(25):
        query = rng.choice(queries)
        docs = rng.sample(CORPUS, rng.randint(1, len(CORPUS)))
        assert [r.score for r in cached.rerank(query, docs)] == [r.score for r in plain.rerank(query, docs)]
        assert cached.engine.cache is not None and cached.engine.cache.stats().entries <= 7
    stats = cached.engine.cache.stats()
    assert stats.evictions > 0 and stats.hits > 0 and stats.bytes == stats.entries * ENTRY_BYTES
    assert entries_for(1.0) == 1_000_000 // ENTRY_BYTES and entries_for(0.0) == 1


def test_bad_sizes_and_a_backend_without_stable_bits_are_refused(tiny_bert: Path, cache_dir: Path) -> None:
    with pytest.raises(InputError, match="cache_size must be a positive integer or None, got 0"):
        Reranker(tiny_bert, cache_dir=cache_dir, cache_size=0)
    with pytest.raises(InputError, match="a score cache needs a backend whose batches keep bits"):
        Reranker(tiny_bert, cache_dir=cache_dir, cache_size=10, backend="torch")


def test_the_server_counts_hits_misses_and_bytes(tiny_bert: Path, cache_dir: Path) -> None:
    reranker = Reranker(tiny_bert, cache_dir=cache_dir, cache_size=100)
    body = {"query": "cat on the mat", "documents": CORPUS}
    with LiveServer(reranker, ServerConfig()) as live:
        first = httpx.post(f"{live.url}/v2/rerank", json=body).json()["results"]
        second = httpx.post(f"{live.url}/v2/rerank", json=body).json()["results"]
        metrics = httpx.get(f"{live.url}/metrics").text
    assert first == second
    name = "tiny"  # the name the server serves it by
    assert f'crossrank_cache_hits_total{{model="{name}"}} {float(len(CORPUS))}' in metrics
    assert f'crossrank_cache_misses_total{{model="{name}"}} {float(len(CORPUS))}' in metrics
    assert f'crossrank_cache_bytes{{model="{name}"}} {float(len(CORPUS) * ENTRY_BYTES)}' in metrics
