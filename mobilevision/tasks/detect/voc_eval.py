"""PASCAL VOC detection AP at IoU 0.5, as the VOC devkit's VOCevaldet.m and VOCap.m define it.

Per class, all detections of the test set are sorted by score; each is a true positive if its
best-overlapping ground truth box in the same image (IoU >= 0.5) is not yet taken, a false
positive if that box is taken already or no box overlaps enough, and neither when that box is
"difficult" (difficult boxes are also left out of the recall denominator). AP is then
- "voc07": the 11-point interpolated AP of VOC2007 (mean of the best precision at recall >= 0,
  0.1, ..., 1), or
- "voc12": the area under the precision envelope (VOC2010 onwards).
The devkit adds 1 to widths and heights because its boxes are inclusive pixel indices; our boxes
are pixel edges (x2 = last column + 1), for which the plain difference is the same width.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

VOC_METRICS = ("voc07", "voc12")


def _numpy(values, dtype) -> np.ndarray:
    return np.asarray(torch.as_tensor(values).detach().cpu(), dtype=dtype)


def voc_ap(recall: np.ndarray, precision: np.ndarray, *, metric: str) -> float:
    """AP from the cumulative recall and precision of score-sorted detections."""
    if metric == "voc07":
        points = [precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in np.linspace(0, 1, 11)]
        return float(np.mean(points))
    if metric != "voc12":
        raise ValueError(f"unknown VOC metric {metric!r}; use one of {VOC_METRICS}")
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * envelope[steps + 1]))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(4,) and (K, 4) xyxy -> (K,)."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / (area + areas - inter)


def class_ap(
    predictions: Sequence[dict], ground_truths: Sequence[dict], *, label: int, iou_threshold: float, metric: str
) -> float | None:
    """AP of one class over the test set, or None when it has no non-difficult ground truth."""
    gt_boxes, gt_difficult, taken = [], [], []
    for truth in ground_truths:
        mask = _numpy(truth["labels"], np.int64) == label
        difficult = _numpy(truth.get("difficult", np.zeros(len(mask), dtype=bool)), bool)
        gt_boxes.append(_numpy(truth["boxes"], np.float64).reshape(-1, 4)[mask])
        gt_difficult.append(difficult[mask])
        taken.append(np.zeros(int(mask.sum()), dtype=bool))
    num_positives = int(sum((~d).sum() for d in gt_difficult))
    if num_positives == 0:
        return None

    detections = []  # (score, image index, box)
    for image, prediction in enumerate(predictions):
        mask = _numpy(prediction["labels"], np.int64) == label
        boxes = _numpy(prediction["boxes"], np.float64).reshape(-1, 4)[mask]
        detections += [(score, image, box) for score, box in zip(_numpy(prediction["scores"], np.float64)[mask], boxes)]
    detections.sort(key=lambda d: -d[0])

    true_positive = np.zeros(len(detections))
    false_positive = np.zeros(len(detections))
    for d, (_, image, box) in enumerate(detections):
        overlaps = _iou(box, gt_boxes[image]) if len(gt_boxes[image]) else np.zeros(0)
        best = int(overlaps.argmax()) if len(overlaps) else -1
        if best < 0 or overlaps[best] < iou_threshold:
            false_positive[d] = 1
        elif gt_difficult[image][best]:
            continue  # neither: the devkit ignores detections of difficult objects
        elif not taken[image][best]:
            true_positive[d] = 1
            taken[image][best] = True
        else:
            false_positive[d] = 1  # a second detection of the same object
    true_positive, false_positive = np.cumsum(true_positive), np.cumsum(false_positive)
    recall = true_positive / num_positives
    precision = true_positive / np.maximum(true_positive + false_positive, np.finfo(np.float64).eps)
    return voc_ap(recall, precision, metric=metric)


def evaluate_voc(
    predictions: Sequence[dict],
    ground_truths: Sequence[dict],
    *,
    num_classes: int,
    metric: str = "voc07",
    iou_threshold: float = 0.5,
) -> dict:
    """Predictions ({"boxes" (D, 4) xyxy, "scores", "labels"} per image) against ground truths
    ({"boxes" (K, 4), "labels" (K,), optional "difficult" (K,) bool} per image, same order and
    coordinates) -> {"mAP": mean over the classes present, "AP": {label: AP}}.

    Classes without non-difficult ground truth have no AP (the devkit's recall would be 0 / 0)
    and are left out of the mean.
    """
    if len(predictions) != len(ground_truths):
        raise ValueError(f"{len(predictions)} predictions for {len(ground_truths)} images")
    per_class = {}
    for label in range(1, num_classes):
        ap = class_ap(predictions, ground_truths, label=label, iou_threshold=iou_threshold, metric=metric)
        if ap is not None:
            per_class[label] = ap
    mean = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return {"mAP": mean, "AP": per_class}
