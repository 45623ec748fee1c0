"""`--time`: how many steps, and so epochs, a run gets when it is given minutes rather than epochs."""

from __future__ import annotations

import math


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
