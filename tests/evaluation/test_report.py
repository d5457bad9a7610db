"""The terminal tables: long stage names wrap, numbers are never cut."""

from __future__ import annotations

import io

from rich.console import Console

from crossrank.evaluation.harness import Comparison, StageResult
from crossrank.evaluation.metrics import MEASURES, Significance
from crossrank.evaluation.report import comparison_table, table

LONG = "hybrid > a-rather-long-model-name-from-the-hub + hybrid rrf"


def _render(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_numbers_survive_a_narrow_terminal() -> None:
    values = {m: {"q1": 0.123456, "q2": 0.5} for m in MEASURES}
    sig = Significance(delta=-0.016234, t_test_p=0.031, randomization_p=0.0012)
    stage = StageResult(LONG, {}, values, latency_ms=[812.0, 990.0], versus="hybrid", significance={"nDCG@10": sig})
    text = _render(table([stage], title="t"), width=80)
    assert "0.3117" in text and "0.031" in text and "…" not in text
    comparison = Comparison(LONG, LONG.replace("rather", "very"), {"nDCG@10": sig})
    text = _render(comparison_table([comparison]), width=70)
    assert "-0.0162" in text and "0.031" in text and "0.0012" in text and "…" not in text
