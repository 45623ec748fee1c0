"""Box coding: boxes as offsets from their anchors, the regression target SSD learns.

Faster R-CNN's centre-size encoding, which SSD and TF's `faster_rcnn_box_coder` use:
  t_x = w_x * (x - x_a) / w_a,  t_y = w_y * (y - y_a) / h_a,
  t_w = w_w * log(w / w_a),     t_h = w_h * log(h / h_a),
with weights (10, 10, 5, 5) (TF's y/x scale 10, height/width scale 5). The weights scale the
targets to roughly unit variance, which the "variances" 0.1 / 0.2 of the SSD paper also do.
"""

from __future__ import annotations

import math

import torch

BOX_CODER_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
# exp() of a decoded log-size is clamped here (torchvision's value): a wild regression output early
# in training would otherwise overflow to inf, and inf boxes break NMS.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def _centre_size(boxes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    widths = boxes[..., 2] - boxes[..., 0]
    heights = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * widths, boxes[..., 1] + 0.5 * heights, widths, heights


def encode_boxes(
    boxes: torch.Tensor, anchors: torch.Tensor, *, weights: tuple[float, ...] = BOX_CODER_WEIGHTS
) -> torch.Tensor:
    """Boxes (..., 4) xyxy and their anchors (..., 4) xyxy -> regression targets (..., 4)."""
    wx, wy, ww, wh = weights
    x, y, w, h = _centre_size(boxes)
    xa, ya, wa, ha = _centre_size(anchors)
    return torch.stack(
        [wx * (x - xa) / wa, wy * (y - ya) / ha, ww * torch.log(w / wa), wh * torch.log(h / ha)], dim=-1
    )


def decode_boxes(
    deltas: torch.Tensor, anchors: torch.Tensor, *, weights: tuple[float, ...] = BOX_CODER_WEIGHTS
) -> torch.Tensor:
    """Regression outputs (..., 4) and anchors (..., 4) xyxy (broadcastable) -> boxes (..., 4) xyxy."""
    wx, wy, ww, wh = weights
    xa, ya, wa, ha = _centre_size(anchors)
    x = deltas[..., 0] / wx * wa + xa
    y = deltas[..., 1] / wy * ha + ya
    w = torch.exp((deltas[..., 2] / ww).clamp(max=MAX_LOG_SCALE)) * wa
    h = torch.exp((deltas[..., 3] / wh).clamp(max=MAX_LOG_SCALE)) * ha
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=-1)
