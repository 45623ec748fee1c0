"""What the quickstart's training will reach, said once its first steps have set the pace."""

from __future__ import annotations

import sys

from tqdm import tqdm

from mobilevision.engine.config import TrainConfig
from mobilevision.engine.time_budget import Pace

GOALS = "top-1 0.9, mAP@.5 0.8, mIoU 0.75"
# Epochs of the recipe that met all three goals: 4 on the 2-core EPYC's 10.5 minutes; the Xeon's 2
# and 3 epochs did not (docs/experiments.md, "The quickstart").
GOAL_EPOCHS = 4


def estimate_lines(pace: Pace, *, minutes: float | None, epochs: int | None) -> list[str]:
    """Two lines: what `minutes` of training (or `epochs` given instead) come to at `pace`, and
    whether that reaches the goals, else the `--epochs` that do and how long they take."""
    speed = f"{pace.images_per_s:.1f} images/s measured over the first steps"
    if minutes is not None:
        planned = pace.epochs_in(minutes)
        first = (f"{speed}: the {minutes:g}-minute budget trains about {planned:.1f} epochs of "
                 f"{pace.images_per_epoch} images")
    else:
        planned = epochs
        first = f"{speed}: {epochs} epochs of {pace.images_per_epoch} images take about {pace.minutes_for(epochs):.0f} minutes"
    if planned >= GOAL_EPOCHS:
        return [first, f"the goals ({GOALS}) took {GOAL_EPOCHS} epochs: this should reach them"]
    short = (f"the goals ({GOALS}) took {GOAL_EPOCHS} epochs, so expect less; `mobilevision quickstart --epochs "
             f"{GOAL_EPOCHS}` reaches them in about {pace.minutes_for(GOAL_EPOCHS):.0f} minutes of training at this speed")
    return [first, short]


def announce(pace: Pace, *, config: TrainConfig) -> None:
    """estimate_lines for the run `config` trains (its --time, else its epochs), on stdout above the
    progress bar."""
    budget = config.time > 0
    for line in estimate_lines(pace, minutes=config.time if budget else None, epochs=None if budget else config.epochs):
        tqdm.write(line, file=sys.stdout)
