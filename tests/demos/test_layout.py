"""The live demo's layout: small frames are scaled up for display, and no text overlaps another or the scene."""

from __future__ import annotations

import itertools

import numpy as np

from mobilevision.demos.layout import MIN_SCENE_HEIGHT, lay_out
from mobilevision.visualize.compose import Overlay
from mobilevision.visualize.draw import CORNERS


def overlap(first, second) -> bool:
    """Whether two (x0, y0, x1, y1) rectangles, x1 and y1 excluded, share a pixel."""
    return first[0] < second[2] and second[0] < first[2] and first[1] < second[3] and second[1] < first[3]


def test_a_small_frame_is_scaled_up_and_no_region_overlaps_another():
    image = np.full((256, 256, 3), 90, dtype=np.uint8)
    image[100:150, 100:150] = (230, 40, 40)
    panels = [Overlay(corner=corner, rows=[(f"{corner} row {row} with a name far too long to fit beside", (0, 255, 0))
                                           for row in range(40)])
              for corner in CORNERS]
    laid_out = lay_out(image, panels, status=("99.9 FPS  model 12 ms  latency 30 ms  onnxruntime " * 3, "tasks"))
    regions, canvas = laid_out.regions, laid_out.canvas

    x0, y0, x1, y1 = regions["scene"]
    assert (y1 - y0, x1 - x0) == (MIN_SCENE_HEIGHT, MIN_SCENE_HEIGHT)
    scene = canvas[y0:y1, x0:x1]
    # The red square, scaled by 480 / 256 with the scene (edges are interpolated, the middle is not).
    assert (scene[190:280, 190:280] == (230, 40, 40)).all() and (scene[:180, :180] == 90).all()

    # 40 rows of each of four panels cannot all fit: the first panels keep their first rows, the keys stay.
    assert {"status", "scene", "keys", "top-left"} <= set(regions)
    for first, second in itertools.combinations(regions, 2):
        assert not overlap(regions[first], regions[second]), (first, second)
    for x0, y0, x1, y1 in regions.values():
        assert 0 <= x0 < x1 <= canvas.shape[1] and 0 <= y0 < y1 <= canvas.shape[0]


def test_a_large_frame_is_shown_at_its_own_size():
    image = np.zeros((720, 1280, 3), dtype=np.uint8)
    x0, y0, x1, y1 = lay_out(image, [], status=("status",)).regions["scene"]
    assert (y1 - y0, x1 - x0) == (720, 1280)
