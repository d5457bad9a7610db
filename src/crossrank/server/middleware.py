"""What runs around every request, in one ASGI layer and in this order: a request id, the API key (checked before
a byte of the body is read), the body limit, then the app; whoever answers, the answer carries the request id
and gets one log line and a metrics count."""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossrank.server.errors import ApiError, error_response
from crossrank.server.state import ServerState

log = logging.getLogger("crossrank.server")

PUBLIC = frozenset({"/", "/favicon.ico", "/health", "/openapi.json"})
"""The paths anyone may read with --api-key set: the page's shell, health and the API's description. Every other
path needs the key, so a route added anywhere is protected unless it is named here."""
PUBLIC_ASSET_SUFFIXES = (".html", ".css", ".js", ".mjs", ".wasm", ".txt")
"""Under /demo/, the page's own code is public too (a browser fetches it before it can send a key); the models,
tokenizers and settings it downloads (.onnx, .json) are not."""
KNOWN_PATHS = {"/v2/rerank", "/v1/rerank", "/rerank", "/v1/models", "/metrics", *PUBLIC}
"""Paths counted under their own name in the metrics (anything else is "other", so a scan cannot grow them)."""


def is_protected(path: str) -> bool:
    """Whether `path` needs the API key (when one is set): everything but `PUBLIC` and the page's own code."""
    if path in PUBLIC:
        return False
    return not (path.startswith("/demo/") and path.endswith(PUBLIC_ASSET_SUFFIXES))


SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A client's `X-Request-Id` is used only when it matches this (short, no spaces or control characters);
anything else gets a new id, so a client can neither bloat nor forge a log line."""


def request_id_of(headers: dict[str, str]) -> str:
    """The client's id when it is safe to log and echo, else a new one."""
    given = headers.get("x-request-id", "")
    return given if SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]


def authorised(header: str, api_key: str) -> bool:
    """`Authorization: Bearer KEY`, the scheme in any case (RFC 9110), compared in constant time."""
    scheme, _, token = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


class Gate:
    """Request id, auth, body limit, one log line and metrics for every HTTP request, errors included.

    A body over `max_bytes` (declared or streamed, chunked included) is 413 and bytes that are not UTF-8 are 422;
    only a body within the limit reaches the app, replayed as one message."""

    def __init__(self, app: ASGIApp, *, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        request_id = request_id_of(headers)
        start = time.perf_counter()
        scope.setdefault("state", {}).update(request_id=request_id, arrived=time.monotonic())
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                await self._with_body(scope, receive, send_with_id)
        except Exception:  # a bug, never the client's text: logged in full, answered as JSON, counted
            log.exception("request id=%s failed", request_id)
            if not started:
                await error_response(ApiError(500, "internal error; see the server log", type="internal"))(
                    scope, receive, send_with_id
                )
        finally:
            self._record(scope, request_id, status if started else 499, time.perf_counter() - start)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> ASGIApp | None:
        """The answer for a request refused before its body is read (wrong key, declared size too large)."""
        key = self.state.config.api_key
        guarded = is_protected(scope["path"]) and scope["method"] != "OPTIONS"
        if key and guarded and not authorised(headers.get("authorization", ""), key):
            problem = ApiError(401, "missing or wrong API key", type="unauthorized", field="Authorization")
            return error_response(problem, headers={"WWW-Authenticate": "Bearer"})
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.state.config.max_request_bytes:
            return error_response(self._too_large())
        return None

    async def _with_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.state.config.max_request_bytes:
                await error_response(self._too_large())(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = ApiError(422, f"request body is not UTF-8 (byte {exc.start})", type="invalid_request")
            await error_response(problem, path=scope["path"])(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> ApiError:
        return ApiError(413, f"request body over {self.state.config.max_request_bytes} bytes", type="too_large")

    def _record(self, scope: Scope, request_id: str, status: int, elapsed: float) -> None:
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        self.state.metrics.requests.labels(path=path, status=str(status)).inc()
        self.state.metrics.latency.labels(path=path).observe(elapsed)
        extra = scope["state"].get("log", {})
        if extra.get("model") is not None:
            self.state.metrics.model_requests.labels(model=extra["model"]).inc()
        fields = {
            "id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "model": extra.get("model"),
            "documents": extra.get("documents"),
            "tokens": extra.get("tokens"),
            "latency_ms": round(elapsed * 1000, 1),
        }
        log.info("request %s", json.dumps(fields, ensure_ascii=True))  # JSON: the path cannot forge a field
