"""`mobilevision classify train|val|predict` end to end, in subprocesses: run folder contents,
resume after SIGKILL, torchrun with two processes, val --json and predict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
import torch

from mobilevision.tasks.registry import load_checkpoint

TINY = ["--width", "0.35", "--imgsz", "32", "--batch", "4", "--workers", "0", "--device", "cpu", "--lr", "0.05"]


def _env() -> dict:
    # One thread per process: the runs compared bitwise use the same kernels, and two torchrun
    # processes do not fight over the two cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def mobilevision(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "mobilevision.cli", *args], capture_output=True, text=True,
                            env=_env(), timeout=300)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def train_args(data: Path, project: Path, name: str, *extra: str) -> list[str]:
    return ["classify", "train", "--data", str(data), "--project", str(project), "--name", name, *TINY, *extra]


@pytest.fixture(scope="module")
def trained_run(class_folders, tmp_path_factory) -> Path:
    """One 2-epoch run shared by the tests that only read its folder or use its weights."""
    project = tmp_path_factory.mktemp("project")
    mobilevision(*train_args(class_folders, project, "run", "--epochs", "2"))
    return project / "classify" / "run"


def test_classify_train_writes_run_folder_and_val_json(class_folders, trained_run):
    for name in ("args.yaml", "results.csv", "results.png", "confusion_matrix.png", "weights/last.pt", "weights/best.pt"):
        assert (trained_run / name).is_file(), name
    rows = (trained_run / "results.csv").read_text().splitlines()
    assert rows[0].split(",")[:3] == ["epoch", "lr", "loss"] and "top1" in rows[0] and len(rows) == 3

    checkpoint = torch.load(trained_run / "weights" / "last.pt", weights_only=True)
    assert checkpoint["model_name"] == "mobilenet_v2" and checkpoint["class_names"] == ["blue", "green", "red"]
    assert {"state_dict", "optimizer", "rng", "sampler", "versions", "preprocessing", "args"} <= set(checkpoint)

    result = mobilevision("classify", "val", "--weights", str(trained_run / "weights" / "last.pt"), "--data",
                          str(class_folders), "--device", "cpu", "--workers", "0", "--json")
    metrics = json.loads(result.stdout)
    assert metrics["images"] == 15 and metrics["top1"] == pytest.approx(checkpoint["metrics"]["top1"])


def test_classify_predict_image_folder_and_video(class_folders, trained_run, tmp_path):
    weights = str(trained_run / "weights" / "best.pt")
    image = class_folders / "val" / "red" / "000.png"
    text = mobilevision("classify", "predict", str(image), "--weights", weights, "--device", "cpu", "--topk", "2")
    assert text.stdout.startswith(str(image)) and len(text.stdout.strip().splitlines()) == 1
    folder = json.loads(mobilevision("classify", "predict", str(class_folders / "val" / "red"), "--weights", weights,
                                     "--device", "cpu", "--json").stdout)
    assert len(folder) == 5 and len(folder[0]["top"]) == 3 and folder[0]["top"][0]["name"] in ("blue", "green", "red")

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (48, 48))
    for _ in range(3):
        writer.write(cv2.imread(str(image)))
    writer.release()
    frames = json.loads(mobilevision("classify", "predict", str(video), "--weights", weights, "--device", "cpu",
                                     "--json").stdout)
    assert [frame["source"].rsplit("#", 1)[1] for frame in frames] == ["frame0", "frame1", "frame2"]


def test_classify_user_errors_are_one_line(class_folders, tmp_path):
    result = mobilevision("classify", "train", "--data", str(tmp_path / "missing"), "--project", str(tmp_path),
                          check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "mobilevision: error:" in result.stderr
    result = mobilevision("classify", "val", "--weights", str(tmp_path / "none.pt"), "--data", str(class_folders),
                          check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_classify_resume_after_sigkill_matches_uninterrupted_run(class_folders, tmp_path):
    extra = ("--epochs", "3", "--save-period-steps", "4", "--ema")
    mobilevision(*train_args(class_folders, tmp_path, "whole", *extra))

    command = [sys.executable, "-m", "mobilevision.cli", *train_args(class_folders, tmp_path, "killed", *extra)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    last = tmp_path / "classify" / "killed" / "weights" / "last.pt"
    deadline = time.monotonic() + 240
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    saved = torch.load(last, weights_only=True)
    assert saved["global_step"] < 27

    mobilevision("classify", "train", "--resume", str(last))
    resumed = torch.load(last, weights_only=True)
    whole = torch.load(tmp_path / "classify" / "whole" / "weights" / "last.pt", weights_only=True)
    assert resumed["global_step"] == whole["global_step"] == 27
    for key in ("state_dict", "ema_state_dict"):
        for name, value in whole[key].items():
            torch.testing.assert_close(resumed[key][name], value, rtol=0, atol=1e-6, msg=f"{key} {name}")
    assert resumed["metrics"] == whole["metrics"]
    rows = (tmp_path / "classify" / "killed" / "results.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]


def test_classify_torchrun_two_processes_match_single_process_val(class_folders, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "mobilevision.cli", *train_args(class_folders, tmp_path, "ddp", "--epochs", "1")]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = tmp_path / "classify" / "ddp" / "weights" / "last.pt"
    model, checkpoint = load_checkpoint(weights)
    assert checkpoint["global_step"] == 36 // (4 * 2)
    single = json.loads(mobilevision("classify", "val", "--weights", str(weights), "--data", str(class_folders),
                                     "--device", "cpu", "--workers", "0", "--batch", "4", "--json").stdout)
    assert single["top1"] == pytest.approx(checkpoint["metrics"]["top1"], abs=1e-9)
    assert single["top5"] == pytest.approx(checkpoint["metrics"]["top5"], abs=1e-9)


def test_classify_fine_tune_from_torchvision_weights_gets_new_head(class_folders, tmp_path):
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v2(width_mult=0.35).state_dict()  # 1000 classes, built locally
    torch.save(reference, tmp_path / "torchvision.pth")
    mobilevision(*train_args(class_folders, tmp_path, "tune", "--epochs", "1", "--weights",
                             str(tmp_path / "torchvision.pth"), "--freeze-backbone"))
    checkpoint = torch.load(tmp_path / "classify" / "tune" / "weights" / "last.pt", weights_only=True)
    assert checkpoint["state_dict"]["head.fc.weight"].shape == (3, 1280)
    assert checkpoint["model_kwargs"]["num_classes"] == 3
    stem = next(key for key in checkpoint["state_dict"] if key.startswith("backbone.") and key.endswith("weight"))
    torch.testing.assert_close(checkpoint["state_dict"][stem], reference["features.0.0.weight"], rtol=0, atol=0)
