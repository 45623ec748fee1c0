"""`mobilevision demo live` headless on a generated video, its errors, and the frame reader."""

from __future__ import annotations

import shutil
import time

import cv2
import numpy as np
import pytest
import torch

from mobilevision.cli import main
from mobilevision.demos import live, sources
from mobilevision.demos.layout import lay_out
from mobilevision.demos.live import frame_rate, run_live, task_sets
from mobilevision.demos.loading import load_predictor, load_predictors
from mobilevision.demos.sources import FrameReader
from tests.demos.conftest import scene


def read_video(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(cv2.cvtColor(frame[1], cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def box_outline(box, shape) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the pixels on a box's four edges, inside the image."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    x1, x2 = np.clip([x1, x2], 0, shape[1] - 1)
    y1, y2 = np.clip([y1, y2], 0, shape[0] - 1)
    columns = np.r_[np.arange(x1, x2 + 1), np.arange(x1, x2 + 1), np.full(y2 - y1 + 1, x1), np.full(y2 - y1 + 1, x2)]
    rows = np.r_[np.full(x2 - x1 + 1, y1), np.full(x2 - x1 + 1, y2), np.arange(y1, y2 + 1), np.arange(y1, y2 + 1)]
    return rows, columns


def test_headless_video_has_every_frame_with_the_detections_drawn(checkpoints, video, tmp_path, capsys):
    out = tmp_path / "annotated.mp4"
    code = main(["demo", "live", "--source", str(video), "--weights", str(checkpoints["detect"]),
                 "--weights", str(checkpoints["segment"]), "--runtime", "torch", "--conf", "0.05",
                 "--save", str(out), "--no-window"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"writing the annotated video to {out}" in printed and "8 frames" in printed
    inputs, outputs = read_video(video), read_video(out)
    assert len(outputs) == len(inputs) == 8
    # The video shows the laid-out frame: the scene (480 px tall, so not scaled) under the status.
    x0, y0, x1, y1 = lay_out(inputs[0], [], status=("status", "tasks")).regions["scene"]
    assert outputs[0].shape[0] == y1 and outputs[0].shape[1] > x1
    outputs = [shown[y0:y1, x0:x1] for shown in outputs]
    assert outputs[0].shape == inputs[0].shape

    # The detector alone, as the demo ran it: its boxes are where the output differs from the input.
    detector = load_predictors([str(checkpoints["detect"])], runtime="torch")[0]
    for source, shown in zip(inputs, outputs):
        found = detector(source, conf=0.05)["detect"]
        assert len(found["boxes"]) >= 1
        difference = np.abs(shown.astype(np.int16) - source.astype(np.int16)).max(axis=2)
        for box in found["boxes"]:
            rows, columns = box_outline(box, source.shape)
            assert difference[rows, columns].mean() > 25, box


def test_the_frame_rate_counts_the_intervals_between_frames():
    assert frame_rate([10.0, 11.0, 11.5, 12.0]) == pytest.approx(1.5)
    assert frame_rate([10.0]) == 0.0 and frame_rate([]) == 0.0


def test_a_slow_first_frame_is_not_spread_over_the_clip(checkpoints, video, tmp_path, monkeypatch):
    """The summary's FPS is the rate of the frames after the first: one slow first call (a second
    here, as first-call kernel builds can be) would otherwise take 8 frames below 8 FPS."""
    calls = []

    def predict_all(predictors, image, *, tasks, conf):
        time.sleep(1.0 if not calls else 0.01)
        calls.append(image.shape)
        return []

    monkeypatch.setattr(live, "predict_all", predict_all)
    predictors = load_predictors([str(checkpoints["classify"])], runtime="torch")
    summary = run_live(FrameReader(str(video)), predictors, conf=0.5, save=tmp_path / "out.mp4", window=False)
    assert summary["frames"] == len(calls) == 8
    assert summary["fps"] > 15  # 7 intervals of 10 ms plus the layout and the video write each


def test_a_camera_that_cannot_be_opened_is_a_one_line_error(checkpoints, capsys):
    for source, expected in (("7", "--source 7: cannot open camera 7"),
                             ("no/such/video.mp4", "--source no/such/video.mp4: no such file or folder")):
        code = main(["demo", "live", "--source", source, "--weights", str(checkpoints["detect"]), "--no-window"])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        assert len(lines) == 1 and lines[0].startswith(f"mobilevision: error: {expected}"), lines


def test_a_file_is_read_in_full_and_in_order(video):
    reader = FrameReader(str(video))
    time.sleep(0.2)  # the reader thread fills its queue; a file source must still lose nothing
    indices = []
    while (frame := reader.read()) is not None:
        indices.append(frame.index)
    reader.close()
    assert indices == list(range(8))


class FastCamera:
    """A stand-in for cv2.VideoCapture of a camera: 60 frames as fast as it is read, then the end."""

    def __init__(self) -> None:
        self.count = 0

    def read(self):
        time.sleep(0.002)
        self.count += 1
        return (self.count <= 60), np.full((48, 64, 3), self.count % 256, dtype=np.uint8)

    def get(self, prop):
        return 30.0

    def release(self):
        pass


def test_a_live_source_drops_stale_frames(monkeypatch):
    monkeypatch.setattr(sources, "open_capture", lambda source: FastCamera())
    reader = FrameReader("0")
    indices = []
    while (frame := reader.read()) is not None:
        indices.append(frame.index)
        time.sleep(0.02)  # a consumer ten times slower than the camera
    reader.close()
    assert indices == sorted(set(indices))  # never a frame twice, never backwards
    assert len(indices) < 30 and indices[-1] >= 55  # most dropped, and the last one shown is recent


def test_t_cycles_all_tasks_then_each_alone(checkpoints):
    predictors = load_predictors([str(checkpoints["segment"]), str(checkpoints["detect"])], runtime="torch")
    assert task_sets(predictors) == [("detect", "segment"), ("detect",), ("segment",)]


def test_auto_runs_onnxruntime_on_an_export_made_once(checkpoints, tmp_path, monkeypatch):
    """ONNX Runtime measured faster (injected timings, deploy/runtime_choice.py): auto exports once
    and runs it; the second load reuses the export and the cached choice."""
    from mobilevision.deploy import runtime_choice

    def onnxruntime_faster(build, *, memory_format, **_):
        return lambda: 10.0 if memory_format == torch.channels_last else 5.0  # folded torch runs channels_last

    monkeypatch.setattr(runtime_choice, "network_timer", onnxruntime_faster)
    checkpoint = tmp_path / "weights" / "best.pt"
    checkpoint.parent.mkdir()
    shutil.copy(checkpoints["detect"], checkpoint)
    threads = torch.get_num_threads()
    try:
        logs: list[str] = []
        predictor = load_predictor(str(checkpoint), runtime="auto", device="cpu", log=logs.append)
        assert predictor.runtime == "onnxruntime" and (tmp_path / "weights" / "best-128.onnx").is_file()
        assert len(logs) == 2 and "exporting" in logs[0] and "measured now" in logs[1]
        again: list[str] = []
        load_predictor(str(checkpoint), runtime="auto", device="cpu", log=again.append)
        assert len(again) == 1 and "(cached in " in again[0]  # no export, no timing

        image = scene(0)
        expected = load_predictor(str(checkpoint), runtime="torch")(image, conf=0.05)["detect"]
        got = predictor(image, conf=0.05)["detect"]
        # Random weights score many boxes alike, so compare scores: which of two equal boxes wins may differ.
        assert np.sort(got["scores"]) == pytest.approx(np.sort(expected["scores"]), abs=1e-4)
    finally:
        torch.set_num_threads(threads)  # ONNX Runtime's loader leaves torch one thread
