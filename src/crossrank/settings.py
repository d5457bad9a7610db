"""A `Reranker`'s settings as plain data (`ModelSettings`), and what a report says of a loaded one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crossrank.cascade import AUTO
from crossrank.engine import Aggregate
from crossrank.types import LongDocuments

if TYPE_CHECKING:
    from crossrank.reranker import Reranker


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """A `Reranker`'s settings as plain data: every argument of `Reranker.__init__`, and what a worker process, a
    Ray actor or a server replica builds its own reranker from (a loaded model cannot travel between processes;
    these can). The CLI's model options fill one (`tests/test_settings.py` checks that no knob is missing)."""

    model: str | None = None
    backend: str | None = None
    max_length: int | None = None
    batch_size: int = 32
    token_budget: int | None = None
    threads: int | None = None
    cache_dir: str | None = None
    long_documents: LongDocuments = "truncate"
    window_overlap: int = 64
    aggregate: Aggregate = "max"
    cascade_keep: int | None = None
    cascade_model: str | None = AUTO
    cascade_length: int | None = None
    calibration: str | None = None
    cache_size: int | None = None

    def load(self) -> Reranker:
        from crossrank.reranker import Reranker

        return Reranker(
            self.model,
            backend=self.backend,
            max_length=self.max_length,
            batch_size=self.batch_size,
            token_budget=self.token_budget,
            threads=self.threads,
            cache_dir=self.cache_dir,
            long_documents=self.long_documents,
            window_overlap=self.window_overlap,
            aggregate=self.aggregate,
            cascade_keep=self.cascade_keep,
            cascade_model=self.cascade_model,
            cascade_length=self.cascade_length,
            calibration=self.calibration,
            cache_size=self.cache_size,
        )


def reranker_settings(reranker: Reranker | None) -> dict[str, object]:
    """What shapes a reranker's scores, for reports: model, folder, backend, window, long documents, cascade."""
    if reranker is None:
        return dict.fromkeys(("model", "model_path", "backend", "max_length", "long_documents", "cascade"))
    cascade = reranker.cascade
    return {
        "model": reranker.spec.name,
        "model_path": reranker.spec.path,
        "backend": reranker.backend.name,
        "max_length": reranker.spec.max_length,
        "long_documents": "truncate" if reranker.window_overlap is None else "window",
        "cascade": None
        if cascade is None
        else {
            "keep": cascade.keep,
            "model": reranker.spec.name if cascade.scorer is None else cascade.scorer.spec.name,
            "length": cascade.encoder.max_length,
        },
    }
