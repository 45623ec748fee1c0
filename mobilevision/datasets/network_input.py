"""A camera frame or a photo -> the input a network was trained on: square resize, then normalise.

One function for `detect predict`, the demos' detector and `bench`'s end-to-end detection timing,
so that what bench times is what users run.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def network_input(image: np.ndarray, *, size: int, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB (H, W, 3) uint8 of any size -> (3, size, size) float32, (pixel / 255 - mean) / std per channel.

    Bilinear, as the val transform resizes, down to half size; INTER_AREA below that, where
    bilinear's 2x2 taps would alias a 4000x3000 photo (and cost 5x more for a 640x480 frame).
    """
    height, width = image.shape[:2]
    interpolation = cv2.INTER_AREA if max(height, width) > 2 * size else cv2.INTER_LINEAR
    resized = cv2.resize(image, (size, size), interpolation=interpolation)
    # Plane by plane: the interleaved (S, S, 3) -> float (3, S, S) conversion, strided, is several
    # times slower than three contiguous planes (docs/benchmarks.md).
    return np.stack([(plane.astype(np.float32) - 255 * m) * (1 / (255 * s))
                     for plane, m, s in zip(cv2.split(resized), mean, std, strict=True)])
