"""The last stage of `adapt`, for each of its models: ONNX export, static int8 scales and a calibration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from crossrank.errors import InputError
from crossrank.outputs import write_atomic
from crossrank.training.data import Group


def export_adapted(
    folder: Path, groups: Sequence[Group], *, seed: int, base_calibration: Path | None, say: Callable[[str], None]
) -> None:
    """ONNX export (float32 and int8), static int8 scales fitted on held-out pseudo-pairs, and a calibration: the
    base model's own where it has one (a fit on pseudo-pairs, whose positives are far easier than a real query's,
    calibrated much worse: docs/experiments/adapt.md), else a fit on held-out pseudo-pairs (rough)."""
    from crossrank.batching import pad_batch
    from crossrank.evaluation.calibration import fit
    from crossrank.export.onnx import export_onnx
    from crossrank.export.static_int8 import calibrate, scales_path
    from crossrank.models import read_spec
    from crossrank.reranker import Reranker
    from crossrank.tokenization import PairEncoder, load_tokenizer
    from crossrank.training.trainer import split_holdout

    if not (folder / "onnx" / "model_int8.onnx").is_file():
        export_onnx(folder)
    _, heldout = split_holdout(groups, fraction=0.05, seed=seed)  # the trainer's own held-out queries
    heldout = heldout or list(groups[:20])
    int8 = folder / "onnx" / "model_int8.onnx"
    encoder = PairEncoder(load_tokenizer(folder), max_length=read_spec(folder).max_length)
    feeds = [
        pad_batch(encoder.encode(g.query, [text]), np.array([0]), pad_id=encoder.pad_id)
        for g in heldout[:100]
        for text in (g.positive, *g.negatives[:1])
    ]
    calibrate(int8, feeds, quantile=0.99999, source=f"{len(feeds)} held-out pseudo-pairs").write(scales_path(int8))
    if base_calibration is not None:
        write_atomic(folder / "calibration.json", base_calibration.read_text(encoding="utf-8"))
        say(f"{folder.name}: exported, int8 scales fitted on held-out pseudo-pairs, the base model's calibration kept")
        return
    reranker = Reranker(folder, cascade_model=None, calibration=None)
    pairs = [(g.query, text, int(k == 0)) for g in heldout for k, text in enumerate((g.positive, *g.negatives))]
    logits = reranker.score([(q, t) for q, t, _ in pairs], raw=True)
    try:
        fitted = fit(logits, [label for _, _, label in pairs], fitted_on=f"{len(pairs)} held-out pseudo-pairs")
    except InputError as exc:  # a model that learned nothing usable: its scores stay sigmoids
        (folder / "calibration.json").unlink(missing_ok=True)
        say(f"{folder.name}: exported, int8 scales fitted; no calibration ({exc})")
        return
    write_atomic(folder / "calibration.json", fitted.to_json())
    say(f"{folder.name}: exported, int8 scales and calibration fitted on held-out pseudo-pairs")


def base_calibration(base: str | None) -> Path | None:
    """The calibration file the named base ships: the built-in models' ("default", "tiny"), a folder's own."""
    from crossrank.models import built_in_dir

    folder = {"default": built_in_dir("crossrank-default"), "tiny": built_in_dir("crossrank-tiny")}.get(
        base or "", Path(base or "")
    )
    found = folder / "calibration.json"
    return found if base and base != "minilm" and found.is_file() else None
