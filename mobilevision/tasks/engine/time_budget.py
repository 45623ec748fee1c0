"""`--time`: how many epochs a run gets when it is given minutes rather than epochs."""

from __future__ import annotations

import math


def epochs_within(*, budget_seconds: float, elapsed_seconds: float, epochs_done: int) -> int:
    """The epochs done plus the whole epochs the rest of the budget holds at their mean time so far.

    Rounded down, so a run whose epochs keep their pace ends inside the budget (ultralytics'
    `time` rounds up and overruns it by up to an epoch). Never fewer than the epochs done: a spent
    budget ends the run after the current epoch.
    """
    if epochs_done < 1:
        raise ValueError(f"epochs_done must be at least 1 to know an epoch's time, got {epochs_done}")
    mean = max(elapsed_seconds / epochs_done, 1e-9)
    return epochs_done + max(0, math.floor((budget_seconds - elapsed_seconds) / mean))
