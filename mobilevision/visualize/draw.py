"""Drawing on an image with OpenCV, shared by `predict` and the demos: detections, and text
panels (a legend of colour swatches, classification top-k, a status line).

One colour per class (a fixed, well-separated palette, so a class keeps its colour across frames,
runs and tasks: a detected circle and a segmented circle share it); the label "name score" sits on
a filled box of that colour, in black or white text whichever contrasts more, so it reads on any
background. Line width and font scale follow the image size, so a 4000 px photo and a 96 px
thumbnail both come out legible.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Tableau-like categorical colours (RGB); class k takes PALETTE[k % len(PALETTE)].
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (255, 187, 120), (152, 223, 138),
    (255, 152, 150), (197, 176, 213), (0, 0, 128), (0, 128, 128), (128, 0, 0), (255, 215, 0),
)
FONT = cv2.FONT_HERSHEY_SIMPLEX
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def class_colour(label: int) -> tuple[int, int, int]:
    """The RGB colour of class `label`."""
    return PALETTE[int(label) % len(PALETTE)]


def text_style(image: np.ndarray) -> tuple[float, int]:
    """(font scale, line thickness) that stay legible on an image of this size."""
    side = min(image.shape[:2])
    return max(0.35, side / 900), max(1, round(side / 300))


def _text_colour(background: tuple[int, int, int]) -> tuple[int, int, int]:
    # Relative luminance (ITU-R BT.601 weights): dark text on light fills, white on dark ones.
    luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


def draw_detections(image: np.ndarray, boxes, labels, scores, *, class_names: Sequence[str]) -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB with each box drawn and labelled "name 0.87".

    boxes (D, 4) xyxy in the image's pixels; labels (D,) in 1..C (class_names[label - 1] names
    them; 0 is background); scores (D,). Best-scoring boxes are drawn last, so they end up on top.
    """
    canvas = np.ascontiguousarray(image).copy()
    height, width = canvas.shape[:2]
    font_scale, thickness = text_style(canvas)
    boxes, labels, scores = (np.asarray(v) for v in (boxes, labels, scores))
    for index in np.argsort(scores, kind="stable"):
        x1, y1, x2, y2 = (round(float(v)) for v in boxes[index])
        label = int(labels[index])
        colour = class_colour(label)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness, lineType=cv2.LINE_AA)
        name = class_names[label - 1] if 0 < label <= len(class_names) else str(label)
        text = f"{name} {float(scores[index]):.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
        # Above the box when there is room, else just inside its top edge; never off the image.
        top = y1 - text_h - baseline - 2 if y1 - text_h - baseline - 2 >= 0 else y1
        top = min(max(top, 0), max(0, height - text_h - baseline - 2))
        left = min(max(x1, 0), max(0, width - text_w - 2))
        cv2.rectangle(canvas, (left, top), (left + text_w + 2, top + text_h + baseline + 2), colour, cv2.FILLED)
        cv2.putText(canvas, text, (left + 1, top + text_h + 1), FONT, font_scale,
                    _text_colour(colour), thickness, lineType=cv2.LINE_AA)
    return canvas


def line_height(font_scale: float, thickness: int) -> int:
    """Pixels between two rows of text written at this scale and thickness (write_rows)."""
    (_, text_h), baseline = cv2.getTextSize("Ag", FONT, font_scale, thickness)
    return text_h + baseline + 2 + thickness * 2


def fit_text(text: str, width: int, *, font_scale: float, thickness: int) -> str:
    """`text`, cut and ended with ".." where it is wider than `width` pixels (Hershey fonts have no
    ellipsis glyph)."""
    if cv2.getTextSize(text, FONT, font_scale, thickness)[0][0] <= width:
        return text
    while text and cv2.getTextSize(text + "..", FONT, font_scale, thickness)[0][0] > width:
        text = text[:-1]
    return text + ".."


def _indent(rows: Sequence[tuple[str, tuple[int, int, int] | None]], *, font_scale: float, thickness: int) -> int:
    # Every row is indented by a swatch and its gap when any row has one, so the texts line up.
    return line_height(font_scale, thickness) if any(colour is not None for _, colour in rows) else 0


def rows_size(rows: Sequence[tuple[str, tuple[int, int, int] | None]], *, font_scale: float,
              thickness: int) -> tuple[int, int]:
    """(width, height) in pixels that write_rows takes for `rows`."""
    indent = _indent(rows, font_scale=font_scale, thickness=thickness)
    widths = [cv2.getTextSize(text, FONT, font_scale, thickness)[0][0] for text, _ in rows]
    return indent + max(widths, default=0), line_height(font_scale, thickness) * len(rows)


def write_rows(canvas: np.ndarray, rows: Sequence[tuple[str, tuple[int, int, int] | None]], *, left: int, top: int,
               font_scale: float, thickness: int) -> None:
    """Write `rows` of white text on `canvas` (H, W, 3) uint8 RGB in place, from (left, top) down
    (rows_size says how far), each after a square swatch of its colour when it has one."""
    height = line_height(font_scale, thickness)
    padding = 2 + thickness * 2
    indent = _indent(rows, font_scale=font_scale, thickness=thickness)
    for row, (text, colour) in enumerate(rows):
        row_top = top + row * height
        if colour is not None:
            cv2.rectangle(canvas, (left, row_top), (left + height - padding - 1, row_top + height - padding - 1),
                          colour, cv2.FILLED)
        baseline = cv2.getTextSize(text, FONT, font_scale, thickness)[1]
        cv2.putText(canvas, text, (left + indent, row_top + height - padding - baseline), FONT, font_scale,
                    (255, 255, 255), thickness, lineType=cv2.LINE_AA)


def draw_panel(image: np.ndarray, rows: Sequence[tuple[str, tuple[int, int, int] | None]], *,
               corner: str = "top-left") -> np.ndarray:
    """A copy of `image` (H, W, 3) uint8 RGB with `rows` of white text, each after a square swatch
    of its colour when it has one, on a darkened box in `corner` (one of CORNERS).

    The box darkens what is under it instead of covering it, so the scene stays visible and the
    text reads on any background.
    """
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}, got {corner!r}")
    canvas = np.ascontiguousarray(image).copy()
    if not rows:
        return canvas
    height, width = canvas.shape[:2]
    font_scale, thickness = text_style(canvas)
    padding = 2 + thickness * 2
    text_w, text_h = rows_size(rows, font_scale=font_scale, thickness=thickness)
    panel_w, panel_h = min(width, text_w + padding * 2), min(height, text_h + padding)
    x0 = 0 if corner.endswith("left") else width - panel_w
    y0 = 0 if corner.startswith("top") else height - panel_h
    region = canvas[y0:y0 + panel_h, x0:x0 + panel_w]
    region[:] = (region.astype(np.float32) * 0.35).astype(np.uint8)
    write_rows(canvas, rows, left=x0 + padding, top=y0 + padding, font_scale=font_scale, thickness=thickness)
    return canvas
