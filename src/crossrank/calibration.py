"""Scores a user can threshold: a model's logit mapped to an estimate of the probability that the document is
relevant to the query.

A calibration is Platt scaling, `p = sigmoid(a * logit + b)`: two numbers fitted by logistic regression on
judged (query, document) pairs the model did not train on. It keeps the model's order (a > 0) and fixes what a
sigmoid of the raw logit gets wrong: a model trained listwise or distilled puts most candidates far above 0.5.
A model folder carries its calibration in `calibration.json`; `Reranker` applies it (`raw=True` still returns
the logit), and the browser page applies the same numbers. Fitting one and measuring how well it holds (ECE)
belong with evaluation (`crossrank.evaluation.calibration`); this module is what runs with every request.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from crossrank.errors import ModelError

FILE = "calibration.json"
"""The calibration's file name inside a model folder."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """`p = sigmoid(scale * logit + bias)`, fitted on `pairs` judged pairs (`fitted_on` says which)."""

    scale: float
    bias: float
    fitted_on: str = ""
    pairs: int = 0
    ece_before: float | None = None  # on the fitting pairs, sigmoid(logit) as is
    ece_after: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities for an array of logits (float64)."""
        return np.asarray(sigmoid(self.scale * np.asarray(logits, dtype=np.float64) + self.bias), dtype=np.float64)

    def to_json(self) -> str:
        return json.dumps({"kind": "platt", "written_by": "crossrank", **asdict(self)}, indent=2) + "\n"

    @classmethod
    def of(cls, given: str | Path | Calibration) -> Calibration:
        """A calibration given as itself or as the path of its file."""
        return given if isinstance(given, Calibration) else cls.read(Path(given))

    @classmethod
    def read(cls, path: Path) -> Calibration:
        """A calibration file as `crossrank calibrate` writes it; `ModelError` naming the file otherwise."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the calibration {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != "platt":
            raise ModelError(f"{path} is not a crossrank calibration (expected kind 'platt')")
        try:
            scale, bias = float(data["scale"]), float(data["bias"])
        except (KeyError, TypeError, ValueError):
            raise ModelError(f"{path}: a calibration needs numbers 'scale' and 'bias'") from None
        if not (np.isfinite(scale) and np.isfinite(bias)) or scale <= 0:
            raise ModelError(f"{path}: scale must be a positive number and bias finite, got {scale}, {bias}")
        known = {"kind", "written_by", "scale", "bias", "fitted_on", "pairs", "ece_before", "ece_after", "extra"}
        return cls(
            scale=scale,
            bias=bias,
            fitted_on=str(data.get("fitted_on", "")),
            pairs=int(data.get("pairs", 0)),
            ece_before=data.get("ece_before"),
            ece_after=data.get("ece_after"),
            extra={**dict(data.get("extra") or {}), **{k: v for k, v in data.items() if k not in known}},
        )


def load_calibration(folder: Path) -> Calibration | None:
    """The calibration a model folder ships, or None."""
    path = folder / FILE
    return Calibration.read(path) if path.is_file() else None


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, in the form that stays finite for any logit (the one sigmoid of the package)."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))), dtype=np.float64)
