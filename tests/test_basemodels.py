"""Base models for training: the built-in model read back from its int8 file as a float32 folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crossrank import Reranker
from crossrank.basemodels import default_as_base, dequantized_weights
from crossrank.cli import main
from tests.conftest import PINNED, pinned_pairs


def test_int8_weights_read_back_within_one_quantisation_step(tiny_bert: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from crossrank.export.onnx import export_onnx

    folder = Path(shutil.copytree(tiny_bert, tmp_path / "model"))
    export_onnx(folder)
    original = load_file(str(folder / "model.safetensors"))
    recovered = dequantized_weights(folder / "onnx" / "model_int8.onnx")
    assert set(recovered) == {k for k in original if not k.endswith("_ids")}
    for name, value in recovered.items():
        assert value.shape == original[name].shape, name
        if value.ndim == 1:  # biases and LayerNorm stay float32 in the int8 file
            np.testing.assert_array_equal(value, original[name], err_msg=name)
        else:  # rounded to 7-bit weight codes (255 levels for embeddings): within one step of the trained value
            error = value - original[name]
            assert np.abs(error).max() <= np.abs(original[name]).max() / 63, name
            assert np.linalg.norm(error) < 0.02 * np.linalg.norm(original[name]), name


@pytest.mark.slow
def test_default_as_base_scores_like_the_shipped_model(tmp_path: Path) -> None:
    folder = default_as_base(cache_dir=tmp_path)
    assert default_as_base(cache_dir=tmp_path) == folder  # built once, then read from the cache
    scores = Reranker(folder, backend="torch").score(pinned_pairs())
    # the gap is int8 activation rounding in the shipped file, as between any fp32 model and its int8 export
    assert scores == pytest.approx(PINNED, abs=0.05)
    assert np.corrcoef(scores, PINNED)[0, 1] > 0.99


@pytest.mark.slow
def test_train_continues_from_the_built_in_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "pairs.tsv"
    rows = [("how do wings lift", p, int(i == 0)) for i, p in enumerate(PASSAGES)]
    rows += [("what makes rain fall", p, int(i == 1)) for i, p in enumerate(PASSAGES)]
    data.write_text("query\tpassage\tlabel\n" + "".join(f"{q}\t{p}\t{label}\n" for q, p, label in rows))
    out = tmp_path / "tuned"
    argv = ["train", "--data", str(data), "--out", str(out), "--base", "default", "--negatives", "2"]
    assert main([*argv, "--max-length", "64", "--holdout", "0.5", "--no-export", "--no-progress"]) == 0
    assert "epoch 1: loss" in capsys.readouterr().out
    tuned = Reranker(out, backend="torch").score([("how do wings lift", PASSAGES[0])])
    assert 0.0 < tuned[0] < 1.0
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    recorded = json.loads((out / "training.json").read_text())["config"]  # the folder says how it was made
    assert recorded["base_name"] == "default" and recorded["sources"] == [str(data)]
    assert recorded["negatives"] == 2 and recorded["teachers"] == [] and recorded["split"] == "train"


PASSAGES = [
    "Lift comes from the pressure difference between the upper and lower surfaces of a wing.",
    "Rain falls when droplets in a cloud merge and grow too heavy to stay aloft.",
    "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
    "Paris has been the capital of France since the tenth century.",
]
