"""From raw SSD outputs to detections in original-image coordinates.

One function for every runtime: eager PyTorch, ONNX Runtime and anything else that gives the two
raw tensors (numpy arrays are accepted). Steps per image: decode the boxes against the anchors,
clip them to the network input, turn logits into class scores, keep scores above a threshold and
the best `topk_per_class` per class, per-class NMS, keep the best `max_detections`, then rescale
from the network input (H, W) to each image's original (h, w) (the eval transform is a plain resize).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mobilevision.heads.box_coder import BOX_CODER_WEIGHTS, decode_boxes

SCORE_ACTIVATIONS = ("softmax", "sigmoid")


def rescale_boxes(boxes: torch.Tensor, *, from_size: Sequence[int], to_size: Sequence[int]) -> torch.Tensor:
    """(K, 4) xyxy boxes of an image of (h, w) `from_size` -> the same boxes on a (h, w) `to_size` image."""
    scale_y = to_size[0] / from_size[0]
    scale_x = to_size[1] / from_size[1]
    return boxes * boxes.new_tensor([scale_x, scale_y, scale_x, scale_y])


def class_scores(class_logits: torch.Tensor, *, activation: str) -> torch.Tensor:
    """(..., C) logits -> (..., C - 1) scores of the object classes 1..C-1 (background dropped).

    "softmax" goes with the cross-entropy loss, "sigmoid" with the focal loss.
    """
    if activation == "softmax":
        return class_logits.softmax(dim=-1)[..., 1:]
    if activation == "sigmoid":
        return class_logits[..., 1:].sigmoid()
    raise ValueError(f"unknown score activation {activation!r}; use one of {SCORE_ACTIVATIONS}")


def _best_per_class(scores: torch.Tensor, *, k: int, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """scores (A, K) -> (anchor indices, scores), each (K, k'), of the k' = min(k, A) best anchors
    of every class, best first; scores at or below `threshold` are set to 0 (not candidates).

    One top-k over the anchor axis instead of sorting every (anchor, class) pair above the
    threshold: an untrained 91-class SSDLite has ~180,000 of those."""
    values, anchor_index = scores.topk(min(k, scores.shape[0]), dim=0)
    values = values.T.contiguous()
    return anchor_index.T, values.masked_fill_(values <= threshold, 0.0)


def _greedy_nms_per_class(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """boxes (K, k, 4) xyxy and scores (K, k), best first within each class (0: no candidate) ->
    keep (K, k) bool: greedy NMS for all classes at once, each class's boxes against its own.

    The same boxes as torchvision's per-class NMS, but the overlaps of every class come from one
    tensor operation and the greedy pass walks the k ranks once for all classes, on numpy arrays
    (a microsecond per step where a torch call costs ten): an untrained 91-class SSDLite gives
    9,000 candidates, which torchvision handles class by class in a Python loop."""
    x1, y1, x2, y2 = boxes.unbind(dim=-1)  # each (K, k): contiguous, unlike slices of the last axis
    area = (x2 - x1) * (y2 - y1)
    inter = (torch.minimum(x2[:, :, None], x2[:, None]) - torch.maximum(x1[:, :, None], x1[:, None])).clamp_(min=0)
    inter.mul_((torch.minimum(y2[:, :, None], y2[:, None]) - torch.maximum(y1[:, :, None], y1[:, None])).clamp_(min=0))
    # IoU > t, as inter * (1 + t) > t * (area_i + area_j): no division, and no NaN for empty boxes.
    overlaps = (inter * (1 + iou_threshold) > (area[:, :, None] + area[:, None]) * iou_threshold).cpu().numpy()
    suppressed = (scores <= 0).cpu().numpy()
    keep = np.zeros_like(suppressed)
    # Candidates are sorted, so no class has one past the longest run of non-zero scores.
    for rank in range(int((~suppressed).sum(axis=1).max()) if suppressed.size else 0):
        kept = ~suppressed[:, rank]
        keep[:, rank] = kept
        suppressed |= kept[:, None] & overlaps[:, rank]
    return torch.from_numpy(keep).to(scores.device)


def postprocess_detections(
    box_deltas,
    class_logits,
    anchors,
    *,
    image_size: Sequence[int],
    orig_sizes: Sequence[Sequence[int]] | None = None,
    score_activation: str = "softmax",
    score_threshold: float = 0.001,
    topk_per_class: int = 100,
    nms_iou: float = 0.6,
    max_detections: int = 100,
    box_coder_weights: tuple[float, ...] = BOX_CODER_WEIGHTS,
) -> list[dict[str, torch.Tensor]]:
    """box_deltas (N, A, 4), class_logits (N, A, C), anchors (A, 4) xyxy in input pixels (tensors or
    numpy arrays); image_size (H, W) of the network input; orig_sizes one (h, w) per image (default:
    the input size) -> per image {"boxes": (D, 4) xyxy, "scores": (D,), "labels": (D,) int64 in 1..C-1},
    D <= max_detections, best first.
    """
    box_deltas, class_logits = torch.as_tensor(box_deltas), torch.as_tensor(class_logits)
    anchors = torch.as_tensor(anchors).to(box_deltas)
    height, width = image_size
    if orig_sizes is None:
        orig_sizes = [(height, width)] * box_deltas.shape[0]
    if len(orig_sizes) != box_deltas.shape[0]:
        raise ValueError(f"{len(orig_sizes)} original sizes for a batch of {box_deltas.shape[0]} images")
    detections = []
    for deltas, logits, orig_size in zip(box_deltas, class_logits, orig_sizes):
        boxes = decode_boxes(deltas, anchors, weights=box_coder_weights)
        boxes = torch.stack(
            [boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
             boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)], dim=1
        )
        scores = class_scores(logits, activation=score_activation)  # (A, C - 1)
        anchor_index, candidate_scores = _best_per_class(scores, k=topk_per_class, threshold=score_threshold)
        candidate_boxes = boxes[anchor_index]  # (C - 1, k, 4)
        keep = _greedy_nms_per_class(candidate_boxes, candidate_scores, nms_iou)
        class_index, rank = torch.nonzero(keep, as_tuple=True)
        kept_scores = candidate_scores[class_index, rank]
        best = kept_scores.argsort(descending=True, stable=True)[:max_detections]
        detections.append(
            {
                "boxes": rescale_boxes(candidate_boxes[class_index[best], rank[best]], from_size=(height, width),
                                       to_size=orig_size),
                "scores": kept_scores[best],
                "labels": class_index[best] + 1,
            }
        )
    return detections
