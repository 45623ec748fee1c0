"""Segmentation metrics against values worked out by hand, and across torchrun ranks."""

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.segment.evaluator import SegmentationEvaluator

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


CLASSES = ["background", "cat", "dog", "cow", "bird"]


def test_hand_computed_fixture():
    evaluator = SegmentationEvaluator(CLASSES)
    evaluator.update(PREDICTIONS, TARGETS)
    assert torch.equal(evaluator.matrix, EXPECTED_MATRIX)
    assert evaluator.compute() == {"miou": pytest.approx(0.4375), "pixel_accuracy": pytest.approx(0.7)}
    iou = evaluator.per_class_iou().tolist()
    assert iou[:4] == pytest.approx([0.5, 0.75, 0.5, 0.0])
    assert math.isnan(iou[4])


def test_compute_twice_counts_once_and_plot_writes_the_per_class_pngs(tmp_path):
    evaluator = SegmentationEvaluator(CLASSES)
    evaluator.update(PREDICTIONS, TARGETS)
    assert evaluator.compute() == evaluator.compute()
    evaluator.plot(tmp_path)
    assert (tmp_path / "per_class_iou.png").stat().st_size > 0
    assert (tmp_path / "pixel_confusion_matrix.png").stat().st_size > 0


def test_batches_accumulate():
    whole, split = SegmentationEvaluator(CLASSES), SegmentationEvaluator(CLASSES)
    whole.update(torch.cat([PREDICTIONS, PREDICTIONS.flip(2)]), torch.cat([TARGETS, TARGETS.flip(2)]))
    split.update(PREDICTIONS, TARGETS)
    split.update(PREDICTIONS.flip(2), TARGETS.flip(2))
    assert torch.equal(whole.matrix, split.matrix)
    assert torch.equal(whole.matrix, 2 * EXPECTED_MATRIX)


def test_nothing_counted_gives_nan_not_an_error():
    results = SegmentationEvaluator(["a", "b", "c"]).compute()
    assert math.isnan(results["miou"]) and math.isnan(results["pixel_accuracy"])


def test_all_ignore_counts_nothing():
    evaluator = SegmentationEvaluator(["a", "b", "c"])
    evaluator.update(torch.zeros(1, 4, 4, dtype=torch.int64), torch.full((1, 4, 4), 255))
    assert evaluator.matrix.sum() == 0


@pytest.mark.parametrize("bad_label", [5, 7, -1])
def test_label_outside_the_classes_is_reported(bad_label):
    targets = TARGETS.clone()
    targets[0, 0, 0] = bad_label
    with pytest.raises(MobileVisionError, match=rf"label values \[{bad_label}\] are neither a class id \(0\.\.4\)"):
        SegmentationEvaluator(CLASSES).update(PREDICTIONS, targets)


def test_prediction_outside_the_classes_is_reported():
    with pytest.raises(MobileVisionError, match=r"prediction values \[3\]"):
        SegmentationEvaluator(["a", "b", "c"]).update(PREDICTIONS.clamp(max=3), TARGETS.clamp(max=2))


def _rank_updates_half(rank: int, init_file: str, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        evaluator = SegmentationEvaluator(CLASSES)
        evaluator.update(PREDICTIONS if rank == 0 else PREDICTIONS.flip(2), TARGETS if rank == 0 else TARGETS.flip(2))
        results[rank] = (evaluator.compute(), evaluator.reduced.tolist(), evaluator.matrix.tolist())
    finally:
        dist.destroy_process_group()


def test_reduce_sums_over_ranks(tmp_path):
    """Two gloo ranks each see one image; compute() on both gives the two-image metrics."""
    single = SegmentationEvaluator(CLASSES)
    single.update(PREDICTIONS, TARGETS)
    single.update(PREDICTIONS.flip(2), TARGETS.flip(2))
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank_updates_half, args=(str(tmp_path / "init"), results), nprocs=2)
        for rank in (0, 1):
            metrics, reduced, own = results[rank]
            assert metrics == single.compute()
            assert reduced == single.matrix.tolist()
            assert own == EXPECTED_MATRIX.tolist()  # each rank's own counts stay its own
