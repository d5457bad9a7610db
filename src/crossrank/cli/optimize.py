"""`crossrank optimize`: any cross-encoder as a folder that runs like the built-in models (static int8, checked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrank.cli.common import HelpWithDefaults


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `optimize` command's arguments."""
    optimize = sub.add_parser(
        "optimize",
        formatter_class=HelpWithDefaults,
        help="make any cross-encoder a folder that runs like the built-in models (static int8, checked)",
        description="Export a cross-encoder (a hub id or a folder) to ONNX, quantise it to static int8 (activation "
        "scales fitted on pairs), rewrite its graph where its architecture allows, and keep int8 only where it "
        "keeps float32's ranking on held-out pairs (else float32, and it says so). The folder loads in "
        "Reranker(DIR), serve, demo, batch and the adapters. Loading a model of float weights does this once into "
        "the cache by itself; this command writes a folder to ship.",
    )
    optimize.add_argument("model", help="model folder or hub id of a cross-encoder")
    optimize.add_argument("--out", required=True, help="the folder to write: new, empty, or an earlier one (replaced)")
    optimize.add_argument(
        "--pairs",
        default=None,
        metavar="FILE",
        help='JSONL of {"query", "documents": [...]} (or "document") like the text you will rerank, to fit the '
        "activation scales on (default: crossrank's written pairs)",
    )
    optimize.add_argument(
        "--calibrate",
        default=None,
        metavar="FILE",
        help='JSONL of judged pairs {"query", "text", "label"} (none trained on): fit and store a calibration, so '
        "the folder's scores are probabilities",
    )
    optimize.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.optimizing import optimize_model

    result, calibrated = optimize_model(
        args.model,
        Path(args.out),
        pairs_file=None if args.pairs is None else Path(args.pairs),
        judged_file=None if args.calibrate is None else Path(args.calibrate),
    )
    print(f"optimised {args.model} into {result.folder}: {result.summary()}")
    if calibrated:
        print(calibrated)
    return 0
