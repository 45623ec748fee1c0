"""SSD anchors: counts per level, hand-computed boxes at 300 px, torchvision's DefaultBoxGenerator."""

import math

import pytest
import torch
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from mobilevision.heads.anchors import AnchorGenerator, feature_map_sizes

SSD_STRIDES = (16, 32, 64, 128, 256, 512)


def test_tf_layout_counts_at_300():
    sizes = feature_map_sizes((300, 300), strides=SSD_STRIDES)
    assert sizes == [(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]
    generator = AnchorGenerator(layout="tf")
    assert generator.num_anchors_per_location() == [3, 6, 6, 6, 6, 6]
    anchors = generator(sizes, (300, 300))
    # TF's ssdlite_mobilenet_v2_coco has 1917 anchors: 19*19*3 + (100 + 25 + 9 + 4 + 1) * 6.
    assert anchors.shape == (1917, 4)


def test_tf_layout_hand_computed_at_300():
    anchors = AnchorGenerator(layout="tf")(feature_map_sizes((300, 300), strides=SSD_STRIDES), (300, 300))
    # Level 0, cell (0, 0): centre 0.5 * 300 / 19 = 7.8947; box 0 is scale 0.1, ratio 1 -> 30 x 30 px.
    c = 0.5 * 300 / 19
    assert anchors[0].tolist() == pytest.approx([c - 15, c - 15, c + 15, c + 15], abs=1e-4)
    # Box 1: scale 0.2, ratio 2 -> w = 0.2 * sqrt(2) * 300 = 84.853, h = 0.2 / sqrt(2) * 300 = 42.426.
    w, h = 60 * math.sqrt(2), 60 / math.sqrt(2)
    assert anchors[1].tolist() == pytest.approx([c - w / 2, c - h / 2, c + w / 2, c + h / 2], abs=1e-4)
    # Level 0, cell (0, 1) starts after 3 boxes: centre x = 1.5 * 300 / 19.
    assert anchors[3, 0].item() == pytest.approx(1.5 * 300 / 19 - 15, abs=1e-4)
    # Level 1 starts at 19*19*3 = 1083; cell (0, 0) centre 15; scale 0.2 + 0.75 / 5 = 0.35 -> 105 px.
    assert anchors[1083].tolist() == pytest.approx([15 - 52.5, 15 - 52.5, 15 + 52.5, 15 + 52.5], abs=1e-4)
    # Its 6th box: the extra scale sqrt(0.35 * 0.5) * 300 = 125.499 at ratio 1.
    extra = math.sqrt(0.35 * 0.5) * 300
    assert anchors[1088].tolist() == pytest.approx([15 - extra / 2] * 2 + [15 + extra / 2] * 2, abs=1e-4)
    # Last level: one cell at the centre; scale 0.95 -> 285 px, and the extra sqrt(0.95 * 1) * 300.
    assert anchors[-6].tolist() == pytest.approx([7.5, 7.5, 292.5, 292.5], abs=1e-4)
    extra = math.sqrt(0.95) * 300
    assert anchors[-1].tolist() == pytest.approx([150 - extra / 2] * 2 + [150 + extra / 2] * 2, abs=1e-4)


def test_tf_layout_square_anchors_on_a_non_square_input():
    sizes = feature_map_sizes((320, 640), strides=SSD_STRIDES)
    anchors = AnchorGenerator(layout="tf")(sizes, (320, 640))
    width, height = anchors[0, 2] - anchors[0, 0], anchors[0, 3] - anchors[0, 1]
    assert width.item() == pytest.approx(height.item()) == pytest.approx(0.1 * 320)


@pytest.mark.parametrize("image_size", [(320, 320), (300, 300), (256, 384)])
def test_torchvision_layout_equals_default_box_generator(image_size):
    sizes = feature_map_sizes(image_size, strides=SSD_STRIDES)
    ours = AnchorGenerator(layout="torchvision")(sizes, image_size)
    reference = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
    images = ImageList(torch.zeros(1, 3, *image_size), [image_size])
    theirs = reference(images, [torch.zeros(1, 1, h, w) for h, w in sizes])[0]
    assert ours.shape == theirs.shape == (sum(h * w for h, w in sizes) * 6, 4)
    torch.testing.assert_close(ours, theirs, atol=1e-3, rtol=0)
