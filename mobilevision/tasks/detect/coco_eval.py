"""COCO box evaluation: the 12 numbers of pycocotools' COCOeval, by name.

Ground truth is a pycocotools `COCO` object: the dataset's own instances JSON for COCO, or one
built in memory from target dicts for any other source (VOC, the generated data), with crowd
regions as iscrowd=1. Predictions are the task model's eval output, one dict per image, in the
same coordinates as the ground truth (the original image's).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

# The order of COCOeval.stats: AP at IoU .50:.95 / .50 / .75, AP by area, AR at 1 / 10 / 100
# detections, AR@100 by area.
COCO_METRIC_NAMES = (
    "mAP", "mAP50", "mAP75", "mAP_small", "mAP_medium", "mAP_large",
    "AR1", "AR10", "AR100", "AR100_small", "AR100_medium", "AR100_large",
)


def _category_id(label: int, category_ids: Sequence[int] | None) -> int:
    """Contiguous label 1..C -> the dataset's category id (identity when there is no mapping)."""
    return int(label) if category_ids is None else int(category_ids[int(label) - 1])


def _xywh(boxes) -> np.ndarray:
    boxes = np.asarray(torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4))
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def coco_from_targets(
    targets: Sequence[dict], *, num_classes: int, category_ids: Sequence[int] | None = None,
    difficult_as_crowd: bool = True,
):
    """An in-memory COCO ground truth from target dicts.

    Each target: "image_id" int, "orig_size" (h, w), "boxes" (K, 4) xyxy and "labels" (K,) in
    1..num_classes-1, in the coordinates predictions will be given in; optional "crowd_boxes",
    "crowd_labels" (iscrowd=1) and "difficult" (K,) bool. Difficult boxes become iscrowd=1 too by
    default: COCOeval's only way to neither reward nor punish a detection of an object is a crowd
    region. Areas are box areas (there are no masks).
    """
    from pycocotools.coco import COCO

    images, annotations = [], []
    for target in targets:
        image_id = int(target["image_id"])
        height, width = (int(v) for v in target["orig_size"])
        images.append({"id": image_id, "height": height, "width": width})
        difficult = np.asarray(target.get("difficult", np.zeros(len(target["labels"]), dtype=bool)), dtype=bool)
        groups = [(target["boxes"], target["labels"], difficult & difficult_as_crowd)]
        if "crowd_boxes" in target:
            crowd_labels = np.asarray(target["crowd_labels"])
            groups.append((target["crowd_boxes"], crowd_labels, np.ones(len(crowd_labels), dtype=bool)))
        for boxes, labels, crowd in groups:
            for box, label, is_crowd in zip(_xywh(boxes), np.asarray(labels), crowd):
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "bbox": box.tolist(),
                    "area": float(box[2] * box[3]), "iscrowd": int(is_crowd),
                    "category_id": _category_id(label, category_ids),
                })
    categories = [{"id": _category_id(label, category_ids), "name": str(label)} for label in range(1, num_classes)]
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations, "categories": categories}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_results(
    predictions: Sequence[dict], image_ids: Sequence[int], *, category_ids: Sequence[int] | None = None
) -> list[dict]:
    """Predictions ({"boxes" (D, 4) xyxy, "scores", "labels"} per image) -> COCO results format:
    [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]."""
    results = []
    for prediction, image_id in zip(predictions, image_ids):
        scores = np.asarray(torch.as_tensor(prediction["scores"], dtype=torch.float64))
        labels = np.asarray(torch.as_tensor(prediction["labels"]))
        for box, score, label in zip(_xywh(prediction["boxes"]), scores, labels):
            results.append({
                "image_id": int(image_id), "category_id": _category_id(label, category_ids),
                "bbox": [round(float(v), 3) for v in box], "score": round(float(score), 5),
            })
    return results


def save_coco_results(results: list[dict], path: str | Path) -> Path:
    """Write results as the JSON list COCO's evaluation server and `COCO.loadRes` read."""
    path = Path(path)
    path.write_text(json.dumps(results))
    return path


def run_coco_eval(coco_gt, results: list[dict]):
    """COCOeval (iouType "bbox") of results against a COCO ground truth, evaluated, accumulated and
    summarised (its `stats` are the 12 numbers, its `eval["precision"]` the PR curves); None when
    there are no detections at all (pycocotools cannot load an empty result list). COCOeval's own
    print-out is kept off stdout."""
    from pycocotools.cocoeval import COCOeval

    if not results:
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        # loadRes adds keys to the dicts it gets: give it copies.
        coco_dt = coco_gt.loadRes([dict(result) for result in results])
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def coco_metrics(evaluator) -> dict[str, float]:
    """The 12 numbers by name of a run_coco_eval result (all 0 for None: no detections)."""
    if evaluator is None:
        return dict.fromkeys(COCO_METRIC_NAMES, 0.0)
    return {name: float(value) for name, value in zip(COCO_METRIC_NAMES, evaluator.stats)}


def per_class_ap(coco_gt, evaluator, class_names: Sequence[str], *,
                 category_ids: Sequence[int] | None = None) -> dict[str, dict]:
    """{class name: {"instances": its non-crowd ground-truth boxes, "AP50": AP@.5, "AP": AP@[.5:.95]}}
    from a run_coco_eval result's precision array (all areas, 100 detections): the class mean is
    COCO's mAP. A class without ground truth has AP None (COCOeval's -1); with no detection at all
    (evaluator None) every other class has 0."""
    table = {}
    for label, name in enumerate(class_names, start=1):
        category = _category_id(label, category_ids)
        instances = len(coco_gt.getAnnIds(catIds=[category], iscrowd=False))
        if evaluator is None or instances == 0:
            ap = None if instances == 0 else 0.0
            table[name] = {"instances": instances, "AP50": ap, "AP": ap}
            continue
        precision = evaluator.eval["precision"][:, :, evaluator.params.catIds.index(category), 0, -1]  # (IoU, recall)
        table[name] = {"instances": instances, "AP50": float(precision[0].mean()), "AP": float(precision.mean())}
    return table


def evaluate_coco(coco_gt, results: list[dict]) -> dict[str, float]:
    """COCOeval of results against a COCO ground truth -> the 12 numbers by name (all 0 without
    detections)."""
    return coco_metrics(run_coco_eval(coco_gt, results))
