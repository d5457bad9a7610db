"""Calibration: Platt scaling recovers known parameters, ECE is the textbook one, `crossrank calibrate` writes a
file that `Reranker` then applies (and never overwrites a file it did not write)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crossrank import InputError, Reranker
from crossrank.calibration import Calibration
from crossrank.cli import main
from crossrank.errors import ModelError
from crossrank.evaluation.calibration import expected_calibration_error, fit, reliability


def test_fit_recovers_the_parameters_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, size=40_000)
    labels = rng.random(40_000) < 1 / (1 + np.exp(-(0.5 * logits - 1.5)))
    fitted = fit(logits, labels.astype(int))
    assert fitted.scale == pytest.approx(0.5, abs=0.02) and fitted.bias == pytest.approx(-1.5, abs=0.05)
    assert fitted.ece_after is not None and fitted.ece_before is not None and fitted.ece_after < fitted.ece_before


def test_ece_and_reliability_by_hand() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95, 0.55])
    y = np.array([0, 1, 1, 1, 0])
    table = reliability(p, y)
    assert table.counts[0] == 2 and table.counts[9] == 2 and table.counts[5] == 1
    # bins: |0.05 - 0.5| * 2 + |0.95 - 1| * 2 + |0.55 - 0| * 1, over 5 pairs
    assert expected_calibration_error(p, y) == pytest.approx((0.9 + 0.1 + 0.55) / 5)


def test_fit_refuses_what_it_cannot_calibrate() -> None:
    with pytest.raises(InputError, match="relevant \\(1\\) and non-relevant \\(0\\) pairs, both"):
        fit([1.0, 2.0, 3.0], [1, 1, 1])
    with pytest.raises(InputError, match="do not rise with relevance"):
        fit([3.0, 2.0, 1.0, 0.0], [0, 0, 1, 1])


def test_calibrate_writes_a_file_the_reranker_applies(
    tiny_bert: Path,
    cache_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CROSSRANK_CACHE", str(cache_dir))
    data = tmp_path / "judged.jsonl"
    rows = [("cat", "the cat sat on the mat", 1), ("cat", "rain at night", 0), ("rain", "rain falls at night", 1)]
    rows += [("rain", "the cat sat", 0), ("wing", "supersonic wing flow", 1), ("wing", "dogs in the garden", 0)]
    data.write_text("".join(json.dumps({"query": q, "text": t, "label": y}) + "\n" for q, t, y in rows))
    out = tmp_path / "calibration.json"
    assert main(["calibrate", str(tiny_bert), "--data", str(data), "--out", str(out)]) == 0
    assert "calibrated tiny-bert0 on 6 pairs" in capsys.readouterr().out
    calibration = Calibration.read(out)
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    calibrated = Reranker(tiny_bert, cache_dir=cache_dir, calibration=out)
    pairs = [(q, t) for q, t, _ in rows]
    logits = np.array(reranker.score(pairs, raw=True))
    expected = 1 / (1 + np.exp(-(calibration.scale * logits + calibration.bias)))
    assert calibrated.score(pairs) == pytest.approx(expected.tolist(), abs=1e-9)
    assert calibrated.score(pairs, raw=True) == reranker.score(pairs, raw=True)
    assert main(["calibrate", str(tiny_bert), "--data", str(data), "--out", str(out)]) == 0  # its own file again
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "settings"}')
    assert main(["calibrate", str(tiny_bert), "--data", str(data), "--out", str(mine)]) == 2
    assert f"{mine} is a file crossrank did not write" in capsys.readouterr().err
    assert mine.read_text() == '{"my": "settings"}'


def test_a_broken_calibration_file_is_named() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.json"
        path.write_text('{"kind": "platt", "scale": -1, "bias": 0}')
        with pytest.raises(ModelError, match="scale must be a positive number"):
            Calibration.read(path)
