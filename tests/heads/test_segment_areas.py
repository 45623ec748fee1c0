"""SegmentAreaReader: class logits from the log of each class's predicted area, hand-worked."""

from __future__ import annotations

import math

import torch

from mobilevision.heads.segment_areas import LOG_AREA_GAIN, MIN_AREA_FRACTION, SegmentAreaReader


def _confident_logits(class_map: torch.Tensor, classes: int) -> torch.Tensor:
    """(H, W) int64 -> (1, classes, H, W) logits whose softmax is one-hot to float precision."""
    return 60.0 * torch.nn.functional.one_hot(class_map, classes).permute(2, 0, 1)[None].float()


def test_starts_at_zero_so_the_classifier_is_unchanged():
    reader = SegmentAreaReader(4, 3)
    assert torch.equal(reader(torch.randn(2, 4, 5, 5)), torch.zeros(2, 3))


def test_identity_weights_give_the_scaled_log_areas_and_rank_classes_by_pixels():
    # A 4x4 map: background 8 pixels, class 1 5, class 2 3, class 3 none.
    class_map = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [1, 2, 2, 2]])
    reader = SegmentAreaReader(4, 4)
    with torch.no_grad():
        reader.fc.weight.copy_(torch.eye(4))
    logits = reader(_confident_logits(class_map, 4))
    expected = LOG_AREA_GAIN * torch.tensor([[math.log(8 / 16), math.log(5 / 16), math.log(3 / 16),
                                              math.log(MIN_AREA_FRACTION)]])
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    # Leaving the background out, the largest object's class wins.
    assert int(logits[0, 1:].argmax()) + 1 == 1


def test_the_segmentation_gets_no_gradient_from_it():
    segment_logits = torch.randn(2, 4, 6, 6, requires_grad=True)
    reader = SegmentAreaReader(4, 3)
    reader(segment_logits).sum().backward()
    assert segment_logits.grad is None and reader.fc.weight.grad.abs().sum() > 0
