"""A server's settings and the state its handlers share (typed, on `app.state.crossrank`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import Request

from crossrank.errors import InputError
from crossrank.reranker import Reranker
from crossrank.server.batcher import Batcher
from crossrank.server.metrics import Metrics


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits and switches of one server; the OpenAPI document states the same limits."""

    max_documents: int = 1000
    max_request_bytes: int = 4_000_000
    max_query_chars: int = 10_000
    request_timeout_s: float = 60.0
    max_queue: int = 64
    max_batch_tokens: int = 65_536
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Every limit a positive, finite number (a NaN or zero timeout would fail every request)."""
        for name in ("max_documents", "max_request_bytes", "max_query_chars", "max_queue", "max_batch_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        timeout = self.request_timeout_s
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise InputError(f"request_timeout_s must be a positive number of seconds, got {timeout!r}")


@dataclass
class ServerState:
    """Everything handlers need: the settings, the metrics, and the model once it has loaded."""

    config: ServerConfig
    metrics: Metrics
    model_name: str
    reranker: Reranker | None = None
    batcher: Batcher | None = None
    draining: bool = False
    load_error: str | None = None  # why the model could not load (the process is ending)
    browser_model: bytes | None = None  # the ONNX file the page's in-browser scorer downloads, built on first use
    browser_first_pass: bytes | None = None  # the same for a cascade's first-pass model
    browser_runs_first_pass: bool | None = None  # whether the browser can run that model (None: not checked)
    browser_refusal: str | None = None  # why the browser cannot run the model ("" if it can; None: not checked)


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.crossrank
    return state
