"""Decoding images and label masks from disk into the arrays every reader returns.

Images come back as (H, W, 3) uint8 RGB whatever is on disk: OpenCV drops an alpha channel,
expands grayscale to three channels and scales 16-bit samples to 8 bits. Label masks are palette
(or plain 8-bit) PNGs read as indices with PIL, because OpenCV would expand a palette PNG into its
colours.

EXIF orientation: a photo whose tag says "rotate to display" can be read as viewers show it
(predicting on a user's photo) or as stored (the dataset readers). COCO's and VOC's boxes and
masks are in the stored frame: pycocotools never looks at pixels, torchvision's COCO and VOC
readers decode with PIL without exif_transpose, and image entries give the stored width and
height; turning the pixels alone would move every object away from its box.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from mobilevision.datasets.libjpeg_warnings import libjpeg_warning

# The first bytes of the formats a dataset holds, to name what a file is (or is not).
SIGNATURES = {
    b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP",
    b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WebP",
}
EXIF_ORIENTATION = 0x0112
ORIENTATIONS = {  # what viewers do to the stored pixels for each EXIF orientation value
    2: "mirror it", 3: "turn it 180 degrees", 4: "flip it upside down", 5: "mirror it and turn it 90 degrees",
    6: "turn it 90 degrees clockwise", 7: "mirror it and turn it 90 degrees", 8: "turn it 90 degrees anticlockwise",
}


class UnreadableImage(Exception):
    """The file is missing, truncated, corrupt or not an image; the message says which."""


def image_kind(data: bytes) -> str | None:
    """"JPEG", "PNG", ... from a file's first bytes; None for anything else."""
    return next((kind for signature, kind in SIGNATURES.items() if data.startswith(signature)), None)


def read_image(path: str | Path, *, orientation: Literal["exif", "stored"] = "exif",
               strict: bool = False) -> np.ndarray:
    """Read an image file as RGB.

    orientation: "exif" turns the pixels as the file's EXIF orientation says (as viewers show the
    photo); "stored" keeps them as stored, the frame annotations are in (module docstring).
    strict: also refuse a JPEG whose data libjpeg finds corrupt, which it decodes with a warning
    only; the dataset readers set it so that a damaged image is never trained on.
    Returns:
        (H, W, 3) uint8 array in RGB order.
    Raises:
        UnreadableImage: missing file, not an image, undecodable or corrupt data, a JPEG cut short.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise UnreadableImage(f"cannot open: {error.strerror or error}") from error
    if data.size == 0:
        raise UnreadableImage("empty file")
    head = data[:16].tobytes()
    kind = image_kind(head)
    # libjpeg decodes a truncated JPEG with a grey bottom and only a warning on stderr, so a cut-off
    # file would train silently; a complete JPEG ends with the EOI marker FFD9 (padding aside).
    if kind == "JPEG" and not _ends_with_jpeg_eoi(data):
        raise UnreadableImage("truncated JPEG (no end-of-image marker); replace the file with a complete copy")
    flags = cv2.IMREAD_COLOR | (cv2.IMREAD_IGNORE_ORIENTATION if orientation == "stored" else 0)
    if strict and kind == "JPEG":
        image, warning = libjpeg_warning(lambda: cv2.imdecode(data, flags))
        if warning is not None:
            raise UnreadableImage(f"corrupt JPEG data (libjpeg: {warning!r}); replace the file with an intact copy")
    else:
        image = cv2.imdecode(data, flags)
    if image is None:
        if kind is None:
            raise UnreadableImage(f"not an image (starts with {head!r}); replace it with the image file")
        raise UnreadableImage(f"not a decodable image (a {kind} header on damaged data); replace the file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def exif_orientation(path: str | Path) -> int:
    """The EXIF orientation value (1..8) of an image file; 1 (as stored) without a valid tag."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            value = image.getexif().get(EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError):
        return 1
    return value if value in ORIENTATIONS else 1


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
