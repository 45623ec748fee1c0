"""The Python API (mobilevision/__init__.py, api.py): README's example runs as written, and each
call gives what the command line gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import mobilevision as mv
from mobilevision.cli import main
from mobilevision.tasks.registry import MODELS

README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--epochs", "1", "--imgsz", "64", "--width", "0.5", "--batch", "8", "--workers", "0", "--device", "cpu"]


def readme_python() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "README shows one Python example"
    return blocks[0]


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory) -> Path:
    """runs/detect/exp/weights/best.pt and image.jpg, as README's example names them."""
    folder = tmp_path_factory.mktemp("api")
    assert main(["data", "synth", "--out", str(folder / "data"), "--images", "16", "--size", "96"]) == 0
    assert main(["detect", "train", "--data", str(folder / "data"), "--project", str(folder / "runs"), *TINY]) == 0
    image = sorted((folder / "data" / "coco" / "val").glob("*.jpg"))[0]
    (folder / "image.jpg").write_bytes(image.read_bytes())
    return folder


def test_list_and_create_models():
    assert mv.list_models() == list(MODELS)
    assert mv.list_models("detect") == ["ssdlite_mobilenet_v2", "ssdlite_mobilenet_v1", "ssd_mobilenet_v1",
                                        "ssdlite320_mobilenet_v3_large"]
    model = mv.create_model("deeplabv3_aspp_mobilenet_v2", num_classes=5, deeplab={"decoder": True})
    assert model.options.head == "aspp" and model.options.decoder  # the entry's head kept, the option added
    assert model.eval()(torch.randn(1, 3, 65, 65)).shape == (1, 65, 65)


def test_load_predicts_what_the_command_line_predicts(detector_run, monkeypatch, capsys):
    monkeypatch.chdir(detector_run)
    weights = "runs/detect/exp/weights/best.pt"
    detector = mv.load(weights, device="cpu")
    assert detector.task == "detect" and detector.class_names["detect"][0] == "circle"
    (ours,) = detector.predict("image.jpg", conf=0.0)
    assert main(["detect", "predict", "image.jpg", "--weights", weights, "--device", "cpu", "--conf", "0.0",
                 "--json"]) == 0
    (theirs,) = json.loads(capsys.readouterr().out)
    assert ours["size"] == theirs["size"] and ours["detections"] == theirs["detections"]
    array = cv2.cvtColor(cv2.imread("image.jpg"), cv2.COLOR_BGR2RGB)
    assert detector.predict([array, "image.jpg"], conf=0.0) == [ours, ours]


@pytest.mark.slow
def test_readme_example_runs(detector_run, monkeypatch):
    monkeypatch.chdir(detector_run)
    namespace: dict = {}
    exec(compile(readme_python(), str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert isinstance(namespace["model"], torch.nn.Module)
    assert namespace["results"][0]["size"] == [96, 96] and "detections" in namespace["results"][0]
    rows = namespace["rows"]
    assert [row["runtime"] for row in rows] == ["eager", "optimized"]
    assert all(row["median_ms"] > 0 and row["params"] == 3_504_872 for row in rows)
    assert np.isfinite([row["images_per_s"] for row in rows]).all()
