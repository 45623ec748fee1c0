"""`demo live` and `demo web` take a multi-task checkpoint: one predictor whose frames cost one
backbone pass and come back with every task's results, as MultiTaskPredictor gives them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mobilevision.bench.cases import write_checkpoint
from mobilevision.cli import main
from mobilevision.demos.layout import lay_out
from mobilevision.demos.loading import load_predictor, load_predictors
from mobilevision.tasks.registry import build_model
from tests.demos.conftest import SHAPES, scene
from tests.demos.test_live import read_video

IMGSZ = 96
CLASS_NAMES = {"classify": ["background", *SHAPES], "detect": SHAPES, "segment": ["background", *SHAPES]}


@pytest.fixture(scope="module")
def multitask_checkpoint(tmp_path_factory) -> Path:
    """A seeded random-weight MobileNetV2 multi-task model with all three heads."""
    kwargs = {"width": 0.5, "imgsz": IMGSZ,
              "num_classes": {"classify": 4, "detect": len(SHAPES) + 1, "segment": len(SHAPES) + 1}}
    torch.manual_seed(0)
    model = build_model("multitask_mobilenet_v2", **kwargs)
    return write_checkpoint(model, tmp_path_factory.mktemp("multitask") / "mt.pt", model_name="multitask_mobilenet_v2",
                            model_kwargs=kwargs, task="multitask", class_names=CLASS_NAMES, imgsz=IMGSZ)


def test_one_backbone_pass_gives_every_task_at_the_frame_size(multitask_checkpoint):
    predictor = load_predictor(str(multitask_checkpoint), runtime="torch", device="cpu", min_conf=0.2)
    assert predictor.tasks == ("classify", "detect", "segment")
    assert predictor.class_names == CLASS_NAMES and "multitask" in predictor.name
    # Boxes below the lowest threshold the demo asks for are dropped before NMS, as for a detector.
    assert predictor.model.tasks["detect"].score_threshold == 0.2
    passes = []
    predictor.network.backbone.register_forward_hook(lambda *_: passes.append(1))
    results = predictor(scene(0), conf=0.2)
    assert len(passes) == 1
    assert results["classify"].shape == (4,) and results["segment"].shape == (480, 640)
    assert results["segment"].dtype == np.uint8 and results["segment"].max() <= len(SHAPES)
    boxes = results["detect"]["boxes"]
    assert (results["detect"]["scores"] >= 0.2).all() and ((boxes >= 0) & (boxes <= 640)).all()


def test_demo_live_draws_a_multitask_model_on_every_frame(multitask_checkpoint, video, tmp_path, capsys):
    out = tmp_path / "annotated.mp4"
    assert main(["demo", "live", "--source", str(video), "--weights", str(multitask_checkpoint), "--runtime", "torch",
                 "--save", str(out), "--no-window"]) == 0
    assert "8 frames" in capsys.readouterr().out
    inputs, outputs = read_video(video), read_video(out)
    assert len(outputs) == len(inputs) == 8
    # The scene of the laid-out frame (status above it, top classes and legend beside it).
    x0, y0, x1, y1 = lay_out(inputs[0], [], status=("status", "tasks")).regions["scene"]
    for source, shown in zip(inputs, (frame[y0:y1, x0:x1] for frame in outputs)):
        # The class map is blended over the whole scene.
        assert np.abs(shown.astype(np.int16) - source.astype(np.int16)).mean() > 5


def test_the_demo_draws_the_class_map_taken_at_the_input_size(multitask_checkpoint):
    """The demo's predictors (load_predictors) take the argmax at the 96 px input and scale the map
    to the frame; `predict`'s (load_predictor) resize the logits to the frame first. Both maps hold
    the frame's size, and the demo's is the input-size map scaled up by nearest neighbour."""
    (demo,) = load_predictors([str(multitask_checkpoint)], runtime="torch", device="cpu", log=lambda _: None)
    exact = load_predictor(str(multitask_checkpoint), runtime="torch", device="cpu")
    assert demo.maps_at_input and not exact.maps_at_input
    frame = scene(0)
    shown, saved = demo(frame, conf=0.5)["segment"], exact(frame, conf=0.5)["segment"]
    assert shown.shape == saved.shape == (480, 640) and shown.dtype == np.uint8
    at_input = exact(cv2.resize(frame, (IMGSZ, IMGSZ), interpolation=cv2.INTER_LINEAR), conf=0.5)["segment"]
    assert np.array_equal(shown, cv2.resize(at_input, (640, 480), interpolation=cv2.INTER_NEAREST))
