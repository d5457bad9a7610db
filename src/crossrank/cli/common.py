"""What every command shares: the help formatter, the model options (which fill one `ModelSettings`), argument
types and the output helpers."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

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
    """The model options, made from `ModelSettings`' fields (their one declaration); `many`: --model may be
    given again (serve's models)."""
    from crossrank.settings import ModelSettings

    group = parser.add_argument_group("model")
    for setting in fields(ModelSettings):
        declared = setting.metadata["option"]
        how: dict[str, Any] = {"dest": setting.name, "default": setting.default, "help": declared.help}
        if declared.switch is not None:
            how.update(action="store_const", const=declared.switch)
        else:
            how.update(type=NUMBER_RULES[declared.kind] if declared.kind else None, choices=declared.choices)
        if setting.name == "model" and many:
            how.update(action="append", help=declared.help + "; again to serve several, picked by a request's `model`")
        group.add_argument(*declared.flags, **how)
        for flag, const, help_text in declared.also:
            group.add_argument(flag, dest=setting.name, action="store_const", const=const, help=help_text)
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


NUMBER_RULES: dict[str, Callable[[str], Any]] = {
    "positive_int": positive_int,
    "non_negative_int": non_negative_int,
    "positive_float": positive_float,
}
"""The number rules by name, for the options `ModelSettings` declares (`Option.kind`)."""


def teacher_list(text: str) -> list[str]:
    """Comma-separated teachers, each "name" or "name:weight" (`teacher_weights`), as normalised specs."""
    from crossrank.errors import InputError
    from crossrank.training.teachers import teacher_weights

    try:
        weights = teacher_weights([spec for spec in text.split(",") if spec.strip()])
    except InputError as error:
        raise argparse.ArgumentTypeError(f"{error} (in {text!r})") from None
    return [name if weight == 1 else f"{name}:{weight:g}" for name, weight in weights.items()]


def model_settings(args: argparse.Namespace) -> ModelSettings:
    """The `ModelSettings` the model options give (serve's first --model where it takes several)."""
    from crossrank.settings import ModelSettings

    given = {f.name: getattr(args, f.name) for f in fields(ModelSettings)}
    if isinstance(given["model"], list):
        given["model"] = given["model"][0]
    return ModelSettings(**given)


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
