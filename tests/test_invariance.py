"""Same pair, same score: alone, in shuffled company of other lengths, with 1 or 2 threads, and through a live
server during a burst of concurrent requests. Bitwise, for every ONNX backend and the built-in model."""

from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.server.config import ServerConfig
from tests.server.live import LiveServer

PROSE = Path(__file__).resolve().parents[1] / "docs" / "experiments" / "model-card-history.md"
"""Real prose of many lengths, markdown and all: a record that no longer changes (the README does)."""
QUERIES = [
    "how does the server batch concurrent requests",
    "what happens to long documents",
    "which license does the built-in model have",
    "how fast is int8 on a CPU",
    "what does the cache folder hold",
]


def _paragraphs() -> list[str]:
    """Real prose of many lengths: the paragraphs of `PROSE`."""
    blocks = [re.sub(r"\s+", " ", b).strip() for b in PROSE.read_text(encoding="utf-8").split("\n\n")]
    return [b for b in blocks if len(b) > 40]


def real_pairs() -> list[tuple[str, str]]:
    """50 (query, passage) pairs: 5 queries x 10 paragraphs."""
    paragraphs = _paragraphs()
    return [(q, paragraphs[(7 * i + 3 * j) % len(paragraphs)]) for i, q in enumerate(QUERIES) for j in range(10)]


def _company(seed: int) -> list[tuple[str, str]]:
    """Other pairs, from one word to past the window, to share batches and padding with."""
    rng = random.Random(seed)
    words = " ".join(_paragraphs()).split()
    pairs = []
    for _ in range(30):
        length = rng.choice([1, 3, 12, 40, 120, 400])
        start = rng.randrange(len(words))
        pairs.append((rng.choice(QUERIES), " ".join(words[start : start + length]) or "x"))
    return pairs


def _in_company(reranker: Reranker, pairs: list[tuple[str, str]], seed: int) -> list[float]:
    mixed = [(p, True) for p in pairs] + [(p, False) for p in _company(seed)]
    random.Random(seed).shuffle(mixed)
    scores = reranker.score([p for p, _ in mixed])
    by_pair = {p: s for (p, ours), s in zip(mixed, scores, strict=True) if ours}
    return [by_pair[p] for p in pairs]


def _check_invariance(model: Path | None, backend: str | None) -> None:
    pairs = real_pairs()
    one = Reranker(model, backend=backend, threads=1, batch_size=1)
    alone = [one.score([p])[0] for p in pairs]
    for threads, batch_size in ((1, 32), (2, 8), (2, 32)):
        reranker = Reranker(model, backend=backend, threads=threads, batch_size=batch_size)
        for seed in (1, 2):
            assert _in_company(reranker, pairs, seed) == alone, (threads, batch_size, seed)
        by_query = reranker.rerank_batch(QUERIES, [[d for q, d in pairs if q == query] for query in QUERIES])
        ranked = {(QUERIES[i], r.document): r.score for i, results in enumerate(by_query) for r in results}
        assert [ranked[p] for p in pairs] == alone


@pytest.mark.slow
@pytest.mark.parametrize("backend", [None, "onnx"])
def test_built_in_model_scores_a_pair_the_same_in_any_company(backend: str | None) -> None:
    _check_invariance(None, backend)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_exported_model_scores_a_pair_the_same_in_any_company(
    backend: str, tiny_bert: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    _check_invariance(tiny_bert, backend)


@pytest.mark.slow
def test_server_burst_changes_no_score() -> None:
    """40 concurrent requests of other lengths around ours: our scores equal the library's, alone, bitwise."""
    pairs = real_pairs()[:10]
    query = pairs[0][0]
    documents = [d for _, d in pairs]
    reranker = Reranker(backend="onnx-int8")
    alone = [reranker.score([(query, d)])[0] for d in documents]
    noise = [[d for _, d in _company(seed)] for seed in range(40)]
    with LiveServer(reranker, ServerConfig()) as server, httpx.Client(base_url=server.url, timeout=120) as client:

        def post(docs: list[str]) -> list[float]:
            answer = client.post("/v2/rerank", json={"query": query, "documents": docs})
            assert answer.status_code == 200, answer.text
            results = sorted(answer.json()["results"], key=lambda r: r["index"])
            return [r["relevance_score"] for r in results]

        quiet = post(documents)
        with ThreadPoolExecutor(max_workers=16) as pool:
            busy = [pool.submit(post, docs) for docs in noise[:20]]
            ours = [pool.submit(post, documents) for _ in range(3)]
            busy += [pool.submit(post, docs) for docs in noise[20:]]
            results = [f.result() for f in ours]
            for f in busy:
                f.result()
    assert quiet == alone
    assert all(r == alone for r in results)
