"""The classifier on frames: logits of an image of any size, and the top classes they name."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mobilevision.datasets.transforms import classification_transforms
from mobilevision.tasks.base import TrainedModel
from mobilevision.tasks.predictor import FramePredictor


class ClassifyPredictor(FramePredictor):
    """__call__(image (H, W, 3) uint8 RGB, *, conf) -> {"classify": logits (C,) float32}, after the
    evaluation resize and centre crop (conf is for detectors)."""

    def __init__(self, trained: TrainedModel, *, imgsz: int, device: torch.device, name: str | None = None) -> None:
        super().__init__(trained, imgsz=imgsz, device=device, name=name)
        self.transform = classification_transforms(False, size=imgsz, mean=self.mean, std=self.std)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, *, conf: float = 0.0) -> dict:
        logits = self.network(self.batch(self.transform(image=image)["image"]))
        return {"classify": logits[0].float().cpu().numpy()}


def top_classes(logits, *, class_names: Sequence[str], k: int) -> list[dict]:
    """logits (C,) -> the k most probable classes, best first: [{"class": index, "name", "score": probability}]."""
    scores, indices = torch.as_tensor(logits).float().softmax(dim=0).topk(min(k, len(class_names)))
    return [{"class": int(i), "name": class_names[int(i)], "score": float(s)} for s, i in zip(scores, indices)]
