"""The multi-task model's `--recipe auto`: one network at one input size, so detection's choices
(input size for the small boxes, anchors, matching IoU, batch and learning rate) lead, and
segmentation adds the loss's hard-pixel share and class weights for rare classes; both from the
quick recipe's values."""

from __future__ import annotations

from collections.abc import Collection

from mobilevision.engine.config import TrainConfig
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.auto_recipe import apply_choices, training_stats
from mobilevision.tasks.detect.auto_recipe import box_choices
from mobilevision.tasks.multitask.model import task_list
from mobilevision.tasks.segment.auto_recipe import loss_choices


def auto_config(config: TrainConfig, *, start: TrainConfig, given: Collection[str]) -> TrainConfig:
    """The `auto` recipe's run: `config` (the recipe's values with the flags given on top) with the
    choices for its training data, --tasks and --time."""
    tasks = task_list(config.tasks)
    if "detect" not in tasks:
        raise MobileVisionError(f"--recipe auto chooses the multi-task model's input size from its boxes; --tasks "
                                f"{config.tasks} has no detect: use --recipe quick")
    choices = box_choices(config, start=start, given=given)
    if "segment" in tasks:
        # The joint view the model trains on: class weights follow its class order.
        masks = training_stats(config.data, task="joint")
        if masks.pixel_frequency and len(masks.pixel_frequency) > 1:
            choices.update(loss_choices(masks.pixel_frequency, start=start.top_k_pixels))
    return apply_choices(config, choices, given=given)
