"""Decoding images and label masks from disk into the arrays every reader returns.

Images come back as (H, W, 3) uint8 RGB whatever is on disk: OpenCV's IMREAD_COLOR applies the
JPEG EXIF orientation, drops an alpha channel, expands grayscale to three channels and scales
16-bit samples to 8 bits. Label masks are palette (or plain 8-bit) PNGs read as indices with PIL,
because OpenCV would expand a palette PNG into its colours.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

JPEG_SUFFIXES = (".jpg", ".jpeg")


class UnreadableImage(Exception):
    """The file is missing, truncated or not an image; the message says which."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Returns:
        (H, W, 3) uint8 array in RGB order.
    Raises:
        UnreadableImage: missing file, undecodable bytes, or a JPEG cut short.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise UnreadableImage(f"cannot open: {error.strerror or error}") from error
    if data.size == 0:
        raise UnreadableImage("empty file")
    # libjpeg decodes a truncated JPEG with a grey bottom and only a warning on stderr, so a cut-off
    # file would train silently; a complete JPEG ends with the EOI marker FFD9 (padding aside).
    if path.suffix.lower() in JPEG_SUFFIXES and not _ends_with_jpeg_eoi(data):
        raise UnreadableImage("truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise UnreadableImage("not a decodable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _ends_with_jpeg_eoi(data: np.ndarray) -> bool:
    tail = data[-64:].tobytes().rstrip(b"\x00\r\n ")
    return tail.endswith(b"\xff\xd9")


def read_label_mask(path: str | Path) -> np.ndarray:
    """Read a label PNG (palette or 8-bit grayscale) as class indices.

    Returns:
        (H, W) uint8 array of indices (palette PNGs are not mapped to colours).
    Raises:
        UnreadableImage: missing or undecodable file, or a mode that holds no indices (RGB).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as mask:
            if mask.mode not in ("P", "L"):
                raise UnreadableImage(f"label PNG has mode {mask.mode}; expected palette (P) or 8-bit (L)")
            return np.asarray(mask, dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError) as error:
        raise UnreadableImage(f"cannot read label mask: {error}") from error


def voc_palette() -> list[int]:
    """The PASCAL VOC colour map (256 RGB triplets flattened), index 255 = void (cream)."""
    palette = []
    for index in range(256):
        red = green = blue = 0
        code = index
        for bit in range(8):
            red |= ((code >> 0) & 1) << (7 - bit)
            green |= ((code >> 1) & 1) << (7 - bit)
            blue |= ((code >> 2) & 1) << (7 - bit)
            code >>= 3
        palette.extend((red, green, blue))
    return palette


def encode_label_png(mask: np.ndarray) -> bytes:
    """Encode a (H, W) uint8 index mask as a VOC-palette PNG (deterministic bytes)."""
    from PIL import Image

    image = Image.fromarray(mask, mode="P")
    image.putpalette(_VOC_PALETTE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


_VOC_PALETTE = voc_palette()
