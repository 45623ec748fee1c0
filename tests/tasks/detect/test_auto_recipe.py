"""`detect train --recipe auto`: the choices from hand-made statistics (small objects -> a larger
input, a lower match IoU, fitted anchors), quick's values on the default built-in data, and a run's
args.yaml holding the choices with the flags given winning (a 1-epoch run at 96 px on 16 images)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.datasets.stats import SplitStats
from mobilevision.engine.config import config_from_options
from mobilevision.tasks.detect.auto_recipe import detect_choices
from mobilevision.tasks.detect.config import RECIPES, DetectTrainConfig

QUICK = RECIPES["quick"].config


def box_stats(relative_sizes: np.ndarray) -> SplitStats:
    """A split of square boxes of these sizes (fractions of the image side) in 400 px images."""
    return SplitStats("train", image_sizes=np.full((len(relative_sizes), 2), 400), relative_sizes=relative_sizes,
                      aspect_ratios=np.ones_like(relative_sizes), areas=(relative_sizes * 400) ** 2,
                      objects_per_image=np.ones(len(relative_sizes), dtype=np.int64))


def values(choices: dict) -> dict:
    return {name: choice.value for name, choice in choices.items()}


def test_small_objects_get_a_larger_input_a_lower_match_iou_and_fitted_anchors():
    small = box_stats(np.geomspace(0.03, 0.12, 200))
    chosen = values(detect_choices(small, minutes=15, start=QUICK))
    assert chosen["imgsz"] == 512  # 32 px for the 10th percentile needs ~900 px: the short budget's cap
    assert chosen["match_iou"] < QUICK.match_iou and chosen["anchors"] == "auto"
    assert chosen["batch"] < QUICK.batch and chosen["lr"] < QUICK.lr  # quick's pixels per step
    assert values(detect_choices(small, minutes=0, start=QUICK))["imgsz"] == 640  # no budget: the long cap


def test_large_objects_keep_the_quick_recipes_values():
    chosen = values(detect_choices(box_stats(np.geomspace(0.2, 0.8, 200)), minutes=15, start=QUICK))
    assert chosen == {"imgsz": QUICK.imgsz, "anchors": "auto", "match_iou": QUICK.match_iou, "batch": QUICK.batch,
                      "lr": QUICK.lr}


def test_given_imgsz_and_batch_are_what_the_other_choices_build_on():
    chosen = values(detect_choices(box_stats(np.geomspace(0.2, 0.8, 200)), minutes=15, start=QUICK, imgsz=96,
                                   batch=2))
    assert chosen["match_iou"] < QUICK.match_iou  # most boxes are under 32 px at 96 px
    assert chosen["lr"] == pytest.approx(QUICK.lr / 2, rel=1e-3)  # sqrt(2 / 8)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("synth"), images=100, workers=1)


def test_on_the_default_built_in_data_auto_stays_at_quick(synth):
    config = config_from_options(DetectTrainConfig, {"recipe": "auto", "data": str(synth)}, recipes=RECIPES)
    for name in ("imgsz", "match_iou", "batch", "lr", "width", "epochs", "optimizer"):
        assert getattr(config, name) == getattr(QUICK, name), name
    assert config.anchors == "auto" and config.time == 15.0


def test_choices_are_recorded_in_args_yaml_and_flags_given_win(tmp_path, capsys):
    data = generate_dataset(tmp_path / "synth", images=16, size=96, workers=1)
    assert main(["detect", "train", "--recipe", "auto", "--data", str(data), "--project", str(tmp_path / "runs"),
                 "--name", "auto", "--time", "0", "--epochs", "1", "--imgsz", "96", "--batch", "4", "--match-iou",
                 "0.45", "--workers", "0", "--device", "cpu"]) == 0
    log = capsys.readouterr().err
    assert "auto: --imgsz 96 as given (auto would take" in log and "auto: --anchors auto: fitted to the" in log
    assert "auto: --match-iou 0.45 as given (auto would take 0.3:" in log  # its boxes are under 32 px at 96 px
    args = yaml.safe_load((tmp_path / "runs" / "detect" / "auto" / "args.yaml").read_text())
    assert args["recipe"] == "auto"
    assert (args["imgsz"], args["batch"], args["match_iou"], args["time"]) == (96, 4, 0.45, 0.0)  # given
    assert args["anchors"] == "auto" and args["lr"] == pytest.approx(QUICK.lr / 2**0.5, rel=1e-2)  # chosen
