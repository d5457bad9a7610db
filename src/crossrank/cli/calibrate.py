"""`crossrank calibrate`: fit a model's calibration on judged pairs and write it to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrank.backends import BACKENDS
from crossrank.cli.common import (
    HelpWithDefaults,
    positive_int,
)
from crossrank.errors import CrossrankError, InputError


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `calibrate` command's arguments."""
    calibrate = sub.add_parser(
        "calibrate",
        formatter_class=HelpWithDefaults,
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
    calibrate.add_argument("--threads", type=positive_int, default=None, help="inference threads (default: all)")
    calibrate.add_argument("--backend", "-b", choices=BACKENDS, default=None, help="inference backend")
    calibrate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crossrank.evaluation.calibration import calibrate, read_judged_pairs
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
