"""`--recipe auto`: what detection's and segmentation's choosers share. Each task decides in one pure
function (its auto_recipe.py: statistics + budget -> {option: Choice}); here are the training
split's statistics they read, the input-size rule, and how the choices become the run's config:
one printed line each, explicit flags winning."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.resolve import resolve_data
from mobilevision.datasets.stats import SplitStats, split_stats
from mobilevision.engine.config import TrainConfig, flag_name
from mobilevision.engine.distributed import dist_info

# Budgets up to this many minutes cap the input size at SHORT_BUDGET_MAX_SIZE (a 512 px step costs
# ~1.8x a 384 px one on a CPU), longer ones at LONG_BUDGET_MAX_SIZE; no budget (--time 0) too.
SHORT_BUDGET_MINUTES = 20.0
SHORT_BUDGET_MAX_SIZE = 512
LONG_BUDGET_MAX_SIZE = 640
SMALL_QUANTILE = 10  # the percentile of object sizes an input size is chosen for
# The smallest input a shrink chooses: the backbone's stride-32 grid is then 4x4 cells.
MIN_INPUT_SIZE = 128


@dataclass(frozen=True)
class Choice:
    """One option's value and the statistic behind it, as printed."""

    value: Any
    reason: str


def training_stats(data: str, *, task: str) -> SplitStats:
    """The training split's statistics of the view `task` reads (annotations and masks, no image decoded)."""
    return split_stats(resolve_data(data).view(task), split="train")


def split_images(data: str, *, task: str, split: str) -> int:
    """The number of images in a split of the view `task` reads (its annotations read, no image)."""
    return len(build_dataset(resolve_data(data).view(task), task=task, split=split))


def small_size(relative_sizes: np.ndarray) -> float:
    """The SMALL_QUANTILE-th percentile of sqrt(box area / image area): the small end of the objects,
    robust to a few specks."""
    return float(np.percentile(relative_sizes, SMALL_QUANTILE))


def size_cap(minutes: float) -> int:
    """The largest input size a budget of `minutes` affords on a CPU (0: no budget)."""
    return SHORT_BUDGET_MAX_SIZE if 0 < minutes <= SHORT_BUDGET_MINUTES else LONG_BUDGET_MAX_SIZE


def input_size_for(small: float, *, target_px: int, floor: int, minutes: float, shrink_px: int | None = None
                   ) -> Choice:
    """The input size at which an object of relative size `small` spans `target_px` pixels: never
    below `floor` (the size the quick recipe was tuned at), a multiple of 32, within the budget's cap.
    With `shrink_px`: where such objects span more than that at `floor`, the smallest size (down to
    MIN_INPUT_SIZE) at which they still span `shrink_px`, for more epochs within the budget."""
    if small * floor >= target_px:
        shrunk = max(MIN_INPUT_SIZE, 32 * math.ceil(shrink_px / small / 32)) if shrink_px else floor
        if shrunk < floor:
            return Choice(shrunk, f"{SMALL_QUANTILE}% of the objects are under {small:.3f} of the image side, "
                          f"{small * floor:.0f} px at {floor} px; {shrink_px} px needs only {shrunk} px: more epochs "
                          "in the budget")
        return Choice(floor, f"{SMALL_QUANTILE}% of the objects are under {small:.3f} of the image side, "
                      f"{small * floor:.0f} px at {floor} px: at least {target_px} px already")
    needed = 32 * math.ceil(target_px / small / 32)
    cap = size_cap(minutes)
    size = min(needed, cap)
    budget = f"a {minutes:g}-minute budget" if minutes > 0 else "no budget"
    return Choice(size, f"{SMALL_QUANTILE}% of the objects are under {small:.3f} of the image side, only "
                  f"{small * floor:.0f} px at {floor} px; {target_px} px needs {needed} px"
                  + (f", capped at {cap} for {budget} on a CPU" if needed > cap else ""))


def batch_and_lr(*, start: TrainConfig, side: int, batch: int | None = None, fixed: Choice | None = None
                 ) -> dict[str, Choice]:
    """Batch and learning rate for training crops of `side` px: the pixels per step of `start` (the
    quick recipe's), so a step takes about as long on a CPU, within 2 and twice its batch (or the
    `fixed` choice); the learning rate scaled by the square root of the batch (`batch` given: the
    user's), as suits AdamW, whose update is normalised per parameter."""
    pixels_batch = start.batch * (start.imgsz / side) ** 2
    chosen = fixed or Choice(min(max(2, round(pixels_batch)), 2 * start.batch),
                             f"{start.batch} x ({start.imgsz}/{side})^2 = {pixels_batch:.3g} within "
                             f"2-{2 * start.batch}: the quick recipe's pixels per step")
    trained = batch or chosen.value
    lr = float(f"{start.lr * math.sqrt(trained / start.batch):.3g}")
    return {"batch": chosen,
            "lr": Choice(lr, f"{start.lr:g} x sqrt({trained}/{start.batch}): the quick recipe's, square-root scaled "
                         "with the batch")}


def apply_choices(config: TrainConfig, choices: Mapping[str, Choice], *, given: Collection[str]) -> TrainConfig:
    """`config` with the choices of the options the user did not give, one line each on stderr
    (rank 0); a given flag wins and its line says so."""
    lines = []
    for name, choice in choices.items():
        if name in given:
            lines.append(f"auto: {flag_name(name)} {getattr(config, name)} as given (auto would take {choice.value}: "
                         f"{choice.reason})")
        else:
            lines.append(f"auto: {flag_name(name)} {choice.value}: {choice.reason}")
    if dist_info().is_main:
        print("\n".join(lines), file=sys.stderr, flush=True)  # stdout is for --json
    return dataclasses.replace(config, **{name: choice.value for name, choice in choices.items()
                                          if name not in given})
