"""From raw SSD outputs to detections in original-image coordinates.

One function for every runtime: eager PyTorch, ONNX Runtime and anything else that gives the two
raw tensors (numpy arrays are accepted). Steps per image: decode the boxes against the anchors,
clip them to the network input, turn logits into class scores, keep scores above a threshold and
the best `topk_per_class` per class, per-class NMS, keep the best `max_detections`, then rescale
from the network input (H, W) to each image's original (h, w) (the eval transform is a plain resize).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.ops import batched_nms

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


def _best_per_class(scores: torch.Tensor, classes: torch.Tensor, *, k: int) -> torch.Tensor:
    """Indices of the (at most) k highest scores within each class; scores, classes (M,)."""
    by_score = scores.argsort(descending=True)
    grouped = by_score[classes[by_score].argsort(stable=True)]  # by class, best first within one
    counts = torch.bincount(classes[grouped])
    first_of_class = counts.cumsum(0) - counts
    rank = torch.arange(grouped.numel(), device=scores.device) - first_of_class[classes[grouped]]
    return grouped[rank < k]


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
        anchor_index, class_index = torch.nonzero(scores > score_threshold, as_tuple=True)
        candidate_scores = scores[anchor_index, class_index]
        keep = _best_per_class(candidate_scores, class_index, k=topk_per_class)
        candidate_boxes, candidate_scores = boxes[anchor_index[keep]], candidate_scores[keep]
        candidate_labels = class_index[keep] + 1
        keep = batched_nms(candidate_boxes, candidate_scores, candidate_labels, nms_iou)[:max_detections]
        detections.append(
            {
                "boxes": rescale_boxes(candidate_boxes[keep], from_size=(height, width), to_size=orig_size),
                "scores": candidate_scores[keep],
                "labels": candidate_labels[keep],
            }
        )
    return detections
