"""The learning rate over a run: a linear warm-up, then a linear decay to zero, driven by the run's progress.

Progress is the larger of the share of steps taken and the share of the time limit spent, so a run that its
clock stops half-way through an epoch still ends with its rate decayed to zero (an annealed model) instead of
being cut off at half its peak rate; a run without a time limit follows its steps alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def rate_factor(progress: float, *, warmup: float) -> float:
    """The share of the peak rate at `progress` (0..1): up from 0 over `warmup`, then down to 0 at the end."""
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        return progress / warmup
    return max(0.0, (1.0 - progress) / (1.0 - warmup)) if warmup < 1 else 0.0


@dataclass
class Clock:
    """How far a run has come: by its steps (`steps` of `total_steps`) and, with a time limit, by its time.

    A resumed run starts from the progress it saved (`resumed_at`) and spreads the rest over its new limit.
    """

    total_steps: int
    time_limit_s: float | None = None
    resumed_at: float = 0.0
    steps: int = 0
    now: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.now()

    def progress(self) -> float:
        """The run's progress, 0..1: never less than where it resumed, its steps' share or its time's share."""
        by_steps = self.steps / max(self.total_steps, 1)
        by_time = 0.0
        if self.time_limit_s is not None and self.time_limit_s > 0:
            spent = (self.now() - self.started) / self.time_limit_s
            by_time = self.resumed_at + (1.0 - self.resumed_at) * spent
        return min(1.0, max(self.resumed_at, by_steps, by_time))
