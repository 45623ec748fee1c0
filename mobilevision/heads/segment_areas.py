"""Class logits read from a segmentation: a linear layer on the log of each class's predicted area."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.errors import MobileVisionError

# Keeps the log finite for a class the segmentation gives no pixel; a fraction below it is as good as none.
MIN_AREA_FRACTION = 1e-4
# Scales the log areas, so that the learnt weights reach a decisive comparison within a short run
# (without it, a 10-minute run left them a third of what they fit to: docs/benchmarks.md).
LOG_AREA_GAIN = 4.0
# Below this share of the image (65 pixels of 256 x 256) no object class counts as present, so a
# class that names "no object" starts out winning: the built-in dataset's empty scenes.
NO_OBJECT_FRACTION = 1e-3
# The segmentation's class that is no object (the datasets' convention: VOC's and the joint COCO view's).
SEGMENT_BACKGROUND = 0


class SegmentAreaReader(nn.Module):
    """Segmentation logits (N, S, H, W) -> class logits (N, C), to be added to a classifier's.

    For a label that names the image's largest object, the segmentation already holds the answer:
    the class with the most pixels. Where the image's global pooling dilutes a small object into
    the background, or two near-equal objects into each other's evidence, per-pixel classes still
    count them apart. Log areas make the layer's job a comparison: a positive weight on each
    class's own log area ranks classes by area.

    segment_class_of: for each of the C classes, the segmentation class of the same name. Those
    weights start at 1, so the read ranks by area from the first step and training refines it,
    rather than having to discover the rule within a short run; a class paired with the
    segmentation's background starts as "no object above NO_OBJECT_FRACTION of the image". None
    (some class has no segmentation counterpart, or a model assembled from heads trained alone):
    the layer starts at zero, leaving the classifier's logits unchanged.
    """

    def __init__(self, segment_classes: int, num_classes: int, *,
                 segment_class_of: Sequence[int] | None = None) -> None:
        super().__init__()
        self.fc = nn.Linear(segment_classes, num_classes)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        if segment_class_of is None:
            return
        if len(segment_class_of) != num_classes or not all(0 <= j < segment_classes for j in segment_class_of):
            raise MobileVisionError(f"segment_class_of {list(segment_class_of)} must give each of {num_classes} "
                                    f"classes a segmentation class in 0..{segment_classes - 1}")
        with torch.no_grad():
            for index, segment_class in enumerate(segment_class_of):
                if segment_class == SEGMENT_BACKGROUND:
                    self.fc.bias[index] = LOG_AREA_GAIN * math.log(NO_OBJECT_FRACTION)
                else:
                    self.fc.weight[index, segment_class] = 1.0

    def forward(self, segment_logits: torch.Tensor) -> torch.Tensor:
        # Detached: the segmentation head learns from its own labels only, and the classifier
        # learns to read it rather than to bend it.
        areas = segment_logits.detach().float().softmax(dim=1).mean(dim=(2, 3))
        return self.fc(LOG_AREA_GAIN * areas.clamp(min=MIN_AREA_FRACTION).log())
