"""`multitask train --recipe auto`: detection's choices lead the one network's input size, anchors
are fitted into the checkpoint's detect head, segmentation adds its hard-pixel share and, for
sparse objects, class weights in the joint view's class order; the choices land in args.yaml with
the flags given winning (a 1-epoch run at 64 px on 24 generated images)."""

from __future__ import annotations

import pytest
import torch
import yaml

from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.datasets.synth.options import SceneOptions
from mobilevision.engine.config import config_from_options
from mobilevision.heads.segmentation_loss import class_balance_weights
from mobilevision.tasks.auto_recipe import training_stats
from mobilevision.tasks.multitask.config import RECIPES, MultitaskTrainConfig

QUICK = RECIPES["quick"].config


def test_choices_are_recorded_fitted_anchors_kept_and_flags_given_win(tmp_path, capsys):
    data = generate_dataset(tmp_path / "synth", images=24, size=64, workers=1)
    assert main(["multitask", "train", "--recipe", "auto", "--data", str(data), "--project", str(tmp_path / "runs"),
                 "--name", "auto", "--time", "0", "--epochs", "1", "--imgsz", "64", "--top-k-pixels", "0.5",
                 "--workers", "0", "--device", "cpu", "--amp", "off"]) == 0
    log = capsys.readouterr().err
    assert "auto: --imgsz 64 as given (auto would take" in log and "auto: --top-k-pixels 0.5 as given" in log
    assert "anchors: best possible recall" in log and "anchors auto: scales" in log
    run = tmp_path / "runs" / "multitask" / "auto"
    args = yaml.safe_load((run / "args.yaml").read_text())
    assert (args["recipe"], args["imgsz"], args["top_k_pixels"]) == ("auto", 64, 0.5)  # given
    # Chosen: at 64 px every box is under two finest strides, so matching loosens; quick's pixels per
    # step at 64 px would be 128 images, capped at twice its batch, the lr square-root scaled.
    assert args["match_iou"] == 0.3 and args["batch"] == 2 * QUICK.batch
    assert args["lr"] == pytest.approx(QUICK.lr * 2**0.5, rel=1e-2)
    recorded = torch.load(run / "weights" / "last.pt", weights_only=True)["model_kwargs"]["ssdlite"]
    assert recorded["anchors"] == "auto"
    assert (recorded["anchor_min_scale"], recorded["anchor_max_scale"]) != (QUICK.anchor_min_scale,
                                                                            QUICK.anchor_max_scale)


def test_without_the_detect_head_auto_is_refused_in_one_line(tmp_path, capsys):
    data = generate_dataset(tmp_path / "synth", images=8, size=64, workers=1)
    assert main(["multitask", "train", "--recipe", "auto", "--data", str(data), "--tasks", "classify,segment",
                 "--project", str(tmp_path / "runs"), "--device", "cpu"]) == 2
    assert "has no detect: use --recipe quick" in capsys.readouterr().err


def test_sparse_objects_get_class_weights_in_the_joint_views_order(tmp_path):
    data = generate_dataset(tmp_path / "synth", images=12, size=160, workers=1,
                            options=SceneOptions(object_size=(0.05, 0.1), classes=3))
    config = config_from_options(MultitaskTrainConfig, {"recipe": "auto", "data": str(data)}, recipes=RECIPES)
    shares = training_stats(str(data), task="joint").pixel_frequency
    assert list(shares) == ["background", "circle", "rectangle", "triangle"] and shares["background"] > 0.95
    assert [float(w) for w in config.class_weights.split(",")] == pytest.approx(
        class_balance_weights(list(shares.values()), power=0.5), rel=1e-3)
    assert config.top_k_pixels == 1.0
