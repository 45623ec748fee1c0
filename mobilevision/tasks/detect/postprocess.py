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


def _best_per_class(scores: torch.Tensor, *, k: int, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """scores (A, K) -> (anchor indices, scores), each (K, k'), of the k' = min(k, A) best anchors
    of every class, best first; scores at or below `threshold` are set to 0 (not candidates).

    One top-k over the anchor axis instead of sorting every (anchor, class) pair above the
    threshold: an untrained 91-class SSDLite has ~180,000 of those."""
    values, anchor_index = scores.topk(min(k, scores.shape[0]), dim=0)
    values = values.T.contiguous()
    return anchor_index.T, values.masked_fill_(values <= threshold, 0.0)


def _detect(boxes: torch.Tensor, scores: torch.Tensor, *, k: int, threshold: float, nms_iou: float,
            max_detections: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """boxes (A, 4), scores (A, C - 1) -> (boxes, scores, labels) of the `max_detections` best kept
    by per-class NMS among each class's k best candidates, best first."""
    anchor_index, candidate_scores = _best_per_class(scores, k=k, threshold=threshold)
    class_index, rank = torch.nonzero(candidate_scores, as_tuple=True)  # class by class, best first
    candidate_boxes = boxes[anchor_index[class_index, rank]]
    candidate_scores = candidate_scores[class_index, rank]
    # torchvision's per-class NMS (its C++ kernel, class by class), on the candidates in the order
    # torchvision's detectors give them, so ties resolve as theirs; it returns the kept best first.
    best = batched_nms(candidate_boxes, candidate_scores, class_index, nms_iou)[:max_detections]
    return candidate_boxes[best], candidate_scores[best], class_index[best] + 1


def _none_left_out(scores: torch.Tensor, *, k: int, threshold: float, found: torch.Tensor,
                   max_detections: int) -> bool:
    """Whether NMS on every candidate (TF's: no cap before NMS) would give the same detections as on
    each class's k best: it does when no class's (k+1)-th score beats the weakest detection kept
    (or the threshold, short of max_detections). A lower-scored box never suppresses a higher
    one, so the boxes beyond k change nothing above them."""
    if k >= scores.shape[0]:
        return True
    next_best = scores.topk(k + 1, dim=0).values[-1]  # (C - 1,)
    floor = found[-1] if len(found) == max_detections else threshold
    return bool((next_best <= floor).all())


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
    D <= max_detections, best first. `topk_per_class` candidates of each class go to NMS; 0: as TF,
    no cap before NMS (each class's candidates are taken in growing numbers until the boxes left out
    could not change the result: the same detections as NMS on all, faster).
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
        k = topk_per_class or max_detections
        while True:
            kept_boxes, kept_scores, labels = _detect(boxes, scores, k=k, threshold=score_threshold, nms_iou=nms_iou,
                                                      max_detections=max_detections)
            if topk_per_class or _none_left_out(scores, k=k, threshold=score_threshold, found=kept_scores,
                                                max_detections=max_detections):
                break
            k *= 4
        detections.append({"boxes": rescale_boxes(kept_boxes, from_size=(height, width), to_size=orig_size),
                           "scores": kept_scores, "labels": labels})
    return detections
