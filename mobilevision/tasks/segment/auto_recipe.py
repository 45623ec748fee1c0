"""Segmentation's `--recipe auto`: input size, crop, the side scaled to it, crops on objects, the
loss's hard-pixel share and class weights, batch, learning rate and how often to validate chosen
from the training masks, boxes and image sizes, the validation split's size and the time budget,
starting from the quick recipe's values."""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np

from mobilevision.datasets.stats import SplitStats
from mobilevision.engine.config import TrainConfig
from mobilevision.errors import MobileVisionError
from mobilevision.heads.segmentation_loss import class_balance_weights
from mobilevision.tasks.auto_recipe import (
    Choice,
    apply_choices,
    batch_and_lr,
    input_size_for,
    small_size,
    split_images,
    training_stats,
)

# Two cells of the decoder's stride-8 grid: a smaller object is a blur of one or two logits.
SMALL_OBJECT_PX = 16
# The quick recipe's data (the default built-in set) has 10% of its objects under 0.109 of the
# image side: 28 px at its 256 px. Data whose objects are larger is scaled down until they span as
# many pixels, for more epochs within the budget: on objects of 0.24-0.95 of the side a 10-minute
# run at 128 px reached mIoU 0.376, at 256 px 0.213 (same slot; docs/experiments.md).
TUNED_OBJECT_PX = 28
# A foreground class with under this fraction of the mean foreground class's mask pixels is rare
# (2.5x rarer; the default data's rarest holds ~0.7 of the mean, as its shapes' areas differ): the
# loss then averages only the hardest quarter of the pixels, which a rare class's errors fill, not
# the quick recipe's half (segmentation_loss.py).
RARE_CLASS_SHARE = 0.4
RARE_CLASS_TOP_K = 0.25
# Where the objects hold under this share of the mask pixels, the mean over half the pixels is
# background's: a 10-minute run on objects of 0.5% of the pixels learnt to call every pixel
# background, as did one averaging only the hardest 2% (mIoU 0.142, docs/experiments.md). The loss
# then weighs each class by ENet's 1 / ln(1.02 + share) over every pixel instead, square-rooted: at
# ENet's full ~30x the objects' classes took 1.3% of the background pixels, and with every crop on
# an object the run reached 0.209; at ~6x, 0.228 (pixel accuracy 0.986 against 0.993; another slot).
SPARSE_FOREGROUND = 0.0625
CLASS_WEIGHT_POWER = 0.5
# Validation scales an image's longer side to --imgsz, training (as torchvision's references) its
# shorter side: an object in a 2:1 image is trained at twice the size it is validated at. Where over
# this share of the training images are further from square than NON_SQUARE, training scales the
# longer side too.
NON_SQUARE = 1.1
NON_SQUARE_SHARE = 0.1
# Crops on sparse objects: this many times the 90th percentile of their sizes, at least
# MIN_OBJECT_CROP px. On objects of 0.5% of the pixels (90% under 44 px at 512 px) 10-minute runs
# reached mIoU 0.307 with 128 px crops at quick's batch 16, 0.279 with 96 px crops, 0.247 with 128 px
# at batch 32 and 0.209 with quick's 256 px (docs/experiments.md).
OBJECT_CROP_CONTEXT = 2.5
MIN_OBJECT_CROP = 64
# Validating an input pixel costs about this share of training on one (forward only, no loss or
# backward: 20 s for 200 val images at 512 px against 83 s for 1296 crops of 256 px, one thread).
VAL_COST_PER_PIXEL = 0.4
# Validation is spread to cost about this share of the training time: every epoch where it does.
VAL_SHARE = 0.05


