"""`mobilevision detect train|val|predict` end to end on tiny data (in-process, width 0.5, 96 px):
run folder, val --json with the 12 COCO numbers, VOC07/VOC12 on VOC-form data, predictions.json,
predict on images of any kind and on a video, and hard annotations that must train."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mobilevision.cli import main
from mobilevision.datasets import generate_dataset
from mobilevision.tasks.detect.coco_eval import COCO_METRIC_NAMES

TINY = ["--width", "0.5", "--imgsz", "96", "--batch", "4", "--workers", "0", "--device", "cpu", "--lr", "0.05"]


def run_cli(capsys, *args: str) -> str:
    """stdout of `mobilevision *args` run in this process (exit code 0 asserted)."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    return captured.out


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth"), images=16, size=96, workers=1)


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory) -> Path:
    """weights/last.pt of a 1-epoch run on the built-in data (its COCO view)."""
    project = tmp_path_factory.mktemp("runs")
    assert main(["detect", "train", "--data", str(synth), "--project", str(project), "--name", "run",
                 "--epochs", "1", *TINY]) == 0
    return project / "detect" / "run"


def test_train_writes_run_folder_and_val_json_has_the_12_coco_numbers(trained, synth, tmp_path, capsys):
    for name in ("args.yaml", "results.csv", "results.png", "PR_curve.png", "weights/last.pt", "weights/best.pt"):
        assert (trained / name).is_file(), name
    checkpoint = torch.load(trained / "weights" / "last.pt", weights_only=True)
    assert checkpoint["task"] == "detect" and checkpoint["model_kwargs"]["num_classes"] == 7
    assert "mAP" in (trained / "results.csv").read_text().splitlines()[0]

    out = run_cli(capsys, "detect", "val", "--weights", str(trained / "weights" / "last.pt"), "--data", str(synth),
                  "--device", "cpu", "--workers", "0", "--project", str(tmp_path), "--json")
    metrics = json.loads(out)  # stdout holds the JSON and nothing else
    assert set(COCO_METRIC_NAMES) <= set(metrics) and metrics["images"] == 3
    assert metrics["mAP"] == pytest.approx(checkpoint["metrics"]["mAP"])
    assert list(metrics["per_class_AP"]) == checkpoint["class_names"]
    results = json.loads((tmp_path / "detect" / "val" / "predictions.json").read_text())
    assert results and {"image_id", "category_id", "bbox", "score"} == set(results[0])
    assert (tmp_path / "detect" / "val" / "PR_curve.png").is_file()
    shown = run_cli(capsys, "detect", "val", "--weights", str(trained / "weights" / "last.pt"), "--data", str(synth),
                    "--device", "cpu", "--workers", "0", "--project", str(tmp_path)).splitlines()
    assert shown[1].split() == ["class", "instances", "AP50", "AP"]
    first = metrics["per_class_AP"][checkpoint["class_names"][0]]
    assert shown[2].split()[:2] == [checkpoint["class_names"][0], str(first["instances"])]


def test_val_on_voc_form_data_adds_voc07_and_voc12(trained, synth, tmp_path, capsys):
    out = run_cli(capsys, "detect", "val", "--weights", str(trained / "weights" / "last.pt"), "--data",
                  str(synth / "voc"), "--device", "cpu", "--workers", "0", "--project", str(tmp_path), "--json")
    metrics = json.loads(out)
    assert 0.0 <= metrics["voc07_mAP"] <= 1.0 and 0.0 <= metrics["voc12_mAP"] <= 1.0 and "mAP" in metrics


