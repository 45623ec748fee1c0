"""A detection dataset's boxes from its annotations alone: what `data stats` and the anchor fit read.

No image is decoded: COCO and VOC annotations give each image's size; where one does not, the
image file's header does (PIL opens it lazily).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mobilevision.datasets.detection_base import FLAG_CROWD, DetectionDataset

MIN_BOX_AREA = 1.0  # what the eval transform keeps (detection_transforms' min_area), in input pixels


@dataclass(frozen=True)
class ImageBoxes:
    size: tuple[int, int]  # (h, w) of the original image
    boxes: np.ndarray  # (K, 4) float32 xyxy original pixels, crowd regions left out
    labels: np.ndarray  # (K,) int64 in 1..C


def annotated_boxes(dataset: DetectionDataset) -> list[ImageBoxes]:
    """Every image's size and trainable boxes, in the reader's order; an image whose header cannot
    be read is left out (`data check` names it)."""
    images = []
    for record in dataset.records:
        size = record.size or header_size(record.file)
        if size is None:
            continue
        keep = record.flags != FLAG_CROWD
        boxes = np.clip(record.boxes[keep], 0, [size[1], size[0], size[1], size[0]]).astype(np.float32)
        images.append(ImageBoxes(size=size, boxes=boxes, labels=record.labels[keep]))
    return images


def input_boxes(images: list[ImageBoxes], *, size: int) -> torch.Tensor:
    """All boxes (N, 4) xyxy in pixels of the (size, size) input the eval transform resizes every
    image to (a plain resize), boxes under MIN_BOX_AREA dropped as that transform drops them."""
    scaled = [image.boxes * np.array([size / image.size[1], size / image.size[0]] * 2, dtype=np.float32)
              for image in images]
    boxes = torch.from_numpy(np.concatenate(scaled) if scaled else np.zeros((0, 4), dtype=np.float32))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return boxes[area >= MIN_BOX_AREA]


def header_size(file) -> tuple[int, int] | None:
    """(h, w) from the image file's header, None when it cannot be read."""
    try:
        with Image.open(file) as image:
            width, height = image.size
    except OSError:
        return None
    return height, width
