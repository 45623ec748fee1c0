"""`--time`: how many steps, and so epochs, a run gets when it is given minutes rather than epochs, and
the pace its first steps set, from which a run says up front what its budget will reach."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


def steps_within(*, budget_seconds: float, elapsed_seconds: float, steps_done: int) -> int:
    """The steps done plus the whole steps the rest of the budget holds at their mean time so far.

    The mean counts everything the run spent (validation too), so the run ends inside the budget
    at its pace so far; the last epoch is cut short where the budget ends rather than dropped
    whole (rounding to whole epochs left up to an epoch of the budget unused) or run past it
    (ultralytics' `time` rounds up and overruns by up to an epoch). Never fewer than the steps
    done: a spent budget ends the run where it is.
    """
    if steps_done < 1:
        raise ValueError(f"steps_done must be at least 1 to know a step's time, got {steps_done}")
    mean = max(elapsed_seconds / steps_done, 1e-9)
    return steps_done + max(0, math.floor((budget_seconds - elapsed_seconds) / mean))


# A run states its speed after these steps of its process: the first ones build oneDNN kernels and
# grow the allocator (several times a later step's time), the next ones are the run's pace.
PACE_WARMUP_STEPS = 5
PACE_STEPS = 20


@dataclass(frozen=True)
class Pace:
    """A run's training speed over its first steps (data waits included) and an epoch's size."""

    images_per_s: float
    images_per_epoch: int

    def epochs_in(self, minutes: float) -> float:
        return 60 * minutes * self.images_per_s / self.images_per_epoch

    def minutes_for(self, epochs: float) -> float:
        return epochs * self.images_per_epoch / self.images_per_s / 60


def budget_line(pace: Pace, *, minutes: float) -> str:
    """What a `--time` budget reaches at `pace`: a run's up-front estimate."""
    return (f"--time {minutes:g}: {pace.images_per_s:.1f} images/s over the first steps, so the budget trains about "
            f"{pace.epochs_in(minutes):.1f} epochs of {pace.images_per_epoch} images (validation not counted; the "
            "schedule is re-sized as the run goes)")


class PaceProbe:
    """Times the steps after the first `warmup` of a process, from the end of one step to the end of
    the last (so the loader's waits count), and hands `report` their images/s once."""

    def __init__(self, *, report: Callable[[float], None], warmup: int, steps: int) -> None:
        self.report, self.warmup, self.steps = report, warmup, steps
        self.done, self.images, self.started = 0, 0, 0.0

    def step_done(self, *, images: int) -> None:
        self.done += 1
        if self.done == self.warmup:
            self.started = time.perf_counter()
        elif self.done > self.warmup:
            self.images += images
            if self.done == self.warmup + self.steps:
                self.report(self.images / max(time.perf_counter() - self.started, 1e-9))
