"""The `crossrank` command line. Each subcommand parses its arguments, calls the library, prints."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crossrank import __version__
from crossrank.backends import BACKENDS
from crossrank.errors import CrossrankError, InputError

if TYPE_CHECKING:
    from crossrank.reranker import ModelSettings, Reranker


class _HelpWithDefaults(argparse.HelpFormatter):
    """Appends `(default: X)` to an option's help unless the help says it already or there is nothing to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossrank", description="Cross-encoder reranking on CPU.")
    parser.add_argument("--version", action="version", version=f"crossrank {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rerank = sub.add_parser(
        "rerank",
        formatter_class=_HelpWithDefaults,
        help="rerank documents for one query",
        description="Rerank documents for a query.",
    )
    rerank.add_argument("--query", "-q", required=True, help="the query text")
    rerank.add_argument(
        "--docs", "-d", required=True, help="JSONL file, text file (one document per line) or - for stdin"
    )
    rerank.add_argument(
        "--format",
        choices=["auto", "jsonl", "json", "text"],
        default="auto",
        help="how to read --docs (auto: .jsonl/.ndjson as JSONL, .json as one JSON array, anything else as text)",
    )
    rerank.add_argument("--text-field", default="text", help="field holding the text in JSONL objects")
    rerank.add_argument("--top-k", type=_positive_int, default=None, help="show only the best K documents")
    rerank.add_argument(
        "--min-score",
        "--threshold",
        type=float,
        default=None,
        help="drop documents scoring below this (with the built-in models a probability of relevance)",
    )
    rerank.add_argument(
        "--budget-tokens",
        type=_positive_int,
        default=None,
        help="keep documents best first while their tokens (the model's tokenizer) fit in this budget",
    )
    rerank.add_argument("--raw", action="store_true", help="print raw logits instead of 0..1 scores")
    rerank.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_model_arguments(rerank)
    rerank.set_defaults(handler=_cmd_rerank)

    evaluate = sub.add_parser(
        "eval",
        formatter_class=_HelpWithDefaults,
        help="measure what reranking buys on a test collection",
        description="Run first stage(s), rerank their top-k, and report nDCG@10, MRR@10, Recall@100 and MAP.",
    )
    evaluate.add_argument("--dataset", required=True, help="BEIR folder (corpus.jsonl) or Cranfield folder")
    evaluate.add_argument("--split", default="test", help="BEIR qrels split")
    evaluate.add_argument("--first-stage", default="bm25", help="comma-separated: bm25, dense, hybrid")
    evaluate.add_argument("--k", type=_positive_int, default=100, help="candidates per query")
    evaluate.add_argument("--max-queries", type=_positive_int, default=None, help="evaluate only the first N queries")
    evaluate.add_argument("--no-rerank", action="store_true", help="evaluate the first stage(s) only")
    evaluate.add_argument(
        "--baselines",
        default="",
        help="comma-separated baseline rerankers to compare: biencoder, e5, mpnet, splade-tiny",
    )
    evaluate.add_argument(
        "--fuse",
        action="store_true",
        help="also report each reranking fused with its first stage (reciprocal-rank fusion, no extra model calls)",
    )
    evaluate.add_argument(
        "--out", default=None, help="folder for report.json, run files, plot.png (default: a new runs/NAME-TIME folder)"
    )
    _add_model_arguments(evaluate)
    evaluate.set_defaults(handler=_cmd_eval)

    calibrate = sub.add_parser(
        "calibrate",
        formatter_class=_HelpWithDefaults,
        help="fit a model's calibration, so its scores are probabilities of relevance",
        description="Score judged pairs with a model and fit p = sigmoid(scale * logit + bias) to their labels "
        "(Platt scaling); `--calibration FILE` (or the file in a model folder, calibration.json) then applies it.",
    )
    calibrate.add_argument("model", help="model folder, hub id or built-in name whose logits to calibrate")
    calibrate.add_argument(
        "--data",
        required=True,
        help='JSONL of judged pairs: {"query", "text", "label"} (label above 0: relevant), none of them trained on',
    )
    calibrate.add_argument("--out", required=True, help="the calibration file to write (a new path)")
    calibrate.add_argument("--threads", type=_positive_int, default=None, help="inference threads (default: all)")
    calibrate.add_argument("--backend", "-b", choices=BACKENDS, default=None, help="inference backend")
    calibrate.set_defaults(handler=_cmd_calibrate)

    train = sub.add_parser(
        "train",
        formatter_class=_HelpWithDefaults,
        help="fine-tune a cross-encoder",
        description="Fine-tune a cross-encoder from a base encoder on BEIR train splits, query/positive JSONL or "
        "labelled pairs; hard negatives are mined with BM25 where none are given.",
    )
    train.add_argument("--data", action="append", required=True, help="BEIR folder, .jsonl or .tsv (repeatable)")
    train.add_argument("--out", required=True, help="output model folder")
    train.add_argument(
        "--base",
        default=None,
        help="model folder, or minilm (all-MiniLM-L6-v2), default (the built-in model, trained further) or "
        "splade-tiny (a 2-layer BERT, as crossrank-tiny) (default: minilm)",
    )
    train.add_argument("--split", default="train", help="qrels split of BEIR folders")
    train.add_argument("--negatives", type=_positive_int, default=7, help="negatives per positive")
    train.add_argument("--loss", choices=["listwise", "bce"], default="listwise", help="ranking loss")
    train.add_argument("--epochs", type=_positive_int, default=1, help="passes over the training groups")
    train.add_argument(
        "--teacher",
        type=_teacher_list,
        default=None,
        help="teacher(s) for distillation: default (the built-in model), biencoder, e5, mpnet, splade-tiny, bm25, "
        "or several comma-separated (fused)",
    )
    train.add_argument("--distill", type=float, default=0.5, help="weight of the teacher term (with --teacher)")
    train.add_argument("--lr", type=float, default=5e-5, help="peak learning rate")
    train.add_argument("--max-length", type=_positive_int, default=256, help="token window per pair")
    train.add_argument("--groups-per-step", type=_positive_int, default=8, help="groups per optimizer step")
    train.add_argument("--token-budget", type=_positive_int, default=4096, help="padded tokens per micro-batch")
    train.add_argument("--num-layers", type=_positive_int, default=None, help="keep only the first N encoder layers")
    train.add_argument("--seed", type=int, default=0, help="seed of sampling, shuffling and the new head")
    train.add_argument("--holdout", type=float, default=0.05, help="fraction of queries held out for evaluation")
    train.add_argument("--patience", type=_positive_int, default=2, help="epochs without held-out gain before stop")
    train.add_argument("--limit", type=_positive_int, default=None, help="use at most N groups per source")
    train.add_argument(
        "--threads", type=_positive_int, default=None, help="torch threads (default: torch's own choice)"
    )
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    train.add_argument(
        "--stop-after", type=_positive_int, default=None, help="end this run after N epochs (continue with --resume)"
    )
    train.add_argument("--skip-malformed", action="store_true", help="skip malformed table rows (counted)")
    train.add_argument("--no-export", action="store_true", help="skip the ONNX / int8 export at the end")
    train.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    train.set_defaults(handler=_cmd_train)

    serve = sub.add_parser(
        "serve",
        formatter_class=_HelpWithDefaults,
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
    serve.add_argument("--max-documents", type=_positive_int, default=1000, help="documents per request")
    serve.add_argument(
        "--max-request-bytes", type=_positive_int, default=4_000_000, help="larger bodies are refused with 413"
    )
    serve.add_argument(
        "--max-query-chars", type=_positive_int, default=10_000, help="longer queries are refused with 413"
    )
    serve.add_argument("--timeout", type=float, default=60.0, help="seconds a request may wait for its scores")
    serve.add_argument("--max-queue", type=_positive_int, default=64, help="queued requests before 503")
    serve.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' (default: $CROSSRANK_API_KEY, or no key)"
    )
    serve.add_argument("--cors-origin", action="append", default=[], help="allow this browser origin (repeatable)")
    serve.add_argument(
        "--ray-replicas",
        type=_positive_int,
        default=None,
        help="serve from N Ray Serve replicas (each its own model) instead of this process",
    )
    serve.add_argument("--ray-address", default=None, help="Ray cluster to join (default: start one here)")
    serve.add_argument("--cpus-per-replica", type=float, default=1.0, help="CPUs (and threads) per Ray replica")
    _add_model_arguments(serve)
    serve.set_defaults(handler=_cmd_serve)

    index = sub.add_parser(
        "index",
        formatter_class=_HelpWithDefaults,
        help="index your documents for two-stage search",
        description="Split documents into passages and index them for BM25 and dense retrieval.",
    )
    index.add_argument("docs", help="folder of .txt/.md/.html files, or a JSONL file (id, text, title?, ...)")
    index.add_argument(
        "--out",
        required=True,
        help="index folder: new, empty, or an earlier index (replaced atomically when the build completes)",
    )
    index.add_argument("--passage-words", type=_positive_int, default=200, help="words per passage")
    index.add_argument(
        "--overlap-words", type=int, default=40, help="words shared by consecutive passages of a document"
    )
    index.add_argument("--no-dense", action="store_true", help="BM25 only (no embeddings)")
    index.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    index.set_defaults(handler=_cmd_index)

    demo = sub.add_parser(
        "demo",
        formatter_class=_HelpWithDefaults,
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
    demo.set_defaults(handler=_cmd_demo)

    batch = sub.add_parser(
        "batch",
        formatter_class=_HelpWithDefaults,
        help="rerank a file of queries and candidates (resumable; locally or on Ray)",
        description="Rerank every row of a JSONL file of {id?, query, documents} (or a TREC run with its BEIR corpus "
        "and queries) into OUT/results.jsonl or OUT/results.run. Rows are scored in chunks, each written as it "
        "finishes: run the same command again after an interruption and it continues.",
    )
    batch.add_argument("rows", nargs="?", default=None, help="JSONL rows {id?, query, documents: [text | {id?, text}]}")
    batch.add_argument("--out", required=True, help="output folder (new, empty, or this command's own)")
    batch.add_argument("--run", default=None, help="a TREC run to rerank instead of ROWS (with --corpus, --queries)")
    batch.add_argument("--corpus", default=None, help="the BEIR corpus.jsonl the run ranks")
    batch.add_argument("--queries", default=None, help="the BEIR queries.jsonl the run ranks")
    batch.add_argument("--k", type=_positive_int, default=None, help="rerank each query's best K of the run (all)")
    batch.add_argument("--output", choices=["jsonl", "trec"], default=None, help="jsonl for rows, trec for a run")
    batch.add_argument("--text-field", default="text", help="field holding the text in document objects")
    batch.add_argument("--top-k", type=_positive_int, default=None, help="keep only each row's best K results")
    batch.add_argument("--chunk-rows", type=_positive_int, default=64, help="rows per chunk (the unit of resuming)")
    batch.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray Data: a cluster address, or nothing for a local Ray on this machine",
    )
    batch.add_argument("--actors", type=_positive_int, default=1, help="Ray actors, each loading the model once")
    batch.add_argument("--cpus-per-actor", type=float, default=1.0, help="CPUs (and threads) per Ray actor")
    _add_model_arguments(batch)
    batch.set_defaults(handler=_cmd_batch)

    search = sub.add_parser(
        "search",
        formatter_class=_HelpWithDefaults,
        help="search an index: retrieve, then rerank",
        description="Retrieve top-k passages from an index and rerank them.",
    )
    search.add_argument("index", help="index folder made by crossrank index")
    search.add_argument("query", help='what to search for, in words (quote it: "how do wings produce lift")')
    search.add_argument("--k", type=_positive_int, default=100, help="first-stage candidates")
    search.add_argument(
        "--top-k", "--top", dest="top_k", type=_positive_int, default=5, help="passages to show (--top is the old name)"
    )
    search.add_argument(
        "--first-stage",
        choices=["bm25", "dense", "hybrid"],
        default=None,
        help="how candidates are found (default: hybrid, or bm25 for an index built with --no-dense)",
    )
    search.add_argument("--no-rerank", action="store_true", help="show the first stage's order")
    search.add_argument(
        "--fuse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fuse the reranked order with the first stage's by reciprocal rank (default: on for crossrank's "
        "built-in models, which can lose to the first stage out of their domain; off for any other model)",
    )
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.add_argument("--explain", action="store_true", help="show each passage's first-stage rank")
    _add_model_arguments(search)
    search.set_defaults(handler=_cmd_search)
    return parser


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", "-m", default=None, help="model folder or hub id (default: the built-in model)")
    group.add_argument(
        "--backend",
        "-b",
        choices=BACKENDS,
        default=None,
        help="inference backend (default: onnx)",
    )
    group.add_argument(
        "--max-length", type=_positive_int, default=None, help="token window per pair (default: the model's own)"
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        help="pairs per forward pass (torch; ONNX runs one pair per pass)",
    )
    group.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="inference threads (default: every CPU this process may use)",
    )
    group.add_argument(
        "--token-budget",
        type=_positive_int,
        default=None,
        help="padded tokens per forward pass of the torch backend (default: 512, or one window if longer)",
    )
    group.add_argument("--window", action="store_true", help="score long documents in overlapping windows")
    group.add_argument("--window-overlap", type=int, default=64, help="tokens consecutive windows share (--window)")
    group.add_argument(
        "--aggregate",
        choices=["max", "first", "mean"],
        default="max",
        help="how a long document's window scores become one (--window)",
    )
    group.add_argument(
        "--cache-dir",
        default=None,
        help="where exported ONNX files go (default: $CROSSRANK_CACHE or ~/.cache/crossrank)",
    )
    group.add_argument(
        "--cascade-keep",
        type=_positive_int,
        default=None,
        help="score every document with a first pass (--cascade-model, else this model on a short window) and "
        "the best N with the model, which orders them above the rest (default 15 with a cascade model)",
    )
    group.add_argument(
        "--cascade-model",
        default="auto",
        help="first-pass model of the cascade, e.g. crossrank-tiny; auto: crossrank-tiny for the built-in model "
        "(the default path), none for a model named with --model",
    )
    group.add_argument(
        "--no-cascade",
        dest="cascade_model",
        action="store_const",
        const=None,
        help="run the model alone on every document (the built-in model's default path is the cascade)",
    )
    group.add_argument(
        "--calibration",
        default=None,
        help="calibration file from `crossrank calibrate` (default: the one the model folder ships, if any)",
    )
    group.add_argument(
        "--cascade-fuse",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the first pass keeps the best of its order fused with the documents' own (first-stage) order "
        "(default: on with --cascade-model, off without)",
    )
    group.add_argument(
        "--cascade-length",
        type=_positive_int,
        default=None,
        help="first-pass window (default: 64 tokens for the model itself, the cascade model's own window)",
    )
    group.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _teacher_list(text: str) -> list[str]:
    from crossrank.scorers import baseline_name
    from crossrank.training.data import TEACHERS

    names = [baseline_name(name.strip()) for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in TEACHERS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"teachers are {', '.join(TEACHERS)} (comma-separated), got {text!r}")
    return list(dict.fromkeys(names))


