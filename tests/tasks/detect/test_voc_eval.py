"""VOC07 (11-point) and VOC12 (area) AP against a hand computation, difficult boxes included."""

import pytest
import torch

from mobilevision.tasks.detect.voc_eval import evaluate_voc

GROUND_TRUTH = [
    {  # image A
        "boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]),
        "labels": torch.tensor([1, 1, 1]),
        "difficult": torch.tensor([False, True, False]),
    },
    {  # image B
        "boxes": torch.tensor([[0.0, 0, 20, 20], [30, 30, 60, 60]]),
        "labels": torch.tensor([1, 2]),
        "difficult": torch.tensor([False, False]),
    },
]
PREDICTIONS = [
    {
        "boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 9], [40, 40, 50, 50], [5, 5, 9, 9]]),
        "scores": torch.tensor([0.9, 0.8, 0.6, 0.4, 0.95]),
        "labels": torch.tensor([1, 1, 1, 1, 3]),
    },
    {
        "boxes": torch.tensor([[50.0, 50, 60, 60], [0, 0, 20, 18], [30, 30, 40, 40]]),
        "scores": torch.tensor([0.7, 0.5, 0.99]),
        "labels": torch.tensor([1, 1, 2]),
    },
]

# Class 1 by hand. Non-difficult ground truth: A0, A2, B0, so 3 positives (A1 is difficult).
# Detections by score:
#   0.9 A [0,0,10,10]   IoU 1 with A0                   -> TP        tp 1 fp 0  rec 1/3 prec 1
#   0.8 A [20,20,30,30] best overlap is A1, difficult   -> ignored   tp 1 fp 0  rec 1/3 prec 1
#   0.7 B [50,50,60,60] overlaps nothing                -> FP        tp 1 fp 1  rec 1/3 prec 1/2
#   0.6 A [0,0,10,9]    IoU 0.9 with A0, already taken  -> FP        tp 1 fp 2  rec 1/3 prec 1/3
#   0.5 B [0,0,20,18]   IoU 360/400 = 0.9 with B0       -> TP        tp 2 fp 2  rec 2/3 prec 1/2
#   0.4 A [40,40,50,50] IoU 1 with A2                   -> TP        tp 3 fp 2  rec 1   prec 3/5
# VOC07: best precision at recall >= t for t = 0, .1, ..., 1:
#   t = 0 .. 0.3 -> 1 (4 points); t = 0.4 .. 1.0 -> max(1/2, 3/5) = 3/5 (7 points):
#   AP = (4 + 7 * 0.6) / 11 = 8.2 / 11 = 0.745455
# VOC12: the precision envelope is 1 up to recall 1/3, then 3/5 (the later, higher precision lifts
#   the 1/2 at recall 2/3): AP = 1/3 * 1 + 2/3 * 3/5 = 0.733333
# Class 2: one object, its only detection has IoU 100/900 < 0.5 -> AP 0.
# Class 3: a detection but no ground truth -> no AP, not in the mean.
CLASS_1_AP = {"voc07": 8.2 / 11, "voc12": 1 / 3 + 2 / 3 * 0.6}


@pytest.mark.parametrize("metric", ["voc07", "voc12"])
def test_matches_the_hand_computation(metric):
    result = evaluate_voc(PREDICTIONS, GROUND_TRUTH, num_classes=4, metric=metric)
    assert set(result["AP"]) == {1, 2}
    assert result["AP"][1] == pytest.approx(CLASS_1_AP[metric])
    assert result["AP"][2] == 0.0
    assert result["mAP"] == pytest.approx(CLASS_1_AP[metric] / 2)


def test_perfect_detections_score_one_and_difficult_misses_cost_nothing():
    perfect = [{"boxes": t["boxes"], "scores": torch.ones(len(t["labels"])), "labels": t["labels"]} for t in GROUND_TRUTH]
    perfect[0] = {key: value[[0, 2]] for key, value in perfect[0].items()}  # the difficult box is not found
    for metric in ("voc07", "voc12"):
        assert evaluate_voc(perfect, GROUND_TRUTH, num_classes=3, metric=metric)["mAP"] == pytest.approx(1.0)
