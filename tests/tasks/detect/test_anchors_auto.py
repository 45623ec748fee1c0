"""`detect train --anchors auto`: the anchors fitted at the start are the checkpoint's, and `val`
rebuilds them (a 1-epoch run at 96 px on 16 generated images)."""

from __future__ import annotations

import json

import pytest
import torch

from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.datasets.box_records import annotated_boxes, input_boxes
from mobilevision.datasets.build import build_dataset
from mobilevision.heads.anchor_fit import fit_anchors
from mobilevision.heads.anchors import box_shapes, parse_aspect_ratios
from mobilevision.tasks.registry import load_checkpoint

TINY = ["--width", "0.5", "--imgsz", "96", "--batch", "4", "--workers", "0", "--device", "cpu", "--epochs", "1"]


def test_fitted_anchors_are_recorded_and_rebuilt_by_val(tmp_path, capsys):
    data = generate_dataset(tmp_path / "synth", images=16, size=96, workers=1)
    assert main(["detect", "train", "--data", str(data), "--project", str(tmp_path / "runs"), "--name", "auto",
                 "--anchors", "auto", *TINY]) == 0
    log = capsys.readouterr().err
    assert "anchors: best possible recall" in log and "anchors auto: scales" in log

    weights = tmp_path / "runs" / "detect" / "auto" / "weights" / "last.pt"
    recorded = torch.load(weights, weights_only=True)["model_kwargs"]["ssdlite"]
    boxes = input_boxes(annotated_boxes(build_dataset(data, task="detect", split="train")), size=96)
    model, _ = load_checkpoint(weights)
    fit = fit_anchors(boxes, layout="tf", min_scale=0.2, max_scale=0.95, aspect_ratios=None, strides=model.strides,
                      image_size=(96, 96), match_iou=0.5)
    assert recorded["anchors"] == "auto"
    assert (recorded["anchor_min_scale"], recorded["anchor_max_scale"]) == (fit.min_scale, fit.max_scale)
    assert parse_aspect_ratios(recorded["anchor_aspect_ratios"]) == fit.aspect_ratios
    fitted_shapes = box_shapes("tf", min_scale=fit.min_scale, max_scale=fit.max_scale,
                               aspect_ratios=fit.aspect_ratios)
    assert fitted_shapes != box_shapes("tf")
    assert model.anchor_generator.shapes == fitted_shapes  # the model rebuilt from the checkpoint

    capsys.readouterr()
    assert main(["detect", "val", "--weights", str(weights), "--data", str(data), "--device", "cpu", "--workers", "0",
                 "--project", str(tmp_path), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    checkpoint_metrics = torch.load(weights, weights_only=True)["metrics"]
    assert metrics["mAP"] == pytest.approx(checkpoint_metrics["mAP"])
