"""What runs around every request: the body limit (before anything parses the body), then authentication,
the request id, one log line and the metrics."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossrank.server.errors import ApiError, error_response
from crossrank.server.state import ServerState, state_of

log = logging.getLogger("crossrank.server")

PROTECTED = (
    "/v2/rerank",
    "/v1/rerank",
    "/rerank",
    "/v1/models",
    "/metrics",
    "/demo/demo.json",
    "/demo/model.onnx",
    "/demo/tokenizer.json",
)
KNOWN_PATHS = {*PROTECTED, "/health", "/", "/favicon.ico"}


class BodyLimit:
    """Reads the whole body first: over `max_bytes` (declared or streamed, chunked included) is 413, bytes that
    are not UTF-8 are 422; only a body within the limit reaches the app, replayed as one message."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_large = ApiError(413, f"request body over {self.max_bytes} bytes", type="too_large")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(too_large)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await error_response(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = ApiError(422, f"request body is not UTF-8 (byte {exc.start})", type="invalid_request")
            await error_response(problem)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Auth, request id, one structured log line and metrics for every request, errors included."""
    state = state_of(request)
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
    request.state.request_id = request_id
    start = time.perf_counter()
    if state.config.api_key and request.url.path in PROTECTED:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {state.config.api_key}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            problem = ApiError(401, "missing or wrong API key", type="unauthorized", field="Authorization")
            response: Response = error_response(problem, headers={"WWW-Authenticate": "Bearer"})
            return _finish(state, request, response, start)
    try:
        response = await call_next(request)
    except Exception:  # a bug, never the client's text: logged in full, answered as JSON, counted
        log.exception("request id=%s failed", request_id)
        response = error_response(ApiError(500, "internal error; see the server log", type="internal"))
    return _finish(state, request, response, start)


def _finish(state: ServerState, request: Request, response: Response, start: float) -> Response:
    elapsed = time.perf_counter() - start
    path = request.url.path if request.url.path in KNOWN_PATHS else "other"
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
