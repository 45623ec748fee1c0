"""The classifier head's options, one object that the classifier, the multi-task model, their
training configs (one flag per field) and their checkpoints share."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.engine.config import option
from mobilevision.errors import MobileVisionError


@dataclass(frozen=True)
class ClassifierOptions:
    """Global pooling + dropout + linear layer; its loss. Dropout None: the reference models' (0.2 for
    MobileNetV2 as torchvision, 0 for MobileNetV1 as timm)."""

    label_smoothing: float = option(0.0, "label smoothing of the classification loss")

    def __post_init__(self) -> None:
        if not 0 <= self.label_smoothing < 1:
            raise MobileVisionError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
