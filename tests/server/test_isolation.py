"""One request never fails another: bad text is refused before it can share a batch, a batch that still fails
is retried request by request, and a server bug is a counted, logged JSON 500."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from crossrank import Reranker
from crossrank.ranking import Ranking
from crossrank.server.batcher import Batcher
from crossrank.server.config import ServerConfig
from crossrank.tokenization import EncodedPairs
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
    """Jobs queued together share one scoring call; one that breaks it must not take the others down."""
    vocabulary = reranker.encoder.tokenizer.get_vocab_size()
    good = reranker.encode("cat", CORPUS[:3])
    broken = replace(  # an id past the vocabulary: the backend fails, as a bug or a bad model might
        reranker.encode("cat", ["fine"]),
        pairs=EncodedPairs(ids=[[vocabulary + 5]], type_ids=[[0]], owner=np.zeros(1, dtype=np.int64)),
    )
    other = reranker.encode("rain", CORPUS[3:6])

    async def scenario() -> list[object]:
        batcher = Batcher(reranker)
        tasks = [asyncio.ensure_future(batcher.submit(e, raw=False)) for e in (good, broken, other)]
        await asyncio.sleep(0)  # all three are queued before the worker starts: one shared batch
        batcher.start()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await batcher.stop()
        return results

    first, failed, third = asyncio.run(scenario())
    assert isinstance(failed, Exception)
    assert isinstance(first, Ranking) and isinstance(third, Ranking)
    expected = [(r.index, r.score) for r in reranker.rerank("cat", CORPUS[:3])]
    assert [(r.index, r.score) for r in first.results()] == expected
    expected = [(r.index, r.score) for r in reranker.rerank("rain", CORPUS[3:6])]
    assert [(r.index, r.score) for r in third.results()] == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"query": "q", "documents": ["ok", "\\udfff"]}', "documents.1"),
        ('{"query": "\\ud800", "documents": ["ok"]}', "query"),
    ],
)
def test_surrogates_are_refused_naming_the_item_and_neighbours_succeed(
    server: LiveServer, body: str, field: str
) -> None:
    good = {"query": "cat on the mat", "documents": CORPUS}

    def post_bad() -> httpx.Response:
        return httpx.post(f"{server.url}/v2/rerank", content=body, headers={"content-type": "application/json"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        goods = [pool.submit(httpx.post, f"{server.url}/v2/rerank", json=good, timeout=60) for _ in range(7)]
        bad = pool.submit(post_bad).result()
        assert [f.result().status_code for f in goods] == [200] * 7
    assert bad.status_code == 400  # Cohere's status for a malformed request
    assert bad.json()["field"] == field
    assert "lone surrogate" in bad.json()["message"] or "unicode" in bad.json()["message"]


def test_nul_is_refused_and_control_characters_are_text(server: LiveServer, reranker: Reranker) -> None:
    refused = httpx.post(f"{server.url}/rerank", json={"query": "cat", "texts": ["ok", "a\x00b"]})
    assert refused.status_code == 422 and refused.json()["field"] == "texts.1"
    assert "NUL character" in refused.json()["message"]
    docs = ["bell\x07", "tab\tand\x0cform feed", "cat on the mat"]
    answer = httpx.post(f"{server.url}/rerank", json={"query": "cat", "texts": docs})
    assert answer.status_code == 200
    expected = reranker.rerank("cat", docs)
    assert [(r["index"], r["score"]) for r in answer.json()] == [(r.index, r.score) for r in expected]


def test_v1_answers_as_v1(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/v1/rerank", json={"query": "cat", "documents": ["cat"]})
    assert answer.json()["meta"]["api_version"]["version"] == "1"


def test_a_server_bug_is_a_counted_json_500(reranker: Reranker, monkeypatch: pytest.MonkeyPatch) -> None:
    with LiveServer(reranker, ServerConfig()) as live:
        monkeypatch.setattr("crossrank.server.routes._billed_tokens", _explode)
        answer = httpx.post(f"{live.url}/v2/rerank", json={"query": "cat", "documents": ["x"]})
        assert answer.status_code == 500
        assert answer.json() == {"message": "internal error; see the server log", "type": "internal", "field": None}
        metrics = httpx.get(f"{live.url}/metrics").text
        assert 'crossrank_requests_total{path="/v2/rerank",status="500"} 1.0' in metrics


def _explode(*args: object) -> None:
    raise RuntimeError("a bug")


def test_over_limit_bodies_are_413_with_or_without_content_length(reranker: Reranker) -> None:
    config = ServerConfig(max_request_bytes=10_000)
    body = b'{"query": "q", "documents": ["' + b"x" * 20_000 + b'"]}'

    def chunks() -> Iterator[bytes]:  # a generator body is sent chunked, with no Content-Length
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    with LiveServer(reranker, config) as live:
        declared = httpx.post(f"{live.url}/v2/rerank", content=body, headers={"content-type": "application/json"})
        chunked = httpx.post(f"{live.url}/v2/rerank", content=chunks(), headers={"content-type": "application/json"})
        for answer in (declared, chunked):
            assert answer.status_code == 413
            assert answer.json() == {"message": "request body over 10000 bytes", "type": "too_large", "field": None}
        assert "content-length" not in chunked.request.headers


def test_bodies_that_are_not_utf8_or_json_are_refused_as_each_api_does(server: LiveServer) -> None:
    for content in (b'{"query": "caf\xe9", "documents": ["x"]}', b'{"query": "q", "documents": [', b"\xff\xfe"):
        for path, status in (("/v2/rerank", 400), ("/v1/rerank", 400), ("/rerank", 422)):
            answer = httpx.post(f"{server.url}{path}", content=content, headers={"content-type": "application/json"})
            assert answer.status_code == status, (path, content)
            assert answer.json()["type"] == "invalid_request"


def test_wrong_method_names_the_allowed_ones(server: LiveServer) -> None:
    answer = httpx.request("TRACE", f"{server.url}/v2/rerank")
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"


def test_max_tokens_per_doc_cuts_documents_and_any_integer_is_fine(server: LiveServer, reranker: Reranker) -> None:
    long = "the cat sat on the mat while the rain fell over the hills and the wind blew"
    for limit in (3, 2**70):
        answer = httpx.post(
            f"{server.url}/v2/rerank", json={"query": "cat", "documents": [long], "max_tokens_per_doc": limit}
        )
        assert answer.status_code == 200, answer.text
        cut = " ".join(long.split()[:3]) if limit == 3 else long
        assert answer.json()["results"][0]["relevance_score"] == reranker.score([("cat", cut)])[0]
        billed = len(reranker.encoder.tokenizer.encode("cat", cut).ids)  # the pair as scored, specials included
        assert answer.json()["usage"]["total_tokens"] == billed


def test_the_browser_scorer_is_refused_for_a_tokenizer_it_cannot_run(tiny_xlmr: Path, cache_dir: Path) -> None:
    """An XLM-R (SentencePiece) model: /demo/* answers 404 saying why, every time; the page then scores on the
    server. A WordPiece model gets its demo.json."""
    with LiveServer(Reranker(tiny_xlmr, cache_dir=cache_dir), ServerConfig()) as live:
        for _ in range(2):
            answer = httpx.get(f"{live.url}/demo/demo.json")
            assert answer.status_code == 404
            assert "WordPiece tokenizers only" in answer.json()["message"]
        assert httpx.get(f"{live.url}/demo/model.onnx").status_code == 404


def test_the_browser_scorer_gets_the_served_model(server: LiveServer, reranker: Reranker) -> None:
    config = httpx.get(f"{server.url}/demo/demo.json").json()
    assert config["max_length"] == reranker.spec.max_length
    model = httpx.get(f"{server.url}/demo/model.onnx")
    assert model.status_code == 200 and len(model.content) == config["model_bytes"]
