"""One request never fails another: bad text is refused before it can share a batch, a batch that still fails
is retried request by request, and a server bug is a counted, logged JSON 500."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.server.app import ServerConfig
from crossrank.server.batcher import Batcher
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS


@pytest.fixture(scope="module")
def reranker(tiny_bert: Path, cache_dir: Path) -> Reranker:
    return Reranker(tiny_bert, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def server(reranker: Reranker) -> Iterator[LiveServer]:
    with LiveServer(reranker, ServerConfig()) as live:
        yield live


def test_batcher_delivers_a_failure_only_to_its_culprit(reranker: Reranker) -> None:
    """Jobs queued together share one `rerank_batch`; a job the library refuses must not take the others down."""

    async def scenario() -> list[object]:
        batcher = Batcher(reranker)
        jobs = [
            batcher.submit("cat", CORPUS[:3], raw=False),
            batcher.submit("cat", ["fine", "bad \ud800"], raw=False),  # bypasses the HTTP checks on purpose
            batcher.submit("rain", CORPUS[3:6], raw=False),
        ]
        tasks = [asyncio.ensure_future(job) for job in jobs]
        await asyncio.sleep(0)  # all three are queued before the worker starts: one shared batch
        batcher.start()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.stop()
        return results

    good, bad, other = asyncio.run(scenario())
    assert isinstance(bad, ValueError) and "documents[1] holds a lone surrogate" in str(bad)
    assert [(r.index, r.score) for r in good] == [(r.index, r.score) for r in reranker.rerank("cat", CORPUS[:3])]
    assert [(r.index, r.score) for r in other] == [(r.index, r.score) for r in reranker.rerank("rain", CORPUS[3:6])]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"query": "q", "documents": ["ok", "\\udfff"]}', "documents.1"),
        ('{"query": "\\ud800", "documents": ["ok"]}', "query"),
    ],
)
def test_surrogates_are_422_naming_the_item_and_neighbours_succeed(server: LiveServer, body: str, field: str) -> None:
    good = {"query": "cat on the mat", "documents": CORPUS}

    def post_bad() -> httpx.Response:
        return httpx.post(f"{server.url}/v2/rerank", content=body, headers={"content-type": "application/json"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        goods = [pool.submit(httpx.post, f"{server.url}/v2/rerank", json=good, timeout=60) for _ in range(7)]
        bad = pool.submit(post_bad).result()
        assert [f.result().status_code for f in goods] == [200] * 7
    assert bad.status_code == 422
    assert bad.json()["field"] == field
    assert "lone surrogate" in bad.json()["message"] or "unicode" in bad.json()["message"]


def test_nul_and_control_characters_are_text(server: LiveServer, reranker: Reranker) -> None:
    docs = ["a\x00b", "tab\tand\x0cform feed", "cat on the mat"]
    answer = httpx.post(f"{server.url}/rerank", json={"query": "cat", "texts": docs})
    assert answer.status_code == 200
    expected = reranker.rerank("cat", docs)
    assert [(r["index"], r["score"]) for r in answer.json()] == [(r.index, r.score) for r in expected]


def test_v1_answers_as_v1(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/v1/rerank", json={"query": "cat", "documents": ["cat"]})
    assert answer.json()["meta"]["api_version"]["version"] == "1"


def test_a_server_bug_is_a_counted_json_500(reranker: Reranker, monkeypatch: pytest.MonkeyPatch) -> None:
    with LiveServer(reranker, ServerConfig()) as live:
        monkeypatch.setattr("crossrank.server.app._check_texts", _explode)
        answer = httpx.post(f"{live.url}/v2/rerank", json={"query": "cat", "documents": ["x"]})
        assert answer.status_code == 500
        assert answer.json() == {"message": "internal error; see the server log", "type": "internal", "field": None}
        metrics = httpx.get(f"{live.url}/metrics").text
        assert 'crossrank_requests_total{path="/v2/rerank",status="500"} 1.0' in metrics


def _explode(*args: object) -> None:
    raise RuntimeError("a bug")
