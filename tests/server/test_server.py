"""The real server on a free loopback port, called over HTTP with httpx and with the official cohere SDK."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.server.config import ServerConfig
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS


@pytest.fixture(scope="module")
def reranker(tiny_bert: Path, cache_dir: Path) -> Reranker:
    return Reranker(tiny_bert, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def server(reranker: Reranker) -> Iterator[LiveServer]:
    with LiveServer(reranker, ServerConfig(max_documents=50, max_request_bytes=200_000, max_query_chars=500)) as live:
        yield live


def test_cohere_v2_shape_matches_the_library(server: LiveServer, reranker: Reranker) -> None:
    response = httpx.post(
        f"{server.url}/v2/rerank",
        json={"model": "tiny", "query": "cat on the mat", "documents": CORPUS, "top_n": 4, "return_documents": True},
    )
    assert response.status_code == 200
    body = response.json()
    expected = reranker.rerank("cat on the mat", CORPUS, top_k=4)
    assert [r["index"] for r in body["results"]] == [r.index for r in expected]
    assert [r["relevance_score"] for r in body["results"]] == pytest.approx([r.score for r in expected], abs=1e-6)
    assert body["results"][0]["document"] == {"text": CORPUS[expected[0].index]}
    assert body["meta"]["billed_units"]["search_units"] == 1 and body["usage"]["total_tokens"] > 0
    assert body["id"] == response.headers["x-request-id"]


def test_jina_v1_objects_and_tei(server: LiveServer, reranker: Reranker) -> None:
    docs = [{"text": t, "id": i} for i, t in enumerate(CORPUS)]
    v1 = httpx.post(f"{server.url}/v1/rerank", json={"query": "rain", "documents": docs}).json()
    expected = reranker.rerank("rain", CORPUS)
    assert [r["index"] for r in v1["results"]] == [r.index for r in expected]
    assert v1["results"][0]["document"] == {"text": CORPUS[expected[0].index]}  # Jina's default: documents back
    assert v1["model"] == "tiny"
    v1_bare = httpx.post(
        f"{server.url}/v1/rerank", json={"query": "rain", "documents": docs, "return_documents": False}
    )
    assert "document" not in v1_bare.json()["results"][0]
    tei = httpx.post(f"{server.url}/rerank", json={"query": "rain", "texts": CORPUS, "return_text": True}).json()
    assert [r["index"] for r in tei] == [r.index for r in expected]
    assert tei[0]["text"] == CORPUS[expected[0].index]
    raw = httpx.post(f"{server.url}/rerank", json={"query": "rain", "texts": CORPUS, "raw_scores": True}).json()
    assert raw[0]["score"] == pytest.approx(reranker.rerank("rain", CORPUS, raw=True)[0].score, abs=1e-5)


def test_official_cohere_client(server: LiveServer, reranker: Reranker) -> None:
    import cohere

    with httpx.Client(timeout=30) as http:
        client = cohere.ClientV2(api_key="unused", base_url=server.url, httpx_client=http)
        response = client.rerank(model="tiny", query="supersonic wing", documents=CORPUS, top_n=3)
    expected = reranker.rerank("supersonic wing", CORPUS, top_k=3)
    assert [r.index for r in response.results] == [r.index for r in expected]
    assert [r.relevance_score for r in response.results] == pytest.approx([r.score for r in expected], abs=1e-6)


def test_ops_endpoints(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/health").json()["status"] == "ready"
    models = httpx.get(f"{server.url}/v1/models").json()
    assert models["data"][0]["id"] == "tiny" and models["data"][0]["backend"] == "onnx-int8"
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/v2/rerank", "/v1/rerank", "/rerank", "/health", "/metrics", "/v1/models"} <= set(paths)
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and '<label for="query">' in page.text


def test_concurrent_requests_share_batches(server: LiveServer, reranker: Reranker) -> None:
    queries = [f"{w} {v}" for w, v in zip(CORPUS[0].split(), CORPUS[4].split(), strict=False)] * 4

    def call(query: str) -> list[int]:
        body = httpx.post(f"{server.url}/v2/rerank", json={"query": query, "documents": CORPUS}, timeout=60).json()
        return [r["index"] for r in body["results"]]

    with ThreadPoolExecutor(max_workers=len(queries)) as pool:
        answers = list(pool.map(call, queries))
    for query, answer in zip(queries, answers, strict=True):
        assert answer == [r.index for r in reranker.rerank(query, CORPUS)]
    metrics = httpx.get(f"{server.url}/metrics").text
    counts = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("crossrank_batch_requests_bucket")
    }
    single = counts['crossrank_batch_requests_bucket{le="1.0"}']
    total = counts['crossrank_batch_requests_bucket{le="+Inf"}']
    assert total > single, "no batch held more than one request"
    assert 'crossrank_requests_total{path="/v2/rerank",status="200"}' in metrics


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v2/rerank", {"query": "", "documents": ["a"]}, 400, "query"),
        ("/v2/rerank", {"query": "   ", "documents": ["a"]}, 400, "query"),
        ("/v2/rerank", {"query": "q", "documents": "not a list"}, 400, "documents"),
        ("/v2/rerank", {"query": "q", "documents": [1, 2]}, 400, "documents.0"),
        ("/v2/rerank", {"query": "q", "documents": [{"body": "x"}]}, 400, "documents.0"),
        ("/v2/rerank", {"query": "q", "documents": ["a"], "top_n": 0}, 400, "top_n"),
        ("/v2/rerank", {"query": "q", "documents": []}, 400, "documents"),
        ("/v2/rerank", {"query": "q", "documents": ["a"] * 51}, 400, "documents"),
        ("/v2/rerank", {"query": "q" * 501, "documents": ["a"]}, 400, "query"),
        ("/v2/rerank", {"documents": ["a"]}, 400, "query"),
        ("/rerank", {"query": "q", "texts": [" ".join(CORPUS * 3)]}, 413, "texts.0"),
    ],
)
def test_bad_requests_name_the_field(server: LiveServer, path: str, body: object, status: int, field: str) -> None:
    response = httpx.post(f"{server.url}{path}", json=body)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


def test_malformed_bodies_leave_the_server_healthy(server: LiveServer) -> None:
    bodies = [
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[" * 50_000 + b"]" * 50_000,
        json.dumps({"query": "q", "documents": ["x" * 300_000]}).encode(),
        b"",
        b"null",
        json.dumps({"query": {"nested": [1, {"deep": True}]}, "documents": [["a"]]}).encode(),
    ]
    for raw in bodies:
        response = httpx.post(f"{server.url}/v2/rerank", content=raw, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (raw[:30], response.status_code, response.text)
        assert "message" in response.json()
    assert httpx.get(f"{server.url}/health").status_code == 200
    ok = httpx.post(f"{server.url}/v2/rerank", json={"query": "cat", "documents": CORPUS[:2]})
    assert ok.status_code == 200


def test_api_key_and_overload(reranker: Reranker) -> None:
    with LiveServer(reranker, ServerConfig(api_key="s3cret")) as live:
        payload = {"query": "cat", "documents": CORPUS}
        denied = httpx.post(f"{live.url}/v2/rerank", json=payload)
        assert denied.status_code == 401 and denied.json()["field"] == "Authorization"
        wrong = httpx.post(f"{live.url}/v2/rerank", json=payload, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        good = httpx.post(f"{live.url}/v2/rerank", json=payload, headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        assert httpx.get(f"{live.url}/health").status_code == 200  # health stays open for probes
    with LiveServer(reranker, ServerConfig(max_queue=1, max_batch_tokens=64)) as live:

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                calls = [
                    client.post(f"{live.url}/v2/rerank", json={"query": f"q{i}", "documents": CORPUS * 5})
                    for i in range(12)
                ]
                return await asyncio.gather(*calls)

        statuses = [r.status_code for r in asyncio.run(flood())]
        assert 200 in statuses and 503 in statuses
        busy = next(r for r in asyncio.run(flood()) if r.status_code == 503)
        assert busy.headers["Retry-After"] == "1" and busy.json()["type"] == "overloaded"


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"", "application/json", "request body is empty; send a JSON object"),
        (b"hello", "text/plain", "request body is not valid JSON"),
        (b"hello", "application/json", "request body is not valid JSON"),
        (b"[1, 2]", "application/json", "request body must be a JSON object"),
    ],
)
def test_a_body_that_is_no_json_object_says_so(
    server: LiveServer, content: bytes, content_type: str, message: str
) -> None:
    answer = httpx.post(f"{server.url}/v2/rerank", content=content, headers={"content-type": content_type})
    assert answer.status_code == 400 and answer.json()["message"].startswith(message), answer.text  # Cohere's 400
    tei = httpx.post(f"{server.url}/rerank", content=content, headers={"content-type": content_type})
    assert tei.status_code == 422 and tei.json()["message"].startswith(message), tei.text  # TEI's 422
    assert answer.json()["field"] is None


def test_the_union_error_names_the_choices(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/v1/rerank", json={"query": "q", "documents": ["ok", 5]})
    assert answer.json()["message"] == "documents.1: must be a string or an object with a string 'text'"
    answer = httpx.post(f"{server.url}/v1/rerank", json={"query": "q", "documents": [{"body": "x"}]})
    assert answer.json()["message"] == "documents.0: must be a string or an object with a string 'text'"


def test_cohere_v1_rank_fields_get_a_clear_refusal(server: LiveServer) -> None:
    documents = [{"title": "Cats", "body": "the cat sat on the mat"}]
    answer = httpx.post(
        f"{server.url}/v1/rerank", json={"query": "cat", "documents": documents, "rank_fields": ["title", "body"]}
    )
    assert answer.status_code == 400 and answer.json()["field"] == "documents.0"
    assert answer.json()["message"] == (
        "documents.0: must be a string or an object with a string 'text' "
        "(rank_fields is not supported: send the text to score under 'text')"
    )


def test_the_key_is_checked_before_the_body_is_read_and_every_refusal_is_counted(
    reranker: Reranker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="crossrank.server")
    with LiveServer(reranker, ServerConfig(api_key="s3cret", max_request_bytes=1_000_000)) as live:
        big = b'{"query": "q", "documents": ["' + b"x" * 5_000_000 + b'"]}'
        denied = httpx.post(f"{live.url}/v2/rerank", content=big, headers={"content-type": "application/json"})
        assert denied.status_code == 401 and denied.headers["x-request-id"]
        unauthenticated_large = httpx.post(
            f"{live.url}/v2/rerank", content=big, headers={"content-type": "application/json", "x-request-id": "r1"}
        )
        assert unauthenticated_large.status_code == 401 and unauthenticated_large.headers["x-request-id"] == "r1"
        key = {"Authorization": "bearer s3cret"}  # the scheme is case-insensitive (RFC 9110)
        too_large = httpx.post(f"{live.url}/v2/rerank", content=big, headers={**key, "x-request-id": "r2"})
        assert too_large.status_code == 413 and too_large.headers["x-request-id"] == "r2"
        ok = httpx.post(f"{live.url}/v2/rerank", json={"query": "cat", "documents": CORPUS}, headers=key)
        assert ok.status_code == 200
        metrics = httpx.get(f"{live.url}/metrics", headers={"Authorization": "BEARER s3cret"}).text
    assert 'crossrank_requests_total{path="/v2/rerank",status="401"} 2.0' in metrics
    assert 'crossrank_requests_total{path="/v2/rerank",status="413"} 1.0' in metrics
    logged = [json.loads(m.removeprefix("request ")) for m in _request_lines(caplog)]
    assert [(e["method"], e["path"], e["status"]) for e in logged if e["id"] == "r1"] == [("POST", "/v2/rerank", 401)]
    assert [(e["method"], e["path"], e["status"]) for e in logged if e["id"] == "r2"] == [("POST", "/v2/rerank", 413)]


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "crossrank.server" and r.msg.startswith("request ")]


def test_a_request_id_can_neither_forge_nor_bloat_a_log_line(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="crossrank.server")
    body = {"query": "cat", "documents": CORPUS[:2]}
    forged = httpx.post(f"{server.url}/v2/rerank", json=body, headers={"x-request-id": "abc status=200 documents=999"})
    huge = httpx.post(f"{server.url}/v2/rerank", json=body, headers={"x-request-id": "x" * 60_000})
    kept = httpx.post(f"{server.url}/v2/rerank", json=body, headers={"x-request-id": "trace-42.a:b_c"})
    assert (forged.status_code, huge.status_code, kept.status_code) == (200, 200, 200)
    assert forged.headers["x-request-id"] != "abc status=200 documents=999"
    assert len(huge.headers["x-request-id"]) == 16 and kept.headers["x-request-id"] == "trace-42.a:b_c"
    path = httpx.post(f"{server.url}/v2/rerank%0Astatus=200%20id=evil", json=body)  # a newline in the path
    assert path.status_code == 404
    lines = _request_lines(caplog)
    assert all("\n" not in line and len(line) < 400 for line in lines)
    logged = [json.loads(line.removeprefix("request ")) for line in lines]
    assert {e["id"] for e in logged} >= {forged.headers["x-request-id"], "trace-42.a:b_c"}
    assert "evil" not in {e["id"] for e in logged} and any(
        e["path"] == "/v2/rerank\nstatus=200 id=evil" for e in logged
    )


@pytest.fixture(scope="module")
def cascade_server(tiny_bert: Path, cache_dir: Path) -> Iterator[LiveServer]:
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=3, cascade_length=32)
    with LiveServer(cascade, ServerConfig(max_documents=100)) as live:
        yield live


DOCUMENTS_40 = [f"{CORPUS[i % len(CORPUS)]} ({i})" for i in range(40)]


@pytest.mark.parametrize("path", ["/v2/rerank", "/v1/rerank", "/rerank"])
def test_every_route_returns_one_result_per_document_through_a_cascade(
    cascade_server: LiveServer, path: str, tiny_bert: Path, cache_dir: Path
) -> None:
    key = "texts" if path == "/rerank" else "documents"
    answer = httpx.post(f"{cascade_server.url}{path}", json={"query": "supersonic wing", key: DOCUMENTS_40})
    assert answer.status_code == 200, answer.text
    results = answer.json() if path == "/rerank" else answer.json()["results"]
    score = "score" if path == "/rerank" else "relevance_score"
    assert sorted(r["index"] for r in results) == list(range(40))
    scores = [r[score] for r in results]
    assert scores == sorted(scores, reverse=True)
    expected = Reranker(tiny_bert, cache_dir=cache_dir, cascade_keep=3, cascade_length=32).rerank(
        "supersonic wing", DOCUMENTS_40
    )
    assert [r["index"] for r in results] == [r.index for r in expected]


def test_min_score_and_max_tokens_cut_the_answer(cascade_server: LiveServer, reranker: Reranker) -> None:
    full = httpx.post(f"{cascade_server.url}/v2/rerank", json={"query": "cat", "documents": DOCUMENTS_40}).json()
    threshold = full["results"][5]["relevance_score"]
    cut = httpx.post(
        f"{cascade_server.url}/v2/rerank", json={"query": "cat", "documents": DOCUMENTS_40, "min_score": threshold}
    ).json()
    assert cut["results"] == [r for r in full["results"] if r["relevance_score"] >= threshold]
    tokens = reranker.count_tokens([DOCUMENTS_40[r["index"]] for r in full["results"][:3]])
    budget = httpx.post(
        f"{cascade_server.url}/rerank", json={"query": "cat", "texts": DOCUMENTS_40, "max_tokens": sum(tokens)}
    ).json()
    assert [r["index"] for r in budget] == [r["index"] for r in full["results"][:3]]
    refused = httpx.post(f"{cascade_server.url}/v2/rerank", json={"query": "cat", "documents": ["a"], "min_score": 2})
    assert refused.status_code == 400 and refused.json()["field"] == "min_score"
    paths = httpx.get(f"{cascade_server.url}/openapi.json").json()["components"]["schemas"]
    assert "crossrank extension" in paths["CohereRerankRequest"]["properties"]["min_score"]["description"]


def test_the_timeout_counts_from_the_request_s_arrival(tiny_bert: Path, cache_dir: Path) -> None:
    """Tokenizing counts against the deadline: a request whose encoding alone outlasts the timeout is a 504."""
    import time as clock

    slow = Reranker(tiny_bert, cache_dir=cache_dir)
    encode = slow.encode

    def slow_encode(*args: object, **kwargs: object) -> object:
        clock.sleep(1.5)
        return encode(*args, **kwargs)  # type: ignore[arg-type]

    slow.encode = slow_encode  # type: ignore[method-assign]
    with LiveServer(slow, ServerConfig(request_timeout_s=1.0)) as live:
        answer = httpx.post(f"{live.url}/v2/rerank", json={"query": "cat", "documents": CORPUS[:2]}, timeout=30)
    assert answer.status_code == 504 and answer.json()["type"] == "timeout"


def test_limits_must_be_positive_and_finite() -> None:
    from crossrank.errors import InputError

    for timeout in (float("nan"), float("inf"), 0, -5):
        with pytest.raises(InputError, match="request_timeout_s must be a positive number of seconds"):
            ServerConfig(request_timeout_s=timeout)
    with pytest.raises(InputError, match="max_queue must be a positive integer, got 0"):
        ServerConfig(max_queue=0)


def test_a_model_that_cannot_load_says_so_on_health_and_ends_the_server() -> None:
    """/health answers "failed" with the reason, requests get 503 naming it, and `on_load_failure` hears it once
    (the CLI stops the server there and exits 2)."""
    import threading

    from crossrank.errors import ModelError
    from crossrank.server.app import create_app

    def load() -> Reranker:
        raise ModelError("model folder './nope' does not exist")

    heard: list[str] = []
    app = create_app(load, config=ServerConfig(), model_name="nope", on_load_failure=heard.append)
    with LiveServer(None, ServerConfig(), app=app, wait_ready=False) as live:
        for _ in range(100):
            if heard:
                break
            threading.Event().wait(0.05)
        health = httpx.get(f"{live.url}/health")
        answer = httpx.post(f"{live.url}/v2/rerank", json={"query": "q", "documents": ["a"]})
    assert heard == ["model folder './nope' does not exist"]
    assert health.status_code == 503 and health.json() == {"status": "failed", "reason": heard[0]}
    assert answer.status_code == 503 and "failed to load: model folder './nope'" in answer.json()["message"]


def test_no_page_loads_assets_from_another_origin(server: LiveServer) -> None:
    """Swagger UI and ReDoc fetch from a CDN, so they are not served; the OpenAPI document is."""
    for path in ("/docs", "/redoc"):
        assert httpx.get(f"{server.url}{path}").status_code == 404
    assert httpx.get(f"{server.url}/openapi.json").json()["info"]["title"] == "crossrank"
    page = httpx.get(f"{server.url}/").text
    assert "https://" not in page and "http://" not in page


def test_every_route_needs_the_key_unless_it_is_declared_public(reranker: Reranker) -> None:
    """Protection is default-deny: a route added anywhere needs the key until it is named public."""
    from fastapi.routing import APIRoute

    from crossrank.server.app import create_app
    from crossrank.server.middleware import PUBLIC, is_protected

    app = create_app(lambda: reranker, config=ServerConfig(api_key="k"), model_name="tiny")
    paths = {route.path for route in app.routes if isinstance(route, APIRoute)}
    assert {p for p in paths if not is_protected(p)} == PUBLIC - {"/openapi.json"}
    assert {"/v2/rerank", "/v1/rerank", "/rerank", "/metrics", "/v1/models", "/demo/model.onnx"} <= paths
    assert is_protected("/v3/new-route") and is_protected("/demo/demo.json") and is_protected("/demo/x.onnx")
    assert not is_protected("/demo/vendor/ort-wasm-simd-threaded.wasm") and not is_protected("/demo/demo.js")
    with LiveServer(reranker, ServerConfig(api_key="k")) as live:
        assert httpx.get(f"{live.url}/v3/new-route").status_code == 401
        assert httpx.get(f"{live.url}/health").status_code == 200
        assert httpx.get(f"{live.url}/demo/demo.json").status_code == 401


def test_a_request_s_text_is_checked_once(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import crossrank.validation

    calls: list[str] = []
    real = crossrank.validation.check_text

    def counting(text: str, where: str, **kwargs: object) -> str:
        calls.append(where)
        return real(text, where, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(crossrank.validation, "check_text", counting)
    answer = httpx.post(f"{server.url}/v2/rerank", json={"query": "cat", "documents": CORPUS[:3]})
    assert answer.status_code == 200
    assert sorted(calls) == ["documents[0]", "documents[1]", "documents[2]", "query"]


def test_two_models_served_and_picked_by_the_request(tiny_bert: Path, tiny_electra: Path, cache_dir: Path) -> None:
    from crossrank.server.app import create_app

    bert = Reranker(tiny_bert, cache_dir=cache_dir)
    electra = Reranker(tiny_electra, cache_dir=cache_dir)
    app = create_app(lambda: bert, config=ServerConfig(), model_name="bert", others={"electra": lambda: electra})
    with LiveServer(None, ServerConfig(), app=app) as live:
        url = live.url

        def ask(model: str | None, path: str = "/v2/rerank") -> httpx.Response:
            body = {"query": "wing flow", "documents": CORPUS, **({"model": model} if model else {})}
            return httpx.post(f"{url}{path}", json=body)

        for model, reranker in (("electra", electra), ("bert", bert), (None, bert)):
            answer = ask(model).json()
            expected = reranker.rerank("wing flow", CORPUS)
            assert [(r["index"], r["relevance_score"]) for r in answer["results"]] == [
                (r.index, r.score) for r in expected
            ]
            assert answer["model"] == (model or "bert")
        refused = ask("rerank-english-v3.0")
        assert refused.status_code == 400 and refused.json()["field"] == "model"
        assert "choose one of bert, electra" in refused.json()["message"]
        listed = httpx.get(f"{url}/v1/models").json()["data"]
        assert [(m["id"], m["default"], m["ready"]) for m in listed] == [("bert", True, True), ("electra", False, True)]
        metrics = httpx.get(f"{url}/metrics").text
        assert 'crossrank_model_requests_total{model="electra"} 1.0' in metrics
        assert 'crossrank_model_requests_total{model="bert"} 2.0' in metrics


def test_a_server_of_one_model_answers_whatever_model_a_client_names(server: LiveServer) -> None:
    """Cohere's clients always send a model name of their own; one model serves them all."""
    answer = httpx.post(
        f"{server.url}/v2/rerank", json={"model": "rerank-v3.5", "query": "cat", "documents": CORPUS[:2]}
    )
    assert answer.status_code == 200 and answer.json()["model"] == "tiny"
