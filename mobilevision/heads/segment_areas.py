"""Class logits read from a segmentation: a linear layer on the log of each class's predicted area."""

from __future__ import annotations

import torch
from torch import nn

# Keeps the log finite for a class the segmentation gives no pixel; a fraction below it is as good as none.
MIN_AREA_FRACTION = 1e-4
# Scales the log areas, so that the zero-initialised weights reach a decisive comparison within a
# short run (without it, a 10-minute run left them a third of what they fit to: docs/benchmarks.md).
LOG_AREA_GAIN = 4.0


class SegmentAreaReader(nn.Module):
    """Segmentation logits (N, S, H, W) -> class logits (N, C), to be added to a classifier's.

    For a label that names the image's largest object, the segmentation already holds the answer:
    the class with the most pixels. Where the image's global pooling dilutes a small object into
    the background, or two near-equal objects into each other's evidence, per-pixel classes still
    count them apart. Log areas make the layer's job a comparison: a positive weight on each
    class's own log area ranks classes by area. Zero-initialised, so before training (or in a
    model assembled from heads trained alone) the classifier's logits are unchanged.
    """

    def __init__(self, segment_classes: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(segment_classes, num_classes)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, segment_logits: torch.Tensor) -> torch.Tensor:
        # Detached: the segmentation head learns from its own labels only, and the classifier
        # learns to read it rather than to bend it.
        areas = segment_logits.detach().float().softmax(dim=1).mean(dim=(2, 3))
        return self.fc(LOG_AREA_GAIN * areas.clamp(min=MIN_AREA_FRACTION).log())
