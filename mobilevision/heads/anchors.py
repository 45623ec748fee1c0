"""SSD anchors (default boxes): a few box shapes per feature-map location, on every level.

Two layouts, both with scales spaced linearly from `min_scale` to `max_scale` over the levels
(s_k, with s_{K} = 1 after the last) and the extra box sqrt(s_k * s_{k+1}) at aspect ratio 1:

- "tf": TF object detection's `create_ssd_anchors` as ssdlite_mobilenet_v2_coco configures it:
  ratios 1, 2, 1/2, 3, 0.3333 plus the extra box (6 per location); the lowest level has 3 boxes,
  (0.1, 1), (s_0, 2), (s_0, 1/2) (`reduce_boxes_in_lowest_layer`). Sizes are fractions of the
  image's shorter side, so a ratio-1 box stays square on a non-square input.
- "torchvision": `DefaultBoxGenerator([[2, 3]] * 6, min_ratio=0.2, max_ratio=0.95)` of
  torchvision's ssdlite320_mobilenet_v3_large: (s_k, 1), the extra box, then (w, h) and (h, w)
  for ratios 2 and 3 (6 per location everywhere); widths are fractions of the image width, heights
  of its height, each clamped to 1.

`aspect_ratios` replaces a layout's ratios where its config names them (anchor_fit.py fits them to a
dataset): TF's `aspect_ratios` of every level but the lowest, whose three boxes TF fixes; torchvision's
`aspect_ratios` list, each ratio giving a wide and a tall box. None keeps the layout's own.

Anchors are centred on the cells of each feature map ((j + 0.5) / f of the image) and ordered
location-major (row, column), box shape minor, which is the order the head's outputs take.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from mobilevision.errors import MobileVisionError

ANCHOR_LAYOUTS = ("tf", "torchvision")
# As ssdlite_mobilenet_v2_coco's pipeline.config writes them: 0.3333, not 1/3 (a released
# checkpoint's anchors are these; the difference is 5e-5 of a box side).
TF_ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 0.3333)
TF_LOWEST_LEVEL_SCALE = 0.1
TORCHVISION_ASPECT_RATIOS = (2.0, 3.0)


def level_scales(num_levels: int, *, min_scale: float, max_scale: float) -> list[float]:
    """s_0..s_{K-1} spaced linearly, then 1.0 so the last level has an s_{k+1} for its extra box."""
    step = (max_scale - min_scale) / (num_levels - 1)
    return [min_scale + step * k for k in range(num_levels)] + [1.0]


def default_aspect_ratios(layout: str) -> tuple[float, ...]:
    """The ratios (width / height) a layout's config names: TF's five, torchvision's two."""
    if layout not in ANCHOR_LAYOUTS:
        raise MobileVisionError(f"unknown anchor layout {layout!r}; use one of {ANCHOR_LAYOUTS}")
    return TF_ASPECT_RATIOS if layout == "tf" else TORCHVISION_ASPECT_RATIOS


def parse_aspect_ratios(text: str) -> tuple[float, ...] | None:
    """"1,2,0.5" -> (1.0, 2.0, 0.5); "" -> None (the layout's own), as SSDLiteOptions stores them."""
    if not text.strip():
        return None
    try:
        ratios = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise MobileVisionError(f"anchor aspect ratios {text!r}: give numbers separated by commas, e.g. 1,2,0.5") from None
    if not all(math.isfinite(r) and r > 0 for r in ratios):
        raise MobileVisionError(f"anchor aspect ratios must be positive numbers (width / height); got {text!r}")
    return ratios


def format_aspect_ratios(ratios: Sequence[float]) -> str:
    """The inverse of parse_aspect_ratios, to 4 decimals (TF's 0.3333 survives the round trip)."""
    return ",".join(f"{r:.4f}".rstrip("0").rstrip(".") for r in ratios)


