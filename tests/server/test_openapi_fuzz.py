"""The OpenAPI document tells the truth: schemathesis fuzzes a live server from it (every check, a bounded
budget, no configuration file: the plain command the README gives) and any finding fails the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crossrank import Reranker
from crossrank.server.config import ServerConfig
from tests.server.live import LiveServer


@pytest.mark.slow
def test_schemathesis_finds_nothing(tiny_bert: Path, cache_dir: Path, tmp_path: Path) -> None:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if executable is None:
        pytest.fail("schemathesis is not installed: it is part of crossrank's dev extra")
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    config = ServerConfig(max_documents=20, max_query_chars=300, max_request_bytes=20_000)
    with LiveServer(reranker, config) as server:
        proc = subprocess.run(
            [
                executable,
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                "all",
                "--max-time",
                "60",
                "--max-examples",
                "40",
                "--seed",
                "7",
                "--no-shrink",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp_path,  # its cache and reports stay out of the checkout
        )
    assert proc.returncode == 0, proc.stdout[-12000:]
