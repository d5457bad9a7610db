"""What every command shares: the help formatter, the model options (which fill one `ModelSettings`), argument
types and the output helpers."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from crossrank.backends import BACKENDS
from crossrank.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from crossrank.reranker import Reranker
    from crossrank.settings import ModelSettings


class HelpWithDefaults(argparse.HelpFormatter):
    """Appends `(default: X)` to an option's help unless the help says it already or there is nothing to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


def add_model_arguments(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """The model options (they fill one `ModelSettings`); `many`: --model may be given again (serve's models)."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        "-m",
        default=None,
        action="append" if many else "store",
        help="model folder or hub id (default: the built-in model)"
        + ("; again to serve several, picked by a request's `model` (the first is the default)" if many else ""),
    )
    group.add_argument(
        "--backend",
        "-b",
        choices=BACKENDS,
        default=None,
        help="inference backend (default: onnx-int8 for the built-in models, static int8; onnx for others)",
    )
    group.add_argument(
        "--max-length", type=positive_int, default=None, help="token window per pair (default: the model's own)"
    )
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=32,
        help="pairs per forward pass (dynamic int8 runs one pair per pass)",
    )
    group.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="inference threads (default: every CPU this process may use)",
    )
    group.add_argument(
        "--token-budget",
        type=positive_int,
        default=None,
        help="padded tokens per forward pass (default: 512, or one window if longer)",
    )
    group.add_argument("--window", action="store_true", help="score long documents in overlapping windows")
    group.add_argument(
        "--window-overlap", type=non_negative_int, default=64, help="tokens consecutive windows share (--window)"
    )
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
        type=positive_int,
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
        "--cascade-length",
        type=positive_int,
        default=None,
        help="first-pass window (default: 64 tokens for the model itself, the cascade model's own window)",
    )
    group.add_argument(
        "--cache-size",
        type=positive_int,
        default=None,
        help="keep up to N document scores and never score the same inputs twice (exact; ONNX backends; "
        "serve sizes it by --cache-mb)",
    )
    group.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def add_ray_arguments(parser: argparse.ArgumentParser, *, what: str, each: str) -> None:
    """`--ray [ADDRESS]` and `--actors N`: run `what` on Ray Data, each actor loading `each` once."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help=f"{what} on Ray Data: a cluster address, or nothing for a local Ray on this machine",
    )
    parser.add_argument("--actors", type=positive_int, default=1, help=f"Ray actors, each loading {each} once")


def _number(text: str, cast: type[int] | type[float], what: str, ok: Callable[[float], bool]) -> float:
    """The one rule of every numeric option: a finite number of the right kind, inside its range, else a message
    saying what was expected (argparse turns it into `error: argument --x: ...` and exit 2)."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return int(_number(text, int, "a positive integer", lambda v: v >= 1))


def non_negative_int(text: str) -> int:
    return int(_number(text, int, "an integer of 0 or more", lambda v: v >= 0))


def non_negative_float(text: str) -> float:
    return _number(text, float, "a number of 0 or more", lambda v: v >= 0)


def positive_float(text: str) -> float:
    return _number(text, float, "a positive number", lambda v: v > 0)


def finite_float(text: str) -> float:
    return _number(text, float, "a finite number", lambda v: True)


def unit_fraction(text: str) -> float:
    return _number(text, float, "a number from 0 to 1", lambda v: 0 <= v <= 1)


def open_fraction(text: str) -> float:
    return _number(text, float, "a number above 0 and below 1", lambda v: 0 < v < 1)


def teacher_list(text: str) -> list[str]:
    from crossrank.scorers import baseline_name
    from crossrank.training.data import TEACHERS

    names = [baseline_name(name.strip()) for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in TEACHERS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"teachers are {', '.join(TEACHERS)} (comma-separated), got {text!r}")
    return list(dict.fromkeys(names))


def model_settings(args: argparse.Namespace) -> ModelSettings:
    from crossrank.settings import ModelSettings

    return ModelSettings(
        model=args.model[0] if isinstance(args.model, list) else args.model,  # serve's first model
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
        calibration=args.calibration,
        cache_size=args.cache_size,
    )


def load_reranker(args: argparse.Namespace) -> Reranker:
    return model_settings(args).load()


def argument_text(text: str, flag: str) -> str:
    """A command-line argument as text: bytes that were not UTF-8 (which Python keeps as lone surrogates) are
    refused naming the flag, before any work is done."""
    for position, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            raise InputError(f"{flag} is not UTF-8 text (byte 0x{ord(char) - 0xDC00:02x} at character {position})")
    return text


def progress(args: argparse.Namespace) -> bool:
    """Progress bars only for a person watching: stderr is a terminal and --no-progress was not given."""
    return not args.no_progress and sys.stderr.isatty()


def print_json(payload: object) -> None:
    """JSON on stdout; escaped to ASCII where stdout cannot encode everything (validated text always can)."""
    utf8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    print(json.dumps(payload, ensure_ascii=not utf8, indent=2))


def stdout_console(width: int | None = None) -> Console:
    """A rich Console on stdout whose closed pipe (`| head`) ends the command as any other print does (exit 0 in
    `main`), not with rich's own exit 1."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PipeConsole(width=width)


def count(n: int, noun: str) -> str:
    """`1 document`, `2 documents`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def log_training_to_stderr() -> None:
    """Training's progress lines (`crossrank.training`) to stderr with a timestamp, for `train` and `adapt`."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    training_log = logging.getLogger("crossrank.training")
    training_log.addHandler(handler)
    training_log.setLevel(logging.INFO)
    training_log.propagate = False
