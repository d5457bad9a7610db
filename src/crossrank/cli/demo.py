"""`crossrank demo`: write the static site that reranks in the browser."""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrank.cli.common import (
    HelpWithDefaults,
)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `demo` command's arguments."""
    demo = sub.add_parser(
        "demo",
        formatter_class=HelpWithDefaults,
        help="write a static site that reranks in the visitor's browser",
        description="Write a self-contained static site (page, ONNX Runtime Web, the model, its tokenizer) that "
        "scores passages in the browser: no server-side model. Serve it from any static host.",
    )
    demo.add_argument("--out", required=True, help="site folder: new, empty, or an earlier demo (replaced whole)")
    demo.add_argument("--model", "-m", default=None, help="model folder or hub id (default: the built-in model)")
    demo.add_argument(
        "--no-cascade",
        action="store_true",
        help="the built-in model alone (default: its default path, crossrank-tiny first, two models to download)",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.web.demo import build_demo

    site = build_demo(Path(args.out), model=args.model, cascade=not args.no_cascade)
    print(
        f"wrote a demo of {site.model} to {site.out}/ (models {site.model_bytes / 1e6:.1f} MB); try it with:\n"
        f"  python -m http.server --bind 127.0.0.1 --directory {site.out} 8000   # then open http://127.0.0.1:8000/\n"
        "for WebAssembly threads, serve it with Cross-Origin-Opener-Policy: same-origin and "
        "Cross-Origin-Embedder-Policy: require-corp"
    )
    return 0
