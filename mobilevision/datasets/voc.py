"""PASCAL VOC: detection from Annotations XML, segmentation from SegmentationClass palette PNGs.

Detection reads the image-set list ImageSets/Main/<image_set>.txt; `difficult` objects stay in the
targets with a `difficult` flag (evaluation ignores them, training may use them). VOC boxes are
1-based inclusive pixel indices, converted to pixel edges: x1 = xmin - 1, x2 = xmax.
Segmentation reads ImageSets/Segmentation/<image_set>.txt plus any extra list files (such as the
SBD-augmented `train_aug.txt`), whose lines are either an id or "<image path> <mask path>"
relative to the root; palette PNGs are read as indices, 255 = ignore (VOC's object borders).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from mobilevision.datasets.detection_base import FLAG_DIFFICULT, DetectionDataset, DetectionRecord, clean_boxes
from mobilevision.datasets.image_io import read_label_mask
from mobilevision.datasets.segmentation_base import SegmentationDataset
from mobilevision.errors import MobileVisionError

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def read_list(path: Path) -> list[list[str]]:
    """The non-empty lines of an image-set list, split on whitespace."""
    if not path.is_file():
        raise MobileVisionError(f"{path}: image-set list not found; check the VOC root and the split name")
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


class VocDetection(DetectionDataset):
    """VOC detection for the image set `image_set` (e.g. train, val, trainval) under `root`."""

    image_set_folder = "Main"  # ImageSets/<this>/<image_set>.txt lists the images

    def __init__(self, *, root: str | Path, image_set: str = "train", transform=None,
                 class_names: tuple[str, ...] | list[str] = VOC_CLASSES) -> None:
        super().__init__(transform=transform)
        root = Path(root)
        self.class_names = list(class_names)
        label_of = {name: label for label, name in enumerate(self.class_names, start=1)}
        for image_id, fields in enumerate(read_list(root / "ImageSets" / self.image_set_folder / f"{image_set}.txt")):
            stem = fields[0]
            xml_file = root / "Annotations" / f"{stem}.xml"
            try:
                annotation = ElementTree.parse(xml_file).getroot()
            except (OSError, ElementTree.ParseError) as error:
                self.log.report(xml_file, f"unreadable annotation ({error}); image left out")
                continue
            file = root / "JPEGImages" / (annotation.findtext("filename") or f"{stem}.jpg")
            boxes, labels, flags = [], [], []
            for obj in annotation.iter("object"):
                name = (obj.findtext("name") or "").strip()
                if name not in label_of:
                    self.log.report(xml_file, f"unknown class name {name!r}; object dropped")
                    continue
                box = obj.find("bndbox")
                try:
                    xmin, ymin, xmax, ymax = (float(box.findtext(tag)) for tag in ("xmin", "ymin", "xmax", "ymax"))
                except (AttributeError, TypeError, ValueError):
                    self.log.report(xml_file, f"object {name!r} has no numeric bndbox; object dropped")
                    continue
                boxes.append([xmin - 1, ymin - 1, xmax, ymax])
                labels.append(label_of[name])
                flags.append(FLAG_DIFFICULT if (obj.findtext("difficult") or "0").strip() == "1" else 0)
            size = _xml_size(annotation)
            boxes, keep = clean_boxes(np.array(boxes, dtype=np.float32), size=size, file=xml_file, log=self.log)
            self.records.append(DetectionRecord(
                file=file, image_id=image_id, size=size, boxes=boxes[keep],
                labels=np.array(labels, dtype=np.int64).reshape(-1)[keep],
                flags=np.array(flags, dtype=np.uint8).reshape(-1)[keep], annotation_file=xml_file,
            ))


def _xml_size(annotation: ElementTree.Element) -> tuple[int, int] | None:
    """(h, w) from <size>, or None when it is missing or zero (some VOC-style exporters omit it)."""
    try:
        height, width = int(annotation.findtext("size/height")), int(annotation.findtext("size/width"))
    except (TypeError, ValueError):
        return None
    return (height, width) if height > 0 and width > 0 else None


class VocSegmentation(SegmentationDataset):
    """VOC segmentation: `class_names` includes "background" first (index 0)."""

    image_set_folder = "Segmentation"  # ImageSets/<this>/<image_set>.txt lists the images

    def __init__(self, *, root: str | Path, image_set: str = "train", transform=None,
                 class_names: tuple[str, ...] | list[str] = ("background", *VOC_CLASSES),
                 extra_lists: tuple[str | Path, ...] = ()) -> None:
        super().__init__(transform=transform)
        root = Path(root)
        self.class_names = list(class_names)
        lists = [root / "ImageSets" / self.image_set_folder / f"{image_set}.txt", *(root / path for path in extra_lists)]
        pairs: dict[Path, Path] = {}  # image -> mask, first listing wins, order kept
        for list_file in lists:
            for fields in read_list(list_file):
                if len(fields) >= 2:
                    image, mask = root / fields[0].lstrip("/"), root / fields[1].lstrip("/")
                else:
                    image = root / "JPEGImages" / f"{fields[0]}.jpg"
                    mask = root / "SegmentationClass" / f"{fields[0]}.png"
                pairs.setdefault(image, mask)
        self.files = list(pairs)
        self.masks = list(pairs.values())

    def mask_file(self, index: int) -> Path:
        return self.masks[index]

    def load_mask(self, index: int) -> np.ndarray:
        return read_label_mask(self.masks[index])
