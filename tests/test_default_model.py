"""The built-in model: loads with no model named, runs offline as int8, and its scores are pinned so a silent
change of weights or tokenization is caught."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crossrank import Reranker
from crossrank.models import default_model_dir
from tests.conftest import (
    CROSS_CPU_BOUND,
    CROSS_CPU_BOUND_INT8,
    EXAMPLES,
    LIFT,
    PINNED,
    PINNED_INT8,
    calibrated,
    pinned_pairs,
    uncalibrated,
)


def test_default_model_is_small_int8_and_loads_with_no_name() -> None:
    folder = default_model_dir()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 25_000_000
    assert not (folder / "model.safetensors").exists()
    reranker = Reranker()
    assert reranker.backend.name == "onnx-int8" and reranker.backend.arithmetic == "static int8"
    assert Reranker(backend="onnx").backend.arithmetic == "float32"  # the same int8 weights, dequantised
    assert reranker.spec.name == "crossrank-default" and reranker.spec.max_length == 256


def test_pinned_float_scores() -> None:
    reranker = Reranker(backend="onnx")
    assert uncalibrated(reranker.score(pinned_pairs(), raw=True)) == pytest.approx(PINNED, abs=CROSS_CPU_BOUND)
    expected = calibrated(PINNED, default_model_dir())  # the shipped calibration, applied to the same logits
    assert reranker.score(pinned_pairs()) == pytest.approx(expected, abs=CROSS_CPU_BOUND)


def test_pinned_int8_scores_are_the_default() -> None:
    reranker = Reranker()
    scores = uncalibrated(reranker.score(pinned_pairs(), raw=True))
    assert scores == pytest.approx(PINNED_INT8, abs=CROSS_CPU_BOUND_INT8)
    expected = calibrated(PINNED_INT8, default_model_dir())
    assert reranker.score(pinned_pairs()) == pytest.approx(expected, abs=CROSS_CPU_BOUND_INT8)


def test_cli_runs_on_the_default_offline(tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "CROSSRANK_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "crossrank.cli", "rerank", "-q", LIFT, "-d", str(EXAMPLES), "--json", "--top-k", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert results[0]["document"].startswith("Lift is produced")
    assert not any(tmp_path.iterdir()), "the built-in model needs no export cache"
