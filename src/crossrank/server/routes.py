"""The endpoints, each read top to bottom: check limits and text, encode off the event loop, queue, shape.

Each request is tokenized exactly once (`Reranker.encode`, in a worker thread), before it enters the queue;
`usage`, `max_tokens_per_doc` and TEI's window check all come from that one encoding.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from crossrank.encoded import EncodedQuery
from crossrank.errors import InputError
from crossrank.ranking import Cut, Ranking
from crossrank.reranker import Reranker
from crossrank.server.batcher import Batcher
from crossrank.server.errors import ApiError, from_exception
from crossrank.server.schemas import (
    CohereRerankRequest,
    CohereRerankResponse,
    CohereResult,
    DocumentOut,
    EvidenceOut,
    TeiRerankRequest,
    TeiResult,
)
from crossrank.server.state import ServerState, state_of
from crossrank.types import RankedResult


async def cohere_rerank(body: CohereRerankRequest, request: Request) -> CohereRerankResponse:
    """Rerank `documents` for `query`; results sorted by `relevance_score` (0..1), best first."""
    state = state_of(request)
    name, batcher = _pick(state, body.model)
    texts = [d if isinstance(d, str) else d.text for d in body.documents]
    encoded = await _encode(
        state,
        batcher.reranker,
        body.query,
        texts,
        "documents",
        max_document_tokens=body.max_tokens_per_doc,
        ranked_input=body.ranked_input,
    )
    ranking = await _score(state, request, batcher, encoded, raw=False)
    cut = Cut(top_k=body.top_n, min_score=body.min_score, max_tokens=body.max_tokens, budget_counts=body.budget_counts)
    ranked = _results(batcher.reranker, ranking, cut, body.query, texts, body.return_evidence, body.max_tokens_per_doc)
    tokens = _billed_tokens(batcher.reranker, encoded)
    request.state.log = {"documents": len(texts), "tokens": tokens, "model": name}
    version = "1" if request.url.path == "/v1/rerank" else "2"
    with_documents = body.return_documents if body.return_documents is not None else version == "1"
    return CohereRerankResponse(
        id=request.state.request_id,
        model=name,
        results=[
            CohereResult(
                index=r.index,
                relevance_score=r.score,
                document=DocumentOut(text=texts[r.index]) if with_documents else None,
                evidence=_evidence(r),
            )
            for r in ranked
        ],
        meta={
            "api_version": {"version": version},
            "billed_units": {"search_units": 1},
            "tokens": {"input_tokens": tokens},
        },
        usage={"total_tokens": tokens},
    )


async def tei_rerank(body: TeiRerankRequest, request: Request) -> list[TeiResult]:
    """TEI `/rerank`: `[{index, score, text?}]` sorted by score; `raw_scores` returns logits."""
    state = state_of(request)
    name, batcher = _pick(state, None)  # TEI serves one model per process: the default
    encoded = await _encode(state, batcher.reranker, body.query, body.texts, "texts", ranked_input=body.ranked_input)
    window = batcher.reranker.spec.max_length
    if not body.truncate:
        for i, length in enumerate(encoded.pair_tokens):
            if length > window:
                raise ApiError(
                    413,
                    f"texts.{i}: query and text take {length} tokens, over the model's {window}; "
                    "send truncate=true to cut it",
                    type="too_large",
                    field=f"texts.{i}",
                )
    ranking = await _score(state, request, batcher, encoded, raw=body.raw_scores)
    cut = Cut(min_score=body.min_score, max_tokens=body.max_tokens, budget_counts=body.budget_counts)
    ranked = _results(batcher.reranker, ranking, cut, body.query, body.texts, body.return_evidence, None)
    request.state.log = {
        "documents": len(body.texts),
        "tokens": _billed_tokens(batcher.reranker, encoded),
        "model": name,
    }
    return [
        TeiResult(
            index=r.index,
            score=r.score,
            text=body.texts[r.index] if body.return_text else None,
            evidence=_evidence(r),
        )
        for r in ranked
    ]


def _results(
    reranker: Reranker,
    ranking: Ranking,
    cut: Cut,
    query: str,
    texts: list[str],
    evidence: bool,
    max_document_tokens: int | None,
) -> list[RankedResult]:
    """The ranking's results after the cut, with each result's evidence when the request asks for it
    (`return_evidence`, or a budget that counts evidence)."""
    if not (evidence or cut.budget_counts == "evidence"):
        return ranking.results(cut)
    return ranking.results(cut, evidence=reranker.evidence_spans(query, texts, max_document_tokens=max_document_tokens))


def _evidence(result: RankedResult) -> EvidenceOut | None:
    return None if result.evidence is None else EvidenceOut(start=result.evidence.start, end=result.evidence.end)


async def _encode(
    state: ServerState,
    reranker: Reranker,
    query: str,
    texts: list[str],
    field_name: str,
    *,
    max_document_tokens: int | None = None,
    ranked_input: bool = False,
) -> EncodedQuery:
    """Check the request against the limits (the OpenAPI document states them as maxItems and maxLength, so
    going over is a schema violation: 422); check its text and tokenize it once, in a worker thread (never on
    the event loop)."""
    if len(texts) > state.config.max_documents:
        raise ApiError(
            422,
            f"{field_name}: {len(texts)} documents, at most {state.config.max_documents} per request",
            type="invalid_request",
            field=field_name,
        )
    if len(query) > state.config.max_query_chars:
        raise ApiError(
            422,
            f"query: {len(query)} characters, at most {state.config.max_query_chars}",
            type="invalid_request",
            field="query",
        )
    return await run_in_threadpool(
        _check_and_encode, reranker, query, texts, field_name, max_document_tokens, ranked_input
    )


def _check_and_encode(
    reranker: Reranker,
    query: str,
    texts: list[str],
    field_name: str,
    max_document_tokens: int | None,
    ranked_input: bool,
) -> EncodedQuery:
    """Runs in a worker thread: the one check and encoding of the request's text. Text no tokenizer accepts (a
    lone surrogate, NUL) is refused naming its wire field (`documents.3`), before it could share a batch with
    anyone's request."""
    try:
        return reranker.encode(query, texts, max_document_tokens=max_document_tokens, ranked_input=ranked_input)
    except InputError as exc:
        if exc.item is None:
            raise from_exception(exc) from None
        kind, index = exc.item
        field = "query" if kind == "query" else f"{field_name}.{index}"
        message = str(exc)
        message = field + message[len(exc.where) :] if exc.where and message.startswith(exc.where) else message
        raise from_exception(InputError(message), field=field) from None


