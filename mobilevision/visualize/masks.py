"""Segmentation drawn on an image: class colours alpha-blended over the pixels, and a legend of the
classes present, shared by `segment predict` and the demos.

Class k takes draw.class_colour(k), the colour detection gives label k, so one class looks the same
in both tasks. (The mask PNGs `segment predict` writes keep the VOC palette: that is their file
format, not a drawing.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mobilevision.visualize.draw import PALETTE, class_colour

LEGEND_ROWS = 8  # more classes than this are summed up in one "+N more" row


def blend_mask(image: np.ndarray, class_map: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """RGB (H, W, 3) uint8 with every non-background pixel of class_map (H, W) blended with its class colour."""
    colours = np.asarray(PALETTE, dtype=np.float32)
    blended = image.astype(np.float32)
    foreground = class_map > 0
    blended[foreground] = (1 - alpha) * blended[foreground] + alpha * colours[class_map[foreground] % len(PALETTE)]
    return blended.round().astype(np.uint8)


def class_fractions(class_map: np.ndarray, *, class_names: Sequence[str]) -> dict[int, float]:
    """{class index: fraction of the pixels} of the classes present in class_map (H, W), background
    (0) and the ignore value left out, largest first."""
    counts = np.bincount(class_map.ravel(), minlength=len(class_names))[: len(class_names)]
    present = [index for index in np.argsort(-counts, kind="stable") if index > 0 and counts[index] > 0]
    return {int(index): float(counts[index]) / class_map.size for index in present}


def mask_legend(fractions: dict[int, float], *, class_names: Sequence[str]) -> list[tuple[str, tuple[int, int, int]]]:
    """Legend rows ("name 12%", colour) for `class_fractions`'s result; at most LEGEND_ROWS."""
    rows = [(f"{class_names[index]} {fraction:.0%}", class_colour(index)) for index, fraction in fractions.items()]
    if len(rows) > LEGEND_ROWS:
        rows = rows[: LEGEND_ROWS - 1] + [(f"+{len(rows) - LEGEND_ROWS + 1} more", None)]
    return rows

