"""Evaluation output: a terminal table, a JSON report with every setting, TREC run files, a PNG plot."""

from __future__ import annotations

import json
import os
import platform
import textwrap
import time
import uuid
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from crossrank.errors import MissingExtra
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
    for header in (*(LABELS[m] for m in MEASURES), "p (nDCG@10)", "ms p50/p95", "ECE"):
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
            "" if stage.reliability is None else f"{stage.reliability.ece:.3f}",
        )
    return grid


def cut_grid(stage: StageResult) -> Any:
    """A rich Table of `stage`'s cuts: what `min_score` or a token budget keeps, and whether the best
    relevant passage survives."""
    from rich.table import Table

    grid = Table(title=f"cutting {stage.name}'s ranking (means per query; tokens: the model's tokenizer)")
    for column in ("cut", "passages kept", "tokens kept", "best relevant kept"):
        grid.add_column(column, justify="right" if column != "cut" else "left", no_wrap=True)
    for row in stage.cuts:
        grid.add_row(row.cut, f"{row.passages:.1f}", f"{row.tokens:.0f}", f"{row.best_relevant_kept:.1%}")
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
                "calibration": None
                if s.reliability is None
                else {
                    "ece": s.reliability.ece,
                    "bins": {
                        "mean_score": s.reliability.mean_probability,
                        "relevant_share": s.reliability.relevant_share,
                        "count": s.reliability.counts,
                    },
                },
                "cuts": [
                    {
                        "cut": c.cut,
                        "passages": c.passages,
                        "tokens": c.tokens,
                        "best_relevant_kept": c.best_relevant_kept,
                    }
                    for c in s.cuts
                ],
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


def _reliability_panel(ax: Any, stages: Sequence[StageResult]) -> None:
    """Share of relevant candidates against the mean score, per bin: a calibrated reranker lies on the diagonal."""
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1)
    for stage in stages:
        table = stage.reliability
        assert table is not None
        bins = zip(table.mean_probability, table.relevant_share, table.counts, strict=True)
        points = [(p, r) for p, r, n in bins if n > 0]
        label = textwrap.fill(f"{stage.name} (ECE {table.ece:.3f})", 40)
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xlabel("mean score in the bin")
    ax.set_ylabel("share judged relevant")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("reliability")
    ax.legend(fontsize=7, loc="upper left")


def _tag(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace(" > ", "__"))


def plot(results: Sequence[StageResult], path: Path, *, title: str) -> Path:
    """nDCG@10 per stage, and the per-query rerank latency distribution of reranked stages."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtra("plot", "eval", "matplotlib") from exc
    reranked = [s for s in results if s.latency_ms]
    calibrated = [s for s in results if s.reliability is not None]
    panels = 1 + bool(reranked) + bool(calibrated)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 5), squeeze=False)
    names = [textwrap.fill(s.name, 32) for s in results]  # long cascade names wrap instead of squeezing the axes
    values = [s.scores["nDCG@10"] for s in results]
    colors = ["#4c72b0" if s.versus is None else "#dd8452" for s in results]
    bars = axes[0][0].barh(names[::-1], values[::-1], color=colors[::-1])
    axes[0][0].bar_label(bars, fmt="%.3f", padding=3)
    axes[0][0].set_xlabel("nDCG@10")
    axes[0][0].set_xlim(0, min(1.0, max(values) * 1.25 + 0.01))
    axes[0][0].set_title(f"{title}: quality per stage")
    if reranked:
        axes[0][1].boxplot(
            [s.latency_ms for s in reranked],
            tick_labels=[textwrap.fill(s.name, 32) for s in reranked],
            orientation="horizontal",
        )
        axes[0][1].set_xlabel("rerank latency per query (ms)")
        axes[0][1].set_title("latency")
    if calibrated:
        _reliability_panel(axes[0][panels - 1], calibrated)
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
