"""`crossrank batch`: rerank a file of queries offline, resumably, here or on Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crossrank.cli.common import (
    HelpWithDefaults,
    add_model_arguments,
    add_ray_arguments,
    model_settings,
    positive_float,
    positive_int,
    progress,
)
from crossrank.errors import InputError


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `batch` command's arguments."""
    batch = sub.add_parser(
        "batch",
        formatter_class=HelpWithDefaults,
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
    batch.add_argument("--k", type=positive_int, default=None, help="rerank each query's best K of the run (all)")
    batch.add_argument("--output", choices=["jsonl", "trec"], default=None, help="jsonl for rows, trec for a run")
    batch.add_argument("--text-field", default="text", help="field holding the text in document objects")
    batch.add_argument("--top-k", type=positive_int, default=None, help="keep only each row's best K results")
    batch.add_argument("--chunk-rows", type=positive_int, default=64, help="rows per chunk (the unit of resuming)")
    batch.add_argument(
        "--ranked-input",
        action="store_true",
        help="each row's documents (or the run's candidates) come best first from a first stage and that order "
        "may count: the cascade keeps the best of its first pass fused with it (default: a set, order ignored)",
    )
    add_ray_arguments(batch, what="run", each="the model")
    batch.add_argument("--cpus-per-actor", type=positive_float, default=1.0, help="CPUs (and threads) per Ray actor")
    add_model_arguments(batch)
    batch.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
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
            model=model_settings(args),
            text_field=args.text_field,
            top_k=args.top_k,
            output=args.output or "jsonl",
            chunk_rows=args.chunk_rows,
            ranked_input=args.ranked_input,
            workers=workers,
            show_progress=progress(args),
        )
    else:
        run, corpus, queries = (Path(p) for p in trec_inputs)
        report = rerank_trec(
            run,
            corpus,
            queries,
            Path(args.out),
            k=args.k,
            model=model_settings(args),
            top_k=args.top_k,
            output=args.output or "trec",
            chunk_rows=args.chunk_rows,
            ranked_input=args.ranked_input,
            workers=workers,
            show_progress=progress(args),
        )
    resumed = (
        f", {report.chunks_done_before} of {report.chunks} chunks done before" if report.chunks_done_before else ""
    )
    print(
        f"reranked {report.rows} rows ({report.results} results) into {report.path}{resumed} in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    return 0
