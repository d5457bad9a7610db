"""`crossrank optimize`: any cross-encoder (a hub id or a folder) as a self-contained optimised folder that every
part of crossrank loads (`crossrank.export.optimize` builds and checks the graph), with the user's own pairs for
the activation scales and, given judged pairs, a calibration so its scores are probabilities."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path

from crossrank.documents import read_jsonl_objects
from crossrank.errors import InputError
from crossrank.export.optimize import Optimized, optimize
from crossrank.models import display_name, is_built_in, resolve_model
from crossrank.outputs import OutputKind, check_output, mark_output, new_folder_beside, replace_folder

OPTIMIZED = OutputKind("optimized model", "optimization.json", listed=True)


def optimize_model(
    model: str, out: Path, *, pairs_file: Path | None = None, judged_file: Path | None = None
) -> tuple[Optimized, str | None]:
    """Write `model` optimised into `out` (a new or empty folder, or an earlier optimised folder, replaced whole);
    the result and, with `judged_file`, a line on the calibration fitted and stored in the folder."""
    source = resolve_model(model)
    if is_built_in(source):
        raise InputError(f"{model} is a built-in model; it ships optimised already")
    check_output(out, OPTIMIZED, inputs=[source])
    pairs = read_pairs(pairs_file) if pairs_file is not None else None
    judged = _read_judged(judged_file) if judged_file is not None else None
    out.parent.mkdir(parents=True, exist_ok=True)
    building = new_folder_beside(out)
    try:
        fitted_on = None if pairs is None or pairs_file is None else f"{pairs_file.name} ({_count(pairs)} pairs)"
        result = optimize(source, building, name=display_name(model), pairs=pairs, pairs_source=fitted_on, final=out)
        said = _calibrate(building, judged, judged_file) if judged is not None and judged_file is not None else None
        mark_output(building, OPTIMIZED)
        replace_folder(building, out, OPTIMIZED)
    finally:
        shutil.rmtree(building, ignore_errors=True)  # gone already when the build was swapped in
    return dataclasses.replace(result, folder=out), said


def read_pairs(path: Path) -> list[tuple[str, list[str]]]:
    """Pairs to fit activation scales on: JSONL lines `{"query": ..., "documents": [...]}` or `{"query": ...,
    "document": ...}` (text a deployment will see; no labels needed)."""
    if not path.is_file():
        raise InputError(f"--pairs: {path} is not a file")
    found: list[tuple[str, list[str]]] = []
    for number, item in read_jsonl_objects(path):
        query = item.get("query")
        documents = item.get("documents", [item["document"]] if "document" in item else None)
        if not isinstance(query, str) or not query.strip():
            raise InputError(f"{path}:{number}: needs a non-empty string 'query'")
        if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
            raise InputError(f"{path}:{number}: needs 'documents' (a non-empty list of strings) or a 'document'")
        found.append((query, documents))
    if not found:
        raise InputError(f"--pairs: {path} holds no pairs")
    return found


def _count(pairs: Sequence[tuple[str, Sequence[str]]]) -> int:
    return sum(len(candidates) for _, candidates in pairs)


def _read_judged(path: Path) -> list[tuple[str, str, int]]:
    from crossrank.evaluation.calibration import read_judged_pairs

    return read_judged_pairs(path)


def _calibrate(folder: Path, judged: Sequence[tuple[str, str, int]], path: Path) -> str:
    """Fit Platt scaling on the optimised graph's logits of the judged pairs (what `crossrank calibrate` does)
    and store it as the folder's `calibration.json`."""
    from crossrank.evaluation.calibration import calibrate
    from crossrank.outputs import write_atomic
    from crossrank.reranker import Reranker

    reranker = Reranker(folder, cascade_model=None, calibration=None)
    fitted = calibrate(reranker, judged, fitted_on=f"{path.name} ({len(judged)} pairs)")
    write_atomic(folder / "calibration.json", fitted.to_json())
    return (
        f"calibrated on {fitted.pairs} judged pairs: expected calibration error {fitted.ece_before:.3f} -> "
        f"{fitted.ece_after:.3f}"
    )


__all__ = ["OPTIMIZED", "optimize_model", "read_pairs"]
