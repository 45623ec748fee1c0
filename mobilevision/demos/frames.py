"""The one check every image the web demo receives goes through, an uploaded file (/predict) or a
webcam frame (/stream) alike: refused with a reason a person can act on (empty, not an image, too
many pixels) before it is decoded, so the server never decodes a gigapixel bomb, then decoded to
what the models take.

Both endpoints hand over Gradio's payload undecoded: Gradio's own decoding keeps a frame's
channels and depth (a grayscale PNG arrives as (H, W), an RGBA one as (H, W, 4), a 16-bit one as
uint16) and decodes any size, so the check would come after the memory was spent.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from pathlib import Path

import cv2
import numpy as np

from mobilevision.errors import MobileVisionError

# A 24 MP camera photo (6000 x 4000) passes; decoding 50 MP costs 150 MB per concurrent request.
MAX_PIXELS = 25_000_000
# What the page shows and the models see: the networks take 224-512 px, so a larger side only
# costs encoding time on the way back to the browser.
DISPLAY_SIDE = 1920
FIX = "send a JPEG, PNG, WebP or BMP image"


def read_frame(payload: dict, *, name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of Gradio's image payload (a stored file's "path", or a "url" holding
    the image as a data URL, as the browser streams its webcam), scaled down to DISPLAY_SIDE on
    its longer side.

    OpenCV decodes it to three 8-bit channels whatever it holds (grayscale expanded, alpha
    dropped, 16-bit samples scaled, JPEG EXIF orientation applied), as the training readers do.
    Raises MobileVisionError naming the image (`name`, or the file name the browser sent).
    """
    from PIL import Image, UnidentifiedImageError

    name = payload.get("orig_name") or name
    data = payload_bytes(payload, name=name)
    if not data:
        raise MobileVisionError(f"{name} is empty (0 bytes); {FIX}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                width, height = header.size
                pixels, size = width * height, f"{width} x {height} pixels"
    except Image.DecompressionBombError:  # PIL refuses beyond 2 x MAX_IMAGE_PIXELS
        pixels, size = 2 * Image.MAX_IMAGE_PIXELS, f"over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
    except (UnidentifiedImageError, OSError) as error:
        raise MobileVisionError(f"{name} is not an image; {FIX}") from error
    if pixels > MAX_PIXELS:
        raise MobileVisionError(f"{name} is too large ({size}); this demo takes images up to "
                                f"{MAX_PIXELS / 1e6:.0f} megapixels, scale it down first")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise MobileVisionError(f"{name} cannot be decoded ({size}, a format OpenCV does not read); {FIX}")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    scale = DISPLAY_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    return image


def payload_bytes(payload: dict, *, name: str) -> bytes:
    """The encoded image of a payload: the file at "path" (Gradio has checked it is an upload of
    its own), else the base64 data URL at "url"."""
    url = payload.get("url") or ""
    if payload.get("path") and not url.startswith("data:"):
        try:
            return Path(payload["path"]).read_bytes()
        except OSError as error:  # Gradio's cache sweep may have deleted an old upload
            raise MobileVisionError(f"{name} is no longer on the server ({error.strerror}); send it again") from error
    header, _, encoded = url.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise MobileVisionError(f"{name} holds no image (neither an uploaded file nor a base64 data URL); {FIX}")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MobileVisionError(f"{name} is not valid base64 ({error}); {FIX}") from error