def test_predict_takes_grayscale_rgba_huge_images_and_video(trained, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(images / "gray.png"), rng.integers(0, 255, (70, 90), dtype=np.uint8))
    cv2.imwrite(str(images / "rgba.png"), rng.integers(0, 255, (80, 60, 4), dtype=np.uint8))
    huge = np.full((3000, 4000, 3), 90, dtype=np.uint8)
    cv2.circle(huge, (2000, 1500), 900, (20, 200, 240), thickness=-1)
    cv2.imwrite(str(images / "huge.jpg"), huge)
    out = run_cli(capsys, "detect", "predict", str(images), "--weights", str(trained / "weights" / "last.pt"),
                  "--device", "cpu", "--conf", "0.0", "--project", str(tmp_path), "--json")
    results = {Path(r["source"]).name: r for r in json.loads(out)}
    assert results["huge.jpg"]["size"] == [4000, 3000] and results["gray.png"]["size"] == [90, 70]
    boxes = np.array([d["box"] for d in results["huge.jpg"]["detections"]])
    assert len(boxes) and boxes[:, 2].max() <= 4000 and boxes[:, 3].max() <= 3000 and boxes[:, 2].max() > 96
    run = tmp_path / "detect" / "predict"
    assert cv2.imread(str(run / "huge.jpg")).shape == (3000, 4000, 3)
    assert cv2.imread(str(run / "rgba.jpg")).shape == (80, 60, 3)
    assert len(json.loads((run / "detections.json").read_text())) == 3

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 96))
    for _ in range(5):
        writer.write(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    writer.release()
    run_cli(capsys, "detect", "predict", str(video), "--weights", str(trained / "weights" / "last.pt"),
            "--device", "cpu", "--project", str(tmp_path), "--name", "video")
    capture = cv2.VideoCapture(str(tmp_path / "detect" / "video" / "clip.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5 and int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 128


def _hard_coco(root: Path) -> Path:
    """A COCO tree whose train and val splits hold: an image with no boxes, one with 300 boxes,
    one with crowd regions and one with boxes of a few pixels."""
    rng = np.random.default_rng(1)
    images, annotations = [], []

    def add(image_id: int, boxes: list, crowd: bool = False) -> None:
        for x, y, w, h in boxes:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1 + len(annotations) % 2,
                                "bbox": [float(x), float(y), float(w), float(h)], "area": float(w * h),
                                "iscrowd": int(crowd)})

    for image_id, width, height in ((1, 96, 96), (2, 128, 96), (3, 96, 80), (4, 96, 96)):
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "width": width, "height": height})
    add(2, [(x, y, 6, 5) for x in range(0, 120, 6) for y in range(0, 90, 6)])  # 20 x 15 = 300 boxes
    add(3, [(10, 10, 40, 30)])
    add(3, [(50, 40, 40, 35), (0, 0, 30, 30)], crowd=True)
    add(4, [(5, 5, 2, 2), (40, 40, 3, 1), (60, 20, 1, 4), (70, 70, 20, 20)])
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        for image in images:
            pixels = rng.integers(0, 255, (image["height"], image["width"], 3), dtype=np.uint8)
            cv2.imwrite(str(root / split / image["file_name"]), pixels)
    (root / "annotations").mkdir()
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": 1, "name": "thing"}, {"id": 7, "name": "other"}]}
    for split in ("train", "val"):
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(document))
    return root


def test_empty_crowded_crowd_and_tiny_boxes_train_and_evaluate(tmp_path, capsys):
    data = _hard_coco(tmp_path / "coco")
    out = run_cli(capsys, "detect", "train", "--data", str(data), "--project", str(tmp_path), "--name", "hard",
                  "--epochs", "2", *TINY, "--json")
    metrics = json.loads(out)
    assert set(COCO_METRIC_NAMES) <= set(metrics) and all(np.isfinite(list(metrics.values())))
    run_cli(capsys, "detect", "val", "--weights", str(tmp_path / "detect" / "hard" / "weights" / "last.pt"),
            "--data", str(data), "--device", "cpu", "--workers", "0", "--project", str(tmp_path), "--json")
    results = json.loads((tmp_path / "detect" / "val" / "predictions.json").read_text())
    assert {r["category_id"] for r in results} <= {1, 7}  # the dataset's own category ids


