"""The static demo's speed in headless Chromium: 10 passages of ~40 words, timed by the page itself.

`crossrank demo --out` is served twice by a plain static file server: once as any host serves files (no
cross-origin isolation: WebAssembly runs one thread) and once with the two headers the demo's README asks a host
to send (`Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Embedder-Policy: require-corp`: the page is
cross-origin isolated and ONNX Runtime Web runs min(4, cores) threads). For the built-in model (the page's default)
and crossrank-tiny, after the model has loaded, each pass scores the same 10 passages; the page's ranking is
checked against `Reranker().rerank` before any time counts.

    .venv/bin/python benchmarks/browser.py --out benchmarks/results/browser-KIND.json
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import statistics
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crossrank import Reranker
from crossrank.cli import main as crossrank
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.outputs import write_atomic
from crossrank.web.demo import EXAMPLE_PASSAGES

QUERY = "what makes a wing stall"
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}


def passages() -> list[str]:
    """10 passages of 40 words cut from the demo's example passages (as the demo's test types them)."""
    words = (" ".join(EXAMPLE_PASSAGES) + " ").split() * 20
    return [" ".join(words[7 * i : 7 * i + 40]) for i in range(10)]


@contextmanager
def served(folder: Path, *, isolated: bool) -> Iterator[str]:
    """`folder` on a local static file server, with the isolation headers or without."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            for name, value in (ISOLATION if isolated else {}).items():
                self.send_header(name, value)
            super().end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def measure(browser: Any, site: str, *, expected: list[int], runs: int) -> dict[str, Any]:
    """Load the page, check its ranking, then time `runs` passes of the page's scorer."""
    page = browser.new_page()
    page.goto(site)
    page.wait_for_selector("#results li", timeout=180_000)
    page.fill("#query", QUERY)
    page.fill("#passages", "\n".join(passages()))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('10 passages in')")
    shown = page.eval_on_selector_all("#results li", "els => els.map(e => Number(e.dataset.index))")
    if shown != expected:
        raise SystemExit(f"{site}: the page ranked {shown}, Python {expected}")
    timings = [
        float(
            page.evaluate(
                "async ([q, docs]) => { const t = performance.now(); await crossrankScorer.score(q, docs);"
                " return performance.now() - t; }",
                [QUERY, passages()],
            )
        )
        for _ in range(runs)
    ]
    found = {
        "threads": int(page.evaluate("crossrankScorer.threads")),
        "isolated": bool(page.evaluate("self.crossOriginIsolated")),
        "load_ms": int(page.evaluate("document.body.dataset.loadMs")),
        "p50_ms": statistics.median(timings),
        "best_ms": min(timings),
    }
    page.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed passes per page")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt install chromium)")
    machine = {"cpu": cpu_name(), "family": cpu_family(), "features": cpu_features(), "cores": os.cpu_count()}
    tokens = Reranker().encoder.encode(QUERY, passages()).ids
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        models: tuple[tuple[str, list[str]], ...] = (
            ("crossrank-default (the page's default)", []),
            ("crossrank-tiny", ["--model", "crossrank-tiny"]),
        )
        for label, model in models:
            site = Path(tmp) / label.split()[0]
            assert crossrank(["demo", "--out", str(site), *model]) == 0
            reference = Reranker(*(["crossrank-tiny"] if model else []))
            expected = [r.index for r in reference.rerank(QUERY, passages())]
            for isolated in (False, True):
                with served(site, isolated=isolated) as url:
                    found = measure(browser, url, expected=expected, runs=args.runs)
                rows.append({"model": label, **found})
                print(
                    f"{label:<40} {'isolated' if isolated else 'plain host':<10} {found['threads']} thread(s): "
                    f"p50 {found['p50_ms']:.0f} ms, best {found['best_ms']:.0f} ms (load {found['load_ms']} ms)"
                )
        browser.close()
    body = {
        "kind": "benchmarks/browser.py",
        "machine": machine,
        "browser": "headless Chromium (Debian), WebAssembly SIMD",
        "passages": {"count": 10, "words": 40, "pair_tokens_max": max(len(ids) for ids in tokens)},
        "rows": rows,
    }
    if args.out:
        write_atomic(args.out, json.dumps(body, indent=1) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
