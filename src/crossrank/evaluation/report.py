"""Evaluation output: a terminal table, a JSON report with every setting, TREC run files, a PNG plot."""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from crossrank.errors import BackendUnavailable
from crossrank.evaluation.harness import Comparison, StageResult, percentile
from crossrank.evaluation.metrics import MEASURES, Significance
from crossrank.machine import cpu_family, cpu_features, cpu_name
from crossrank.outputs import EVAL, check_output, mark_output, write_atomic
from crossrank.ranking import keys_best_first

LABELS = {"nDCG@10": "nDCG@10", "RR@10": "MRR@10", "R@100": "R@100", "AP": "MAP"}


def table(results: Sequence[StageResult], *, title: str) -> Any:
    """A rich Table: one row per stage, metrics, rerank latency and the p-value against the first stage."""
    from rich.table import Table

    grid = Table(title=title)
    grid.add_column("stage", overflow="fold")  # names wrap on a narrow terminal; numbers never shrink
    for header in (*(LABELS[m] for m in MEASURES), "p (nDCG@10)", "ms p50/p95"):
        grid.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for stage in results:
        scores = stage.scores
        sig = stage.significance.get("nDCG@10")
        grid.add_row(
            stage.name,
            *(f"{scores[m]:.4f}" for m in MEASURES),
            "" if sig is None else f"{sig.t_test_p:.2g}",
            f"{percentile(stage.latency_ms, 50):.0f} / {percentile(stage.latency_ms, 95):.0f}"
            if stage.latency_ms
            else "",
        )
    return grid


def comparison_table(comparisons: Sequence[Comparison]) -> Any:
    """A rich Table: each pair of rerankers on the same candidates, the nDCG@10 difference and its p-values."""
    from rich.table import Table

    grid = Table(title="rerankers head to head on the same candidates (paired, nDCG@10)")
    for column in ("stage", "against"):
        grid.add_column(column, overflow="fold")
    for column in ("Δ nDCG@10", "p t-test", "p randomisation"):
        grid.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    for comparison in comparisons:
        sig = comparison.significance["nDCG@10"]
        grid.add_row(
            comparison.stage,
            comparison.against,
            f"{sig.delta:+.4f}",
            f"{sig.t_test_p:.2g}",
            f"{sig.randomization_p:.2g}",
        )
    return grid


def report(
    results: Sequence[StageResult], *, comparisons: Sequence[Comparison], settings: dict[str, Any]
) -> dict[str, Any]:
    """Everything needed to reproduce and compare: settings, versions, aggregates and per-query values."""
    return {
        "settings": settings,
        "versions": {"python": platform.python_version(), **_versions()},
        "machine": {"cpu": cpu_name(), "family": cpu_family(), "features": cpu_features(), "cores": os.cpu_count()},
        "stages": [
            {
                "name": s.name,
                "versus": s.versus,
                "scores": s.scores,
                "latency_ms": {"p50": percentile(s.latency_ms, 50), "p95": percentile(s.latency_ms, 95)}
                if s.latency_ms
                else None,
                "significance": _significance(s.significance),
                "per_query": s.per_query,
            }
            for s in results
        ],
        "comparisons": [
            {"stage": c.stage, "against": c.against, "significance": _significance(c.significance)} for c in comparisons
        ],
    }


def _significance(tests: dict[str, Significance]) -> dict[str, dict[str, float]]:
    """Significance tests per measure, as JSON."""
    return {
        m: {"delta": v.delta, "t_test_p": v.t_test_p, "randomization_p": v.randomization_p} for m, v in tests.items()
    }


def _versions() -> dict[str, str]:
    found = {}
    for package in ("crossrank", "onnxruntime", "tokenizers", "bm25s", "ir-measures", "torch", "transformers"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def default_folder(dataset: str) -> Path:
    """Where an evaluation writes when no folder is named: a new `runs/DATASET-TIME` below the working directory."""
    return Path("runs") / f"{dataset.replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"


def write_outputs(
    results: Sequence[StageResult],
    *,
    comparisons: Sequence[Comparison],
    settings: dict[str, Any],
    out: Path,
    inputs: Sequence[Path] = (),
) -> list[Path]:
    """Write report.json, one TREC run file per stage and plot.png into `out`; return the paths.

    `out` must be new, empty or an earlier evaluation's folder (`crossrank.outputs`), outside the `inputs`.
    """
    check_output(out, EVAL, inputs=inputs)
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, EVAL)
    summary = report(results, comparisons=comparisons, settings=settings)
    written = [write_atomic(out / "report.json", json.dumps(summary, indent=2))]
    for stage in results:
        lines = []
        for qid, docs in stage.run.items():
            lines += [
                f"{qid} Q0 {doc} {rank} {docs[doc]:.12g} {_tag(stage.name)}"
                for rank, doc in enumerate(keys_best_first(docs), 1)
            ]
        written.append(write_atomic(out / f"{_tag(stage.name)}.run", "\n".join(lines) + "\n"))
    written.append(plot(results, out / "plot.png", title=str(settings.get("dataset", ""))))
    return written


def _tag(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace(" > ", "__"))


def plot(results: Sequence[StageResult], path: Path, *, title: str) -> Path:
    """nDCG@10 per stage, and the per-query rerank latency distribution of reranked stages."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise BackendUnavailable("plot", "eval", "matplotlib") from exc
    reranked = [s for s in results if s.latency_ms]
    fig, axes = plt.subplots(1, 2 if reranked else 1, figsize=(11 if reranked else 6, 4), squeeze=False)
    names = [s.name for s in results]
    values = [s.scores["nDCG@10"] for s in results]
    colors = ["#4c72b0" if s.versus is None else "#dd8452" for s in results]
    bars = axes[0][0].barh(names[::-1], values[::-1], color=colors[::-1])
    axes[0][0].bar_label(bars, fmt="%.3f", padding=3)
    axes[0][0].set_xlabel("nDCG@10")
    axes[0][0].set_xlim(0, min(1.0, max(values) * 1.25 + 0.01))
    axes[0][0].set_title(f"{title}: quality per stage")
    if reranked:
        axes[0][1].boxplot(
            [s.latency_ms for s in reranked], tick_labels=[s.name for s in reranked], orientation="horizontal"
        )
        axes[0][1].set_xlabel("rerank latency per query (ms)")
        axes[0][1].set_title("latency")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:  # created as `open` creates files (the user's umask applies), then renamed into place
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
            fig.savefig(handle, dpi=110, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path
