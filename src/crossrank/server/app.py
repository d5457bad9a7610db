"""The HTTP layer: validate, map errors to status codes, hand pairs to the batcher, shape the answer.

Endpoints: POST /v2/rerank and /v1/rerank (Cohere v2 / v1 / Jina), POST /rerank (Hugging Face TEI), GET /health,
GET /metrics (Prometheus), GET /v1/models, and the demo page at /.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossrank.errors import InputError
from crossrank.reranker import Reranker, check_text
from crossrank.server.batcher import Batcher, BatchStats, Overloaded
from crossrank.server.schemas import (
    CohereRerankRequest,
    CohereRerankResponse,
    CohereResult,
    DocumentOut,
    ErrorBody,
    TeiRerankRequest,
    TeiResult,
)
from crossrank.types import RankedResult

log = logging.getLogger("crossrank.server")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits and switches of one server."""

    max_documents: int = 1000
    max_request_bytes: int = 4_000_000
    max_query_chars: int = 10_000
    request_timeout_s: float = 60.0
    max_queue: int = 64
    max_pairs_per_batch: int = 512
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()


class Metrics:
    """Prometheus metrics in a registry of this app's own (no process-global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("crossrank_requests", "HTTP requests", ["path", "status"], registry=self.registry)
        self.latency = Histogram(
            "crossrank_request_seconds",
            "request latency",
            ["path"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.batch_requests = Histogram(
            "crossrank_batch_requests",
            "requests scored together in one batch",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )
        self.batch_pairs = Histogram(
            "crossrank_batch_pairs",
            "pairs per batch",
            registry=self.registry,
            buckets=(1, 8, 32, 64, 128, 256, 512, 1024),
        )
        self.pairs = Counter("crossrank_pairs_scored", "query-document pairs scored", registry=self.registry)
        self.queue_depth = Gauge("crossrank_queue_depth", "requests waiting", registry=self.registry)

    def record_batch(self, stats: BatchStats) -> None:
        self.batch_requests.observe(stats.requests)
        self.batch_pairs.observe(stats.pairs)
        self.pairs.inc(stats.pairs)


@dataclass
class ServerState:
    """Everything handlers need, typed; lives on `app.state.crossrank`."""

    config: ServerConfig
    metrics: Metrics
    model_name: str
    reranker: Reranker | None = None
    batcher: Batcher | None = None
    draining: bool = False
    started: float = field(default_factory=time.time)


class ApiError(Exception):
    """An error with its HTTP status, shown to the client as `ErrorBody`."""

    def __init__(self, status: int, message: str, *, type: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.field = status, message, type, field


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.crossrank
    return state


def create_app(load: Callable[[], Reranker], *, config: ServerConfig, model_name: str) -> FastAPI:
    """Build the app; the model loads in the background at start-up (`/health` says 503 until it is ready)."""
    state = ServerState(config=config, metrics=Metrics(), model_name=model_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.get_running_loop().run_in_executor(None, load)

        async def finish_loading() -> None:
            try:
                reranker = await loading
            except Exception:
                log.exception("model failed to load")
                raise
            batcher = Batcher(
                reranker,
                max_queue=config.max_queue,
                max_pairs=config.max_pairs_per_batch,
                on_batch=state.metrics.record_batch,
            )
            batcher.start()
            state.reranker, state.batcher = reranker, batcher
            log.info("model %s ready (%s)", model_name, reranker.backend.name)

        loader = asyncio.get_running_loop().create_task(finish_loading())
        yield
        state.draining = True
        if not loader.done():
            loader.cancel()
        if state.batcher is not None:
            await state.batcher.stop()

    app = FastAPI(
        title="crossrank",
        summary="Cross-encoder reranking: Cohere v2 / v1, Jina and Hugging Face TEI wire formats.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.crossrank = state
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.middleware("http")(_observe)
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes)
    app.post("/v2/rerank", response_model=CohereRerankResponse, tags=["rerank"], summary="Cohere v2 rerank")(
        cohere_rerank
    )
    app.post("/v1/rerank", response_model=CohereRerankResponse, tags=["rerank"], summary="Cohere v1 / Jina rerank")(
        cohere_rerank
    )
    app.post("/rerank", response_model=list[TeiResult], tags=["rerank"], summary="Hugging Face TEI rerank")(tei_rerank)
    app.get("/health", tags=["ops"], summary="200 once the model is loaded, 503 before")(health)
    app.get("/metrics", tags=["ops"], summary="Prometheus metrics")(metrics)
    app.get("/v1/models", tags=["ops"], summary="the served model")(models)
    from crossrank.server.page import install_page

    install_page(app)
    return app


def _version() -> str:
    from crossrank import __version__

    return __version__


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes, scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ApiError(413, f"request body over {self.max_bytes} bytes", type="too_large")
            return message

        await self.app(scope, limited, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    body = ErrorBody(message=f"request body over {limit} bytes", type="too_large").model_dump_json()
    response = Response(body, status_code=413, media_type="application/json")
    await response(scope, receive, send)


async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Auth, request id, one structured log line and metrics for every request."""
    state = state_of(request)
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
    request.state.request_id = request_id
    start = time.perf_counter()
    path = request.url.path
    if state.config.api_key and path in ("/v2/rerank", "/v1/rerank", "/rerank", "/v1/models", "/metrics"):
        given = request.headers.get("authorization", "")
        expected = f"Bearer {state.config.api_key}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            response: Response = _error_response(
                ApiError(401, "missing or wrong API key", type="unauthorized", field="Authorization")
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return _finish(state, request, response, start)
    try:
        response = await call_next(request)
    except ApiError as exc:  # raised inside the body limiter, below the exception handlers
        response = _error_response(exc)
    except Exception:  # a bug, never the client's text: logged in full, answered as JSON, counted
        log.exception("request id=%s failed", request_id)
        response = _error_response(ApiError(500, "internal error; see the server log", type="internal"))
    return _finish(state, request, response, start)


