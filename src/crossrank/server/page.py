"""The demo page at `/` and what it needs to score in the visitor's browser.

The page (one HTML file and the shared `/demo/style.css`; nothing from other origins) scores in the browser by
default, with the same code as `crossrank demo` (`/demo/scorer.js`, ONNX Runtime Web under `/demo/vendor/`)
and the served model from `/demo/model.onnx`; a switch sends the passages to `/v2/rerank` instead. Without the
built JavaScript, or for a tokenizer the browser side does not implement, the page says so and scores on the
server.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossrank.errors import ModelError
from crossrank.reranker import Reranker
from crossrank.server.errors import ApiError
from crossrank.server.state import ServerState, state_of

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f4e99"/>'
    '<path d="M4 4h8M4 8h6M4 12h4" stroke="#fff" stroke-width="2" stroke-linecap="round"/></svg>'
)


def install_page(app: FastAPI) -> None:
    """The page at / (`web/static/served.html`: the static demo's code and what a server adds) and its files."""
    from crossrank.web.demo import static_dir

    html = (static_dir() / "served.html").read_text(encoding="utf-8")

    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers=ISOLATION)

    async def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    app.get("/", include_in_schema=False)(page)
    app.get("/favicon.ico", include_in_schema=False)(icon)
    app.get("/demo/demo.json", include_in_schema=False)(demo_json)
    app.get("/demo/tokenizer.json", include_in_schema=False)(tokenizer_json)
    app.get("/demo/model.onnx", include_in_schema=False)(model_onnx)
    app.get("/demo/first_pass.onnx", include_in_schema=False)(first_pass_onnx)
    app.get("/demo/first_pass_tokenizer.json", include_in_schema=False)(first_pass_tokenizer_json)
    app.mount("/demo", Isolated(StaticFiles(directory=str(static_dir()), check_dir=False)), name="demo")


ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
"""Headers that make the page cross-origin isolated, which browsers require before they give WebAssembly
threads; everything the page loads is same-origin, so nothing else changes."""
ISOLATION_RAW = [(name.lower().encode(), value.encode()) for name, value in ISOLATION.items()]


class Isolated:
    """An ASGI app whose every answer carries `ISOLATION` (the page's static files: scripts, WebAssembly)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_isolated(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *ISOLATION_RAW]}
            await send(message)

        await self.app(scope, receive, send_isolated)


async def _folder(state: ServerState) -> tuple[Path, str, int]:
    """The served model's folder, name and window, once the browser side is known to tokenize it (checked
    once, off the event loop, and remembered: the answer cannot change while the model is served)."""
    reranker = state.reranker
    if reranker is None:
        raise ApiError(503, "the model is still loading", type="unavailable")
    folder = Path(reranker.spec.path)
    if state.browser_refusal is None:
        from crossrank.web.demo import check_browser_tokenizer

        try:
            await run_in_threadpool(check_browser_tokenizer, folder, reranker.spec.name)
            state.browser_refusal = ""
        except ModelError as exc:
            state.browser_refusal = str(exc)
    if state.browser_refusal:
        raise ApiError(404, state.browser_refusal, type="not_found")
    return folder, reranker.spec.name, reranker.spec.max_length


async def demo_json(request: Request) -> Response:
    state = state_of(request)
    folder, name, max_length = await _folder(state)
    from crossrank.web.demo import demo_config

    model = await _model(state, folder, name)
    calibration = state.reranker.calibration if state.reranker is not None else None
    config = demo_config(name, max_length, len(model), calibration)
    first = await _first_pass(state)
    if first is not None:  # the served cascade's first model runs in the browser too
        from crossrank.web.demo import first_pass_config

        cascade = state.reranker.cascade if state.reranker is not None else None
        assert cascade is not None
        size = len(await _first_model(state, first))
        config["first_pass"] = first_pass_config(first.spec, size, first.calibration, keep=cascade.keep)
    return Response(json.dumps(config), media_type="application/json")


async def _first_pass(state: ServerState) -> Reranker | None:
    """The served cascade's first-pass model, when it is a model the browser can run (a WordPiece tokenizer;
    checked once, off the event loop, and remembered)."""
    reranker = state.reranker
    cascade = None if reranker is None else reranker.cascade
    if cascade is None or cascade.scorer is None:
        return None
    if state.browser_runs_first_pass is None:
        from crossrank.web.demo import check_browser_tokenizer

        try:
            await run_in_threadpool(check_browser_tokenizer, Path(cascade.scorer.spec.path), cascade.scorer.spec.name)
            state.browser_runs_first_pass = True
        except ModelError:
            state.browser_runs_first_pass = False
    first = cascade.scorer
    return first if state.browser_runs_first_pass and isinstance(first, Reranker) else None


async def _first_model(state: ServerState, first: Reranker) -> bytes:
    """The first-pass model's ONNX file for the browser, built once and kept."""
    if state.browser_first_pass is None:
        from crossrank.web.demo import browser_model

        folder = Path(first.spec.path)
        state.browser_first_pass = await run_in_threadpool(browser_model, folder, first.spec.name, cache_dir=None)
    return state.browser_first_pass


async def first_pass_onnx(request: Request) -> Response:
    state = state_of(request)
    first = await _first_pass(state)
    if first is None:
        raise ApiError(404, "the served model has no first pass the browser runs", type="not_found")
    return Response(await _first_model(state, first), media_type="application/octet-stream")


async def first_pass_tokenizer_json(request: Request) -> Response:
    first = await _first_pass(state_of(request))
    if first is None:
        raise ApiError(404, "the served model has no first pass the browser runs", type="not_found")
    path = Path(first.spec.path) / "tokenizer.json"
    return Response(await run_in_threadpool(path.read_bytes), media_type="application/json")


async def tokenizer_json(request: Request) -> Response:
    folder, _, _ = await _folder(state_of(request))
    return Response(await run_in_threadpool((folder / "tokenizer.json").read_bytes), media_type="application/json")


async def model_onnx(request: Request) -> Response:
    state = state_of(request)
    folder, name, _ = await _folder(state)
    return Response(await _model(state, folder, name), media_type="application/octet-stream")


async def _model(state: ServerState, folder: Path, name: str) -> bytes:
    """The browser's ONNX file for the served model, built once (off the event loop) and kept."""
    if state.browser_model is None:
        from crossrank.web.demo import browser_model

        state.browser_model = await run_in_threadpool(browser_model, folder, name, cache_dir=None)
    return state.browser_model
