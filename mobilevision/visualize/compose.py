"""Several results drawn on one frame: each task's drawing as overlays, composed in depth order.

Masks go under boxes, and text panels on top of both, one panel per corner gathering the rows of
every overlay that writes there (the top classes of two classifiers share the top-left panel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mobilevision.visualize.draw import CORNERS, draw_panel

Row = tuple[str, tuple[int, int, int] | None]  # text, and the colour of its swatch (None: no swatch)


@dataclass(frozen=True)
class Overlay:
    """What one result adds to a frame: `paint` (canvas -> canvas, e.g. a blended mask or boxes),
    applied in increasing `depth`, and `rows` of text for the panel in `corner`."""

    depth: int = 0
    paint: Callable[[np.ndarray], np.ndarray] | None = None
    corner: str | None = None
    rows: Sequence[Row] = ()


def paint(image: np.ndarray, overlays: Sequence[Overlay]) -> np.ndarray:
    """A copy of image (H, W, 3) uint8 RGB with every overlay's paint applied, by depth (no panels)."""
    canvas = np.ascontiguousarray(image).copy()
    for overlay in sorted(overlays, key=lambda item: item.depth):
        if overlay.paint is not None:
            canvas = overlay.paint(canvas)
    return canvas


def panel_rows(overlays: Sequence[Overlay]) -> dict[str, list[Row]]:
    """{corner: the rows of every overlay that writes there}, in CORNERS order, corners without rows left out."""
    panels = {corner: [row for overlay in overlays if overlay.corner == corner for row in overlay.rows]
              for corner in CORNERS}
    return {corner: rows for corner, rows in panels.items() if rows}


def compose(image: np.ndarray, overlays: Sequence[Overlay]) -> np.ndarray:
    """A copy of image (H, W, 3) uint8 RGB with every overlay drawn: paints by depth, then the panels."""
    canvas = paint(image, overlays)
    for corner, rows in panel_rows(overlays).items():
        canvas = draw_panel(canvas, rows, corner=corner)
    return canvas