def _finish(state: ServerState, request: Request, response: Response, start: float) -> Response:
    elapsed = time.perf_counter() - start
    path = request.url.path if request.url.path in _KNOWN_PATHS else "other"
    state.metrics.requests.labels(path=path, status=str(response.status_code)).inc()
    state.metrics.latency.labels(path=path).observe(elapsed)
    response.headers["x-request-id"] = request.state.request_id
    extra = getattr(request.state, "log", {})
    log.info(
        "request id=%s %s %s status=%d documents=%s tokens=%s latency_ms=%.1f",
        request.state.request_id,
        request.method,
        request.url.path,
        response.status_code,
        extra.get("documents", "-"),
        extra.get("tokens", "-"),
        elapsed * 1000,
    )
    return response


_KNOWN_PATHS = {"/v2/rerank", "/v1/rerank", "/rerank", "/health", "/metrics", "/v1/models", "/"}


def _error_response(exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    body = ErrorBody(message=exc.message, type=exc.type, field=exc.field).model_dump()
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _error_response(exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    field_name = ".".join(location) or None
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        message, field_name = "request body is not valid JSON", None
    return _error_response(
        ApiError(422, f"{field_name}: {message}" if field_name else message, type="invalid_request", field=field_name)
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _error_response(ApiError(exc.status_code, str(exc.detail), type="http_error"))


def _ready(state: ServerState) -> Batcher:
    if state.draining:
        raise ApiError(503, "the server is shutting down", type="unavailable")
    if state.batcher is None:
        raise ApiError(503, "the model is still loading", type="unavailable")
    return state.batcher


def _check_limits(state: ServerState, query: str, count: int, field_name: str) -> None:
    if count == 0:
        raise ApiError(422, f"{field_name}: must hold at least one document", type="invalid_request", field=field_name)
    if count > state.config.max_documents:
        raise ApiError(
            413,
            f"{field_name}: {count} documents, at most {state.config.max_documents} per request",
            type="too_large",
            field=field_name,
        )
    if len(query) > state.config.max_query_chars:
        raise ApiError(
            413,
            f"query: {len(query)} characters, at most {state.config.max_query_chars}",
            type="too_large",
            field="query",
        )


def _check_texts(query: str, texts: list[str], field_name: str) -> None:
    """Refuse text no tokenizer accepts (lone surrogates, from JSON escapes) with 422 naming the item, before
    it can share a batch with anyone else's request."""
    for where, text in [("query", query), *((f"{field_name}.{i}", t) for i, t in enumerate(texts))]:
        try:
            check_text(text, where)
        except InputError as exc:
            raise ApiError(422, str(exc), type="invalid_request", field=where) from None


async def _score(
    state: ServerState, request: Request, query: str, texts: list[str], *, raw: bool
) -> list[RankedResult]:
    batcher = _ready(state)
    state.metrics.queue_depth.set(batcher.depth())
    try:
        ranked = await asyncio.wait_for(batcher.submit(query, texts, raw=raw), state.config.request_timeout_s)
    except Overloaded as exc:
        raise ApiError(503, str(exc), type="overloaded") from exc
    except TimeoutError as exc:
        raise ApiError(504, f"scoring took longer than {state.config.request_timeout_s:g} s", type="timeout") from exc
    except InputError as exc:
        raise ApiError(422, str(exc), type="invalid_request") from exc
    request.state.log = {"documents": len(texts)}
    return ranked


async def cohere_rerank(body: CohereRerankRequest, request: Request) -> CohereRerankResponse:
    """Rerank `documents` for `query`; results sorted by `relevance_score` (0..1), best first."""
    state = state_of(request)
    texts = [d if isinstance(d, str) else d.text for d in body.documents]
    _check_limits(state, body.query, len(texts), "documents")
    _check_texts(body.query, texts, "documents")
    if body.max_tokens_per_doc is not None:
        texts = _cut_tokens(state, texts, body.max_tokens_per_doc)
    ranked = await _score(state, request, body.query, texts, raw=False)
    if body.top_n is not None:
        ranked = ranked[: body.top_n]
    reranker = _ready(state).reranker
    tokens = sum(min(n, reranker.spec.max_length) for n in _pair_lengths(reranker, body.query, texts))
    request.state.log["tokens"] = tokens
    return CohereRerankResponse(
        id=request.state.request_id,
        results=[
            CohereResult(
                index=r.index,
                relevance_score=r.score,
                document=DocumentOut(text=texts[r.index]) if body.return_documents else None,
            )
            for r in ranked
        ],
        meta={
            "api_version": {"version": "1" if request.url.path == "/v1/rerank" else "2"},
            "billed_units": {"search_units": 1},
            "tokens": {"input_tokens": tokens},
        },
        usage={"total_tokens": tokens},
    )


async def tei_rerank(body: TeiRerankRequest, request: Request) -> list[TeiResult]:
    """TEI `/rerank`: `[{index, score, text?}]` sorted by score; `raw_scores` returns logits."""
    state = state_of(request)
    _check_limits(state, body.query, len(body.texts), "texts")
    _check_texts(body.query, body.texts, "texts")
    reranker = _ready(state).reranker
    window = reranker.spec.max_length
    lengths = _pair_lengths(reranker, body.query, body.texts)
    if not body.truncate:
        for i, length in enumerate(lengths):
            if length > window:
                raise ApiError(
                    413,
                    f"texts.{i}: query and text take {length} tokens, over the model's {window}; "
                    "send truncate=true to cut it",
                    type="too_large",
                    field=f"texts.{i}",
                )
    ranked = await _score(state, request, body.query, body.texts, raw=body.raw_scores)
    request.state.log["tokens"] = sum(min(n, window) for n in lengths)
    return [
        TeiResult(index=r.index, score=r.score, text=body.texts[r.index] if body.return_text else None) for r in ranked
    ]


def _pair_lengths(reranker: Reranker, query: str, texts: list[str]) -> list[int]:
    tokenizer = reranker.encoder.tokenizer
    q = len(tokenizer.encode(query, add_special_tokens=False).ids)
    docs = tokenizer.encode_batch(texts, add_special_tokens=False)
    return [q + len(d.ids) + reranker.encoder.special_tokens for d in docs]


def _cut_tokens(state: ServerState, texts: list[str], limit: int) -> list[str]:
    """Cohere's `max_tokens_per_doc`: keep each document's first `limit` tokens."""
    reranker = _ready(state).reranker
    out = []
    for text, encoding in zip(
        texts, reranker.encoder.tokenizer.encode_batch(texts, add_special_tokens=False), strict=True
    ):
        if len(encoding.ids) > limit:
            text = text[: encoding.offsets[limit - 1][1]]
        out.append(text)
    return out


async def health(request: Request) -> JSONResponse:
    state = state_of(request)
    if state.draining or state.batcher is None:
        status = "draining" if state.draining else "loading"
        return JSONResponse({"status": status}, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", "model": state.model_name})


async def metrics(request: Request) -> Response:
    state = state_of(request)
    if state.batcher is not None:
        state.metrics.queue_depth.set(state.batcher.depth())
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def models(request: Request) -> dict[str, Any]:
    state = state_of(request)
    reranker = state.reranker
    return {
        "object": "list",
        "data": [
            {
                "id": state.model_name,
                "object": "model",
                "owned_by": "crossrank",
                "ready": reranker is not None,
                "backend": reranker.backend.name if reranker else None,
                "max_length": reranker.spec.max_length if reranker else None,
            }
        ],
    }
