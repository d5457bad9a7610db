"""A real uvicorn server on a free loopback port, in a thread, for tests."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI

from crossrank import Reranker
from crossrank.server.app import create_app
from crossrank.server.config import ServerConfig


class LiveServer:
    """`crossrank serve`'s app for one reranker (served as "tiny"), or any app given, ready on entry (unless
    `wait_ready` is False: an app whose model never loads)."""

    def __init__(
        self, reranker: Reranker | None, config: ServerConfig, *, app: FastAPI | None = None, wait_ready: bool = True
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        if app is None:
            assert reranker is not None
            app = create_app(lambda: reranker, config=config, model_name="tiny")
        self.wait_ready = wait_ready
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.wait_ready and self.server.started:
                return self
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