def segment_choices(stats: SplitStats, *, val_images: int, minutes: float, start: TrainConfig,
                    imgsz: int | None = None, crop: int | None = None, batch: int | None = None
                    ) -> dict[str, Choice]:
    """{option: Choice} for a segmenter trained on the split `stats` describes (mask pixel shares,
    the first class background; object sizes where the data has boxes) and validated on `val_images`
    images within `minutes`, from the values of `start` (the quick recipe's). `imgsz`, `crop` and
    `batch` given: the user's, which the other choices then build on."""
    if stats.relative_sizes is not None and len(stats.relative_sizes):
        size = input_size_for(small_size(stats.relative_sizes), target_px=SMALL_OBJECT_PX, floor=start.imgsz,
                              minutes=minutes, shrink_px=TUNED_OBJECT_PX)
    else:
        size = Choice(start.imgsz, "no boxes in the annotations to measure object sizes: the quick recipe's")
    trained_size = imgsz or size.value
    objects = foreground_share(stats.pixel_frequency)
    crop_choice = crop_for(stats.relative_sizes, trained_size=trained_size, sparse=objects < SPARSE_FOREGROUND,
                           start=start)
    side = min(crop or crop_choice.value or trained_size, trained_size)
    on_objects = object_crops(objects, cropped=side < trained_size)
    fixed_batch = Choice(start.batch, "crops on objects: the quick recipe's batch, as many objects a step as its "
                         "crops and more steps than its pixels per step would give") if on_objects.value else None
    return {
        "imgsz": size,
        "crop": crop_choice,
        "resize": resize_side(stats.image_sizes),
        "object_crops": on_objects,
        **loss_choices(stats.pixel_frequency, start=start.top_k_pixels),
        **batch_and_lr(start=start, side=side, batch=batch, fixed=fixed_batch),
        "val_period": validation_period(train_images=len(stats.image_sizes), val_images=val_images,
                                        val_size=trained_size, train_size=side),
    }


def foreground_share(pixel_frequency: dict[str, float]) -> float:
    """The objects' share of the mask pixels (every class but the first, background)."""
    return sum(list(pixel_frequency.values())[1:])


def crop_for(relative_sizes: np.ndarray | None, *, trained_size: int, sparse: bool, start: TrainConfig) -> Choice:
    """The training crop: for sparse objects (placed on one, object_crops) OBJECT_CROP_CONTEXT times
    the 90th percentile of their sizes, a multiple of 32 within MIN_OBJECT_CROP and the quick
    recipe's size; else the quick recipe's size where the input grows past it; else whole images."""
    if sparse and relative_sizes is not None and len(relative_sizes):
        large_px = float(np.percentile(relative_sizes, 90)) * trained_size
        side = min(max(MIN_OBJECT_CROP, 32 * math.ceil(OBJECT_CROP_CONTEXT * large_px / 32)), start.imgsz)
        if side < trained_size:
            return Choice(side, f"sparse objects, 90% under {large_px:.0f} px at {trained_size} px: crops of "
                          f"{OBJECT_CROP_CONTEXT:g}x that, each placed on one, hold an object and its surroundings")
    if trained_size > start.imgsz:
        return Choice(start.imgsz, f"{start.imgsz} px crops of the {trained_size} px images: the quick recipe's "
                      "pixels per step, at the finer scale")
    return Choice(None, f"whole {trained_size} px images, as the quick recipe")


def object_crops(objects: float, *, cropped: bool) -> Choice:
    """The share of training crops placed on an object, from the objects' share of the mask pixels:
    all of them where crops are cut and the objects are sparse (a random crop of such data most
    often holds none: on objects of 0.5% of the pixels, crops of a quarter of the image, a 10-minute
    run reached mIoU 0.198 with every crop on an object, 0.182 with half, 0.175 with none;
    docs/experiments.md)."""
    if cropped and objects < SPARSE_FOREGROUND:
        return Choice(1.0, f"the objects hold {objects:.2%} of the mask pixels, under {SPARSE_FOREGROUND:g}: "
                      "every crop holds one (where the image has any)")
    return Choice(0.0, "whole images" if not cropped else
                  f"the objects hold {objects:.2%} of the mask pixels: random crops, as the quick recipe")


def validation_period(*, train_images: int, val_images: int, val_size: int, train_size: int) -> Choice:
    """Validate every N-th epoch (and the first and the last), N such that validation costs about
    VAL_SHARE of the training time, from the images' counts and their sides in pixels."""
    share = VAL_COST_PER_PIXEL * val_images * val_size**2 / max(1, train_images * train_size**2)
    period = max(1, math.ceil(share / VAL_SHARE - 1e-9)) if share > 2 * VAL_SHARE else 1
    reason = (f"validation ~{share:.0%} of an epoch's time ({val_images} images at {val_size} px against "
              f"{train_images} at {train_size} px, {VAL_COST_PER_PIXEL:g}x the cost per pixel)")
    if period == 1:
        return Choice(1, f"{reason}: every epoch, as the quick recipe")
    return Choice(period, f"{reason}: every {period} epochs, the first and the last, for ~{VAL_SHARE:.0%}")


