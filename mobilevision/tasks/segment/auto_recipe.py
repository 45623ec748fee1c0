"""Segmentation's `--recipe auto`: input size, crop, the hard-pixel share of the loss, batch and
learning rate chosen from the training masks and boxes and the time budget, starting from the quick
recipe's values."""

from __future__ import annotations

from collections.abc import Collection

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

# Two cells of the decoder's stride-8 grid: a smaller object is a blur of one or two logits.
SMALL_OBJECT_PX = 16
# A foreground class with under this fraction of the mean foreground class's mask pixels is rare
# (2.5x rarer; the default data's rarest holds ~0.7 of the mean, as its shapes' areas differ): the
# loss then averages only the hardest quarter of the pixels, which a rare class's errors fill, not
# the quick recipe's half (segmentation_loss.py; the loss has no per-class weights).
RARE_CLASS_SHARE = 0.4
RARE_CLASS_TOP_K = 0.25
# Where the objects hold little of the image, the mean over half the pixels is background's: a
# 10-minute run on objects of 0.5% of the pixels learnt to call every pixel background (mIoU 0.142,
# docs/experiments.md). The loss then averages the hardest pixels, FOREGROUND_TOP_K_FACTOR times as
# many as the foreground ones (so that at least one in that many is an object's), never fewer than
# MIN_TOP_K of them. (On that data a 10-minute run on one thread still learnt only background with
# it: the loss was still falling.)
FOREGROUND_TOP_K_FACTOR = 4
MIN_TOP_K = 0.02


def segment_choices(stats: SplitStats, *, minutes: float, start: TrainConfig, imgsz: int | None = None,
                    batch: int | None = None) -> dict[str, Choice]:
    """{option: Choice} for a segmenter trained on the split `stats` describes (mask pixel shares,
    the first class background; object sizes where the data has boxes) within `minutes`, from the
    values of `start` (the quick recipe's). `imgsz` and `batch` given: the user's, which
    the other choices then build on."""
    if stats.relative_sizes is not None and len(stats.relative_sizes):
        size = input_size_for(small_size(stats.relative_sizes), target_px=SMALL_OBJECT_PX, floor=start.imgsz,
                              minutes=minutes)
    else:
        size = Choice(start.imgsz, "no boxes in the annotations to measure object sizes: the quick recipe's")
    trained_size = imgsz or size.value
    if trained_size > start.imgsz:
        crop = Choice(start.imgsz, f"{start.imgsz} px crops of the {trained_size} px images: the quick recipe's "
                      "pixels per step, at the finer scale")
    else:
        crop = Choice(None, f"whole {trained_size} px images, as the quick recipe")
    return {
        "imgsz": size,
        "crop": crop,
        "top_k_pixels": hard_pixels(stats.pixel_frequency, start=start.top_k_pixels),
        **batch_and_lr(start=start, side=crop.value or trained_size, batch=batch),
    }


def hard_pixels(pixel_frequency: dict[str, float], *, start: float) -> Choice:
    """top_k_pixels from the foreground's share of the mask pixels (the first class is background)
    and the foreground classes' shares."""
    foreground = dict(list(pixel_frequency.items())[1:])
    objects = sum(foreground.values())
    if objects and FOREGROUND_TOP_K_FACTOR * objects < min(start, RARE_CLASS_TOP_K):
        top_k = float(f"{max(MIN_TOP_K, FOREGROUND_TOP_K_FACTOR * objects):.3g}")
        return Choice(top_k, f"the objects hold {objects:.2%} of the mask pixels: the loss over the hardest "
                      f"{top_k:g} of them, {FOREGROUND_TOP_K_FACTOR}x the objects' share (at least {MIN_TOP_K:g}), "
                      "not mostly background")
    rarest = min(foreground, key=foreground.get)
    if not foreground[rarest]:
        return Choice(min(start, RARE_CLASS_TOP_K), f"'{rarest}' has no pixels in the training masks: the loss over "
                      "the hardest pixels only")
    mean = sum(foreground.values()) / len(foreground)
    shares = (f"'{rarest}' holds {foreground[rarest]:.2%} of the mask pixels, {foreground[rarest] / mean:.2f} of "
              f"the mean foreground class's {mean:.2%}")
    if foreground[rarest] < RARE_CLASS_SHARE * mean:
        return Choice(min(start, RARE_CLASS_TOP_K), f"{shares}, under {RARE_CLASS_SHARE:g}: the loss over the "
                      "hardest pixels only, which a rare class's errors fill")
    return Choice(start, f"{shares}, at least {RARE_CLASS_SHARE:g}: the quick recipe's")


def auto_config(config: TrainConfig, *, start: TrainConfig, given: Collection[str]) -> TrainConfig:
    """The `auto` recipe's run: `config` (the recipe's values with the flags given on top) with the
    choices for its training data and --time."""
    stats = training_stats(config.data, task="segment")
    if not stats.pixel_frequency or len(stats.pixel_frequency) < 2:
        raise MobileVisionError(f"--recipe auto: --data {config.data} has no training masks to choose from")
    choices = segment_choices(stats, minutes=config.time, start=start,
                              imgsz=config.imgsz if "imgsz" in given else None,
                              batch=config.batch if "batch" in given else None)
    return apply_choices(config, choices, given=given)
