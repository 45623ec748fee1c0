"""Shared drawing: masks blended in their class colours with a legend, and text panels in corners."""

import numpy as np
import pytest

from mobilevision.tasks.registry import get_task
from mobilevision.visualize.draw import class_colour, draw_panel
from mobilevision.visualize.masks import LEGEND_ROWS, blend_mask, class_fractions, mask_legend

NAMES = ["background", "circle", "ring"]


def test_mask_is_blended_in_the_class_colour_and_background_is_untouched():
    image = np.full((40, 60, 3), 100, dtype=np.uint8)
    class_map = np.zeros((40, 60), dtype=np.uint8)
    class_map[10:20, 10:30] = 2
    blended = blend_mask(image, class_map, alpha=0.5)
    expected = np.round((100 + np.asarray(class_colour(2))) / 2)
    assert blended[15, 20].tolist() == expected.tolist()
    assert (blended[class_map == 0] == 100).all()


def test_legend_lists_present_classes_largest_first_and_caps_its_rows():
    class_map = np.zeros((10, 10), dtype=np.uint8)
    class_map[:2] = 1
    class_map[2:7] = 2
    fractions = class_fractions(class_map, class_names=NAMES)
    assert list(fractions) == [2, 1] and fractions[2] == pytest.approx(0.5)
    assert mask_legend(fractions, class_names=NAMES) == [("ring 50%", class_colour(2)), ("circle 20%", class_colour(1))]

    many = [f"c{index}" for index in range(20)]
    crowded = {index: 0.01 for index in range(1, 20)}
    rows = mask_legend(crowded, class_names=many)
    assert len(rows) == LEGEND_ROWS and rows[-1] == (f"+{19 - LEGEND_ROWS + 1} more", None)


def test_segmentation_drawing_puts_the_legend_bottom_left():
    image = np.full((200, 300, 3), 200, dtype=np.uint8)
    class_map = np.zeros((200, 300), dtype=np.uint8)
    class_map[:, 150:] = 1
    drawn = get_task("segment").draw_results(image, {"segment": class_map}, {"segment": NAMES})
    assert (drawn[-2:, :2] == 70).all()  # the legend box darkens its corner (200 x 0.35)
    assert (drawn[:20, :20] == 200).all()  # background left alone elsewhere


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_panel_sits_in_its_corner(corner):
    image = np.full((120, 160, 3), 255, dtype=np.uint8)
    drawn = draw_panel(image, [("12.3 FPS", None), ("circle", (255, 0, 0))], corner=corner)
    rows = slice(0, 10) if corner.startswith("top") else slice(110, 120)
    columns = slice(0, 10) if corner.endswith("left") else slice(150, 160)
    other_rows = slice(110, 120) if corner.startswith("top") else slice(0, 10)
    assert drawn[rows, columns].mean() < 120
    assert (drawn[other_rows, columns] == 255).all()
    assert (image == 255).all()  # drawn on a copy
