"""A `Reranker`'s settings as plain data (`ModelSettings`), and what a report says of a loaded one."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from crossrank.backends import BACKENDS
from crossrank.cascade import AUTO
from crossrank.engine import Aggregate
from crossrank.types import LongDocuments

if TYPE_CHECKING:
    from crossrank.reranker import Reranker


@dataclass(frozen=True, slots=True)
class Option:
    """How a setting appears on the command line: its flags and help, how its text is read (`kind`, one of the
    CLI's number rules), its `choices`, or a flag without a value that sets `switch`; `also` adds flags that set
    a constant (`--no-cascade`)."""

    flags: tuple[str, ...]
    help: str
    kind: str | None = None
    choices: tuple[str, ...] | None = None
    switch: object = None
    also: tuple[tuple[str, object, str], ...] = ()


def option(default: object, *flags: str, help: str, **how: Any) -> Any:
    """A settings field: its default and its command-line option, declared together."""
    return field(default=default, metadata={"option": Option(flags, help, **how)})


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """A `Reranker`'s settings as plain data, the one declaration of them: each field is an argument of
    `Reranker.__init__` with its default, and carries its command-line option (flags, help, how it is read).
    The CLI's model options are made from these fields (`crossrank.cli.common.add_model_arguments`), and a
    worker process, a Ray actor or a server replica builds its reranker from one (`load`): a loaded model cannot
    travel between processes; these can."""

    model: str | None = option(None, "--model", "-m", help="model folder or hub id (default: the built-in model)")
    backend: str | None = option(
        None,
        "--backend",
        "-b",
        choices=BACKENDS,
        help="inference backend (default: static int8; a model of float weights is optimised once into the cache, "
        "and kept in float32 where int8 would change its ranking; onnx: float32)",
    )
    max_length: int | None = option(
        None, "--max-length", kind="positive_int", help="token window per pair (default: the model's own)"
    )
    batch_size: int = option(
        32, "--batch-size", kind="positive_int", help="pairs per forward pass (dynamic int8 runs one pair per pass)"
    )
    token_budget: int | None = option(
        None,
        "--token-budget",
        kind="positive_int",
        help="padded tokens per forward pass (default: 512, or one window if longer)",
    )
    threads: int | None = option(
        None, "--threads", kind="positive_int", help="inference threads (default: every CPU this process may use)"
    )
    cache_dir: str | None = option(
        None, "--cache-dir", help="where exported ONNX files go (default: $CROSSRANK_CACHE or ~/.cache/crossrank)"
    )
    long_documents: LongDocuments = option(
        "truncate", "--window", switch="window", help="score long documents in overlapping windows"
    )
    window_overlap: int = option(
        64, "--window-overlap", kind="non_negative_int", help="tokens consecutive windows share (--window)"
    )
    aggregate: Aggregate = option(
        "max",
        "--aggregate",
        choices=("max", "first", "mean"),
        help="how a long document's window scores become one (--window)",
    )
    cascade_keep: int | None = option(
        None,
        "--cascade-keep",
        kind="positive_int",
        help="score every document with a first pass (--cascade-model, else this model on a short window) and "
        "the best N with the model, which orders them above the rest (default 15 with a cascade model)",
    )
    cascade_model: str | None = option(
        AUTO,
        "--cascade-model",
        help="first-pass model of the cascade, e.g. crossrank-tiny; auto: crossrank-tiny for the built-in model "
        "(the default path), none for a model named with --model",
        also=(("--no-cascade", None, "run the model alone on every document (the default path is a cascade)"),),
    )
    cascade_length: int | None = option(
        None,
        "--cascade-length",
        kind="positive_int",
        help="first-pass window (default: 64 tokens for the model itself, the cascade model's own window)",
    )
    calibration: str | None = option(
        None,
        "--calibration",
        help="calibration file from `crossrank calibrate` (default: the one the model folder ships, if any)",
    )
    cache_size: int | None = option(
        None,
        "--cache-size",
        kind="positive_int",
        help="keep up to N document scores and never score the same inputs twice (exact; ONNX backends; "
        "serve sizes it by --cache-mb)",
    )

    def load(self) -> Reranker:
        from crossrank.reranker import Reranker

        return Reranker(**{f.name: getattr(self, f.name) for f in fields(self)})


def reranker_settings(reranker: Reranker | None) -> dict[str, object]:
    """What shapes a reranker's scores, for reports: model, folder, backend, window, long documents, cascade."""
    if reranker is None:
        return dict.fromkeys(("model", "model_path", "backend", "max_length", "long_documents", "cascade"))
    cascade = reranker.cascade
    return {
        "model": reranker.spec.name,
        "model_path": reranker.spec.path,
        "backend": reranker.backend.name,
        "max_length": reranker.spec.max_length,
        "long_documents": "truncate" if reranker.window_overlap is None else "window",
        "cascade": None
        if cascade is None
        else {
            "keep": cascade.keep,
            "model": reranker.spec.name if cascade.scorer is None else cascade.scorer.spec.name,
            "length": cascade.encoder.max_length,
        },
    }
