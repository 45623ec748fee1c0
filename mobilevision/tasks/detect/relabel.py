"""Detections renumbered into a dataset's labels.

torchvision's published COCO detectors label a box with its COCO category id (1..90: 91 outputs,
eleven of them ids COCO never used, named "N/A"), while our COCO reader numbers the 80 categories
1..80 in id order. The two agree once the unused ids are skipped, so `val` on COCO renumbers the
detector's labels rather than refusing its classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

UNUSED_ID = "N/A"  # torchvision's name for the COCO category ids that have no category


def label_lookup(weights_names: Sequence[str], data_names: Sequence[str]) -> torch.Tensor | None:
    """(len(weights_names) + 1,) long: the data's label of each weights' label (0: none), when the
    weights' classes are the data's with unused ids between them; None when they are not."""
    if UNUSED_ID not in weights_names or [n for n in weights_names if n != UNUSED_ID] != list(data_names):
        return None
    lookup = torch.zeros(len(weights_names) + 1, dtype=torch.long)
    used = [label for label, name in enumerate(weights_names, start=1) if name != UNUSED_ID]
    lookup[used] = torch.arange(1, len(used) + 1)
    return lookup


class Relabelled(nn.Module):
    """A detector in eval mode whose labels are looked up in `lookup`; boxes of labels that map to
    0 (ids with no category) are dropped."""

    def __init__(self, detector: nn.Module, *, lookup: torch.Tensor) -> None:
        super().__init__()
        self.detector = detector
        self.register_buffer("lookup", lookup, persistent=False)

    def forward(self, images: torch.Tensor, **options) -> list[dict[str, torch.Tensor]]:
        """(N, 3, H, W) -> the detector's {"boxes" (D, 4), "scores" (D,), "labels" (D,)} per image."""
        renumbered = []
        for detections in self.detector(images, **options):
            labels = self.lookup.to(detections["labels"].device)[detections["labels"]]
            kept = labels > 0
            renumbered.append({**{key: value[kept] for key, value in detections.items()}, "labels": labels[kept]})
        return renumbered
