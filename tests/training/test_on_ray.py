"""`crossrank adapt --ray`: teacher scores computed by Ray Data actors equal the ones computed here, alone and
fused with BM25 (which always runs here)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from crossrank.batch.rows import Workers
from crossrank.training.data import Group
from crossrank.training.teachers import neural_teacher, with_teacher_scores
from tests.tiny_models import CORPUS


def groups() -> list[Group]:
    """Nine groups over the test corpus: each line's first words as the query, that line as the positive."""
    return [
        Group(" ".join(line.split()[:3]), line, tuple(CORPUS[(k + j) % len(CORPUS)] for j in (1, 2, 3)), "toy")
        for k, line in enumerate(CORPUS[:9])
    ]


@pytest.mark.slow  # starts a local Ray (~20 s)
def test_teacher_scores_on_ray_equal_the_ones_scored_here(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from crossrank.training.on_ray import teacher_scores_on_ray

    here = neural_teacher("default")(groups(), lambda _: None)
    fused_here = with_teacher_scores(groups(), ["default", "bm25"], cache_dir=tmp_path / "here")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = functools.partial(
            teacher_scores_on_ray, workers=Workers(ray_address="local", actors=2), log=tmp_path / "ray.log"
        )
        there = on_ray(groups(), "default")
        fused_there = with_teacher_scores(groups(), ["default", "bm25"], cache_dir=tmp_path / "there", elsewhere=on_ray)
    finally:
        ray.shutdown()
    assert len(there) == len(here) == 9
    assert all(np.array_equal(a, b) for a, b in zip(here, there, strict=True))  # static int8: the same bits
    assert [g.teacher for g in fused_there] == [g.teacher for g in fused_here]
