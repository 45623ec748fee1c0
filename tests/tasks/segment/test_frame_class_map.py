"""The live demo's class map of a frame larger than the input: the argmax at the input's size,
scaled up by nearest neighbour, against `predict`'s logits resized to the frame first."""

import numpy as np
import torch
import torch.nn.functional as F

from mobilevision.tasks.segment.predictor import frame_class_map


def _smooth_logits(*, classes: int, size: int) -> torch.Tensor:
    """(1, classes, size, size) logits with blob-shaped regions: random 4 x 4 logits upsampled."""
    torch.manual_seed(0)
    return 4.0 * F.interpolate(torch.randn(1, classes, 4, 4), size=(size, size), mode="bilinear", align_corners=True)


def test_the_map_at_the_input_differs_only_along_boundaries():
    """A 64 px input shown on a 320 px frame: one input pixel is 5 frame pixels, so a pixel whose
    class differs lies within 5 pixels of a boundary of the exact map, and few pixels do."""
    logits = _smooth_logits(classes=4, size=16)  # a stride-4 grid of a 64 px input
    exact = frame_class_map(logits, input_size=(64, 64), content=(64, 64), size=(320, 320))
    fast = frame_class_map(logits, input_size=(64, 64), content=(64, 64), size=(320, 320), at_input=True)
    assert fast.shape == exact.shape == (320, 320) and fast.dtype == np.uint8
    assert len(np.unique(exact)) >= 3  # the regions have boundaries to test
    differ = fast != exact
    assert 0 < differ.mean() < 0.05
    boundary = np.zeros_like(differ)
    boundary[:, 1:] |= exact[:, 1:] != exact[:, :-1]
    boundary[1:, :] |= exact[1:, :] != exact[:-1, :]
    near = F.max_pool2d(torch.from_numpy(boundary).float()[None, None], kernel_size=11, stride=1, padding=5)[0, 0] > 0
    assert near.numpy()[differ].all()


def test_a_frame_no_larger_than_the_input_keeps_the_exact_map():
    logits = _smooth_logits(classes=4, size=16)
    for size in ((48, 64), (64, 64), (40, 30)):
        exact = frame_class_map(logits, input_size=(64, 64), content=(64, 64), size=size)
        assert np.array_equal(frame_class_map(logits, input_size=(64, 64), content=(64, 64), size=size,
                                              at_input=True), exact)
