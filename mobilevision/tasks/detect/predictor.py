"""The detector on frames: boxes, scores and labels in an image's own pixels, whatever its size."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mobilevision.datasets.network_input import network_input
from mobilevision.tasks.base import TrainedModel
from mobilevision.tasks.predictor import FramePredictor


class DetectPredictor(FramePredictor):
    """__call__(image (H, W, 3) uint8 RGB, *, conf) -> {"detect": {"boxes" (D, 4) float32 xyxy in the
    image's pixels, "scores" (D,), "labels" (D,) int64 in 1..C}}, scores >= conf. The network sees a
    (S, S) resize, as in training and validation (network_input). min_conf: see skip_scores_below."""

    def __init__(self, trained: TrainedModel, *, imgsz: int, device: torch.device, min_conf: float = 0.0,
                 name: str | None = None) -> None:
        super().__init__(trained, imgsz=imgsz, device=device, name=name)
        skip_scores_below(self.model, min_conf=min_conf)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, *, conf: float) -> dict:
        height, width = image.shape[:2]
        batch = self.batch(torch.from_numpy(network_input(image, size=self.imgsz, mean=self.mean, std=self.std)))
        (found,) = self.network(batch, orig_sizes=[(height, width)])
        return {"detect": keep_scores(found, conf=conf)}


def keep_scores(found: dict[str, torch.Tensor], *, conf: float) -> dict[str, np.ndarray]:
    """One image's {"boxes", "scores", "labels"} with scores >= conf, as float32 / int64 arrays."""
    keep = found["scores"] >= conf
    return {key: value[keep].cpu().numpy() if key == "labels" else value[keep].float().cpu().numpy()
            for key, value in found.items()}


def skip_scores_below(detector: nn.Module, *, min_conf: float) -> None:
    """Make an SSDLite drop candidates below min_conf (the lowest `conf` it will be asked for) before
    NMS. It keeps them down to 0.001, as mAP needs; NMS over the thousands a frame has above that is
    costly for boxes a demo never shows."""
    detector.score_threshold = max(detector.score_threshold, min_conf)


def describe_detections(found: dict[str, np.ndarray], *, class_names: Sequence[str]) -> list[dict]:
    """A predictor's detections -> [{"box": [x1, y1, x2, y2], "score", "label", "name"}], rounded for JSON."""
    return [{"box": [round(float(v), 2) for v in box], "score": round(float(score), 4), "label": int(label),
             "name": class_names[int(label) - 1]}
            for box, score, label in zip(found["boxes"], found["scores"], found["labels"])]
