"""SegmentAreaReader: class logits from the log of each class's predicted area, hand-worked, and its
refit on remembered training samples."""

from __future__ import annotations

import math

import torch

from mobilevision.heads.segment_areas import (
    LOG_AREA_GAIN,
    MEMORY_SAMPLES,
    MIN_AREA_FRACTION,
    MIN_REFIT_SAMPLES,
    SegmentAreaReader,
)


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


def _samples(count: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(own logits (N, 3), segment logits (N, 3, 4, 4), labels (N,)): each label is its image's
    largest mask class; the classifier's own logits are noise that favour class 0."""
    generator = torch.Generator().manual_seed(seed)
    class_maps = torch.randint(0, 3, (count, 4, 4), generator=generator)
    labels = torch.stack([torch.bincount(class_map.flatten(), minlength=3).argmax() for class_map in class_maps])
    segment_logits = 60.0 * torch.nn.functional.one_hot(class_maps, 3).permute(0, 3, 1, 2).float()
    own = torch.randn(count, 3, generator=generator) + torch.tensor([2.0, 0.0, 0.0])
    return own, segment_logits, labels


def test_refit_solves_the_read_from_the_remembered_samples():
    reader = SegmentAreaReader(3, 3)
    own, segment_logits, labels = _samples(600, seed=0)
    for start in range(0, 600, 50):
        batch = slice(start, start + 50)
        reader.read(own[batch], segment_logits[batch], labels=labels[batch])
    assert reader.refit()
    test_own, test_segment, test_labels = _samples(300, seed=1)
    with torch.no_grad():
        before = (test_own.argmax(1) == test_labels).float().mean()
        after = (reader.read(test_own, test_segment).argmax(1) == test_labels).float().mean()
    # Ties in the largest class are broken by bincount's first index, which areas cannot tell apart.
    assert before < 0.6 and after > 0.85
    assert (reader.fc.weight.diag() > 0).all()


def test_refit_needs_enough_samples_and_remembers_only_the_latest():
    reader = SegmentAreaReader(3, 3)
    own, segment_logits, labels = _samples(MIN_REFIT_SAMPLES - 1, seed=0)
    reader.read(own, segment_logits, labels=labels)
    assert not reader.refit() and torch.equal(reader.fc.weight, torch.zeros(3, 3))
    reader.read(own, segment_logits)  # without labels (validation, prediction): nothing remembered
    assert reader.remembered == MIN_REFIT_SAMPLES - 1
    batch = 100
    own, segment_logits, labels = _samples(batch, seed=2)
    for _ in range(MEMORY_SAMPLES // batch + 5):
        reader.read(own, segment_logits, labels=labels)
    assert MEMORY_SAMPLES <= reader.remembered < MEMORY_SAMPLES + batch
