"""`crossrank eval --url`: a deployed reranker measured like a local one (tested against `crossrank serve`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crossrank import InputError, Reranker
from crossrank.cli import main
from crossrank.evaluation.remote import RemoteReranker
from crossrank.server.config import ServerConfig
from tests.conftest import write_beir
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS


def test_eval_through_a_live_server_equals_eval_here(
    tmp_path: Path, tiny_bert: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = write_beir(tmp_path / "beir")
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    with LiveServer(reranker, ServerConfig(api_key="s3cret")) as live:
        monkeypatch.setenv("MY_KEY", "s3cret")
        args = ["eval", "--dataset", str(dataset), "-m", str(tiny_bert), "--no-progress", "--url", live.url]
        assert main([*args, "--api-key-env", "MY_KEY", "--out", str(tmp_path / "out")]) == 0
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        scores = {stage["name"]: stage["scores"]["nDCG@10"] for stage in report["stages"]}
        local = next(v for k, v in scores.items() if k.startswith("bm25 > ") and "http" not in k)
        remote = next(v for k, v in scores.items() if "/v2/rerank" in k)
        assert remote == pytest.approx(local, abs=1e-4)
        for api in ("jina", "tei"):  # each wire format ranks as the library does
            ranked = RemoteReranker(live.url, api=api, api_key="s3cret").rerank("cat on the mat", CORPUS)
            assert [r.index for r in ranked] == [r.index for r in reranker.rerank("cat on the mat", CORPUS)]
        with pytest.raises(InputError, match=r"refused the API key \(401"):
            RemoteReranker(live.url, api="cohere", api_key="wrong").rerank("cat", CORPUS)
    monkeypatch.delenv("MY_KEY")
    assert main([*args, "--api-key-env", "MY_KEY"]) == 2


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 (then 429) before it answers, as a loaded service does."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        Flaky.calls += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        if Flaky.calls <= 2:
            self.send_response(503 if Flaky.calls == 1 else 429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        body = json.dumps([{"index": 1, "score": 0.9}, {"index": 0, "score": 0.2}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_retries_on_429_and_503_and_names_an_unreachable_url() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        ranked = RemoteReranker(url, api="tei").rerank("q", ["a", "b"])
    finally:
        server.shutdown()
        server.server_close()
    assert [(r.index, r.score) for r in ranked] == [(1, 0.9), (0, 0.2)] and Flaky.calls == 3
    with pytest.raises(InputError, match="cannot reach http://127.0.0.1:1/rerank"):
        RemoteReranker("http://127.0.0.1:1", api="tei").rerank("q", ["a"])
    with pytest.raises(InputError, match="must start with http"):
        RemoteReranker("localhost:8080", api="tei")
