"""Anchor-to-object matching, as SSD and TF's argmax matcher (`force_match_for_each_row`) do it.

An anchor is matched to the object it overlaps most if that IoU is at least the threshold (0.5);
then every object also takes its best anchor whatever the IoU, so a small or oddly shaped object
that no anchor covers well still gets one positive (torchvision's `SSDMatcher`).
"""

from __future__ import annotations

import torch
from torchvision.ops import box_iou

BACKGROUND = -1


def match_anchors(gt_boxes: torch.Tensor, anchors: torch.Tensor, *, iou_threshold: float = 0.5) -> torch.Tensor:
    """gt_boxes (K, 4) and anchors (A, 4), both xyxy -> (A,) int64: the matched object's index in
    0..K-1, or BACKGROUND (-1).

    When two objects have the same best anchor, only one of them keeps it (as in torchvision).
    """
    if gt_boxes.numel() == 0:
        return torch.full((anchors.shape[0],), BACKGROUND, dtype=torch.int64, device=anchors.device)
    iou = box_iou(gt_boxes, anchors)  # (K, A)
    best_iou, matches = iou.max(dim=0)
    matches[best_iou < iou_threshold] = BACKGROUND
    best_anchor = iou.argmax(dim=1)  # (K,)
    matches[best_anchor] = torch.arange(gt_boxes.shape[0], device=anchors.device)
    return matches
