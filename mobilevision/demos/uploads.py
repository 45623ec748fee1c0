"""An uploaded file checked before it is decoded, so the web page says what is wrong with it
(empty, not an image, too many pixels) instead of failing, and the server never decodes a
gigapixel bomb."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from mobilevision.datasets.image_io import UnreadableImage, read_image
from mobilevision.errors import MobileVisionError

# A 24 MP camera photo (6000 x 4000) passes; decoding 50 MP costs 150 MB per concurrent request.
MAX_PIXELS = 25_000_000
# What the page shows and the models see: the networks take 224-512 px, so a larger side only
# costs encoding time on the way back to the browser.
DISPLAY_SIDE = 1920


def read_upload(path: str | Path, *, name: str | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an uploaded image, scaled down to DISPLAY_SIDE on its longer side.

    Raises MobileVisionError with a reason a person can act on, naming the upload (`name`: the
    file name the browser sent; default the path's).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    name = name or path.name
    if path.stat().st_size == 0:
        raise MobileVisionError(f"{name} is empty (0 bytes); upload a JPEG, PNG, WebP or BMP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as header:  # reads the header only
                pixels = header.size[0] * header.size[1]
                size = f"{header.size[0]} x {header.size[1]} pixels"
    except Image.DecompressionBombError:  # PIL refuses beyond 2 x MAX_IMAGE_PIXELS
        pixels, size = 2 * Image.MAX_IMAGE_PIXELS, f"over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
    except (UnidentifiedImageError, OSError) as error:
        raise MobileVisionError(f"{name} is not an image; upload a JPEG, PNG, WebP or BMP image") from error
    if pixels > MAX_PIXELS:
        raise MobileVisionError(f"{name} is too large ({size}); this demo takes images up to "
                                f"{MAX_PIXELS / 1e6:.0f} megapixels, scale it down first")
    try:
        image = read_image(path)
    except UnreadableImage as error:
        raise MobileVisionError(f"{name} cannot be decoded ({error}); upload a JPEG, PNG, WebP or BMP image") from error
    scale = DISPLAY_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    return image
