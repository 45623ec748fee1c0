"""Pixel-wise cross-entropy that stays finite when a crop holds no labelled pixel."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mobilevision.datasets.transforms import IGNORE_INDEX


def segmentation_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over labelled pixels. logits (N, K, H, W), targets (N, H, W) int64.

    Pixels equal to 255 are ignored. F.cross_entropy's mean divides by the number of labelled
    pixels, which is 0/0 = NaN for a crop that is all ignore (a random crop of a VOC border); the
    sum divided by at least 1 gives 0 there, with zero (finite) gradients, and the same value
    everywhere else.
    """
    total = F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX, reduction="sum")
    labelled = (targets != IGNORE_INDEX).sum().clamp(min=1)
    return total / labelled
