"""`segment train --recipe auto`: the choices from hand-made statistics (small objects -> a larger
input cropped to quick's size, large ones a smaller input; a rare class -> the loss over fewer,
harder pixels; sparse objects -> class weights, and crops on them; non-square images -> the longer
side; a costly validation -> fewer of them), quick's values
on the default built-in data, and a run's args.yaml holding the choices with the flags given winning
(a 1-epoch run at 64 px on 16 images)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.datasets.stats import SplitStats
from mobilevision.engine.config import config_from_options
from mobilevision.heads.segmentation_loss import class_balance_weights
from mobilevision.tasks.segment.auto_recipe import segment_choices
from mobilevision.tasks.segment.config import RECIPES, SegmentTrainConfig

QUICK = RECIPES["quick"].config
VAL_IMAGES = 1  # against mask_stats' 10 training images: validation ~4% of an epoch, every epoch
BALANCED = {"background": 0.7, "circle": 0.1, "square": 0.1, "star": 0.1}


def mask_stats(pixel_frequency: dict[str, float], relative_sizes: np.ndarray | None = None, *,
               image_sizes: np.ndarray | None = None) -> SplitStats:
    sizes = np.full((10, 2), 320) if image_sizes is None else image_sizes
    return SplitStats("train", image_sizes=sizes, relative_sizes=relative_sizes, pixel_frequency=pixel_frequency)


def values(choices: dict) -> dict:
    return {name: choice.value for name, choice in choices.items()}


def test_small_objects_get_a_larger_input_cropped_to_quicks_size():
    chosen = values(segment_choices(mask_stats(BALANCED, np.geomspace(0.03, 0.12, 200)), val_images=VAL_IMAGES, minutes=15, start=QUICK))
    assert chosen["imgsz"] > QUICK.imgsz and chosen["crop"] == QUICK.imgsz
    assert (chosen["batch"], chosen["lr"]) == (QUICK.batch, QUICK.lr)  # the same pixels per step


def test_a_rare_class_gets_the_loss_over_the_hardest_pixels():
    rare = {"background": 0.7, "circle": 0.2, "square": 0.09, "star": 0.01}
    assert values(segment_choices(mask_stats(rare), val_images=VAL_IMAGES, minutes=15, start=QUICK))["top_k_pixels"] < QUICK.top_k_pixels
    absent = {"background": 0.8, "circle": 0.1, "square": 0.1, "star": 0.0}
    assert values(segment_choices(mask_stats(absent), val_images=VAL_IMAGES, minutes=15, start=QUICK))["top_k_pixels"] < QUICK.top_k_pixels


def test_objects_on_few_pixels_get_class_weights_over_every_pixel():
    speckled = {"background": 0.995, "circle": 0.002, "square": 0.0015, "star": 0.0015}
    chosen = values(segment_choices(mask_stats(speckled), val_images=VAL_IMAGES, minutes=15, start=QUICK))
    assert chosen["top_k_pixels"] == 1.0
    weights = [float(w) for w in chosen["class_weights"].split(",")]
    assert weights == pytest.approx(class_balance_weights(list(speckled.values()), power=0.5), rel=1e-3)
    assert weights[0] < 1 < weights[1] < weights[2] == weights[3]  # background down, the rarer objects most
    assert values(segment_choices(mask_stats(BALANCED), val_images=VAL_IMAGES, minutes=15, start=QUICK))["class_weights"] == ""


def test_sparse_objects_get_small_crops_each_placed_on_one():
    """10% of the objects over 0.104 of the side, 50 px at the 480 px chosen: 2.5x that in crops of
    128 px, each on an object, at quick's batch; dense objects keep quick's random 256 px crops."""
    speckled = {"background": 0.995, "circle": 0.002, "square": 0.0015, "star": 0.0015}
    small = np.geomspace(0.03, 0.12, 200)
    chosen = values(segment_choices(mask_stats(speckled, small), val_images=VAL_IMAGES, minutes=15, start=QUICK))
    assert (chosen["imgsz"], chosen["crop"], chosen["object_crops"]) == (480, 128, 1.0)
    assert (chosen["batch"], chosen["lr"]) == (QUICK.batch, QUICK.lr)
    dense = values(segment_choices(mask_stats(BALANCED, small), val_images=VAL_IMAGES, minutes=15, start=QUICK))
    assert (dense["crop"], dense["object_crops"]) == (QUICK.imgsz, 0.0)
    # A --crop given: crops on objects at quick's batch all the same; its lr follows a given batch.
    given = values(segment_choices(mask_stats(speckled, small), val_images=VAL_IMAGES, minutes=15, start=QUICK,
                                   crop=200, batch=64))
    assert (given["object_crops"], given["batch"], given["lr"]) == (1.0, QUICK.batch, 2 * QUICK.lr)
    # No boxes to size the objects, whole images: nothing to place.
    assert values(segment_choices(mask_stats(speckled), val_images=VAL_IMAGES, minutes=15,
                                  start=QUICK))["object_crops"] == 0.0


@pytest.mark.parametrize("val_images, period", [(30, 1), (60, 1), (100, 4), (1300, 42)])
def test_validation_is_spread_to_about_a_twentieth_of_training(val_images, period):
    """1000 training crops of 256 px, validation at --imgsz 512 (4x the pixels an image, 0.4x the cost a
    pixel): an image's validation costs 0.0016 of an epoch's training. 30 images (4.8%) and 60
    (9.6%) validate every epoch; 100 (16%) every ceil(16 / 5) = 4; 1300 (208%) every 42."""
    stats = mask_stats(BALANCED, np.geomspace(0.03, 0.12, 200), image_sizes=np.full((1000, 2), 320))
    chosen = values(segment_choices(stats, val_images=val_images, minutes=15, start=QUICK, imgsz=512))
    assert chosen["val_period"] == period


def test_non_square_images_are_trained_at_their_validation_scale():
    square = np.array([[320, 320]] * 9 + [[300, 400]])  # 1 in 10 longer than 1.1:1
    assert values(segment_choices(mask_stats(BALANCED, image_sizes=square), val_images=VAL_IMAGES, minutes=15, start=QUICK))[
        "resize"] == "shorter"
    mixed = np.array([[320, 320]] * 8 + [[200, 400], [400, 250]])
    assert values(segment_choices(mask_stats(BALANCED, image_sizes=mixed), val_images=VAL_IMAGES, minutes=15, start=QUICK))[
        "resize"] == "longer"


def test_objects_of_the_quick_recipes_size_keep_its_values():
    # 10% under 0.11 of the side: 28 px at 256, as the default built-in data's; None: no boxes to measure.
    for sizes in (np.geomspace(0.1, 0.6, 200), None):
        chosen = values(segment_choices(mask_stats(BALANCED, sizes), val_images=VAL_IMAGES, minutes=15, start=QUICK))
        assert chosen == {"imgsz": QUICK.imgsz, "crop": None, "resize": QUICK.resize,
                          "object_crops": QUICK.object_crops, "top_k_pixels": QUICK.top_k_pixels,
                          "class_weights": QUICK.class_weights, "batch": QUICK.batch, "lr": QUICK.lr,
                          "val_period": QUICK.val_period}


def test_large_objects_get_a_smaller_input_for_more_epochs():
    """10% of the objects under 0.229 of the side: 59 px at 256, 28 px (the default data's at 256)
    at 128; the batch takes quick's pixels per step up to twice its batch."""
    chosen = values(segment_choices(mask_stats(BALANCED, np.geomspace(0.2, 0.8, 200)), val_images=VAL_IMAGES, minutes=15, start=QUICK))
    assert (chosen["imgsz"], chosen["crop"], chosen["batch"]) == (128, None, 2 * QUICK.batch)
    huge = values(segment_choices(mask_stats(BALANCED, np.geomspace(0.7, 1.0, 200)), val_images=VAL_IMAGES, minutes=15, start=QUICK))
    assert huge["imgsz"] == 128  # never below MIN_INPUT_SIZE


def test_on_the_default_built_in_data_auto_stays_at_quick(tmp_path):
    data = generate_dataset(tmp_path / "synth", images=100, workers=1)
    config = config_from_options(SegmentTrainConfig, {"recipe": "auto", "data": str(data)}, recipes=RECIPES)
    for name in ("imgsz", "crop", "resize", "object_crops", "top_k_pixels", "class_weights", "batch", "lr",
                 "val_period", "width", "epochs", "optimizer"):
        assert getattr(config, name) == getattr(QUICK, name), name
    assert config.time == 15.0


def test_choices_are_recorded_in_args_yaml_and_flags_given_win(tmp_path, capsys):
    data = generate_dataset(tmp_path / "synth", images=16, size=64, workers=1)
    assert main(["segment", "train", "--recipe", "auto", "--data", str(data), "--project", str(tmp_path / "runs"),
                 "--name", "auto", "--time", "0", "--epochs", "1", "--imgsz", "64", "--top-k-pixels", "0.75",
                 "--workers", "0", "--device", "cpu"]) == 0
    log = capsys.readouterr().err
    assert "auto: --imgsz 64 as given (auto would take" in log and "auto: --crop None: whole 64 px images" in log
    assert "auto: --top-k-pixels 0.75 as given" in log
    args = yaml.safe_load((tmp_path / "runs" / "segment" / "auto" / "args.yaml").read_text())
    assert args["recipe"] == "auto"
    assert (args["imgsz"], args["top_k_pixels"], args["time"]) == (64, 0.75, 0.0)  # given
    assert args["crop"] is None and args["batch"] == 2 * QUICK.batch  # chosen: quick's pixels per step, capped
    assert args["lr"] == pytest.approx(QUICK.lr * 2**0.5, rel=1e-2)
