"""`mobilevision multitask train|val|predict` end to end on the tiny built-in dataset (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mobilevision.cli import main
from tests.tasks.detect.test_cli import run_cli

TINY = ["--width", "0.5", "--imgsz", "96", "--batch", "4", "--workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory) -> Path:
    """The run folder of a 1-epoch run of all three heads, detection's loss weighted 0.5."""
    project = tmp_path_factory.mktemp("runs")
    assert main(["multitask", "train", "--data", str(synth), "--project", str(project), "--name", "run",
                 "--epochs", "1", "--detect-loss-weight", "0.5", *TINY]) == 0
    return project / "multitask" / "run"


def test_train_writes_a_run_whose_checkpoint_opens_with_weights_only(trained):
    for name in ("args.yaml", "results.csv", "weights/last.pt", "weights/best.pt", "confusion_matrix.png",
                 "PR_curve.png", "per_class_iou.png", "pixel_confusion_matrix.png"):
        assert (trained / name).is_file(), name
    checkpoint = torch.load(trained / "weights" / "last.pt", weights_only=True)
    assert checkpoint["task"] == "multitask" and checkpoint["model_kwargs"]["loss_weights"]["detect"] == 0.5
    assert checkpoint["model_kwargs"]["num_classes"] == {"classify": 7, "detect": 7, "segment": 7}
    header = (trained / "results.csv").read_text().splitlines()[0].split(",")
    assert {"loss_classify/classification", "loss_detect/bbox_regression", "loss_segment/segmentation",
            "classify/top1", "detect/mAP", "segment/miou", "score"} <= set(header)


def test_val_json_reports_every_task(trained, synth, tmp_path, capsys):
    out = run_cli(capsys, "multitask", "val", "--weights", str(trained / "weights" / "last.pt"), "--data", str(synth),
                  "--device", "cpu", "--workers", "0", "--project", str(tmp_path), "--json")
    metrics = json.loads(out)  # stdout holds the JSON and nothing else
    assert {"classify/top1", "classify/top5", "detect/mAP", "detect/mAP50", "segment/miou",
            "segment/pixel_accuracy", "score"} <= set(metrics) and metrics["images"] == 6
    saved = torch.load(trained / "weights" / "last.pt", weights_only=True)["metrics"]
    assert metrics["detect/mAP"] == pytest.approx(saved["detect/mAP"])
    assert metrics["segment/miou"] == pytest.approx(saved["segment/miou"])
    assert (tmp_path / "multitask" / "val" / "predictions.json").is_file()


def test_predict_draws_every_task(trained, synth, tmp_path, capsys):
    out = run_cli(capsys, "multitask", "predict", str(synth / "coco" / "val"), "--weights",
                  str(trained / "weights" / "last.pt"), "--device", "cpu", "--conf", "0.0", "--project",
                  str(tmp_path), "--json")
    results = json.loads(out)
    assert len(results) == 6
    for result in results:
        assert {"source", "size", "output", "top", "detections", "classes"} <= set(result)
        assert Path(result["output"]).is_file() and result["size"] == [128, 128]
        assert all(0 <= value <= 128 for detection in result["detections"] for value in detection["box"])
    assert json.loads((tmp_path / "multitask" / "predict" / "predictions.json").read_text()) == results


def test_coco_data_trains_detect_and_segment_and_refuses_classify(synth, tmp_path, capsys):
    assert main(["multitask", "train", "--data", str(synth / "coco"), "--project", str(tmp_path), "--epochs", "1",
                 *TINY]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "no classify labels" in error and "--tasks" in error


def test_loss_stride_is_checked_when_the_config_is_built():
    from mobilevision.errors import MobileVisionError
    from mobilevision.tasks.multitask.config import MultitaskTrainConfig

    with pytest.raises(MobileVisionError) as error:
        MultitaskTrainConfig(loss_stride=0)
    assert str(error.value) == "--loss-stride must be at least 1 (1: full resolution), got 0"
