"""Matching and the MultiBox loss on empty, crowded and tiny ground truth."""

import pytest
import torch
from torchvision.ops import box_iou

from mobilevision.errors import MobileVisionError
from mobilevision.heads.anchors import AnchorGenerator, feature_map_sizes
from mobilevision.tasks.detect.loss import hard_negatives, multibox_loss
from mobilevision.tasks.detect.matcher import BACKGROUND, match_anchors

IMAGE = (300, 300)
ANCHORS = AnchorGenerator(layout="tf")(feature_map_sizes(IMAGE, strides=(16, 32, 64, 128, 256, 512)), IMAGE)
NUM_CLASSES = 5


def _target(boxes, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.int64)}


def _random_outputs(batch: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, len(ANCHORS), 4, generator=generator),
            torch.randn(batch, len(ANCHORS), NUM_CLASSES, generator=generator))


def test_every_object_gets_its_best_anchor():
    # A 3 x 3 px box overlaps no anchor by 0.5; a large box overlaps many.
    gt = torch.tensor([[100.0, 100.0, 103.0, 103.0], [20.0, 30.0, 280.0, 260.0]])
    matches = match_anchors(gt, ANCHORS)
    iou = box_iou(gt, ANCHORS)
    assert iou[0].max() < 0.5
    assert matches[iou.argmax(dim=1)].tolist() == [0, 1]
    assert (matches == 0).sum() == 1
    above = iou[1] >= 0.5
    assert above.sum() > 1 and (matches[above] == 1).all()
    # Below the threshold only the tiny box's forced match is a positive.
    assert ((matches >= 0) & (iou.max(dim=0).values < 0.5)).sum() == 1


def test_a_lower_match_iou_adds_the_anchors_it_reaches():
    gt = torch.tensor([[60.0, 70.0, 140.0, 130.0]])
    iou = box_iou(gt, ANCHORS)[0]
    between = (iou >= 0.4) & (iou < 0.5)
    assert between.sum() > 0  # the fixture box has anchors on both sides of 0.5
    for threshold in (0.5, 0.4):
        expected = iou >= threshold
        expected[iou.argmax()] = True
        assert ((match_anchors(gt, ANCHORS, iou_threshold=threshold) == 0) == expected).all()


def test_no_objects_all_background():
    assert (match_anchors(torch.zeros(0, 4), ANCHORS) == BACKGROUND).all()


def test_hard_negatives_three_per_positive_and_a_minimum():
    loss = torch.arange(10.0).repeat(2, 1)
    positive = torch.zeros(2, 10, dtype=torch.bool)
    positive[0, 9] = True
    chosen = hard_negatives(loss, positive, neg_pos_ratio=3, min_negatives=2)
    assert chosen[0].nonzero().flatten().tolist() == [6, 7, 8]  # 3 highest losses, the positive excluded
    assert chosen[1].nonzero().flatten().tolist() == [8, 9]  # no positive: the minimum of 2


@pytest.mark.parametrize("class_loss", ["cross_entropy", "focal"])
@pytest.mark.parametrize("box_loss", ["smooth_l1", "l1"])
def test_loss_on_empty_crowded_and_tiny_ground_truth(class_loss, box_loss):
    generator = torch.Generator().manual_seed(1)
    top_left = torch.rand(300, 2, generator=generator) * 250
    crowded = torch.cat([top_left, top_left + 5 + torch.rand(300, 2, generator=generator) * 45], dim=1)
    targets = [
        _target([], []),
        _target(crowded.tolist(), (torch.arange(300) % (NUM_CLASSES - 1) + 1).tolist()),
        _target([[10, 10, 12, 13], [150, 150, 151, 151.5]], [1, 4]),  # boxes of a few pixels
    ]
    box_deltas, class_logits = _random_outputs(3)
    for target in targets:
        losses = multibox_loss(box_deltas[:1], class_logits[:1], [target], ANCHORS, box_loss=box_loss, class_loss=class_loss)
        assert all(torch.isfinite(v) for v in losses.values())
        assert losses["classification"] > 0
        assert (losses["bbox_regression"] > 0) == (len(target["labels"]) > 0)
    losses = multibox_loss(box_deltas, class_logits, targets, ANCHORS, box_loss=box_loss, class_loss=class_loss)
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())


def test_loss_gradients_are_finite_without_objects():
    box_deltas, class_logits = (t.requires_grad_() for t in _random_outputs(2))
    losses = multibox_loss(box_deltas, class_logits, [_target([], []), _target([], [])], ANCHORS)
    sum(losses.values()).backward()
    assert torch.isfinite(class_logits.grad).all() and torch.isfinite(box_deltas.grad).all()


def test_loss_rejects_labels_outside_the_classes():
    box_deltas, class_logits = _random_outputs(1)
    with pytest.raises(MobileVisionError, match="1..4"):
        multibox_loss(box_deltas, class_logits, [_target([[0, 0, 50, 50]], [NUM_CLASSES])], ANCHORS)
