"""The learning-rate schedule: warm-up then decay to zero, over the larger of the steps' and the time's progress."""

from __future__ import annotations

import pytest

from crossrank.training.schedule import Clock, rate_factor


def test_rate_rises_over_the_warm_up_then_falls_to_zero_at_the_end() -> None:
    assert rate_factor(0.0, warmup=0.1) == 0.0
    assert rate_factor(0.05, warmup=0.1) == pytest.approx(0.5)
    assert rate_factor(0.1, warmup=0.1) == pytest.approx(1.0)
    assert rate_factor(0.55, warmup=0.1) == pytest.approx(0.5)
    assert rate_factor(1.0, warmup=0.1) == 0.0
    assert rate_factor(1.7, warmup=0.1) == 0.0  # past the end: no negative rate
    assert rate_factor(0.0, warmup=0.0) == 1.0


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_without_a_time_limit_the_steps_alone_drive_the_progress() -> None:
    now = FakeTime()
    clock = Clock(total_steps=10, now=now)
    now.t += 10_000
    clock.steps = 4
    assert clock.progress() == pytest.approx(0.4)


def test_a_run_its_clock_stops_early_decays_by_the_time_spent() -> None:
    now = FakeTime()
    clock = Clock(total_steps=1000, time_limit_s=60.0, now=now)
    clock.steps = 10  # 1% of the steps
    now.t += 30
    assert clock.progress() == pytest.approx(0.5)
    now.t += 30
    assert clock.progress() == 1.0 and rate_factor(clock.progress(), warmup=0.1) == 0.0


def test_a_resumed_run_spreads_what_is_left_over_its_new_limit() -> None:
    now = FakeTime()
    clock = Clock(total_steps=1000, time_limit_s=100.0, resumed_at=0.5, steps=20, now=now)
    assert clock.progress() == 0.5  # never back below where it stopped
    now.t += 50
    assert clock.progress() == pytest.approx(0.75)
