"""TF-slim's classifiers score 1001 classes, a background class before ImageNet's 1000; class
folders hold the 1000. `val` drops the background logit so that label i is folder i, as in
TF-slim's own evaluation (eval_image_classifier.py's labels_offset)."""

from __future__ import annotations

import torch
from torch import nn

BACKGROUND = "background"


def has_background_class(class_names: list[str], *, data_classes: int) -> bool:
    """Whether the weights' classes are the data's after one background class."""
    return len(class_names) == data_classes + 1 and class_names[0] == BACKGROUND


class WithoutBackground(nn.Module):
    """A classifier in eval mode whose first logit (the background) is dropped: (N, 3, H, W) ->
    logits (N, num_classes - 1)."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(images)[:, 1:]
