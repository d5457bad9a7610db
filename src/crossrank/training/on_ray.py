"""Teacher scores on Ray Data (`crossrank adapt --ray`): the pseudo-query groups as rows of a dataset mapped by a
pool of actors, each loading its teacher once; the scores come back in the groups' order. BM25 stays local (its
term statistics need all passages at once)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.batch.on_ray import ray_session
from crossrank.batch.rows import Workers
from crossrank.errors import MissingExtra
from crossrank.training.data import Group
from crossrank.training.teachers import neural_teacher


class _TeacherActor:
    """A Ray Data actor: loads one teacher, then scores batches of groups."""

    def __init__(self, teacher: str) -> None:
        self.score = neural_teacher(teacher)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        groups = [
            Group(str(query), str(positive), tuple(str(n) for n in negatives), "ray")
            for query, positive, negatives in zip(batch["query"], batch["positive"], batch["negatives"], strict=True)
        ]
        return {"row": batch["row"], "scores": np.stack(self.score(groups, lambda _: None))}


def teacher_scores_on_ray(groups: Sequence[Group], teacher: str, *, workers: Workers, log: Path) -> list[np.ndarray]:
    """`teacher`'s scores of every group, computed by `workers.actors` Ray actors (a local Ray for "local",
    else the cluster at `workers.ray_address`); Ray's own messages go to `log`."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtra("ray", "ray", "ray") from exc
    rows = [
        {"row": i, "query": g.query, "positive": g.positive, "negatives": list(g.negatives)}
        for i, g in enumerate(groups)
    ]
    scores: list[np.ndarray | None] = [None] * len(groups)
    with ray_session(ray, workers.ray_address, log=log):
        mapped = ray.data.from_items(rows).map_batches(
            _TeacherActor,
            fn_constructor_kwargs={"teacher": teacher},
            batch_size=64,
            compute=ray.data.ActorPoolStrategy(size=workers.actors),
            num_cpus=workers.cpus_per_actor,
        )
        for row in mapped.iter_rows():
            scores[int(row["row"])] = np.asarray(row["scores"], dtype=np.float64)
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        raise RuntimeError(f"Ray finished without the scores of groups {missing[:5]}")
    return [s for s in scores if s is not None]
