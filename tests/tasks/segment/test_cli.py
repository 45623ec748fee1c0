"""`mobilevision segment train|val|predict` end to end, in subprocesses, on a tiny built-in dataset:
run folder contents, val --json, predictions at the input's own size (odd, grayscale, RGBA, video),
the COCO view, masks with invalid values, all-ignore crops and one-line user errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mobilevision.datasets import generate_dataset
from mobilevision.datasets.image_io import encode_label_png, read_label_mask

TINY = ["--width", "0.35", "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu", "--lr", "0.02"]


def mobilevision(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "mobilevision.cli", *args], capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def train(data: Path, project: Path, name: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    return mobilevision("segment", "train", "--data", str(data), "--project", str(project), "--name", name, *TINY,
                        *extra, check=check)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """16 scenes of 96 px: 13 train, 3 val (all three views)."""
    return generate_dataset(tmp_path_factory.mktemp("synth") / "data", images=16, size=96, workers=1)


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("runs")
    train(synth, project, "run", "--epochs", "2")
    return project / "segment" / "run"


def test_train_writes_run_folder_and_val_json_agrees(trained, synth, tmp_path):
    for name in ("args.yaml", "results.csv", "results.png", "per_class_iou.png", "pixel_confusion_matrix.png",
                 "weights/last.pt", "weights/best.pt"):
        assert (trained / name).is_file(), name
    header = (trained / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["epoch", "lr", "loss"] and {"miou", "pixel_accuracy"} <= set(header)
    checkpoint = torch.load(trained / "weights" / "last.pt", weights_only=True)
    assert checkpoint["task"] == "segment" and checkpoint["class_names"][0] == "background"
    assert checkpoint["preprocessing"]["input_size"] == 64 and len(checkpoint["preprocessing"]["mean"]) == 3
    assert checkpoint["args"]["schedule"] == "poly"

    result = mobilevision("segment", "val", "--weights", str(trained / "weights" / "last.pt"), "--data", str(synth),
                          "--device", "cpu", "--workers", "0", "--project", str(tmp_path), "--json")
    metrics = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert metrics["miou"] == pytest.approx(checkpoint["metrics"]["miou"])
    assert 0.0 <= metrics["pixel_accuracy"] <= 1.0 and metrics["images"] == 3
    assert list(metrics["per_class_iou"]) == checkpoint["class_names"]
    assert (tmp_path / "segment" / "val" / "per_class_iou.png").is_file()
    assert (tmp_path / "segment" / "val" / "pixel_confusion_matrix.png").is_file()

    multiscale = json.loads(mobilevision("segment", "val", "--weights", str(trained / "weights" / "last.pt"), "--data",
                                         str(synth), "--device", "cpu", "--workers", "0", "--project", str(tmp_path),
                                         "--multiscale", "--json").stdout)
    assert 0.0 <= multiscale["miou"] <= 1.0


def test_predict_keeps_each_input_size_and_annotates_a_video(trained, tmp_path):
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    colour = rng.integers(0, 255, (97, 131, 3), dtype=np.uint8)
    cv2.imwrite(str(images / "odd.png"), colour)
    cv2.imwrite(str(images / "gray.png"), colour[..., 0])
    cv2.imwrite(str(images / "rgba.png"), np.dstack([colour, np.full((97, 131), 128, np.uint8)]))
    cv2.imwrite(str(images / "large.jpg"), rng.integers(0, 255, (1203, 1601, 3), dtype=np.uint8))
    weights = str(trained / "weights" / "best.pt")
    results = json.loads(mobilevision("segment", "predict", str(images), "--weights", weights, "--device", "cpu",
                                      "--project", str(tmp_path), "--json").stdout)
    assert len(results) == 4
    for result in results:
        width, height = result["size"]
        mask = Image.open(result["mask"])
        assert mask.mode == "P" and mask.size == (width, height)
        assert cv2.imread(result["overlay"]).shape[:2] == (height, width)
        assert read_label_mask(result["mask"]).max() < 7 and sum(result["classes"].values()) == pytest.approx(1, 1e-3)
    assert {tuple(result["size"]) for result in results} == {(131, 97), (1601, 1203)}

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (96, 80))
    for _ in range(3):
        writer.write(colour[:80, :96])
    writer.release()
    frames = json.loads(mobilevision("segment", "predict", str(video), "--weights", weights, "--device", "cpu",
                                     "--project", str(tmp_path), "--json").stdout)
    assert [frame["source"].rsplit("#", 1)[1] for frame in frames] == ["frame0", "frame1", "frame2"]
    capture = cv2.VideoCapture(frames[0]["overlay"])
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 3 and capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 96


def test_coco_view_and_invalid_masks_are_reported_and_skipped(synth, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synth, data)
    broken = data / "voc" / "SegmentationClass" / "000000.png"
    mask = read_label_mask(broken)
    mask[:4, :4] = 77  # neither a class id nor 255
    broken.write_bytes(encode_label_png(mask))
    result = train(data / "voc", tmp_path, "bad", "--epochs", "1")
    assert "000000.png" in result.stderr and "77" in result.stderr
    assert (tmp_path / "segment" / "bad" / "weights" / "last.pt").is_file()

    coco = json.loads(train(data / "coco", tmp_path, "coco", "--epochs", "1", "--json").stdout.splitlines()[-1])
    assert 0.0 <= coco["miou"] <= 1.0


def test_all_ignore_crops_train_without_nan(synth, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synth, data)
    train_list = (data / "voc" / "ImageSets" / "Segmentation" / "train.txt").read_text().split()
    for name in train_list:
        path = data / "voc" / "SegmentationClass" / f"{name}.png"
        path.write_bytes(encode_label_png(np.full_like(read_label_mask(path), 255)))
    train(data, tmp_path, "ignore", "--epochs", "1", "--aux")
    rows = (tmp_path / "segment" / "ignore" / "results.csv").read_text().splitlines()
    loss = float(rows[1].split(",")[rows[0].split(",").index("loss")])
    assert loss == 0.0


def test_user_errors_are_one_line(synth, tmp_path):
    wrong_task = train(synth, tmp_path, "x", "--model", "mobilenet_v2", check=False)
    assert wrong_task.returncode == 2 and "segment needs" in wrong_task.stderr
    assert len(wrong_task.stderr.strip().splitlines()) == 1
    no_data = mobilevision("segment", "train", "--project", str(tmp_path), check=False)
    assert no_data.returncode == 2 and no_data.stderr.startswith("mobilevision: error: --data is required")
    reversed_jitter = train(synth, tmp_path, "y", "--scale-min", "2", "--scale-max", "1", check=False)
    assert reversed_jitter.returncode == 2 and len(reversed_jitter.stderr.strip().splitlines()) == 1
    assert "--scale-min 2.0 / --scale-max 1.0: need 0 < scale-min <= scale-max" in reversed_jitter.stderr


@pytest.mark.parametrize("options, message", [({"crop": 0}, "--crop must be positive, got 0"),
                                              ({"top_k_pixels": 1.5}, "--top-k-pixels must be in (0, 1], got 1.5"),
                                              ({"loss_stride": 0},
                                               "--loss-stride must be at least 1 (1: full resolution), got 0")])
def test_segment_options_are_checked_when_the_config_is_built(options, message):
    from mobilevision.errors import MobileVisionError
    from mobilevision.tasks.segment.config import SegmentTrainConfig

    with pytest.raises(MobileVisionError) as error:
        SegmentTrainConfig(**options)
    assert str(error.value) == message


def test_onnxruntime_val_matches_torch(trained, synth, tmp_path):
    onnx_file = tmp_path / "model.onnx"
    mobilevision("export", "--weights", str(trained / "weights" / "last.pt"), "--out", str(onnx_file))
    common = ["--data", str(synth), "--workers", "0", "--project", str(tmp_path), "--json"]
    torch_metrics = json.loads(mobilevision("segment", "val", "--weights", str(trained / "weights" / "last.pt"),
                                            "--device", "cpu", *common).stdout)
    onnx_metrics = json.loads(mobilevision("segment", "val", "--weights", str(onnx_file), "--runtime", "onnxruntime",
                                           *common).stdout)
    assert onnx_metrics["miou"] == pytest.approx(torch_metrics["miou"], abs=1e-3)
