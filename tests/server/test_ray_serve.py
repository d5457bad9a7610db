"""Ray Serve with two replicas answers the official `cohere` SDK exactly as `crossrank serve` does."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.server.config import ServerConfig
from crossrank.settings import ModelSettings
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rerank(url: str, query: str) -> list[tuple[int, float]]:
    import cohere

    with httpx.Client(timeout=60) as http:
        client = cohere.ClientV2(api_key="unused", base_url=url, httpx_client=http)
        response = client.rerank(model="tiny", query=query, documents=CORPUS, top_n=5)
    return [(r.index, r.relevance_score) for r in response.results]


@pytest.mark.slow
def test_two_replicas_answer_the_cohere_sdk_like_crossrank_serve(
    tiny_bert: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    from ray import serve

    from crossrank.server.ray_serve import PROXY_READY_ENV, PROXY_READY_SECONDS, run

    monkeypatch.setenv(PROXY_READY_ENV, PROXY_READY_SECONDS)  # as run() does when it starts Ray itself

    config = ServerConfig()
    queries = ["supersonic wing", "cat on the mat", "night rain", "garden dogs"]
    with LiveServer(Reranker(tiny_bert, cache_dir=cache_dir, threads=1), config) as local:
        expected = [_rerank(local.url, q) for q in queries]
    port = _free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        settings = ModelSettings(model=str(tiny_bert), threads=1)
        run(settings, config, replicas=2, cpus_per_replica=1, host="127.0.0.1", port=port, blocking=False)
        url = f"http://127.0.0.1:{port}"
        deadline, ready_in_a_row = time.monotonic() + 120, 0
        while ready_in_a_row < 10:  # each replica loads its own model: wait until any replica answers ready
            assert time.monotonic() < deadline, "Ray Serve did not become ready"
            ready_in_a_row = ready_in_a_row + 1 if httpx.get(f"{url}/health", timeout=5).status_code == 200 else 0
            time.sleep(0.1)
        replicas = serve.status().applications["crossrank"].deployments["crossrank"].replica_states
        assert replicas.get("RUNNING") == 2
        for _ in range(3):  # requests spread over both replicas; every answer is the same
            assert [_rerank(url, q) for q in queries] == expected
    finally:
        serve.shutdown()
        ray.shutdown()
