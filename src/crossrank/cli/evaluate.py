"""`crossrank eval`: first stage(s), rerankings, metrics, calibration and cuts on a test collection."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crossrank.cli.common import (
    HelpWithDefaults,
    add_model_arguments,
    load_reranker,
    model_settings,
    positive_int,
    progress,
    stdout_console,
)
from crossrank.errors import InputError

if TYPE_CHECKING:
    from crossrank.evaluation.harness import Comparison, StageResult
    from crossrank.evaluation.remote import RemoteReranker
    from crossrank.reranker import Reranker


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `eval` command's arguments."""
    evaluate = sub.add_parser(
        "eval",
        formatter_class=HelpWithDefaults,
        help="measure what reranking buys on a test collection",
        description="Run first stage(s), rerank their top-k, and report nDCG@10, MRR@10, Recall@100 and MAP.",
    )
    evaluate.add_argument("--dataset", required=True, help="BEIR folder (corpus.jsonl) or Cranfield folder")
    evaluate.add_argument("--split", default="test", help="BEIR qrels split")
    evaluate.add_argument("--first-stage", default="bm25", help="comma-separated: bm25, dense, hybrid")
    evaluate.add_argument("--k", type=positive_int, default=100, help="candidates per query")
    evaluate.add_argument("--max-queries", type=positive_int, default=None, help="evaluate only the first N queries")
    evaluate.add_argument("--no-rerank", action="store_true", help="evaluate the first stage(s) only")
    evaluate.add_argument(
        "--baselines",
        default="",
        help="comma-separated baseline rerankers to compare: biencoder, e5, mpnet, splade-tiny",
    )
    evaluate.add_argument(
        "--input-order",
        choices=["ranked", "set"],
        default="ranked",
        help="hand each reranker its candidates as the first stage's ranking (a cascade keeps the best of its "
        "first pass fused with that order) or as a set, as a caller with unordered candidates would",
    )
    evaluate.add_argument(
        "--url",
        default=None,
        help="also measure a deployed reranker at this URL (its base, or the full rerank path), beside the local one",
    )
    evaluate.add_argument("--api", choices=["cohere", "jina", "tei"], default="cohere", help="the --url's wire format")
    evaluate.add_argument(
        "--api-key-env", default=None, metavar="NAME", help="the environment variable holding the --url's API key"
    )
    evaluate.add_argument("--remote-model", default=None, help="the `model` field sent to --url (Cohere, Jina)")
    evaluate.add_argument(
        "--fuse",
        action="store_true",
        help="also report each reranking fused with its first stage (reciprocal-rank fusion, no extra model calls)",
    )
    evaluate.add_argument(
        "--out", default=None, help="folder for report.json, run files, plot.png (default: a new runs/NAME-TIME folder)"
    )
    add_model_arguments(evaluate)
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.corpora import load_dataset
    from crossrank.evaluation.harness import build_retrievers, evaluate, head_to_head
    from crossrank.evaluation.report import default_folder, write_outputs
    from crossrank.outputs import EVAL, check_output
    from crossrank.settings import reranker_settings

    stages = [s.strip() for s in args.first_stage.split(",") if s.strip()]
    if args.out:  # refused now, not after an hour of scoring
        check_output(Path(args.out), EVAL, inputs=[Path(args.dataset)])
    dataset = load_dataset(args.dataset, split=args.split)
    out = Path(args.out) if args.out else default_folder(dataset.name)
    reranker = None if args.no_rerank else load_reranker(args)
    alone = _companion(args, reranker)
    from crossrank.scorers import load_baseline

    baselines = [load_baseline(b.strip()) for b in args.baselines.split(",") if b.strip()]
    remote = _remote(args)
    if args.fuse and reranker is None and not baselines and not remote:
        raise InputError("--fuse fuses each reranking with its first stage: drop --no-rerank or add --baselines")
    show_progress = progress(args)
    retrievers = build_retrievers(dataset, stages, show_progress=show_progress)
    results = evaluate(
        dataset,
        retrievers,
        rerankers=[*([reranker] if reranker else []), *([alone] if alone else []), *remote, *baselines],
        k=args.k,
        max_queries=args.max_queries,
        fuse=args.fuse,
        ranked_input=args.input_order == "ranked",
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
        "input_order": args.input_order,
        "remote": None if args.url is None else {"url": args.url, "api": args.api, "model": args.remote_model},
        "threads": args.threads,
        **reranker_settings(reranker),
    }
    comparisons = head_to_head(results)
    write_outputs(results, comparisons=comparisons, settings=settings, out=out, inputs=[Path(args.dataset)])
    title = _title(f"{dataset.name}: {queries} queries, top-{args.k}", [r for r in (reranker, alone) if r is not None])
    _show(results, comparisons, title=title)
    print(f"report, run files and plot written to {out}/", file=sys.stderr)
    return 0


def _show(results: list[StageResult], comparisons: list[Comparison], *, title: str) -> None:
    """The stages' table, the head-to-head tests and the first cut table, on stdout."""
    from rich.console import Console

    from crossrank.evaluation.report import comparison_table, cut_grid, table

    console = stdout_console(width=max(Console().width, 110))
    console.print(table(results, title=title))
    if comparisons:
        console.print(comparison_table(comparisons))
    cut = next((stage for stage in results if stage.cuts), None)
    if cut is not None:
        console.print(cut_grid(cut))


def _remote(args: argparse.Namespace) -> list[RemoteReranker]:
    """The deployed reranker of --url, with its key read from --api-key-env (never from the command line)."""
    import os

    from crossrank.evaluation.remote import RemoteReranker

    if args.url is None:
        if args.api_key_env or args.remote_model:
            raise InputError("--api-key-env and --remote-model go with --url")
        return []
    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise InputError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    return [RemoteReranker(args.url, api=args.api, api_key=key, model=args.remote_model)]


def _title(head: str, ran: list[Reranker]) -> str:
    """The table's title: the collection, and every reranker that ran (the default path and the model alone)."""
    return head + (f", reranked by {' and by '.join(f'{r.name} ({r.backend.name})' for r in ran)}" if ran else "")


def _companion(args: argparse.Namespace, reranker: Reranker | None) -> Reranker | None:
    """What the reranker is measured beside: the built-in model alone beside its default path (the cascade), the
    built-in default path beside a model with its own cascade (what `adapt` writes); nothing otherwise."""
    from dataclasses import replace

    if reranker is None or reranker.cascade is None or args.cascade_model != "auto":
        return None
    if reranker.built_in:
        return replace(model_settings(args), cascade_model=None, cascade_keep=None).load()
    return replace(model_settings(args), model=None).load()
