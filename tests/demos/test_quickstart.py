"""`mobilevision quickstart` at a reduced size: every file it promises, well-formed; a second run
that reuses the first one's dataset, checkpoint, export and benchmark; the web demo it serves."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mobilevision.cli import main
from mobilevision.demos.quickstart.benchmark import comparison_markdown
from mobilevision.demos.quickstart.evaluation import METRICS, evaluation_markdown
from mobilevision.engine.machine import cpu_name
from mobilevision.tasks.multitask.config import RECIPES
from tests.demos.conftest import free_port

pytestmark = pytest.mark.slow  # about 95 s of CPU in all, on 2 cores

IMGSZ, IMAGES, VAL_IMAGES = 96, 40, 8
# A budget the first epoch spends: the run re-sizes the recipe's 10 epochs to 1.
TINY = ["--images", str(IMAGES), "--val-images", str(VAL_IMAGES), "--imgsz", str(IMGSZ), "--train-minutes", "0.0001",
        "--width", "0.35", "--bench-iters", "2", "--runtimes", "eager", "ort_fp32"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, str]:
    """(the run folder, what the run printed) of a reduced quickstart without the web demo."""
    project = tmp_path_factory.mktemp("quickstart")
    printed = io.StringIO()
    threads = torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(printed):
            assert main(["quickstart", *TINY, "--no-serve", "--project", str(project)]) == 0
    finally:
        torch.set_num_threads(threads)  # ONNX Runtime's loader leaves torch one thread
    return project / "quickstart", printed.getvalue()


def test_every_promised_file_is_there_and_well_formed(first_run):
    folder, printed = first_run
    summary = json.loads((folder / "summary.json").read_text())
    files = {name: Path(path) for name, path in summary["files"].items()}
    assert set(files) == {"dataset", "checkpoint", "training run", "evaluation", "onnx", "benchmark", "video",
                          "gallery", "summary"}
    for name, path in files.items():
        assert path.exists() and path.resolve().is_relative_to(folder.resolve()), name

    (evaluated,) = summary["evaluation"]
    assert evaluated["images"] == VAL_IMAGES
    for key in METRICS:
        assert 0.0 <= evaluated[key] <= 1.0, key
    v2, v1 = summary["benchmark"]["rows"]
    assert v2["model"].startswith("MobileNetV2 0.35") and v1["model"].startswith("MobileNetV1 0.35")
    for row in (v2, v1):
        assert row["params"] > 0 and row["madds"] > 0
        assert set(row["latency_ms"]) == {"eager", "ort_fp32"} and min(row["latency_ms"].values()) > 0
    assert {key: v2[key] for key in METRICS} == {key: evaluated[key] for key in METRICS}
    assert "untrained" in v1["weights"] and all(v1[key] is None for key in METRICS)
    # Both tables are printed and in summary.md, the untrained model's accuracy as "-".
    markdown = files["summary"].read_text()
    for table in (evaluation_markdown(summary["evaluation"]), comparison_markdown(summary["benchmark"]["rows"])):
        assert table in printed and table in markdown
    assert "| - | - | - | - |" in markdown
    # The CPU the times were taken on is named, as /proc/cpuinfo names it.
    assert summary["machine"]["cpu"] == cpu_name() and f"on {cpu_name()} (" in markdown

    checkpoint = torch.load(files["checkpoint"], weights_only=True)
    assert checkpoint["task"] == "multitask" and checkpoint["model_kwargs"]["width"] == 0.35
    assert checkpoint["args"]["recipe"] == "quick" and checkpoint["args"]["time"] == 0.0001
    assert checkpoint["args"]["epochs"] == 1 == summary["settings"]["epochs"]
    # The recipe's head options reach the model it rebuilds from the checkpoint.
    recipe = RECIPES["quick"].config
    kwargs = checkpoint["model_kwargs"]
    assert {"match_iou": kwargs["ssdlite"]["match_iou"], "decoder": kwargs["deeplab"]["decoder"],
            "decoder_stride": kwargs["deeplab"]["decoder_stride"]} == {
        "match_iou": recipe.match_iou, "decoder": recipe.decoder, "decoder_stride": recipe.decoder_stride}
    assert checkpoint["model_kwargs"]["loss_weights"] == {"classify": recipe.classify_loss_weight, "detect": 1.0,
                                                          "segment": recipe.segment_loss_weight} == {
        "classify": 2.0, "detect": 1.0, "segment": 4.0}
    capture = cv2.VideoCapture(str(files["video"]))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    assert len(frames) == VAL_IMAGES and frames[0].shape[0] >= IMGSZ
    gallery = cv2.imread(str(files["gallery"]))
    assert gallery is not None and gallery.shape[1] > gallery.shape[0] > 0

    # The export is the benchmark's of the same checkpoint, copied rather than made twice.
    (timed,) = [row for row in summary["benchmark"]["bench_rows"]
                if row["model"] == "multitask_mobilenet_v2" and row["runtime"] == "ort_fp32"]
    assert files["onnx"].read_bytes() == (folder / "bench" / "weights" / f"{timed['label']}.onnx").read_bytes()
    assert summary["export"]["max_abs_diff"] == timed["export_max_abs_diff"] < 1e-3
    assert "copied the benchmark's export" in printed

    import onnxruntime

    session = onnxruntime.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, IMGSZ, IMGSZ), np.float32)})
    assert [output.name for output in session.get_outputs()] == ["classify_logits", "detect_box_deltas",
                                                                 "detect_class_logits", "segment_logits", "classes"]
    # The segmentation logits on the loss's grid; the predictor resizes them to each frame.
    grid = (IMGSZ - 1) // recipe.loss_stride + 1
    assert outputs[3].shape[-2:] == (grid, grid) and recipe.loss_stride > 1


def test_the_budget_is_minutes_unless_epochs_are_given(tmp_path):
    from mobilevision.demos.quickstart.settings import RECIPE, TRAIN_MINUTES, QuickstartSettings
    from mobilevision.demos.quickstart.training import training_config
    from mobilevision.tasks.multitask.config import RECIPES

    budget = training_config(QuickstartSettings(), backbone="mobilenet_v2", data=tmp_path)
    # The recipe's epochs stay as the first epoch's schedule until fit re-sizes them.
    assert budget.time == TRAIN_MINUTES and budget.epochs == RECIPES[RECIPE].config.epochs
    epochs = training_config(QuickstartSettings(epochs=3), backbone="mobilenet_v2", data=tmp_path)
    assert epochs.time == 0 and epochs.epochs == 3


# The first run's budget re-sized its epochs: the options still match, so this run reuses it.
def test_a_second_run_reuses_the_first_and_serves_the_web_demo(first_run, tmp_path):
    folder, _ = first_run
    checkpoint = folder / "multitask" / "mobilenet_v2" / "weights" / "best.pt"
    written = checkpoint.stat().st_mtime
    port = free_port()
    # A process of its own, stopped by Ctrl-C (SIGINT) as a user stops it. SIGINT gets its default
    # disposition back first: a suite started in the background of a non-interactive shell inherits
    # it ignored, and Python then never raises KeyboardInterrupt.
    process = subprocess.Popen([sys.executable, "-m", "mobilevision.cli", "quickstart", *TINY, "--project",
                                str(folder.parent), "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=open(tmp_path / "stderr.txt", "w"), text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    printed = []
    try:
        for line in process.stdout:
            printed.append(line)
            if "serving the demo on" in line:
                break
        url = printed[-1].split("serving the demo on ")[-1].split()[0]
        assert url.startswith(f"http://127.0.0.1:{port}"), "".join(printed) + (tmp_path / "stderr.txt").read_text()
        with urllib.request.urlopen(url, timeout=120) as response:
            assert response.status == 200 and b"mobilevision demo" in response.read()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    assert process.returncode == 0
    text = "".join(printed)
    for reused in (f"reusing {folder / 'data'}", f"reusing {checkpoint}", f"reusing {checkpoint.with_suffix('.onnx')}",
                   f"reusing {folder / 'bench' / 'results.json'}"):
        assert reused in text, text
    assert "training multitask_mobilenet_v2" not in text and checkpoint.stat().st_mtime == written
    assert json.loads((folder / "summary.json").read_text())["reused"] == [
        "dataset", "mobilenet_v2 checkpoint", "benchmark", "ONNX export"]
