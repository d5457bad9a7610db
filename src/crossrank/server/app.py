"""The app: load the model in the background, wire the middleware, routes and error handlers, state the limits.

Endpoints: POST /v2/rerank and /v1/rerank (Cohere v2 / v1 / Jina), POST /rerank (Hugging Face TEI), GET /health,
GET /metrics (Prometheus), GET /v1/models, and the demo page at /. The request path reads top to bottom in
`routes.py`; errors map to statuses in `errors.py`; the body limit, auth and logging live in `middleware.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossrank.errors import CrossrankError, InputError
from crossrank.reranker import Reranker
from crossrank.score_cache import CacheStats
from crossrank.server import errors, routes
from crossrank.server.batcher import Batcher
from crossrank.server.config import ServerConfig
from crossrank.server.metrics import Metrics
from crossrank.server.middleware import Gate
from crossrank.server.schemas import CohereRerankResponse, ErrorBody, TeiResult
from crossrank.server.state import ServerState

log = logging.getLogger("crossrank.server")

__all__ = ["ServerConfig", "create_app"]


def create_app(
    load: Callable[[], Reranker],
    *,
    config: ServerConfig,
    model_name: str,
    on_load_failure: Callable[[str], None] | None = None,
    others: Mapping[str, Callable[[], Reranker]] | None = None,
) -> FastAPI:
    """Build the app; the model loads in the background at start-up (`/health` says 503 until it is ready, and
    "failed" with the reason if it cannot load; `on_load_failure` then gets the reason, e.g. to end the process)."""
    others = dict(others or {})
    if model_name in others:
        raise InputError(f"model {model_name!r} is named twice; serve each model once")
    metrics = Metrics(caches=lambda: cache_stats(state))  # read at each scrape, once the models are loaded
    state = ServerState(config=config, metrics=metrics, model_name=model_name, other_names=tuple(others))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = asyncio.get_running_loop().create_task(_load(state, {model_name: load, **others}, on_load_failure))
        yield
        state.draining = True
        if not loader.done():
            loader.cancel()
        for batcher in [state.batcher, *state.others.values()]:
            if batcher is not None:
                await batcher.stop()

    app = FastAPI(
        title="crossrank",
        summary="Cross-encoder reranking: Cohere v2 / v1, Jina and Hugging Face TEI wire formats.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load their assets from a CDN: blank offline, and another origin
        redoc_url=None,  # the OpenAPI document itself is served at /openapi.json
    )
    app.state.crossrank = state
    app.add_exception_handler(errors.ApiError, errors.api_error)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(StarletteHTTPException, errors.http_error)
    app.add_middleware(Gate, state=state)
    if config.cors_origins:  # outermost: preflights and the CORS headers of every answer, refusals included
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    _routes(app)
    from crossrank.server.page import install_page

    install_page(app)
    app.openapi = lambda: _openapi(app, config)  # type: ignore[method-assign]
    return app


def _routes(app: FastAPI) -> None:
    """The rerank routes (Cohere v2 / v1 and Jina, TEI) and the operations routes, each with its declared errors."""

    def failures(path: str) -> dict[int | str, dict[str, Any]]:
        return {status: {"model": ErrorBody, "description": text} for status, text in errors.declared(path).items()}

    for path, summary in (("/v2/rerank", "Cohere v2 rerank"), ("/v1/rerank", "Cohere v1 / Jina rerank")):
        app.post(
            path,
            response_model=CohereRerankResponse,
            response_model_exclude_none=True,
            tags=["rerank"],
            summary=summary,
            responses=failures(path),
        )(routes.cohere_rerank)
    app.post(
        "/rerank",
        response_model=list[TeiResult],
        response_model_exclude_none=True,
        tags=["rerank"],
        summary="Hugging Face TEI rerank",
        responses=failures("/rerank"),
    )(routes.tei_rerank)
    app.get("/health", tags=["ops"], summary="200 once the model is loaded, 503 before", responses=_health())(
        routes.health
    )
    app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={401: failures("/metrics")[401]},
    )(routes.metrics)
    app.get("/v1/models", tags=["ops"], summary="the served model", responses={401: failures("/v1/models")[401]})(
        routes.models
    )


async def _load(
    state: ServerState, loads: Mapping[str, Callable[[], Reranker]], on_failure: Callable[[str], None] | None
) -> None:
    """Load each served model in turn (the default first), each with a queue of its own."""
    for name, load in loads.items():
        try:
            reranker = await asyncio.get_running_loop().run_in_executor(None, load)
        except Exception as exc:  # noqa: BLE001 - any failure to load is reported the same way, once
            reason = str(exc) if isinstance(exc, CrossrankError) else f"{type(exc).__name__}: {exc}"
            state.load_error = reason if len(loads) == 1 else f"{name}: {reason}"
            if not isinstance(exc, CrossrankError):
                log.error("model failed to load", exc_info=exc)  # a bug: keep its traceback
            if on_failure is not None:
                on_failure(state.load_error)
            return
        batcher = Batcher(
            reranker,
            max_queue=state.config.max_queue,
            max_batch_tokens=state.config.max_batch_tokens,
            on_batch=state.metrics.record_batch,
            on_dropped=state.metrics.record_dropped,
        )
        batcher.start()
        if name == state.model_name:
            state.reranker, state.batcher = reranker, batcher
        else:
            state.others[name] = batcher
        log.info("model %s ready (%s)", name, reranker.backend.name)


def cache_stats(state: ServerState) -> dict[str, CacheStats]:
    """Each served model's score caches, by name (a cascade's first pass as `name/first-pass-name`)."""
    found = {}
    for name, reranker in state.loaded().items():
        engines = {name: reranker.engine}
        if reranker.cascade is not None and reranker.cascade.scorer is not None:
            engines[f"{name}/{reranker.cascade.scorer.spec.name}"] = reranker.cascade.scorer.engine
        found.update({key: engine.cache.stats() for key, engine in engines.items() if engine.cache is not None})
    return found


def _health() -> dict[int | str, dict[str, Any]]:
    return {
        503: {
            "description": "loading, failed to load (with the reason), or shutting down",
            "content": {"application/json": {}},
        }
    }


def _openapi(app: FastAPI, config: ServerConfig) -> dict[str, Any]:
    """FastAPI's document, with this server's own limits written into the request schemas."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema["components"]["schemas"]
        for name, items in (("CohereRerankRequest", "documents"), ("TeiRerankRequest", "texts")):
            properties = components[name]["properties"]
            properties["query"]["maxLength"] = config.max_query_chars
            properties[items]["maxItems"] = config.max_documents
        app.openapi_schema = schema
    return app.openapi_schema


def _version() -> str:
    from crossrank.version import crossrank_version

    return crossrank_version()
