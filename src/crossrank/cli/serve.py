"""`crossrank serve`: the HTTP API and demo page, here or on Ray Serve replicas."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from crossrank.cli.common import (
    HelpWithDefaults,
    add_model_arguments,
    model_settings,
    non_negative_float,
    positive_float,
    positive_int,
)
from crossrank.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from crossrank.reranker import Reranker
    from crossrank.server.config import ServerConfig
    from crossrank.settings import ModelSettings


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `serve` command's arguments (the server's limits default to `ServerConfig`'s, declared there once)."""
    from crossrank.server.config import default

    serve = sub.add_parser(
        "serve",
        formatter_class=HelpWithDefaults,
        help="run the HTTP reranking service and demo page",
        description="Serve /v2/rerank and /v1/rerank (Cohere, Jina), /rerank (TEI), /health, /metrics, /v1/models "
        "and a demo page at /.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 (or ::) is every network interface, "
        "so set --api-key",
    )
    serve.add_argument("--port", type=int, default=8080, help="TCP port to listen on (1-65535)")
    serve.add_argument(
        "--max-documents",
        type=positive_int,
        default=default("max_documents"),
        help="documents per request; more are refused (400 on the Cohere routes, 422 on TEI's)",
    )
    serve.add_argument(
        "--max-request-bytes",
        type=positive_int,
        default=default("max_request_bytes"),
        help="larger bodies are refused with 413",
    )
    serve.add_argument(
        "--max-query-chars",
        type=positive_int,
        default=default("max_query_chars"),
        help="longer queries are refused (400 on the Cohere routes, 422 on TEI's)",
    )
    serve.add_argument(
        "--timeout", type=positive_float, default=default("request_timeout_s"), help="seconds a request may take"
    )
    serve.add_argument(
        "--max-queue", type=positive_int, default=default("max_queue"), help="queued requests before 503"
    )
    serve.add_argument(
        "--cache-mb",
        type=non_negative_float,
        default=64.0,
        help="memory for the exact score cache: a pair sent again is not scored again (0 turns it off; "
        "--cache-size N sets it in scores instead; the torch backend has none)",
    )
    serve.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' (default: $CROSSRANK_API_KEY, or no key)"
    )
    serve.add_argument("--cors-origin", action="append", default=[], help="allow this browser origin (repeatable)")
    serve.add_argument(
        "--ray-replicas",
        type=positive_int,
        default=None,
        help="serve from N Ray Serve replicas (each its own model) instead of this process",
    )
    serve.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start one here)")
    serve.add_argument(
        "--cpus-per-replica", type=positive_float, default=1.0, help="CPUs (and threads) per Ray replica"
    )
    add_model_arguments(serve, many=True)
    serve.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import os

    try:
        import uvicorn

        from crossrank.server.app import create_app
        from crossrank.server.config import ServerConfig
    except ImportError as exc:
        from crossrank.errors import MissingExtra

        raise MissingExtra("serve", "server", exc.name or "fastapi") from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    config = ServerConfig(
        max_documents=args.max_documents,
        max_request_bytes=args.max_request_bytes,
        max_query_chars=args.max_query_chars,
        request_timeout_s=args.timeout,
        max_queue=args.max_queue,
        api_key=args.api_key or os.environ.get("CROSSRANK_API_KEY") or None,
        cors_origins=tuple(args.cors_origin),
    )
    loads = _loaders(args)  # a mistyped folder is exit 2 at once (a hub id loads, or fails, in the background)
    name, *others = loads
    if args.ray_replicas is not None:
        if others:
            raise InputError("--ray-replicas serves one model; give --model once")
        return _serve_on_ray(args, config, name)
    from crossrank.server.listen import listen, open_to_network

    sock = listen(args.host, args.port)  # before any "serving" line: a port in use or a bad host is exit 2
    if open_to_network(args.host) and config.api_key is None:
        print(
            f"crossrank: warning: --host {args.host} serves every network interface with no --api-key: "
            "anyone who can reach this machine can use the server",
            file=sys.stderr,
        )
    failures: list[str] = []

    def failed(reason: str) -> None:  # the model cannot load: stop serving, then exit 2 with the reason
        failures.append(reason)
        server.should_exit = True

    rest = {other: loads[other] for other in others}
    app = create_app(loads[name], config=config, model_name=name, on_load_failure=failed, others=rest)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"crossrank: serving {', '.join(loads)} on http://{host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=30))
    server.run(sockets=[sock])
    if failures:
        from crossrank.errors import ModelError

        raise ModelError(f"the model could not load, so the server stopped: {failures[0]}")
    return 0


def _loaders(args: argparse.Namespace) -> dict[str, Callable[[], Reranker]]:
    """Each --model by the name requests pick it with (the first is the default), and how to load it; a name
    given twice, or a folder that does not exist, is refused now."""
    from dataclasses import replace

    from crossrank.models import display_name, resolve_local

    models = args.model or [None]
    settings = served_settings(args)
    loads: dict[str, Callable[[], Reranker]] = {}
    for model in models:
        name = display_name(model)
        if name in loads:
            raise InputError(f"--model {model}: {name} is served already; name each model once")
        resolve_local(model)
        loads[name] = replace(settings, model=model).load
    return loads


def served_settings(args: argparse.Namespace) -> ModelSettings:
    """The model settings, with the score cache sized by --cache-mb unless --cache-size sized it."""
    from dataclasses import replace

    from crossrank.score_cache import entries_for

    settings = model_settings(args)
    if settings.cache_size is None and args.cache_mb > 0 and settings.backend != "torch":
        settings = replace(settings, cache_size=entries_for(args.cache_mb))
    return settings


def _serve_on_ray(args: argparse.Namespace, config: ServerConfig, name: str) -> int:
    """`--ray-replicas N`: the same server as N Ray Serve replicas, each loading its own model."""
    from dataclasses import replace

    from crossrank.server.ray_serve import run

    threads = args.threads or max(1, int(args.cpus_per_replica))
    print(
        f"crossrank: serving {name} from {args.ray_replicas} Ray Serve replicas on port {args.port}",
        file=sys.stderr,
    )
    run(
        replace(served_settings(args), threads=threads),
        config,
        replicas=args.ray_replicas,
        cpus_per_replica=args.cpus_per_replica,
        host=args.host,
        port=args.port,
        address=args.ray_address,
    )
    return 0
