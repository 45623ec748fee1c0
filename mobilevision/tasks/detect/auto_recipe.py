"""Detection's `--recipe auto`: input size, anchors, matching IoU, batch and learning rate chosen
from the training boxes and the time budget, starting from the quick recipe's values."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from mobilevision.datasets.stats import SplitStats
from mobilevision.engine.config import TrainConfig
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.auto_recipe import (
    Choice,
    apply_choices,
    batch_and_lr,
    input_size_for,
    small_size,
    training_stats,
)

FINEST_STRIDE = 16  # SSDLite's first feature map (both backbones)
# Twice the finest stride: a box of this side lies at most a quarter of itself from an anchor centre,
# where TF's 32 px anchors still reach IoU 0.39 (docs/training.md, "Anchors and the training boxes").
SMALL_BOX_PX = 2 * FINEST_STRIDE
SMALL_BOX_SHARE = 0.10  # above this share of boxes under SMALL_BOX_PX, matching is loosened
SMALL_BOX_MATCH_IOU = 0.3


def detect_choices(stats: SplitStats, *, minutes: float, start: TrainConfig, imgsz: int | None = None,
                   batch: int | None = None) -> dict[str, Choice]:
    """{option: Choice} for a detector trained on the split `stats` describes (at least one box)
    within `minutes`, from the values of `start` (the quick recipe's). `imgsz` and `batch` given: the
    user's, which the other choices then build on."""
    boxes = len(stats.relative_sizes)
    size = input_size_for(small_size(stats.relative_sizes), target_px=SMALL_BOX_PX, floor=start.imgsz,
                          minutes=minutes)
    trained_size = imgsz or size.value
    small_share = float(np.mean(stats.relative_sizes * trained_size < SMALL_BOX_PX))
    if small_share > SMALL_BOX_SHARE:
        match = Choice(SMALL_BOX_MATCH_IOU, f"{small_share:.0%} of the boxes are under {SMALL_BOX_PX} px at "
                       f"{trained_size} px (over {SMALL_BOX_SHARE:.0%}): more anchors match a small box")
    else:
        match = Choice(start.match_iou, f"{small_share:.0%} of the boxes are under {SMALL_BOX_PX} px at "
                       f"{trained_size} px (at most {SMALL_BOX_SHARE:.0%}): the quick recipe's")
    ratios = np.percentile(stats.aspect_ratios, [5, 95])
    anchors = Choice("auto", f"fitted to the {boxes} training boxes when training starts (relative size median "
                     f"{np.median(stats.relative_sizes):.3f}, aspect ratio 5-95% {ratios[0]:.2f}-{ratios[1]:.2f})")
    return {
        "imgsz": size,
        "anchors": anchors,
        "match_iou": match,
        **batch_and_lr(start=start, side=trained_size, batch=batch),
    }


def box_choices(config: TrainConfig, *, start: TrainConfig, given: Collection[str]) -> dict[str, Choice]:
    """detect_choices for the training boxes of config.data and its --time, the user's --imgsz and
    --batch built on where given; the multi-task recipe's too."""
    stats = training_stats(config.data, task="detect")
    if stats.relative_sizes is None or not len(stats.relative_sizes):
        raise MobileVisionError(f"--recipe auto: --data {config.data} has no training boxes to choose from")
    return detect_choices(stats, minutes=config.time, start=start,
                          imgsz=config.imgsz if "imgsz" in given else None,
                          batch=config.batch if "batch" in given else None)


def auto_config(config: TrainConfig, *, start: TrainConfig, given: Collection[str]) -> TrainConfig:
    """The `auto` recipe's run: `config` (the recipe's values with the flags given on top) with the
    choices for its training data and --time."""
    return apply_choices(config, box_choices(config, start=start, given=given), given=given)
