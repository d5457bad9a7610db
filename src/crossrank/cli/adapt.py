"""`crossrank adapt`: a reranker learned from a collection's documents alone (no queries, no judgements)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from crossrank.cli.common import (
    HelpWithDefaults,
    add_ray_arguments,
    log_training_to_stderr,
    non_negative_int,
    positive_float,
    positive_int,
    progress,
    teacher_list,
    unit_fraction,
)


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `adapt` command's arguments; their defaults are `AdaptConfig`'s (one place states them)."""
    from crossrank.training.adapt import AdaptConfig

    default = {field.name: field.default for field in dataclasses.fields(AdaptConfig)}
    adapt = sub.add_parser(
        "adapt",
        formatter_class=HelpWithDefaults,
        help="learn a reranker for your documents, from the documents alone",
        description="Make pseudo-queries from the documents (titles, headings, inverse-cloze sentences), mine "
        "hard negatives with BM25, label them with teachers and distil both models of the default path "
        "(crossrank-tiny, then the built-in model) into OUT. Rerun the same command to resume.",
    )
    adapt.add_argument("docs", help="a folder of text/markdown/HTML files or a JSONL file (what `index` reads)")
    adapt.add_argument("--out", required=True, help="a new or empty folder, or this command's earlier output")
    adapt.add_argument(
        "--minutes",
        type=positive_float,
        default=default["minutes"],
        help="time budget for the whole run (generated queries: the language model writes for at most 40%% of it)",
    )
    adapt.add_argument(
        "--base",
        default=default["base"],
        help="the full model to start from: default (the built-in model), minilm (all-MiniLM-L6-v2, Apache-2.0) "
        "or a cross-encoder folder",
    )
    adapt.add_argument(
        "--first-pass-base",
        default=default["first_pass_base"],
        help="the first-pass model to start from: tiny (crossrank-tiny), a folder, or none (no cascade)",
    )
    adapt.add_argument(
        "--queries-per-document",
        type=positive_int,
        default=default["queries_per_document"],
        help="pseudo-queries per document",
    )
    adapt.add_argument(
        "--queries",
        choices=["rules", "generated", "both"],
        default=default["queries"],
        help="pseudo-queries made by rules (titles, headings, cloze sentences), written by a small language model "
        "(SmolLM2-135M, the generate extra; filtered), or both",
    )
    adapt.add_argument(
        "--generated-per-document",
        type=positive_int,
        default=default["generated_per_document"],
        help="queries the language model writes a document",
    )
    adapt.add_argument(
        "--consistency-depth",
        type=non_negative_int,
        default=default["consistency_depth"],
        help="keep a generated query only when BM25 ranks its document in the collection's top this many (0: keep "
        "every well-formed query)",
    )
    adapt.add_argument(
        "--generated-queries",
        metavar="FILE",
        default=default["generated_file"],
        help="queries the language model already wrote for these documents (scripts/generate_queries.py), "
        "reused by document id; the rest are generated",
    )
    adapt.add_argument(
        "--max-queries",
        type=positive_int,
        default=default["max_queries"],
        help="most pseudo-queries (a seeded sample) to train on",
    )
    adapt.add_argument(
        "--first-pass-epochs",
        type=positive_int,
        default=default["first_pass_epochs"],
        help="epochs of the first pass at most, within its 15%% of the time",
    )
    adapt.add_argument(
        "--teacher-agreement",
        action=argparse.BooleanOptionalAction,
        default=default["teacher_agreement"],
        help="keep only the pseudo-queries whose own document the teachers score above every hard negative",
    )
    adapt.add_argument(
        "--negatives", type=positive_int, default=default["negatives"], help="hard negatives per pseudo-query"
    )
    adapt.add_argument(
        "--teacher",
        type=teacher_list,
        default=default["teachers"],
        help="teachers, fused; NAME:WEIGHT weights one, e.g. mpnet,default:2 "
        "(default: biencoder,bm25, and default when the base is the built-in model)",
    )
    adapt.add_argument(
        "--distill",
        type=unit_fraction,
        default=default["distill"],
        help="weight of the teachers' term against the pseudo-query's own label (1: the teachers alone)",
    )
    adapt.add_argument("--lr", type=positive_float, default=default["lr"], help="peak learning rate of both models")
    adapt.add_argument("--max-length", type=positive_int, default=default["max_length"], help="token window per pair")
    adapt.add_argument(
        "--seed", type=non_negative_int, default=default["seed"], help="seed of the pseudo-queries and the training"
    )
    adapt.add_argument("--threads", type=positive_int, default=default["threads"], help="torch threads")
    add_ray_arguments(adapt, what="score the teachers", each="a teacher")
    adapt.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    adapt.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.training.adapt import AdaptConfig, adapt

    log_training_to_stderr()
    config = AdaptConfig(
        docs=args.docs,
        out=args.out,
        base=args.base,
        first_pass_base=None if args.first_pass_base == "none" else args.first_pass_base,
        minutes=args.minutes,
        queries_per_document=args.queries_per_document,
        queries=args.queries,
        generated_per_document=args.generated_per_document,
        generated_file=args.generated_queries,
        consistency_depth=args.consistency_depth,
        teacher_agreement=args.teacher_agreement,
        max_queries=args.max_queries,
        first_pass_epochs=args.first_pass_epochs,
        negatives=args.negatives,
        teachers=None if args.teacher is None else tuple(args.teacher),
        distill=args.distill,
        max_length=args.max_length,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        ray=args.ray,
        actors=args.actors,
    )
    out = adapt(config, show_progress=progress(args), say=lambda line: print(f"crossrank: {line}", file=sys.stderr))
    print(f"adapted model in {out}: Reranker({str(Path(out))!r}), crossrank serve --model {out}")
    return 0
