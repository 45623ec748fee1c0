"""The object classes of the built-in dataset: filled shapes of distinct geometry, drawn as masks.

Colour is never a cue (each object gets a random colour), so a model has to learn outline and
topology: a ring differs from a circle only by its hole, a cross from a rectangle by its arms.
"""

from __future__ import annotations

import cv2
import numpy as np

CLASS_NAMES = ("circle", "rectangle", "triangle", "star", "ring", "cross")


def draw_shape(mask: np.ndarray, *, name: str, center: tuple[float, float], diameter: float,
               angle: float, rng: np.random.Generator) -> None:
    """Set the pixels of one shape to 1 in `mask` ((H, W) uint8), in place.

    `diameter` is the shape's outer extent in pixels, `angle` its rotation in radians; `rng` draws
    the per-instance proportions (rectangle aspect, ring thickness, triangle skew).
    """
    radius = diameter / 2
    if name == "circle":
        cv2.circle(mask, _point(center), max(1, round(radius)), 1, thickness=-1)
    elif name == "ring":
        cv2.circle(mask, _point(center), max(1, round(radius)), 1, thickness=-1)
        hole = radius * rng.uniform(0.45, 0.7)
        cv2.circle(mask, _point(center), max(1, round(hole)), 0, thickness=-1)
    elif name == "rectangle":
        aspect = rng.uniform(0.45, 1.0)
        _fill(mask, _rotated_rect(center, diameter, diameter * aspect, angle))
    elif name == "triangle":
        corners = angle + np.deg2rad([0, 120, 240]) + rng.uniform(-0.25, 0.25, size=3)
        _fill(mask, _polar(center, np.full(3, radius), corners))
    elif name == "star":
        points = rng.integers(5, 7)
        corners = angle + np.arange(2 * points) * np.pi / points
        radii = np.where(np.arange(2 * points) % 2 == 0, radius, radius * rng.uniform(0.38, 0.5))
        _fill(mask, _polar(center, radii, corners))
    elif name == "cross":
        arm = rng.uniform(0.25, 0.38)
        _fill(mask, _rotated_rect(center, diameter, diameter * arm, angle))
        _fill(mask, _rotated_rect(center, diameter, diameter * arm, angle + np.pi / 2))
    else:
        raise ValueError(f"unknown shape {name!r}")


def _point(xy: tuple[float, float]) -> tuple[int, int]:
    return round(xy[0]), round(xy[1])


def _polar(center: tuple[float, float], radii: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(N, 2) points at `radii` and `angles` around `center`."""
    return np.stack([center[0] + radii * np.cos(angles), center[1] + radii * np.sin(angles)], axis=1)


def _rotated_rect(center: tuple[float, float], length: float, width: float, angle: float) -> np.ndarray:
    """(4, 2) corners of a length x width rectangle rotated by `angle`."""
    return cv2.boxPoints(((center[0], center[1]), (length, width), float(np.rad2deg(angle))))


def _fill(mask: np.ndarray, polygon: np.ndarray) -> None:
    # No anti-aliasing: the drawn pixels are exactly the ground-truth mask.
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