def resize_side(image_sizes: np.ndarray) -> Choice:
    """The side of a training image scaled to --imgsz, from the images' (I, 2) heights and widths."""
    if not len(image_sizes):
        return Choice("shorter", "no training images to measure: the quick recipe's")
    elongation = image_sizes.max(axis=1) / image_sizes.min(axis=1)
    share = float((elongation > NON_SQUARE).mean())
    if share > NON_SQUARE_SHARE:
        return Choice("longer", f"{share:.0%} of the training images are longer than {NON_SQUARE:g}:1 (the 90th "
                      f"percentile {np.percentile(elongation, 90):.2f}:1): scaled as validation scales them, so "
                      "objects are trained at the size they are validated at")
    return Choice("shorter", f"{share:.0%} of the training images are longer than {NON_SQUARE:g}:1: the quick "
                  "recipe's")


def loss_choices(pixel_frequency: dict[str, float], *, start: float) -> dict[str, Choice]:
    """top_k_pixels and class_weights from the classes' shares of the mask pixels (the first class
    is background), `start` the quick recipe's top_k_pixels."""
    foreground = dict(list(pixel_frequency.items())[1:])
    objects = foreground_share(pixel_frequency)
    unweighted = Choice("", "every class weighs 1, as the quick recipe")
    if objects and objects < SPARSE_FOREGROUND:
        weights = class_balance_weights(list(pixel_frequency.values()), power=CLASS_WEIGHT_POWER)
        return {"top_k_pixels": Choice(1.0, f"the objects hold {objects:.2%} of the mask pixels, under "
                                       f"{SPARSE_FOREGROUND:g}: the mean over every pixel, weighted by class"),
                "class_weights": Choice(",".join(f"{w:g}" for w in weights), "the square root of ENet's "
                                        "1 / ln(1.02 + share): "
                                        f"background {weights[0]:g}, the objects {min(weights[1:]):g}-"
                                        f"{max(weights[1:]):g}")}
    rarest = min(foreground, key=foreground.get)
    if not foreground[rarest]:
        return {"top_k_pixels": Choice(min(start, RARE_CLASS_TOP_K), f"'{rarest}' has no pixels in the training "
                                       "masks: the loss over the hardest pixels only"),
                "class_weights": unweighted}
    mean = sum(foreground.values()) / len(foreground)
    shares = (f"'{rarest}' holds {foreground[rarest]:.2%} of the mask pixels, {foreground[rarest] / mean:.2f} of "
              f"the mean foreground class's {mean:.2%}")
    if foreground[rarest] < RARE_CLASS_SHARE * mean:
        top_k = Choice(min(start, RARE_CLASS_TOP_K), f"{shares}, under {RARE_CLASS_SHARE:g}: the loss over the "
                       "hardest pixels only, which a rare class's errors fill")
    else:
        top_k = Choice(start, f"{shares}, at least {RARE_CLASS_SHARE:g}: the quick recipe's")
    return {"top_k_pixels": top_k, "class_weights": unweighted}


def auto_config(config: TrainConfig, *, start: TrainConfig, given: Collection[str]) -> TrainConfig:
    """The `auto` recipe's run: `config` (the recipe's values with the flags given on top) with the
    choices for its training data and --time."""
    stats = training_stats(config.data, task="segment")
    if not stats.pixel_frequency or len(stats.pixel_frequency) < 2:
        raise MobileVisionError(f"--recipe auto: --data {config.data} has no training masks to choose from")
    choices = segment_choices(stats, val_images=split_images(config.data, task="segment", split="val"),
                              minutes=config.time, start=start,
                              imgsz=config.imgsz if "imgsz" in given else None,
                              crop=config.crop if "crop" in given else None,
                              batch=config.batch if "batch" in given else None)
    return apply_choices(config, choices, given=given)
