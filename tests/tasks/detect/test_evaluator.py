"""DetectionEvaluator: original-image coordinates, crowd regions, VOC numbers, the PR plot."""

import pytest
import torch

from mobilevision.tasks.detect.evaluator import DetectionEvaluator


def _target(image_id, boxes, labels, *, orig_size, crowd_boxes=(), difficult=None):
    return {"image_id": image_id, "orig_size": orig_size, "boxes": torch.tensor(boxes, dtype=torch.float32),
            "labels": torch.tensor(labels), "difficult": torch.tensor(difficult or [False] * len(labels)),
            "crowd_boxes": torch.tensor(crowd_boxes, dtype=torch.float32).reshape(-1, 4),
            "crowd_labels": torch.ones(len(crowd_boxes), dtype=torch.int64)}


def test_boxes_are_compared_in_original_coordinates(tmp_path):
    """A 10x10 box on a 100x100 input is 64x48 on a 640x480 original: small for the resized image,
    medium (area 3072 >= 32^2) for COCO's areas, which must be the original's."""
    evaluator = DetectionEvaluator(["a", "b"], input_size=100, voc=True)
    target = _target(1, [[10, 10, 20, 20], [50, 50, 90, 90]], [1, 2], orig_size=(480, 640))
    prediction = {"boxes": target["boxes"].clone(), "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([1, 2])}
    evaluator.update([prediction], [target])
    metrics = evaluator.compute()
    assert metrics["mAP"] == pytest.approx(1.0) and metrics["voc07_mAP"] == pytest.approx(1.0)
    assert metrics["mAP_small"] == -1.0 and metrics["mAP_medium"] == pytest.approx(1.0)
    assert evaluator.results[0]["bbox"] == pytest.approx([64.0, 48.0, 64.0, 48.0])
    evaluator.plot(tmp_path)
    assert (tmp_path / "PR_curve.png").is_file()


def test_detections_on_crowd_regions_and_difficult_objects_are_not_false_positives():
    # COCO's view (VOC data has no crowd regions; VOC's difficult handling is tested in test_voc_eval.py).
    evaluator = DetectionEvaluator(["a"], input_size=100)
    target = _target(1, [[0, 0, 30, 30], [60, 0, 90, 30]], [1, 1], orig_size=(100, 100),
                     crowd_boxes=[[0, 50, 100, 100]], difficult=[False, True])
    prediction = {"boxes": torch.tensor([[40.0, 60.0, 60.0, 80.0], [60.0, 0.0, 90.0, 30.0], [0.0, 0.0, 30.0, 30.0]]),
                  "scores": torch.tensor([0.95, 0.9, 0.5]), "labels": torch.tensor([1, 1, 1])}
    evaluator.update([prediction], [target])
    metrics = evaluator.compute()
    # The higher-scored detections sit on the crowd region and the difficult object: ignored, not wrong.
    assert metrics["mAP50"] == pytest.approx(1.0)


def test_no_detections_gives_zeros():
    evaluator = DetectionEvaluator(["a"], input_size=100)
    target = _target(1, [[0, 0, 30, 30]], [1], orig_size=(100, 100))
    empty = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)}
    evaluator.update([empty], [target])
    metrics = evaluator.compute()
    assert metrics["mAP"] == 0.0 and "voc07_mAP" not in metrics
