"""`mobilevision multitask assemble`: heads trained on one frozen backbone combine without training;
anything else is refused in one line that names the checkpoints."""

from __future__ import annotations

import json

import torch

from mobilevision.cli import main
from tests.tasks.detect.test_cli import run_cli

TINY = ["--width", "0.5", "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu", "--epochs", "1"]


def _refused(capsys, *weights) -> str:
    capsys.readouterr()
    assert main(["multitask", "assemble", "--weights", *map(str, weights), "--out", "unused.pt"]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    return error


def test_heads_trained_on_a_frozen_backbone_assemble(synth, tmp_path, capsys):
    runs = tmp_path / "runs"
    run_cli(capsys, "classify", "train", "--data", str(synth), "--project", str(runs), "--name", "cls", *TINY)
    backbone = str(runs / "classify" / "cls" / "weights" / "last.pt")
    frozen = ["--weights-backbone", backbone, "--freeze-backbone"]
    # A detector's own NMS IoU goes with it: the assembled model must reproduce its mAP below.
    run_cli(capsys, "detect", "train", "--data", str(synth), "--project", str(runs), "--name", "det", *frozen, *TINY,
            "--nms-iou", "0.45")
    run_cli(capsys, "segment", "train", "--data", str(synth), "--project", str(runs), "--name", "seg",
            "--output-stride", "32", *frozen, *TINY)
    weights = [backbone, *(str(runs / task / name / "weights" / "last.pt")
                           for task, name in (("detect", "det"), ("segment", "seg")))]
    out = tmp_path / "mt.pt"
    result = json.loads(run_cli(capsys, "multitask", "assemble", "--weights", *weights, "--out", str(out), "--json"))
    assert result["tasks"] == ["classify", "detect", "segment"]
    checkpoint = torch.load(out, weights_only=True)
    assert set(checkpoint["class_names"]) == {"classify", "detect", "segment"}
    assert checkpoint["model_kwargs"]["ssdlite"]["nms_iou"] == 0.45
    metrics = json.loads(run_cli(capsys, "multitask", "val", "--weights", str(out), "--data", str(synth),
                                 "--device", "cpu", "--workers", "0", "--project", str(runs), "--json"))
    # The detector's and segmenter's own numbers, on the same images at their size.
    assert metrics["detect/mAP"] == checkpoint["metrics"]["detect/mAP"]
    assert metrics["segment/miou"] == checkpoint["metrics"]["segment/miou"]


def test_different_backbones_are_refused(task_checkpoints, tmp_path, capsys):
    _, paths = task_checkpoints
    changed = torch.load(paths["detect"], weights_only=True)
    changed["state_dict"]["backbone.blocks.3.project.0.weight"] += 0.01
    other = tmp_path / "other_det.pt"
    torch.save(changed, other)
    error = _refused(capsys, paths["classify"], other, paths["segment"])
    assert str(paths["classify"]) in error and str(other) in error and "backbone" in error


def test_a_segmenter_at_output_stride_16_is_refused(task_checkpoints, tmp_path, capsys):
    _, paths = task_checkpoints
    changed = torch.load(paths["segment"], weights_only=True)
    changed["model_kwargs"]["output_stride"] = 16
    other = tmp_path / "os16.pt"
    torch.save(changed, other)
    error = _refused(capsys, paths["classify"], other)
    assert str(other) in error and "--output-stride 32" in error


def test_two_checkpoints_of_one_task_are_refused(task_checkpoints, capsys):
    _, paths = task_checkpoints
    error = _refused(capsys, paths["detect"], paths["detect"])
    assert "both detect checkpoints" in error
