"""Work nobody waits for stops costing the server: a request that timed out, or whose client disconnected, has
its queued work dropped and its running work stopped at the next forward pass."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.server.config import ServerConfig
from tests.server.live import LiveServer

WORDS = [
    "the",
    "pressure",
    "distribution",
    "over",
    "a",
    "swept",
    "wing",
    "at",
    "supersonic",
    "speed",
    "changes",
    "with",
    "the",
    "angle",
    "of",
    "attack",
]
LONG_DOCUMENTS = [f"report {i}: " + " ".join(WORDS[(i + j) % len(WORDS)] for j in range(200)) for i in range(1000)]
"""1,000 documents of 200 words: tens of seconds for the built-in model on 2 cores, one pair per pass."""


@pytest.fixture(scope="module")
def builtin(cache_dir: Path) -> Reranker:
    return Reranker(cache_dir=cache_dir, threads=2, cascade_model=None)  # the slow path: all 1,000 in full


@pytest.fixture()
def server(builtin: Reranker) -> Iterator[LiveServer]:
    with LiveServer(builtin, ServerConfig(request_timeout_s=3.0)) as live:
        yield live


def _counter(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _small_request_seconds(url: str) -> float:
    start = time.perf_counter()
    answer = httpx.post(f"{url}/rerank", json={"query": "lift", "texts": ["wings make lift"]}, timeout=30)
    assert answer.status_code == 200
    return time.perf_counter() - start


@pytest.mark.slow  # ~10 s: the built-in model
def test_after_a_timeout_the_next_request_does_not_wait_for_the_abandoned_one(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/rerank", json={"query": "wing", "texts": LONG_DOCUMENTS}, timeout=60)
    assert answer.status_code == 504 and answer.json()["type"] == "timeout"
    assert _small_request_seconds(server.url) < 2.0
    metrics = httpx.get(f"{server.url}/metrics").text
    assert _counter(metrics, "crossrank_requests_dropped_total") == 1
    assert _counter(metrics, "crossrank_pairs_scored_total") == 1  # only the small request's pair finished


@pytest.mark.slow  # ~10 s: the built-in model
def test_a_disconnected_clients_work_is_dropped_and_counted(server: LiveServer) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/rerank", json={"query": "wing", "texts": LONG_DOCUMENTS}, timeout=1.0)
    time.sleep(0.5)  # the server notices within its polling interval (0.1 s) and stops within one pass
    assert _small_request_seconds(server.url) < 2.0
    metrics = httpx.get(f"{server.url}/metrics").text
    assert _counter(metrics, "crossrank_client_disconnects_total") == 1
    assert _counter(metrics, "crossrank_requests_dropped_total") == 1
    assert 'crossrank_requests_total{path="/rerank",status="499"} 1.0' in metrics