def test_user_errors_are_one_line(synth, tmp_path, capsys):
    assert main(["detect", "train", "--data", str(tmp_path / "missing"), "--project", str(tmp_path), *TINY]) == 2
    assert main(["detect", "train", "--data", str(synth), "--model", "mobilenet_v2", "--project", str(tmp_path),
                 *TINY]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "no such folder" in errors[0] and "detect needs" in errors[1]


def test_auxiliary_segmentation_trains_on_coco_form_data_and_is_refused_without_masks(synth, tmp_path, capsys):
    """--aux-segment: the built-in data's class maps train the extra head, whose loss is logged; the
    checkpoint reloads for val; VOC-form data (no instance masks) and a negative weight are user errors."""
    run_cli(capsys, "detect", "train", "--data", str(synth), "--project", str(tmp_path), "--name", "aux",
            "--epochs", "1", *TINY, "--aux-segment", "0.5")
    run = tmp_path / "detect" / "aux"
    assert "loss_aux_segment" in (run / "results.csv").read_text().splitlines()[0]
    checkpoint = torch.load(run / "weights" / "last.pt", weights_only=True)
    assert checkpoint["model_kwargs"]["aux_segment_classes"] == 7  # background + the 6 shapes
    out = run_cli(capsys, "detect", "val", "--weights", str(run / "weights" / "last.pt"), "--data", str(synth),
                  "--device", "cpu", "--workers", "0", "--project", str(tmp_path), "--json")
    assert json.loads(out)["mAP"] == pytest.approx(checkpoint["metrics"]["mAP"])

    for data, weight in ((synth / "voc", "0.5"), (synth, "-1")):
        assert main(["detect", "train", "--data", str(data), "--project", str(tmp_path), *TINY,
                     "--aux-segment", weight]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "lacks" in errors[0] and "-1" in errors[1], errors


def test_fine_tune_from_imagenet_backbone_with_frozen_batchnorm(synth, tmp_path, capsys):
    """--weights-backbone loads a torchvision mobilenet_v2 file into the backbone; with --freeze-bn
    its BatchNorm statistics come out of training unchanged."""
    import torchvision

    from mobilevision.engine.weights import load_backbone_weights
    from mobilevision.tasks.detect.model import build_ssdlite

    torch.manual_seed(0)
    imagenet = torchvision.models.mobilenet_v2(width_mult=0.5)
    for module in imagenet.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)  # statistics a run would visibly change
    torch.save(imagenet.state_dict(), tmp_path / "imagenet.pth")
    run_cli(capsys, "detect", "train", "--data", str(synth), "--project", str(tmp_path), "--name", "fine",
            "--epochs", "1", *TINY, "--weights-backbone", str(tmp_path / "imagenet.pth"), "--freeze-bn", "--json")
    expected = build_ssdlite(width=0.5, num_classes=7).backbone
    load_backbone_weights(expected, str(tmp_path / "imagenet.pth"))
    state = torch.load(tmp_path / "detect" / "fine" / "weights" / "last.pt", weights_only=True)["state_dict"]
    for key, value in expected.state_dict().items():
        if key.endswith("running_mean"):
            torch.testing.assert_close(state[f"backbone.{key}"], value)


def test_torchrun_val_gathers_every_image_and_matches_one_process(trained, synth, tmp_path, capsys):
    """Two ranks each evaluate a shard (3 val images: 2 + 1); the gathered COCO numbers equal one process's."""
    import os
    import subprocess
    import sys

    weights = str(trained / "weights" / "last.pt")
    args = ["detect", "val", "--weights", weights, "--data", str(synth), "--device", "cpu", "--workers", "0",
            "--batch", "2", "--project", str(tmp_path), "--json"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "mobilevision.cli", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    distributed = json.loads(result.stdout)
    single = json.loads(run_cli(capsys, *args))
    assert distributed["images"] == single["images"] == 3
    for name in COCO_METRIC_NAMES:
        assert distributed[name] == pytest.approx(single[name], abs=1e-6), name
