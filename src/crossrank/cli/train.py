"""`crossrank train`: fine-tune a cross-encoder and export it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crossrank.cli.common import (
    HelpWithDefaults,
    log_training_to_stderr,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
    progress,
    teacher_list,
    unit_fraction,
)

if TYPE_CHECKING:
    from crossrank.training.trainer import TrainConfig


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `train` command's arguments."""
    train = sub.add_parser(
        "train",
        formatter_class=HelpWithDefaults,
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
    train.add_argument("--negatives", type=positive_int, default=7, help="negatives per positive")
    train.add_argument("--loss", choices=["listwise", "bce"], default="listwise", help="ranking loss")
    train.add_argument("--epochs", type=positive_int, default=1, help="passes over the training groups")
    train.add_argument(
        "--teacher",
        type=teacher_list,
        default=None,
        help="teacher(s) for distillation: default (the built-in model), biencoder, e5, mpnet, splade-tiny, bm25, "
        "or several comma-separated (fused; NAME:WEIGHT weights one, e.g. mpnet,default:2)",
    )
    train.add_argument("--distill", type=unit_fraction, default=0.5, help="weight of the teacher term (with --teacher)")
    train.add_argument("--lr", type=positive_float, default=5e-5, help="peak learning rate")
    train.add_argument("--max-length", type=positive_int, default=256, help="token window per pair")
    train.add_argument("--groups-per-step", type=positive_int, default=8, help="groups per optimizer step")
    train.add_argument("--token-budget", type=positive_int, default=4096, help="padded tokens per micro-batch")
    train.add_argument("--num-layers", type=positive_int, default=None, help="keep only the first N encoder layers")
    train.add_argument(
        "--train-layers",
        type=positive_int,
        default=None,
        help="train only the top N encoder layers and the head; the rest keep the base's weights (a large base "
        "on a CPU)",
    )
    train.add_argument("--seed", type=non_negative_int, default=0, help="seed of sampling, shuffling and the new head")
    train.add_argument(
        "--holdout", type=open_fraction, default=0.05, help="fraction of queries held out for evaluation"
    )
    train.add_argument("--patience", type=positive_int, default=2, help="epochs without held-out gain before stop")
    train.add_argument("--limit", type=positive_int, default=None, help="use at most N groups per source")
    train.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: torch's own choice)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    train.add_argument(
        "--stop-after", type=positive_int, default=None, help="end this run after N epochs (continue with --resume)"
    )
    train.add_argument("--skip-malformed", action="store_true", help="skip malformed table rows (counted)")
    train.add_argument("--no-export", action="store_true", help="skip the ONNX / int8 export at the end")
    train.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    train.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.basemodels import resolve_base
    from crossrank.export.onnx import export_onnx
    from crossrank.outputs import MODEL, check_output
    from crossrank.training.data import load_sources
    from crossrank.training.trainer import train

    check_output(Path(args.out), MODEL, inputs=[Path(source) for source in args.data])
    log_training_to_stderr()
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
        from crossrank.training.teachers import with_teacher_scores

        groups = with_teacher_scores(groups, args.teacher, show_progress=progress(args))
    config = _config(args, base)
    history = train(
        groups,
        config,
        resume=args.resume,
        stop_after=args.stop_after,
        show_progress=progress(args),
    )
    for epoch in history:
        print(epoch)
    if not args.no_export:
        for path in export_onnx(Path(args.out)):
            print(f"exported {path}", file=sys.stderr)
    return 0


def _config(args: argparse.Namespace, base: Path) -> TrainConfig:
    """The training settings the arguments ask for."""
    from crossrank.training.trainer import TrainConfig

    return TrainConfig(
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
        train_layers=args.train_layers,
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
