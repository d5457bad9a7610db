"""crossrank-tiny: shipped inside the package (int8, < 8 MB), loadable by name offline, pinned scores, and the
first pass of a cascade into the built-in model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crossrank import Reranker
from crossrank.models import built_in_dir, resolve_model
from tests.conftest import (
    CROSS_CPU_BOUND,
    CROSS_CPU_BOUND_INT8,
    EXAMPLES,
    LIFT,
    calibrated,
    pinned_pairs,
    uncalibrated,
)

PINNED_TINY = [0.96302, 0.01886, 0.91848, 0.16399, 0.01369, 0.48359, 0.05169, 0.96746, 0.01623]
PINNED_TINY_INT8 = [0.96521, 0.01958, 0.91592, 0.14981, 0.01374, 0.48727, 0.05391, 0.96696, 0.01646]


def test_tiny_model_ships_small_int8_and_loads_by_name() -> None:
    folder = built_in_dir("crossrank-tiny")
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 8_000_000
    assert not (folder / "model.safetensors").exists() and (folder / "onnx" / "model_int8.onnx").is_file()
    assert resolve_model("crossrank-tiny") == folder
    reranker = Reranker("crossrank-tiny")
    assert reranker.spec.name == "crossrank-tiny" and reranker.built_in and reranker.backend.name == "onnx-int8"
    config = json.loads((folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (2, 128)


def test_pinned_tiny_scores() -> None:
    tiny = Reranker("crossrank-tiny", backend="onnx")
    assert uncalibrated(tiny.score(pinned_pairs(), raw=True)) == pytest.approx(PINNED_TINY, abs=CROSS_CPU_BOUND)
    expected = calibrated(PINNED_TINY, built_in_dir("crossrank-tiny"))
    assert tiny.score(pinned_pairs()) == pytest.approx(expected, abs=CROSS_CPU_BOUND)
    int8 = uncalibrated(Reranker("crossrank-tiny").score(pinned_pairs(), raw=True))
    assert int8 == pytest.approx(PINNED_TINY_INT8, abs=CROSS_CPU_BOUND_INT8)


def test_the_default_answers_to_its_name_too() -> None:
    pairs = pinned_pairs()
    assert Reranker("crossrank-default").score(pairs) == Reranker().score(pairs)
    assert Reranker("crossrank-default").spec.name == "crossrank-default"


def test_cascade_from_tiny_into_the_default() -> None:
    passages = [line.strip() for line in EXAMPLES.read_text().splitlines() if line.strip()]
    cascade = Reranker(cascade_keep=3, cascade_model="crossrank-tiny")
    assert cascade.name == "crossrank-tiny top-3 > crossrank-default"
    tiny_scores = Reranker("crossrank-tiny").score([(LIFT, p) for p in passages])
    kept = sorted(sorted(range(len(passages)), key=lambda i: (-tiny_scores[i], passages[i], i))[:3])
    full = Reranker().score([(LIFT, passages[i]) for i in kept])
    results = cascade.rerank(LIFT, passages)
    assert [r.index for r in results[:3]] == [
        kept[j] for j in sorted(range(3), key=lambda j: (-full[j], passages[kept[j]], kept[j]))
    ]
    assert [r.score for r in results[:3]] == sorted(full, reverse=True)
    assert [r.scored_by for r in results] == ["crossrank-default"] * 3 + ["crossrank-tiny"] * (len(passages) - 3)
    rest = sorted(set(range(len(passages))) - set(kept), key=lambda i: (-tiny_scores[i], passages[i], i))
    assert [r.index for r in results[3:]] == rest
    assert [r.score for r in results[3:]] == [min(tiny_scores[i], results[2].score) for i in rest]


def test_the_default_path_is_the_cascade_and_scores_are_probabilities() -> None:
    passages = [line.strip() for line in EXAMPLES.read_text().splitlines() if line.strip()] * 3  # 21 > 15
    passages = [f"{p} ({i})" for i, p in enumerate(passages)]
    default = Reranker()
    assert default.name == "crossrank-tiny top-15 > crossrank-default"
    assert Reranker(cascade_model=None).cascade is None and Reranker("crossrank-tiny").cascade is None
    results = default.rerank(LIFT, passages)
    assert sorted(r.index for r in results) == list(range(len(passages)))
    assert [r.scored_by for r in results].count("crossrank-default") == 15
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)


def test_cli_takes_the_tiny_model_by_name(tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "CROSSRANK_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "crossrank.cli", "rerank", "-m", "crossrank-tiny", "-q", LIFT, "-d", str(EXAMPLES)]
        + ["--json", "--top-k", "2", "--cascade-keep", "2", "--cascade-model", "crossrank-tiny"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "crossrank-tiny top-2 > crossrank-tiny"
