"""Predictors from `--weights`: each model on the fastest correct runtime this machine has
(deploy/runtime.py), with its task's frame predictor, named and warmed up for the demos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mobilevision.deploy.runtime import frame_predictor, load_trained
from mobilevision.tasks.predictor import FramePredictor


def load_predictors(weights: Sequence[str], *, runtime: str = "auto", imgsz: int | None = None,
                    device: str = "auto", min_conf: float = 0.0, log: Callable[[str], None] = print
                    ) -> list[FramePredictor]:
    """One predictor per --weights, named uniquely (two runs' best.pt are told apart by their run),
    each called twice on a blank image. min_conf: the lowest detection score they will be asked for."""
    predictors = [load_predictor(spec, runtime=runtime, imgsz=imgsz, device=device, min_conf=min_conf, log=log)
                  for spec in weights]
    names = [predictor.name for predictor in predictors]
    for index, predictor in enumerate(predictors):
        if names.count(predictor.name) > 1:
            predictor.name = f"{predictor.name} #{index + 1}"
        # oneDNN builds its convolution kernels during the first two calls (about a second each for
        # SSDLite on 2 cores): paid here, not by the first frames shown.
        for _ in range(2):
            predictor(np.zeros((480, 640, 3), dtype=np.uint8), conf=1.0)
    return predictors


def load_predictor(weights: str, *, runtime: str = "auto", imgsz: int | None = None, device: str = "auto",
                   min_conf: float = 0.0, log: Callable[[str], None] = print) -> FramePredictor:
    """A checkpoint of any task's `train` (or its `mobilevision export` .onnx) on `runtime`."""
    trained = load_trained(weights, runtime=runtime, device=device, imgsz=imgsz, log=log)
    predictor = frame_predictor(trained, device=device, imgsz=imgsz, min_conf=min_conf)
    predictor.name = f"{trained.task}: {trained.model_name} ({_short_name(Path(weights))})"
    return predictor


def _short_name(path: Path) -> str:
    """runs/detect/det/weights/best.pt -> det/best.pt; any other path -> its file name."""
    return f"{path.parent.parent.name}/{path.name}" if path.parent.name == "weights" else path.name
