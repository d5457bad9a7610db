"""The state a server's handlers share (typed, on `app.state.crossrank`); its settings are `ServerConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from crossrank.reranker import Reranker
from crossrank.server.batcher import Batcher
from crossrank.server.config import ServerConfig
from crossrank.server.metrics import Metrics


@dataclass
class ServerState:
    """Everything handlers need: the settings, the metrics, and the model once it has loaded."""

    config: ServerConfig
    metrics: Metrics
    model_name: str
    reranker: Reranker | None = None
    batcher: Batcher | None = None
    draining: bool = False
    load_error: str | None = None  # why a model could not load (the process is ending)
    other_names: tuple[str, ...] = ()  # the other models served, by the names requests pick them with
    others: dict[str, Batcher] = field(default_factory=dict)  # their queues, once loaded
    browser_model: bytes | None = None  # the ONNX file the page's in-browser scorer downloads, built on first use
    browser_first_pass: bytes | None = None  # the same for a cascade's first-pass model
    browser_runs_first_pass: bool | None = None  # whether the browser can run that model (None: not checked)
    browser_refusal: str | None = None  # why the browser cannot run the model ("" if it can; None: not checked)

    def loaded(self) -> dict[str, Reranker]:
        """Every served model that has loaded, by the name requests pick it with (the default first)."""
        found = {} if self.reranker is None else {self.model_name: self.reranker}
        return found | {name: batcher.reranker for name, batcher in self.others.items()}


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.crossrank
    return state
