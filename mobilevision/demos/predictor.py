"""What the demos run on a frame: a predictor, one model on one runtime.

The contract (everything the live demo and the web app use):

    name: str                          shown in the model picker and the logs
    tasks: tuple[str, ...]             the keys __call__ returns, a subset of TASKS
    class_names: dict[str, list[str]]  per task; detect: the names of labels 1..C (no background),
                                       segment: of class-map values 0..K-1, classify: of logit indices
    runtime: str                       what runs the network, shown on the overlay
    __call__(image, *, conf) -> dict   image (H, W, 3) uint8 RGB of any size ->
        "classify": (C,) float32 logits
        "detect":   {"boxes": (D, 4) float32 xyxy in the image's pixels, "scores": (D,) float32,
                     "labels": (D,) int64 in 1..C}, only scores >= conf
        "segment":  (H, W) uint8 class map at the image's size

A single-task checkpoint is a TaskPredictor (below). A multi-task model whose eval forward returns
such a dict from one backbone pass plugs in as a class with the same four attributes whose
__call__ preprocesses the frame once, runs the model and maps the results to the frame (boxes
scaled to the image, the class map resized to it); loading.load_predictor then returns it for its
checkpoints' task.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np
import torch
from torch import nn

from mobilevision.datasets.transforms import classification_transforms, segmentation_transforms
from mobilevision.tasks.classify.predict import classify_image
from mobilevision.tasks.detect.predict import detect_image
from mobilevision.tasks.segment.predict import segment_image

TASKS = ("classify", "detect", "segment")


class Predictor(Protocol):
    name: str
    tasks: tuple[str, ...]
    class_names: dict[str, list[str]]
    runtime: str

    def __call__(self, image: np.ndarray, *, conf: float) -> dict: ...


class TaskPredictor:
    """One single-task model (a checkpoint, folded for torch, or its ONNX Runtime export) with
    the preprocessing that task's `predict` uses: the same functions, so the demo shows what
    `predict` computes."""

    def __init__(self, network: nn.Module, *, name: str, task: str, class_names: Sequence[str], preprocessing: dict,
                 imgsz: int, runtime: str, device: torch.device, min_conf: float = 0.0) -> None:
        """min_conf: the lowest `conf` it will be called with (see skip_scores_below)."""
        if task == "detect":  # ONNX Runtime's wrapper holds the post-processing model
            skip_scores_below(getattr(network, "task_model", network), min_conf=min_conf)
        self.network, self.name, self.task, self.runtime, self.device = network, name, task, runtime, device
        self.tasks = (task,)
        self.class_names = {task: list(class_names)}
        self.imgsz, self.mean, self.std = imgsz, preprocessing["mean"], preprocessing["std"]
        # ONNX Runtime copies its input into a plain contiguous array anyway.
        self.memory_format = torch.contiguous_format if runtime == "onnxruntime" else torch.channels_last
        make_transform = {"classify": classification_transforms, "segment": segmentation_transforms}.get(task)
        self.transform = make_transform(False, size=imgsz, mean=self.mean, std=self.std) if make_transform else None

    def __call__(self, image: np.ndarray, *, conf: float) -> dict:
        if self.task == "detect":
            result = detect_image(self.network, image, size=self.imgsz, mean=self.mean, std=self.std,
                                  device=self.device, score_threshold=conf)
        elif self.task == "segment":
            result = segment_image(self.network, image, transform=self.transform, device=self.device,
                                   memory_format=self.memory_format)
        else:
            result = classify_image(self.network, image, transform=self.transform, device=self.device,
                                    memory_format=self.memory_format).numpy()
        return {self.task: result}


def skip_scores_below(detector: nn.Module, *, min_conf: float) -> None:
    """Make an SSDLite drop candidates below min_conf (the lowest `conf` a demo asks for) before NMS.
    It keeps them down to 0.001, as mAP needs; NMS over the thousands a frame has above that costs
    25 ms (SSDLite 320, 80 classes, 2 cores) for boxes the demo never shows."""
    detector.score_threshold = max(detector.score_threshold, min_conf)


def predict_all(predictors: Sequence[Predictor], image: np.ndarray, *, tasks: Collection[str],
                conf: float) -> list[tuple[Predictor, dict]]:
    """(predictor, its results restricted to `tasks`) for each predictor with a task in `tasks`;
    a predictor with none of them is not run at all."""
    outputs = []
    for predictor in predictors:
        wanted = [task for task in predictor.tasks if task in tasks]
        if wanted:
            results = predictor(image, conf=conf)
            outputs.append((predictor, {task: results[task] for task in wanted}))
    return outputs