async def _score(
    state: ServerState, request: Request, batcher: Batcher, encoded: EncodedQuery, *, raw: bool
) -> Ranking:
    """Queue the request and wait for it, until the timeout counted from the request's arrival (reading and
    tokenizing count too) and only while the client is connected; giving up cancels the queue entry, so the
    batcher skips or stops its work."""
    left = state.config.request_timeout_s - (time.monotonic() - request.state.arrived)
    state.metrics.queue_depth.set(batcher.depth())
    scoring = asyncio.ensure_future(batcher.submit(encoded, raw=raw))
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({scoring, watcher}, timeout=max(left, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not scoring.done():
            scoring.cancel()
    if scoring in done:
        try:
            return scoring.result()
        except Exception as exc:  # noqa: BLE001 - the table answers what it knows; anything else is a bug (500)
            raise from_exception(exc) from exc
    if watcher in done:
        state.metrics.disconnected.inc()
        raise ApiError(499, "the client closed the connection", type="client_closed")
    raise ApiError(504, f"scoring took longer than {state.config.request_timeout_s:g} s", type="timeout")


async def _disconnected(request: Request, every_s: float = 0.1) -> None:
    """Returns once the client has closed its connection (polled: Starlette tells only when asked)."""
    while not await request.is_disconnected():
        await asyncio.sleep(every_s)


def _billed_tokens(reranker: Reranker, encoded: EncodedQuery) -> int:
    """Tokens scored for the request: each document's pair, cut to the window (what Cohere calls input tokens)."""
    window = reranker.spec.max_length
    return int(sum(min(int(n), window) for n in encoded.pair_tokens))


def _pick(state: ServerState, requested: str | None) -> tuple[str, Batcher]:
    """The served model a request names, and its queue. A server of one model answers every request with it
    (Cohere clients always send a model name of their own); a server of several takes the request's `model`
    (none: the first) and refuses a name it does not serve, naming the ones it does."""
    if state.draining:
        raise ApiError(503, "the server is shutting down", type="unavailable")
    if state.load_error is not None:
        raise ApiError(503, f"the model failed to load: {state.load_error}", type="unavailable")
    name = state.model_name
    if state.other_names and requested is not None and requested != state.model_name:
        if requested not in state.other_names:
            served = ", ".join((state.model_name, *state.other_names))
            raise ApiError(
                422,
                f"model: {requested!r} is not served here; choose one of {served}",
                type="invalid_request",
                field="model",
            )
        name = requested
    batcher = state.batcher if name == state.model_name else state.others.get(name)
    if batcher is None:
        raise ApiError(503, f"the model {name} is still loading", type="unavailable")
    return name, batcher


async def health(request: Request) -> JSONResponse:
    """200 once the model is loaded; 503 while it loads and while the server shuts down."""
    state = state_of(request)
    if state.load_error is not None:
        return JSONResponse({"status": "failed", "reason": state.load_error}, status_code=503)
    if state.draining or state.batcher is None or len(state.others) < len(state.other_names):
        status = "draining" if state.draining else "loading"
        return JSONResponse({"status": status}, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", "model": state.model_name, "models": [state.model_name, *state.others]})


async def metrics(request: Request) -> Response:
    """Prometheus text exposition: requests by path and status, latency, batches, queue depth, pairs scored."""
    state = state_of(request)
    if state.batcher is not None:
        state.metrics.queue_depth.set(state.batcher.depth())
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def models(request: Request) -> dict[str, Any]:
    """The served models (the first is the default), each with its backend and window."""
    state = state_of(request)
    loaded = state.loaded()
    data = []
    for name in (state.model_name, *state.other_names):
        reranker = loaded.get(name)
        data.append(
            {
                "id": name,
                "object": "model",
                "owned_by": "crossrank",
                "ready": reranker is not None,
                "default": name == state.model_name,
                "ranks_with": reranker.name if reranker else None,  # the cascade's models, when there is one
                "backend": reranker.backend.name if reranker else None,
                "max_length": reranker.spec.max_length if reranker else None,
            }
        )
    return {"object": "list", "data": data}
