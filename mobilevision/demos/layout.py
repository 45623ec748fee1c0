"""The live demo's frame as a person sees it: the scene with its masks and boxes, scaled up when it
is small, and every line of text beside the scene instead of over it, so none hides another or a box.

    +------------------------------------------+
    | status: FPS, model time, latency, runtime |
    | tasks                                     |
    +----------------------------+-------------+
    |                            | top-left    |   each task's panel rows, in the corner order
    |   scene (masks, boxes)     | ...         |   of compose.CORNERS (top classes, then legend)
    |                            |             |
    |                            | keys        |
    +----------------------------+-------------+

The window, the annotated video and the snapshots all show this one canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mobilevision.visualize.compose import Overlay, Row, paint, panel_rows
from mobilevision.visualize.draw import fit_text, line_height, rows_size, text_style, write_rows

MIN_SCENE_HEIGHT = 480  # a smaller frame (a 256 px test image) is scaled up to this for display
SIDE_TEXT = "person 100% (3 boxes, 99%)"  # the side column is as wide as this text at the scene's font
BACKGROUND = (32, 32, 32)
KEYS = ("q: quit", "space: pause", "s: snapshot", "t: next tasks")

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in the canvas's pixels, x1 and y1 excluded


@dataclass(frozen=True)
class LaidOut:
    """canvas (H, W, 3) uint8 RGB, and where each part of it was drawn: "status", "scene", "keys",
    and one rectangle per panel, named by the corner its overlays asked for ("top-left": the top
    classes, "bottom-left": the segmentation legend)."""

    canvas: np.ndarray
    regions: dict[str, Rect]


def display_scale(height: int) -> float:
    """How much a scene `height` pixels tall is enlarged for display (never shrunk)."""
    return max(1.0, MIN_SCENE_HEIGHT / height)


def lay_out(image: np.ndarray, overlays: Sequence[Overlay], *, status: Sequence[str],
            keys: Sequence[str] = KEYS) -> LaidOut:
    """image (H, W, 3) uint8 RGB with the overlays' paints, scaled by display_scale, under the
    `status` rows and beside the overlays' panel rows and the `keys`. The model saw `image` at its
    own size: only the drawing is scaled."""
    painted = paint(image, overlays)
    scale = display_scale(image.shape[0])
    if scale > 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        painted = cv2.resize(painted, size, interpolation=cv2.INTER_LINEAR)
    scene_h, scene_w = painted.shape[:2]
    font_scale, thickness = text_style(painted)
    padding = 2 + thickness * 2
    row_h = line_height(font_scale, thickness)
    side_w = cv2.getTextSize(SIDE_TEXT, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)[0][0] + row_h + 2 * padding
    header_h = row_h * len(status) + 2 * padding
    # One OpenCV call: numpy's broadcast fill and copy of a 900 x 700 canvas took 4.4 ms a frame,
    # this 0.07 (idle AMD EPYC), at a live demo's frame rate.
    canvas = cv2.copyMakeBorder(painted, header_h, 0, 0, side_w, cv2.BORDER_CONSTANT, value=BACKGROUND)
    style = {"font_scale": font_scale, "thickness": thickness}

    def fitted(rows: Sequence[Row], width: int) -> list[Row]:
        room = width - 2 * padding - (row_h if any(colour is not None for _, colour in rows) else 0)  # swatches
        return [(fit_text(text, room, **style), colour) for text, colour in rows]

    regions = {"status": (0, 0, canvas.shape[1], header_h), "scene": (0, header_h, scene_w, canvas.shape[0])}
    write_rows(canvas, fitted([(text, None) for text in status], canvas.shape[1]), left=padding, top=padding, **style)

    # The keys sit at the bottom of the side column; the panels fill it from the top and lose their
    # last rows, never their first, when there are more than fit.
    keys_h = row_h * len(keys) + 2 * padding
    regions["keys"] = (scene_w, canvas.shape[0] - keys_h, canvas.shape[1], canvas.shape[0])
    write_rows(canvas, fitted([(key, None) for key in keys], side_w), left=scene_w + padding,
               top=regions["keys"][1] + padding, **style)
    top, bottom = header_h + padding, regions["keys"][1]
    for corner, rows in panel_rows(overlays).items():
        rows = fitted(rows, side_w)[:max(0, (bottom - top - padding) // row_h)]
        if not rows:
            break
        width, height = rows_size(rows, **style)
        write_rows(canvas, rows, left=scene_w + padding, top=top, **style)
        regions[corner] = (scene_w, top - padding, scene_w + min(side_w, width + 2 * padding), top + height)
        top += height + 2 * padding
    return LaidOut(canvas=canvas, regions=regions)

