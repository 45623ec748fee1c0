"""What every detection reader shares: cleaning boxes, and turning a record into a training sample.

A format reader (COCO, VOC) parses its annotations once into `DetectionRecord`s; this base class
reads the image, runs the transform and builds the target dict the detection task relies on:

    boxes (K, 4) float32 xyxy pixels of the transformed image, labels (K,) int64 in 1..C,
    difficult (K,) bool, crowd_boxes (M, 4) float32, crowd_labels (M,) int64,
    image_id int, orig_size (h, w), file str

Crowd regions never reach `boxes` (they are not trainable objects) but are transformed alongside,
so evaluation can ignore detections on them. Box coordinates are pixel edges: a box covering
pixel columns c0..c1 is x1 = c0, x2 = c1 + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from mobilevision.datasets.image_io import UnreadableImage, read_image
from mobilevision.datasets.problems import ProblemLog, ReportsProblems
from mobilevision.datasets.transforms import to_tensor

FLAG_DIFFICULT = 1
FLAG_CROWD = 2


@dataclass
class DetectionRecord:
    file: Path
    image_id: int
    size: tuple[int, int] | None  # (h, w) the annotation claims, None when it does not say
    boxes: np.ndarray  # (K, 4) float32 xyxy pixels of the original image
    labels: np.ndarray  # (K,) int64 in 1..C
    flags: np.ndarray  # (K,) uint8: 0, FLAG_DIFFICULT or FLAG_CROWD
    annotation_file: Path  # what box problems are reported against (VOC: the XML; COCO: the image)


def clean_boxes(boxes: np.ndarray, *, size: tuple[int, int] | None, file: object,
                log: ProblemLog) -> tuple[np.ndarray, np.ndarray]:
    """Clip (K, 4) xyxy boxes to the (h, w) image; drop and report inverted or empty ones.

    Returns the clipped boxes and a (K,) bool mask of the ones kept.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if size is not None:
        height, width = size
        clipped = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
    else:
        clipped = boxes
    keep = np.ones(len(boxes), dtype=bool)
    for k, (box, clip) in enumerate(zip(boxes, clipped)):
        if not np.isfinite(box).all():
            reason = "has a non-finite coordinate"
        elif box[2] < box[0] or box[3] < box[1]:
            reason = "has x2 < x1 or y2 < y1"
        elif clip[2] <= clip[0] or clip[3] <= clip[1]:
            reason = "has zero area" + (" after clipping to the image" if size is not None else "")
        else:
            continue
        keep[k] = False
        log.report(file, f"box {[round(float(v), 2) for v in box]} {reason}; box dropped")
    return clipped, keep


class DetectionDataset(ReportsProblems, Dataset):
    """Base for detection readers: subclasses fill `records` and `class_names` (without background)."""

    count_unit = "objects"  # what `data check` counts per class

    def classes_of(self, target: dict) -> list[str]:
        """The class name of each object of a sample's target."""
        return [self.class_names[label - 1] for label in target["labels"].tolist()]

    def __init__(self, *, transform=None, log: ProblemLog | None = None) -> None:
        self.transform = transform or to_tensor
        self.log = log or ProblemLog()
        self.records: list[DetectionRecord] = []
        self.class_names: list[str] = []

    def __len__(self) -> int:
        return len(self.records)

    def image_file(self, index: int) -> Path:
        return self.records[index].file

    def __getitem__(self, index: int):
        """(image (3, H, W) float, target dict), or None for an unreadable or mismatched image."""
        loaded = self.load(index)
        if loaded is None:
            return None
        image, annotations = loaded
        out = self.transform(image=image, **annotations)
        return out["image"], self.target(index, out, orig_size=image.shape[:2])

    def load(self, index: int) -> tuple[np.ndarray, dict] | None:
        """(RGB image (H, W, 3) uint8, {"bboxes", "labels", "flags"} in its pixels: the transform's
        box inputs), or None (reported) for an unreadable image or one of another size than annotated."""
        record = self.records[index]
        try:
            image = read_image(record.file, orientation="stored", strict=True)  # the boxes' frame
        except UnreadableImage as error:
            self.log.skip(record.file, str(error))
            return None
        if record.size is not None and image.shape[:2] != record.size:
            self.log.skip(record.file, f"image is {image.shape[1]}x{image.shape[0]} but its annotation says "
                                       f"{record.size[1]}x{record.size[0]}")
            return None
        boxes, labels, flags = record.boxes, record.labels, record.flags
        if record.size is None:
            # The annotation did not say how big the image is: clip and check now that we know.
            boxes, keep = clean_boxes(boxes, size=image.shape[:2], file=record.annotation_file, log=self.log)
            boxes, labels, flags = boxes[keep], labels[keep], flags[keep]
        return image, {"bboxes": boxes, "labels": labels, "flags": flags}

    def target(self, index: int, out: dict, *, orig_size: tuple[int, int]) -> dict:
        """The target dict (module docstring) of record `index` from the transform's output `out`."""
        record = self.records[index]
        boxes = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
        labels = np.asarray(out["labels"], dtype=np.int64).reshape(-1)
        flags = np.asarray(out["flags"], dtype=np.uint8).reshape(-1)
        crowd = flags == FLAG_CROWD
        return {
            "boxes": _tensor(boxes[~crowd]),
            "labels": _tensor(labels[~crowd]),
            "difficult": _tensor(flags[~crowd] == FLAG_DIFFICULT),
            "crowd_boxes": _tensor(boxes[crowd]),
            "crowd_labels": _tensor(labels[crowd]),
            "image_id": record.image_id,
            "orig_size": (int(orig_size[0]), int(orig_size[1])),
            "file": str(record.file),
        }


def _tensor(array: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array))
