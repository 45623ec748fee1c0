"""Tiny random-weight models of the three tasks written as checkpoints, and a generated video:
nothing is downloaded or trained."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mobilevision.bench.cases import fresh_case, write_checkpoint
from mobilevision.tasks.registry import build_model

SHAPES = ["circle", "rectangle", "triangle"]
DETECT_SIZE = 128
# At most two boxes a frame, so a test can look at the pixels under each of them.
MAX_DETECTIONS = 2


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """{"detect", "segment", "classify"}: checkpoint paths of seeded random-weight models."""
    folder = tmp_path_factory.mktemp("checkpoints")
    kwargs = {"width": 0.5, "num_classes": len(SHAPES) + 1, "imgsz": DETECT_SIZE, "max_detections": MAX_DETECTIONS}
    torch.manual_seed(0)
    detector = build_model("ssdlite_mobilenet_v2", **kwargs)
    detect = write_checkpoint(detector, folder / "detect.pt", model_name="ssdlite_mobilenet_v2", model_kwargs=kwargs,
                              task="detect", class_names=SHAPES, imgsz=DETECT_SIZE)
    segment = fresh_case("deeplabv3_mobilenet_v2", width=0.5, imgsz=65, folder=folder,
                         class_names=["background", *SHAPES]).checkpoint
    classify = fresh_case("mobilenet_v2", width=0.35, imgsz=64, folder=folder, class_names=SHAPES).checkpoint
    return {"detect": detect, "segment": segment, "classify": classify}


def scene(index: int, *, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """(H, W, 3) uint8 RGB: a grey background with a red disc that moves with `index`."""
    image = np.full((*size, 3), 90, dtype=np.uint8)
    cv2.circle(image, (120 + 30 * index, size[0] // 2), size[0] // 6, (230, 40, 40), thickness=-1)
    return image


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> Path:
    """An 8-frame 640 x 480 mp4 at 10 FPS."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 480))
    for index in range(8):
        writer.write(cv2.cvtColor(scene(index), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="session")
def web_demo(checkpoints):
    """(URL, predictors) of the web app serving the three models on a free port of 127.0.0.1, in
    this process (eager torch: the ONNX export is covered by the live demo's runtime test)."""
    from mobilevision.demos.loading import load_predictors
    from mobilevision.demos.web import build_app, serve

    predictors = load_predictors([str(checkpoints[task]) for task in ("detect", "segment", "classify")],
                                 runtime="torch")
    app = build_app(predictors, conf=0.05)
    url = serve(app, host="127.0.0.1", port=free_port(), block=False)
    yield url, predictors
    app.close()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
