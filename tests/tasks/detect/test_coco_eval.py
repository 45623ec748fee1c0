"""Our COCO numbers equal pycocotools run directly on the same ground truth and predictions."""

import contextlib
import io
import json

import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mobilevision.tasks.detect.coco_eval import (
    COCO_METRIC_NAMES,
    coco_from_targets,
    coco_results,
    evaluate_coco,
    per_class_ap,
    run_coco_eval,
    save_coco_results,
)

CATEGORY_IDS = [18, 44]  # labels 1, 2 are COCO's "dog" and "bottle": ids are not contiguous

TARGETS = [
    {"image_id": 7, "orig_size": (200, 300),
     "boxes": torch.tensor([[10.0, 20, 110, 120], [150, 40, 290, 190], [5, 5, 25, 30]]),
     "labels": torch.tensor([1, 2, 1]),
     "crowd_boxes": torch.tensor([[200.0, 0, 300, 30]]), "crowd_labels": torch.tensor([2])},
    {"image_id": 9, "orig_size": (480, 640),
     "boxes": torch.tensor([[100.0, 100, 400, 420], [20, 300, 60, 340]]),
     "labels": torch.tensor([2, 2])},
]
PREDICTIONS = [
    {"boxes": torch.tensor([[12.0, 18, 108, 125], [150, 45, 280, 185], [210, 2, 250, 25], [6, 4, 24, 28], [0, 0, 50, 50]]),
     "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.3]),
     "labels": torch.tensor([1, 2, 2, 1, 1])},
    {"boxes": torch.tensor([[110.0, 90, 390, 400], [25, 310, 70, 350], [300, 300, 500, 470]]),
     "scores": torch.tensor([0.95, 0.5, 0.4]),
     "labels": torch.tensor([2, 2, 1])},
]


def _pycocotools_directly(tmp_path, *, category_ids: list[int] | None = None) -> list[float]:
    """The same fixture written by hand as COCO JSON files (xywh), evaluated by pycocotools alone
    (over only `category_ids` when given)."""
    annotations = [
        (7, 18, [10, 20, 100, 100], 0), (7, 44, [150, 40, 140, 150], 0), (7, 18, [5, 5, 20, 25], 0),
        (7, 44, [200, 0, 100, 30], 1), (9, 44, [100, 100, 300, 320], 0), (9, 44, [20, 300, 40, 40], 0),
    ]
    ground_truth = {
        "images": [{"id": 7, "height": 200, "width": 300}, {"id": 9, "height": 480, "width": 640}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 44, "name": "bottle"}],
        "annotations": [
            {"id": i + 1, "image_id": image, "category_id": category, "bbox": box, "area": box[2] * box[3],
             "iscrowd": crowd}
            for i, (image, category, box, crowd) in enumerate(annotations)
        ],
    }
    results = [
        {"image_id": 7, "category_id": 18, "bbox": [12, 18, 96, 107], "score": 0.9},
        {"image_id": 7, "category_id": 44, "bbox": [150, 45, 130, 140], "score": 0.8},
        {"image_id": 7, "category_id": 44, "bbox": [210, 2, 40, 23], "score": 0.7},
        {"image_id": 7, "category_id": 18, "bbox": [6, 4, 18, 24], "score": 0.6},
        {"image_id": 7, "category_id": 18, "bbox": [0, 0, 50, 50], "score": 0.3},
        {"image_id": 9, "category_id": 44, "bbox": [110, 90, 280, 310], "score": 0.95},
        {"image_id": 9, "category_id": 44, "bbox": [25, 310, 45, 40], "score": 0.5},
        {"image_id": 9, "category_id": 18, "bbox": [300, 300, 200, 170], "score": 0.4},
    ]
    (tmp_path / "gt.json").write_text(json.dumps(ground_truth))
    (tmp_path / "dt.json").write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(tmp_path / "gt.json"))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(str(tmp_path / "dt.json")), iouType="bbox")
        if category_ids is not None:
            evaluator.params.catIds = category_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


def test_equals_pycocotools_on_the_same_fixture(tmp_path):
    expected = _pycocotools_directly(tmp_path)
    ground_truth = coco_from_targets(TARGETS, num_classes=3, category_ids=CATEGORY_IDS)
    results = coco_results(PREDICTIONS, [t["image_id"] for t in TARGETS], category_ids=CATEGORY_IDS)
    metrics = evaluate_coco(ground_truth, results)
    assert list(metrics) == list(COCO_METRIC_NAMES)
    assert list(metrics.values()) == pytest.approx(expected, abs=1e-9)
    assert 0 < metrics["mAP"] < metrics["mAP50"] <= 1  # the fixture is neither trivial nor empty


def test_per_class_ap_equals_pycocotools_run_on_each_class_alone(tmp_path):
    ground_truth = coco_from_targets(TARGETS, num_classes=3, category_ids=CATEGORY_IDS)
    results = coco_results(PREDICTIONS, [t["image_id"] for t in TARGETS], category_ids=CATEGORY_IDS)
    evaluator = run_coco_eval(ground_truth, results)
    table = per_class_ap(ground_truth, evaluator, ["dog", "bottle"], category_ids=CATEGORY_IDS)
    assert list(table) == ["dog", "bottle"]
    # The fixture's non-crowd boxes: two dogs in image 7; a bottle there (the crowd one not counted) and two in 9.
    assert [row["instances"] for row in table.values()] == [2, 3]
    for name, category in zip(table, CATEGORY_IDS):
        alone = _pycocotools_directly(tmp_path, category_ids=[category])
        assert (table[name]["AP"], table[name]["AP50"]) == pytest.approx((alone[0], alone[1]), abs=1e-9)
    assert table["dog"]["AP"] != table["bottle"]["AP"]  # the classes differ, so a mix-up would show
    mean = (table["dog"]["AP"] + table["bottle"]["AP"]) / 2
    assert mean == pytest.approx(evaluator.stats[0], abs=1e-9)  # COCO's mAP is the class mean


def test_per_class_ap_without_detections_or_ground_truth():
    ground_truth = coco_from_targets(TARGETS[1:], num_classes=3)  # image 9 holds bottles (label 2) only
    assert per_class_ap(ground_truth, None, ["dog", "bottle"]) == {
        "dog": {"AP": None, "AP50": None, "instances": 0}, "bottle": {"AP": 0.0, "AP50": 0.0, "instances": 2}}


def test_saved_results_load_back_into_pycocotools(tmp_path):
    ground_truth = coco_from_targets(TARGETS, num_classes=3, category_ids=CATEGORY_IDS)
    results = coco_results(PREDICTIONS, [7, 9], category_ids=CATEGORY_IDS)
    path = save_coco_results(results, tmp_path / "detections.json")
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = ground_truth.loadRes(str(path))
    assert len(loaded.anns) == 8
    assert sorted({a["category_id"] for a in loaded.anns.values()}) == CATEGORY_IDS


def test_no_detections_give_zeros():
    ground_truth = coco_from_targets(TARGETS, num_classes=3)
    assert set(evaluate_coco(ground_truth, []).values()) == {0.0}
