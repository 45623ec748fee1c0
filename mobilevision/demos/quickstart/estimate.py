"""What the quickstart's training will reach, said once its first steps have set the pace."""

from __future__ import annotations

import math
import sys

from tqdm import tqdm

from mobilevision.engine.config import TrainConfig
from mobilevision.engine.time_budget import Pace

GOALS = "top-1 0.9, mAP@.5 0.8, mIoU 0.75"
# The recipe met all three goals in 4 epochs of the default 7600 training images (the 2-core EPYC's
# 10.5 minutes); the Xeon's 2 and 3 epochs did not (docs/experiments.md, "The quickstart").
GOAL_EPOCHS, GOAL_EPOCH_IMAGES = 4, 7600


def estimate_lines(pace: Pace, *, minutes: float | None, epochs: int | None) -> list[str]:
    """Two lines: what `minutes` of training (or `epochs` given instead) come to at `pace`, and
    whether that reaches the goals, else the `--epochs` that do and how long they take. On another
    dataset size the goals' epochs are those that see as many images."""
    speed = f"{pace.images_per_s:.1f} images/s measured over the first steps"
    if minutes is not None:
        planned = pace.epochs_in(minutes)
        first = (f"{speed}: the {minutes:g}-minute budget trains about {planned:.1f} epochs of "
                 f"{pace.images_per_epoch} images")
    else:
        planned = epochs
        first = f"{speed}: {epochs} epochs of {pace.images_per_epoch} images take about {pace.minutes_for(epochs):.0f} min"
    needed = math.ceil(GOAL_EPOCHS * GOAL_EPOCH_IMAGES / pace.images_per_epoch)
    took = f"the goals ({GOALS}) took {GOAL_EPOCHS} epochs of the default {GOAL_EPOCH_IMAGES} training images"
    if planned >= needed:
        return [first, f"{took}: this should reach them"]
    short = (f"{took}, so expect less; `mobilevision quickstart --epochs {needed}` reaches them in about "
             f"{pace.minutes_for(needed):.0f} min of training at this speed")
    return [first, short]


def announce(pace: Pace, *, config: TrainConfig) -> None:
    """estimate_lines for the run `config` trains (its --time, else its epochs), on stdout above the
    progress bar."""
    budget = config.time > 0
    for line in estimate_lines(pace, minutes=config.time if budget else None, epochs=None if budget else config.epochs):
        tqdm.write(line, file=sys.stdout)
