"""SSD's MultiBox loss: box regression on matched anchors, classification with hard negatives.

Box loss: smooth L1 (TF's Huber with delta 1) or L1 on the encoded offsets of positive anchors.
Class loss: softmax cross-entropy on the positives and on the negatives with the highest loss,
3 per positive (SSD's hard-negative mining; TF keeps at least 3 per image, which also keeps the
loss informative on an image without objects). Both are summed and divided by the number of
positives in the batch (at least 1). Option: the sigmoid focal loss (RetinaNet) on every anchor
instead of mining, with the background column unused.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from mobilevision.errors import MobileVisionError
from mobilevision.heads.box_coder import encode_boxes
from mobilevision.tasks.detect.matcher import match_anchors

BOX_LOSSES = ("smooth_l1", "l1")
CLASS_LOSSES = ("cross_entropy", "focal")


def assign_targets(
    targets: list[dict], anchors: torch.Tensor, *, num_classes: int, iou_threshold: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the class and the encoded box each anchor should predict.

    targets: per image {"boxes": (K, 4) xyxy input pixels, "labels": (K,) int64 in 1..num_classes-1}.
    Returns labels (N, A) int64 (0 = background) and box targets (N, A, 4) (zero where background).
    """
    labels, box_targets = [], []
    for target in targets:
        boxes = target["boxes"].to(anchors)
        gt_labels = target["labels"].to(device=anchors.device, dtype=torch.int64)
        if gt_labels.numel() and (gt_labels.min() < 1 or gt_labels.max() >= num_classes):
            raise MobileVisionError(
                f"box labels must be in 1..{num_classes - 1} (0 is background); got {gt_labels.unique().tolist()}"
            )
        matches = match_anchors(boxes, anchors, iou_threshold=iou_threshold)
        positive = matches >= 0
        image_labels = torch.zeros_like(matches)
        image_labels[positive] = gt_labels[matches[positive]]
        image_boxes = torch.zeros_like(anchors)
        image_boxes[positive] = encode_boxes(boxes[matches[positive]], anchors[positive])
        labels.append(image_labels)
        box_targets.append(image_boxes)
    return torch.stack(labels), torch.stack(box_targets)


def hard_negatives(
    class_loss: torch.Tensor, positive: torch.Tensor, *, neg_pos_ratio: float, min_negatives: int
) -> torch.Tensor:
    """class_loss (N, A) and positive (N, A) bool -> (N, A) bool: per image, the
    max(neg_pos_ratio * positives, min_negatives) negatives with the highest loss."""
    num_negatives = (positive.sum(dim=1, keepdim=True) * neg_pos_ratio).clamp(min=min_negatives)
    negative_loss = class_loss.detach().masked_fill(positive, float("-inf"))
    order = negative_loss.argsort(dim=1, descending=True)
    rank = order.argsort(dim=1)
    return (rank < num_negatives) & ~positive


def multibox_loss(
    box_deltas: torch.Tensor,
    class_logits: torch.Tensor,
    targets: list[dict],
    anchors: torch.Tensor,
    *,
    iou_threshold: float = 0.5,
    box_loss: str = "smooth_l1",
    class_loss: str = "cross_entropy",
    neg_pos_ratio: float = 3.0,
    min_negatives: int = 3,
    focal_alpha: float = 0.25,
    focal_gamma: float = 2.0,
) -> dict[str, torch.Tensor]:
    """box_deltas (N, A, 4), class_logits (N, A, C), one target dict per image, anchors (A, 4)
    -> {"bbox_regression": scalar, "classification": scalar}, both divided by the positives."""
    if box_loss not in BOX_LOSSES or class_loss not in CLASS_LOSSES:
        raise MobileVisionError(f"box_loss must be one of {BOX_LOSSES} and class_loss one of {CLASS_LOSSES}")
    num_classes = class_logits.shape[-1]
    labels, box_targets = assign_targets(targets, anchors, num_classes=num_classes, iou_threshold=iou_threshold)
    positive = labels > 0
    normaliser = positive.sum().clamp(min=1)

    box_fn = F.smooth_l1_loss if box_loss == "smooth_l1" else F.l1_loss
    bbox_regression = box_fn(box_deltas[positive], box_targets[positive], reduction="sum") / normaliser

    if class_loss == "cross_entropy":
        per_anchor = F.cross_entropy(class_logits.flatten(0, 1), labels.flatten(), reduction="none")
        per_anchor = per_anchor.view_as(labels)
        negative = hard_negatives(per_anchor, positive, neg_pos_ratio=neg_pos_ratio, min_negatives=min_negatives)
        classification = per_anchor[positive | negative].sum() / normaliser
    else:
        one_hot = F.one_hot(labels, num_classes).to(class_logits.dtype)[..., 1:]
        classification = sigmoid_focal_loss(
            class_logits[..., 1:], one_hot, alpha=focal_alpha, gamma=focal_gamma, reduction="sum"
        ) / normaliser
    return {"bbox_regression": bbox_regression, "classification": classification}