def box_shapes(
    layout: str, *, num_levels: int = 6, min_scale: float = 0.2, max_scale: float = 0.95,
    aspect_ratios: Sequence[float] | None = None,
) -> list[list[tuple[float, float]]]:
    """Per level, the (width, height) of each anchor shape as a fraction of the image side(s)."""
    ratios = tuple(aspect_ratios) if aspect_ratios is not None else default_aspect_ratios(layout)
    if not ratios or min(ratios) <= 0:
        raise MobileVisionError(f"anchor aspect ratios must be positive numbers (width / height); got {ratios}")
    scales = level_scales(num_levels, min_scale=min_scale, max_scale=max_scale)
    shapes = []
    for k in range(num_levels):
        scale, extra = scales[k], math.sqrt(scales[k] * scales[k + 1])
        if layout == "tf":
            if k == 0:
                specs = [(TF_LOWEST_LEVEL_SCALE, 1.0), (scale, 2.0), (scale, 0.5)]
            else:
                specs = [(scale, ratio) for ratio in ratios] + [(extra, 1.0)]
            # TF's tile_anchors: width = scale * sqrt(ratio), height = scale / sqrt(ratio).
            shapes.append([(s * math.sqrt(r), s / math.sqrt(r)) for s, r in specs])
        else:
            level = [(scale, scale), (extra, extra)]
            for ratio in ratios:
                w, h = scale * math.sqrt(ratio), scale / math.sqrt(ratio)
                level += [(w, h), (h, w)]
            shapes.append([(min(w, 1.0), min(h, 1.0)) for w, h in level])
    return shapes


def feature_map_sizes(image_size: tuple[int, int], *, strides: Sequence[int]) -> list[tuple[int, int]]:
    """(h, w) of each level for an (H, W) input: ceil(H / stride), as "same"-padded stride-2 convs give."""
    height, width = image_size
    return [(math.ceil(height / s), math.ceil(width / s)) for s in strides]


class AnchorGenerator:
    """Anchors in input pixels for one layout. Not an nn.Module: it has no weights and its output
    depends only on the input size, so the task model caches it per size and never exports it."""

    def __init__(
        self, *, layout: str = "tf", num_levels: int = 6, min_scale: float = 0.2, max_scale: float = 0.95,
        aspect_ratios: Sequence[float] | None = None,
    ) -> None:
        self.layout = layout
        self.shapes = box_shapes(layout, num_levels=num_levels, min_scale=min_scale, max_scale=max_scale,
                                 aspect_ratios=aspect_ratios)

    def num_anchors_per_location(self) -> list[int]:
        return [len(level) for level in self.shapes]

    def __call__(
        self, feature_sizes: Sequence[tuple[int, int]], image_size: tuple[int, int]
    ) -> torch.Tensor:
        """(h, w) per level and the (H, W) input -> anchors (A, 4) xyxy in input pixels, float32."""
        if len(feature_sizes) != len(self.shapes):
            raise MobileVisionError(f"{len(feature_sizes)} feature maps for {len(self.shapes)} anchor levels")
        image_h, image_w = image_size
        if self.layout == "tf":
            # TF normalises the base anchor to the shorter side: a ratio-1 anchor is square in pixels.
            side_w = side_h = float(min(image_h, image_w))
        else:
            side_w, side_h = float(image_w), float(image_h)
        levels = []
        for (grid_h, grid_w), shapes in zip(feature_sizes, self.shapes):
            centre_y = (torch.arange(grid_h, dtype=torch.float64) + 0.5) * (image_h / grid_h)
            centre_x = (torch.arange(grid_w, dtype=torch.float64) + 0.5) * (image_w / grid_w)
            cy, cx = torch.meshgrid(centre_y, centre_x, indexing="ij")
            centres = torch.stack([cx, cy], dim=-1).reshape(-1, 1, 2)  # (h*w, 1, 2)
            sizes = torch.tensor(shapes, dtype=torch.float64) * torch.tensor([side_w, side_h])  # (k, 2)
            boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=-1)  # (h*w, k, 4)
            levels.append(boxes.reshape(-1, 4))
        return torch.cat(levels).to(torch.float32)