def _model_settings(args: argparse.Namespace) -> ModelSettings:
    from crossrank.reranker import ModelSettings

    return ModelSettings(
        model=args.model,
        backend=args.backend,
        max_length=args.max_length,
        batch_size=args.batch_size,
        token_budget=args.token_budget,
        threads=args.threads,
        cache_dir=args.cache_dir,
        long_documents="window" if args.window else "truncate",
        window_overlap=args.window_overlap,
        aggregate=args.aggregate,
        cascade_keep=args.cascade_keep,
        cascade_model=args.cascade_model,
        cascade_length=args.cascade_length,
        cascade_fuse=args.cascade_fuse,
        calibration=args.calibration,
    )


def _load_reranker(args: argparse.Namespace) -> Reranker:
    return _model_settings(args).load()


def _argument_text(text: str, flag: str) -> str:
    """A command-line argument as text: bytes that were not UTF-8 (which Python keeps as lone surrogates) are
    refused naming the flag, before any work is done."""
    for position, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            raise InputError(f"{flag} is not UTF-8 text (byte 0x{ord(char) - 0xDC00:02x} at character {position})")
    return text


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars only for a person watching: stderr is a terminal and --no-progress was not given."""
    return not args.no_progress and sys.stderr.isatty()


def _print_json(payload: object) -> None:
    """JSON on stdout; escaped to ASCII where stdout cannot encode everything (validated text always can)."""
    utf8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    print(json.dumps(payload, ensure_ascii=not utf8, indent=2))


def _cmd_rerank(args: argparse.Namespace) -> int:
    from crossrank.documents import read_documents

    query = _argument_text(args.query, "--query")
    loaded = read_documents(args.docs, fmt=args.format, text_field=args.text_field)
    if loaded.skipped_blank:
        print(f"crossrank: skipped {loaded.skipped_blank} blank line(s) in {args.docs}", file=sys.stderr)
    reranker = _load_reranker(args)
    results = reranker.rerank(
        query,
        loaded.documents,
        top_k=args.top_k,
        min_score=args.min_score,
        max_tokens=args.budget_tokens,
        text_field=args.text_field,
        raw=args.raw,
        show_progress=_progress(args),
    )
    if args.json:
        payload = {
            "query": args.query,
            "model": reranker.name,
            "backend": reranker.backend.name,
            "results": [
                {
                    "rank": rank,
                    "index": r.index,
                    "line": loaded.lines[r.index],
                    "score": r.score,
                    "scored_by": r.scored_by,
                    "document": r.document,
                }
                for rank, r in enumerate(results, start=1)
            ],
        }
        _print_json(payload)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.query}  [dim]({reranker.name}, {reranker.backend.name})[/dim]")
    table.add_column("rank", justify="right", no_wrap=True, min_width=4)
    table.add_column("score", justify="right", no_wrap=True, min_width=6)
    table.add_column("line", justify="right", no_wrap=True, min_width=4)
    console = Console()
    table.add_column("document", overflow="ellipsis", no_wrap=True, max_width=max(20, console.width - 30))
    for rank, r in enumerate(results, start=1):
        text = r.document if isinstance(r.document, str) else str((r.document or {}).get(args.text_field, ""))
        table.add_row(str(rank), f"{r.score:.4f}", str(loaded.lines[r.index]), text)
    console.print(table)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rich.console import Console

    from crossrank.corpora import load_dataset
    from crossrank.evaluation.harness import build_retrievers, evaluate, head_to_head
    from crossrank.evaluation.report import comparison_table, cut_grid, default_folder, table, write_outputs
    from crossrank.outputs import EVAL, check_output
    from crossrank.reranker import reranker_settings

    stages = [s.strip() for s in args.first_stage.split(",") if s.strip()]
    if args.out:  # refused now, not after an hour of scoring
        check_output(Path(args.out), EVAL, inputs=[Path(args.dataset)])
    dataset = load_dataset(args.dataset, split=args.split)
    out = Path(args.out) if args.out else default_folder(dataset.name)
    reranker = None if args.no_rerank else _load_reranker(args)
    alone = None  # the built-in model alone, reported beside its default path (the cascade) so the choice shows
    if reranker is not None and reranker.built_in and reranker.cascade is not None and args.cascade_model == "auto":
        alone = replace(_model_settings(args), cascade_model=None, cascade_keep=None).load()
    from crossrank.scorers import load_baseline

    baselines = [load_baseline(b.strip()) for b in args.baselines.split(",") if b.strip()]
    if args.fuse and reranker is None and not baselines:
        raise InputError("--fuse fuses each reranking with its first stage: drop --no-rerank or add --baselines")
    show_progress = _progress(args)
    retrievers = build_retrievers(dataset, stages, show_progress=show_progress)
    results = evaluate(
        dataset,
        retrievers,
        rerankers=[*([reranker] if reranker else []), *([alone] if alone else []), *baselines],
        k=args.k,
        max_queries=args.max_queries,
        fuse=args.fuse,
        show_progress=show_progress,
    )
    queries = len(results[0].per_query["nDCG@10"])
    settings = {
        "dataset": dataset.name,
        "dataset_path": str(Path(args.dataset).resolve()),
        "dataset_checksum": dataset.checksum,
        "queries": queries,
        "first_stages": stages,
        "baselines": [b.name for b in baselines],
        "k": args.k,
        "fuse": "rrf, constant 60" if args.fuse else None,
        "threads": args.threads,
        **reranker_settings(reranker),
    }
    comparisons = head_to_head(results)
    write_outputs(results, comparisons=comparisons, settings=settings, out=out, inputs=[Path(args.dataset)])
    title = f"{dataset.name}: {queries} queries, top-{args.k}" + (
        "" if reranker is None else f", reranked by {reranker.spec.name} ({reranker.backend.name})"
    )
    console = Console(width=max(Console().width, 110))
    console.print(table(results, title=title))
    if comparisons:
        console.print(comparison_table(comparisons))
    cut = next((stage for stage in results if stage.cuts), None)
    if cut is not None:
        console.print(cut_grid(cut))
    print(f"report, run files and plot written to {out}/", file=sys.stderr)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from crossrank.calibration import calibrate, read_judged_pairs
    from crossrank.outputs import write_atomic
    from crossrank.reranker import Reranker

    out = Path(args.out)
    _check_calibration_output(out)
    pairs = read_judged_pairs(Path(args.data))
    reranker = Reranker(args.model, backend=args.backend, threads=args.threads, cascade_model=None)
    fitted = calibrate(reranker, pairs, fitted_on=f"{Path(args.data).name} ({len(pairs)} pairs)")
    write_atomic(out, fitted.to_json())
    print(
        f"calibrated {reranker.spec.name} on {fitted.pairs} pairs: scale {fitted.scale:.4f}, bias {fitted.bias:.4f}; "
        f"expected calibration error {fitted.ece_before:.3f} -> {fitted.ece_after:.3f}; wrote {out}"
    )
    return 0


def _check_calibration_output(out: Path) -> None:
    """`--out` may be a new path or a calibration crossrank wrote; anything else is refused naming it."""
    from crossrank.calibration import Calibration

    if out.is_symlink() or out.is_dir():
        raise InputError(f"{out} is a folder or a link; name a new file for the calibration")
    if out.exists():
        try:
            Calibration.read(out)
        except CrossrankError:
            raise InputError(f"{out} is a file crossrank did not write; name a new file for the calibration") from None


def _cmd_train(args: argparse.Namespace) -> int:
    import logging

    from crossrank.basemodels import resolve_base
    from crossrank.outputs import MODEL, check_output
    from crossrank.training.data import load_sources
    from crossrank.training.trainer import TrainConfig, export_onnx, train

    check_output(Path(args.out), MODEL, inputs=[Path(source) for source in args.data])

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    training_log = logging.getLogger("crossrank.training")
    training_log.addHandler(handler)
    training_log.setLevel(logging.INFO)
    base = resolve_base(args.base)
    groups, stats = load_sources(
        args.data,
        negatives=args.negatives,
        seed=args.seed,
        split=args.split,
        skip_malformed=args.skip_malformed,
        limit=args.limit,
    )
    for source, counts in stats.items():
        print(f"crossrank: {source}: {counts}", file=sys.stderr)
    if args.teacher:
        from crossrank.training.data import with_teacher_scores

        groups = with_teacher_scores(groups, args.teacher, show_progress=_progress(args))
    config = TrainConfig(
        distill=args.distill if args.teacher else 0.0,
        base=str(base),
        out=args.out,
        epochs=args.epochs,
        lr=args.lr,
        loss=args.loss,
        max_length=args.max_length,
        groups_per_step=args.groups_per_step,
        token_budget=args.token_budget,
        num_layers=args.num_layers,
        seed=args.seed,
        holdout=args.holdout,
        patience=args.patience,
        threads=args.threads,
        base_name=args.base,
        sources=tuple(args.data),
        split=args.split,
        negatives=args.negatives,
        limit=args.limit,
        teachers=tuple(args.teacher or ()),
    )
    history = train(
        groups,
        config,
        resume=args.resume,
        stop_after=args.stop_after,
        show_progress=_progress(args),
    )
    for epoch in history:
        print(
            f"epoch {epoch.epoch}: loss {epoch.train_loss:.4f}, held-out accuracy {epoch.heldout_accuracy:.3f}, "
            f"MRR {epoch.heldout_mrr:.3f} ({epoch.seconds:.0f} s)"
        )
    if not args.no_export:
        for path in export_onnx(Path(args.out)):
            print(f"exported {path}", file=sys.stderr)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging
    import os

    try:
        import uvicorn

        from crossrank.server.app import create_app
        from crossrank.server.state import ServerConfig
    except ImportError as exc:
        from crossrank.errors import BackendUnavailable

        raise BackendUnavailable("serve", "server", exc.name or "fastapi") from exc
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
    from crossrank.models import display_name

    name = display_name(args.model)
    if args.ray_replicas is not None:
        from dataclasses import replace

        from crossrank.server.ray_serve import run

        threads = args.threads or max(1, int(args.cpus_per_replica))
        print(
            f"crossrank: serving {name} from {args.ray_replicas} Ray Serve replicas on port {args.port}",
            file=sys.stderr,
        )
        run(
            replace(_model_settings(args), threads=threads),
            config,
            replicas=args.ray_replicas,
            cpus_per_replica=args.cpus_per_replica,
            host=args.host,
            port=args.port,
            address=args.ray_address,
        )
        return 0
    from crossrank.server.listen import listen, open_to_network

    sock = listen(args.host, args.port)  # before any "serving" line: a port in use or a bad host is exit 2
    if open_to_network(args.host) and config.api_key is None:
        print(
            f"crossrank: warning: --host {args.host} serves every network interface with no --api-key: "
            "anyone who can reach this machine can use the server",
            file=sys.stderr,
        )
    app = create_app(lambda: _load_reranker(args), config=config, model_name=name)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"crossrank: serving {name} on http://{host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=30))
    server.run(sockets=[sock])
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from crossrank.retrieval.index import Index

    report = Index.build(
        args.docs,
        args.out,
        passage_words=args.passage_words,
        overlap_words=args.overlap_words,
        dense=not args.no_dense,
        show_progress=_progress(args),
    )
    from crossrank.corpora import EMPTY

    empty = [source for source, reason in report.skipped if reason == EMPTY]
    for source, reason in report.skipped:
        if reason != EMPTY:
            print(f"crossrank: skipped {source}: {reason}", file=sys.stderr)
    if empty:
        names = ", ".join(empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
        print(f"crossrank: skipped {_count(len(empty), 'empty file')} ({names})", file=sys.stderr)
    print(
        f"indexed {_count(report.documents, 'document')} as {_count(report.passages, 'passage')} into {args.out} "
        f"({report.embedded} embedded, {report.reused} reused, {len(report.skipped)} skipped) "
        f"in {report.seconds:.1f} s"
    )
    return 0


def _count(n: int, noun: str) -> str:
    """`1 document`, `2 documents`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cmd_demo(args: argparse.Namespace) -> int:
    from crossrank.web.demo import build_demo

    site = build_demo(Path(args.out), model=args.model, cascade=not args.no_cascade)
    print(
        f"wrote the {site.model} demo to {site.out}/ (model {site.model_bytes / 1e6:.1f} MB); try it with:\n"
        f"  python -m http.server --directory {site.out} 8000   # then open http://127.0.0.1:8000/\n"
        "for WebAssembly threads, serve it with Cross-Origin-Opener-Policy: same-origin and "
        "Cross-Origin-Embedder-Policy: require-corp"
    )
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from crossrank.batch import Workers, rerank_file, rerank_trec

    trec_inputs = (args.run, args.corpus, args.queries)
    if args.rows is None and None in trec_inputs:
        raise InputError("name a JSONL file of rows, or a TREC run with --run, --corpus and --queries")
    if args.rows is not None and any(trec_inputs):
        raise InputError("name either a JSONL file of rows or --run/--corpus/--queries, not both")
    workers = Workers(ray_address=args.ray, actors=args.actors, cpus_per_actor=args.cpus_per_actor)
    if args.rows is not None:
        report = rerank_file(
            Path(args.rows),
            Path(args.out),
            model=_model_settings(args),
            text_field=args.text_field,
            top_k=args.top_k,
            output=args.output or "jsonl",
            chunk_rows=args.chunk_rows,
            workers=workers,
            show_progress=_progress(args),
        )
    else:
        run, corpus, queries = (Path(p) for p in trec_inputs)
        report = rerank_trec(
            run,
            corpus,
            queries,
            Path(args.out),
            k=args.k,
            model=_model_settings(args),
            top_k=args.top_k,
            output=args.output or "trec",
            chunk_rows=args.chunk_rows,
            workers=workers,
            show_progress=_progress(args),
        )
    resumed = (
        f", {report.chunks_done_before} of {report.chunks} chunks done before" if report.chunks_done_before else ""
    )
    print(
        f"reranked {report.rows} rows ({report.results} results) into {report.path}{resumed} in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from crossrank.retrieval.index import FirstStage, Index, fuses

    query = _argument_text(args.query, "the query")
    index = Index.open(args.index)
    first_stage: FirstStage = args.first_stage or index.default_first_stage
    reranker = None if args.no_rerank else _load_reranker(args)
    fuse = fuses(reranker, args.fuse)
    hits = index.search(query, k=args.k, top_k=args.top_k, first_stage=first_stage, reranker=reranker, fuse=fuse)
    if args.json:
        payload = {
            "query": args.query,
            "first_stage": first_stage,
            "reranker": None if reranker is None else reranker.name,
            "fuse": fuse,
            "results": [
                {
                    "rank": h.rank,
                    "score": h.score,
                    "rerank_score": h.rerank_score,
                    "first_stage_rank": h.first_stage_rank,
                    "doc_id": h.doc_id,
                    "source": h.source,
                    "passage": h.passage_number,
                    "title": h.title,
                    "text": h.text,
                    "metadata": h.metadata,
                }
                for h in hits
            ],
        }
        _print_json(payload)
        return 0
    for h in hits:
        moved = f"  (first stage #{h.first_stage_rank})" if args.explain else ""
        fused = f" fused, reranker {h.rerank_score:.4f}" if fuse and h.rerank_score is not None else ""
        print(f"#{h.rank}  {h.score:.4f}{fused}  {h.source} passage {h.passage_number}{moved}")
        print(f"    {h.text[:300]}{'…' if len(h.text) > 300 else ''}")
    return 0


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Warnings as one line a user can act on (`crossrank: warning: ...`), not a source location."""
    print(f"crossrank: warning: {message}", file=sys.stderr)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit finds no closed pipe (no second error)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # a stdout with no file (captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `crossrank` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():  # restored on return: a library caller's warning settings stay theirs
            warnings.showwarning = _show_warning
            code: int = args.handler(args)
            sys.stdout.flush()  # a reader that went away (`| head`) shows up here, not at interpreter exit
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # what a shell reports for a process ended by SIGPIPE
    except CrossrankError as exc:
        print(f"crossrank: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crossrank: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
