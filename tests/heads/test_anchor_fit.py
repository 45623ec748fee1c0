"""Best possible recall and positives per box of an anchor layout (exact, known answers), and the fit
that raises them."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou

from mobilevision.errors import MobileVisionError
from mobilevision.heads.anchor_fit import KEEP_BPR, anchor_coverage, anchor_positives, best_anchor_iou, fit_anchors
from mobilevision.heads.anchors import (
    TF_ASPECT_RATIOS,
    AnchorGenerator,
    box_shapes,
    feature_map_sizes,
    format_aspect_ratios,
    parse_aspect_ratios,
)

STRIDES = (16, 32, 64, 128, 256, 512)


def random_boxes(count: int, image_size: tuple[int, int], *, seed: int = 0) -> torch.Tensor:
    """(N, 4) xyxy boxes of sides 4 px to 200 px, clipped to the (H, W) image."""
    generator = torch.Generator().manual_seed(seed)
    height, width = image_size
    centres = torch.rand(count, 2, generator=generator) * torch.tensor([width, height])
    sides = torch.exp(torch.rand(count, 2, generator=generator) * 4) * 4
    boxes = torch.cat([centres - sides / 2, centres + sides / 2], dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    return boxes[(boxes[:, 2] > boxes[:, 0] + 1) & (boxes[:, 3] > boxes[:, 1] + 1)]


@pytest.mark.parametrize(("layout", "image_size"), [("tf", (320, 320)), ("torchvision", (300, 420)),
                                                      ("tf", (384, 256))])
def test_best_anchor_iou_equals_the_iou_with_every_anchor(layout, image_size):
    generator = AnchorGenerator(layout=layout)
    boxes = random_boxes(2000, image_size)
    anchors = generator(feature_map_sizes(image_size, strides=STRIDES), image_size)
    every = box_iou(boxes.double(), anchors.double()).max(dim=1).values
    fast = best_anchor_iou(boxes, generator=generator, strides=STRIDES, image_size=image_size)
    torch.testing.assert_close(fast, every, atol=1e-6, rtol=0)


def test_positives_are_the_anchors_at_the_match_iou_or_above():
    image_size = (300, 420)
    generator = AnchorGenerator(layout="torchvision")
    boxes = random_boxes(700, image_size, seed=3)  # more than one chunk of boxes
    anchors = generator(feature_map_sizes(image_size, strides=STRIDES), image_size)
    for match_iou in (0.3, 0.5):
        every = (box_iou(boxes.double(), anchors.double()) >= match_iou).sum(dim=1)
        counted = anchor_positives(boxes, generator=generator, strides=STRIDES, image_size=image_size,
                                   match_iou=match_iou)
        # float32 IoUs: a count may differ only where an IoU lies within rounding of the threshold.
        assert (counted - every).abs().sum() <= 2 and counted.sum() > len(boxes)


def test_bpr_of_hand_built_boxes():
    """Four boxes that are anchors (IoU 1), a 2 px box (below the 32 px smallest anchor: IoU <= 4 / 1024)
    and a 300 x 3 px sliver: BPR 4/6 at any threshold above 0.01 and up to 1."""
    image_size = (320, 320)
    anchors = AnchorGenerator(layout="tf")(feature_map_sizes(image_size, strides=STRIDES), image_size)
    exact = anchors[[315, 1464, 1873, 1974]]  # one of levels 0, 1, 2 and 3 each, inside the image
    assert (exact >= 0).all() and (exact <= 320).all()
    boxes = torch.cat([exact, torch.tensor([[100.0, 100.0, 102.0, 102.0], [10.0, 150.0, 310.0, 153.0]])])
    for match_iou in (0.3, 0.5, 1.0):
        fit = anchor_coverage(boxes, layout="tf", min_scale=0.2, max_scale=0.95, aspect_ratios=None,
                              strides=STRIDES, image_size=image_size, match_iou=match_iou)
        assert fit.bpr == pytest.approx(4 / 6)
    empty = anchor_coverage(torch.zeros(0, 4), layout="tf", min_scale=0.2, max_scale=0.95, aspect_ratios=None,
                            strides=STRIDES, image_size=image_size, match_iou=0.5)
    assert empty.bpr == 1.0
    # Positives per box counted on a sample (every anchor's IoU), BPR still over every box.
    sampled = anchor_coverage(boxes, layout="tf", min_scale=0.2, max_scale=0.95, aspect_ratios=None,
                              strides=STRIDES, image_size=image_size, match_iou=0.5, sample=boxes[-2:])
    assert sampled.bpr == pytest.approx(4 / 6) and sampled.positives == 0.0  # the two unmatched boxes


@pytest.mark.parametrize(("skew", "layout"), [("small", "torchvision"), ("elongated", "tf")])
def test_fitted_anchors_raise_bpr_on_a_skewed_set(skew, layout):
    """Small squares (24-48 px at 320 px; torchvision's smallest anchor is 64 px) and 5:1 / 1:5 boxes.
    (Boxes much under the finest level's 16 px stride stay out of reach of any scale: a 10 px box
    8 px off its anchor's centre has IoU < 0.5 with it.)"""
    generator = torch.Generator().manual_seed(1)
    count = 400
    centres = 20 + torch.rand(count, 2, generator=generator) * 280
    if skew == "small":
        sides = 24 + torch.rand(count, 1, generator=generator).expand(count, 2) * 24
    else:
        long = 60 + torch.rand(count, 1, generator=generator) * 100
        sides = torch.cat([long, long / 5], dim=1)
        sides[::2] = sides[::2].flip(1)
    boxes = torch.cat([centres - sides / 2, centres + sides / 2], dim=1).clamp(0, 320)
    common = {"layout": layout, "strides": STRIDES, "image_size": (320, 320), "match_iou": 0.5}
    before = anchor_coverage(boxes, min_scale=0.2, max_scale=0.95, aspect_ratios=None, **common)
    after = fit_anchors(boxes, min_scale=0.2, max_scale=0.95, aspect_ratios=None, **common)
    assert after.bpr >= before.bpr + 0.3 and after.mean_iou > before.mean_iou
    assert after.fitness > before.fitness and after.positives > before.positives
    # The reported numbers are those of the layout it returns.
    again = anchor_coverage(boxes, min_scale=after.min_scale, max_scale=after.max_scale,
                            aspect_ratios=after.aspect_ratios, **common)
    assert (again.bpr, again.mean_iou, again.positives) == (after.bpr, after.mean_iou, after.positives)


def test_the_fit_adds_positives_without_losing_the_boxes_the_start_covers():
    """Squares of 40-160 px at 320 px: torchvision's default scales (0.2-0.95) already cover most;
    the fit may trade none of that recall (below KEEP_BPR) for positives on the common sizes."""
    generator = torch.Generator().manual_seed(2)
    count = 400
    centres = 80 + torch.rand(count, 2, generator=generator) * 160
    sides = (40 * 4 ** torch.rand(count, 1, generator=generator)).expand(count, 2)
    boxes = torch.cat([centres - sides / 2, centres + sides / 2], dim=1)
    common = {"layout": "torchvision", "strides": STRIDES, "image_size": (320, 320), "match_iou": 0.5}
    before = anchor_coverage(boxes, min_scale=0.2, max_scale=0.95, aspect_ratios=None, **common)
    after = fit_anchors(boxes, min_scale=0.2, max_scale=0.95, aspect_ratios=None, **common)
    assert after.bpr >= min(before.bpr, KEEP_BPR) and after.positives > 1.3 * before.positives


def test_default_aspect_ratios_stay_the_layouts_own():
    for layout in ("tf", "torchvision"):
        assert box_shapes(layout, aspect_ratios=parse_aspect_ratios("")) == box_shapes(layout)
    assert box_shapes("tf", aspect_ratios=TF_ASPECT_RATIOS) == box_shapes("tf")
    assert parse_aspect_ratios(format_aspect_ratios(TF_ASPECT_RATIOS)) == TF_ASPECT_RATIOS
    with pytest.raises(MobileVisionError, match="positive"):
        parse_aspect_ratios("1,-2")
    with pytest.raises(MobileVisionError, match="numbers separated by commas"):
        parse_aspect_ratios("1;2")
