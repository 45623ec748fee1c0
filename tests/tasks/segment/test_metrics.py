"""Segmentation metrics against values worked out by hand, and across torchrun ranks."""

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.segment.metrics import SegmentationMetrics

# Five classes: 0 background, 1 and 2 labelled, 3 only ever predicted, 4 absent from both.
TARGETS = torch.tensor(
    [
        [
            [0, 0, 1, 1],
            [0, 255, 1, 1],
            [2, 2, 255, 0],
        ]
    ]
)
PREDICTIONS = torch.tensor(
    [
        [
            [0, 3, 1, 1],
            [0, 2, 1, 0],
            [2, 0, 0, 0],
        ]
    ]
)
# By hand. The two 255 pixels drop out (their predictions 2 and 0 count nowhere): 10 labelled.
# (label, prediction) pairs row by row: (0,0) (0,3) (1,1) (1,1) / (0,0) (1,1) (1,0) / (2,2) (2,0) (0,0).
# Confusion matrix, rows = labels, columns = predictions:
#   label 0: [3, 0, 0, 1, 0]   (4 pixels)
#   label 1: [1, 3, 0, 0, 0]   (4 pixels)
#   label 2: [1, 0, 1, 0, 0]   (2 pixels)
#   label 3, 4: all zero
# Pixel accuracy = (3 + 3 + 1) / 10 = 0.7.
# IoU = TP / (labelled + predicted - TP):
#   class 0: 3 / (4 + 5 - 3) = 0.5       class 1: 3 / (4 + 3 - 3) = 0.75
#   class 2: 1 / (2 + 1 - 1) = 0.5       class 3: 0 / (0 + 1 - 0) = 0 (predicted only: counts as 0)
#   class 4: 0 / 0, absent from both: NaN and left out of the mean.
# mIoU = (0.5 + 0.75 + 0.5 + 0) / 4 = 0.4375.
EXPECTED_MATRIX = torch.tensor(
    [[3, 0, 0, 1, 0], [1, 3, 0, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
)


def test_hand_computed_fixture():
    metrics = SegmentationMetrics(5, class_names=["background", "cat", "dog", "cow", "bird"])
    metrics.update(PREDICTIONS, TARGETS)
    assert torch.equal(metrics.matrix, EXPECTED_MATRIX)
    results = metrics.compute()
    assert results["pixel_accuracy"] == pytest.approx(0.7)
    assert results["miou"] == pytest.approx(0.4375)
    assert results["iou/background"] == pytest.approx(0.5)
    assert results["iou/cat"] == pytest.approx(0.75)
    assert results["iou/dog"] == pytest.approx(0.5)
    assert results["iou/cow"] == 0.0
    assert math.isnan(results["iou/bird"])


def test_batches_accumulate():
    whole, split = SegmentationMetrics(5), SegmentationMetrics(5)
    whole.update(torch.cat([PREDICTIONS, PREDICTIONS.flip(2)]), torch.cat([TARGETS, TARGETS.flip(2)]))
    split.update(PREDICTIONS, TARGETS)
    split.update(PREDICTIONS.flip(2), TARGETS.flip(2))
    assert torch.equal(whole.matrix, split.matrix)
    assert torch.equal(whole.matrix, 2 * EXPECTED_MATRIX)


def test_nothing_counted_gives_nan_not_an_error():
    results = SegmentationMetrics(3).compute()
    assert math.isnan(results["miou"]) and math.isnan(results["pixel_accuracy"])


def test_all_ignore_counts_nothing():
    metrics = SegmentationMetrics(3)
    metrics.update(torch.zeros(1, 4, 4, dtype=torch.int64), torch.full((1, 4, 4), 255))
    assert metrics.matrix.sum() == 0


@pytest.mark.parametrize("bad_label", [5, 7, -1])
def test_label_outside_the_classes_is_reported(bad_label):
    targets = TARGETS.clone()
    targets[0, 0, 0] = bad_label
    with pytest.raises(MobileVisionError, match=rf"label values \[{bad_label}\] are neither a class id \(0\.\.4\)"):
        SegmentationMetrics(5).update(PREDICTIONS, targets)


def test_prediction_outside_the_classes_is_reported():
    with pytest.raises(MobileVisionError, match=r"prediction values \[3\]"):
        SegmentationMetrics(3).update(PREDICTIONS.clamp(max=3), TARGETS.clamp(max=2))


def _rank_updates_half(rank: int, init_file: str, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        metrics = SegmentationMetrics(5)
        metrics.update(PREDICTIONS if rank == 0 else PREDICTIONS.flip(2), TARGETS if rank == 0 else TARGETS.flip(2))
        metrics.reduce()
        results[rank] = metrics.matrix.tolist()
    finally:
        dist.destroy_process_group()


def test_reduce_sums_over_ranks(tmp_path):
    """Two gloo ranks each see one image; after reduce() both hold the two-image matrix."""
    single = SegmentationMetrics(5)
    single.update(PREDICTIONS, TARGETS)
    single.update(PREDICTIONS.flip(2), TARGETS.flip(2))
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank_updates_half, args=(str(tmp_path / "init"), results), nprocs=2)
        assert results[0] == results[1] == single.matrix.tolist()
