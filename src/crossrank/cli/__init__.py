"""The `crossrank` command line: a module per command, each adding its arguments and running it; this module
builds the parser and runs the chosen command, turning crossrank's errors into `crossrank: error: ...` and exit 2."""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from crossrank.cli import adapt, batch, calibrate, demo, evaluate, index, optimize, rerank, search, serve, train
from crossrank.errors import CrossrankError
from crossrank.version import crossrank_version

__all__ = ["build_parser", "main"]
COMMANDS = (rerank, evaluate, calibrate, optimize, train, adapt, serve, index, demo, batch, search)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossrank", description="Cross-encoder reranking on CPU.")
    parser.add_argument("--version", action="version", version=f"crossrank {crossrank_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add(sub)
    return parser


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
    except BrokenPipeError:  # the reader went away (`| head -1`): it had what it wanted, whatever the output's size
        _quiet_stdout()
        return 0
    except CrossrankError as exc:
        print(f"crossrank: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crossrank: interrupted", file=sys.stderr)
        return 130
    return code
