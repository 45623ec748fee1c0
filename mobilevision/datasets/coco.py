"""COCO instances (pycocotools) for detection and for semantic segmentation.

Category ids are mapped in ascending order to contiguous labels 1..C (0 is background) with their
names kept. Detection keeps `iscrowd` annotations out of the training boxes and returns them as
`crowd_boxes` for evaluation. Segmentation rasterises polygons and RLE (pycocotools annToMask) into
a class map for a chosen set of categories (all, the 20 PASCAL VOC ones, or a list of names), as
torchvision's references/segmentation/coco_utils.py does: pixels claimed by two objects and crowd
regions become 255 (ignore). The file is opened and checked by coco_instances.py: a malformed
annotation never reaches these readers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.datasets.coco_instances import load_coco
from mobilevision.datasets.detection_base import FLAG_CROWD, DetectionDataset, DetectionRecord, clean_boxes
from mobilevision.datasets.problems import ProblemLog
from mobilevision.datasets.segmentation_base import SegmentationDataset
from mobilevision.errors import MobileVisionError

# The COCO category ids of the 20 PASCAL VOC classes, in VOC order (torchvision's CAT_LIST).
VOC_IN_COCO = {
    "aeroplane": 5, "bicycle": 2, "bird": 16, "boat": 9, "bottle": 44, "bus": 6, "car": 3, "cat": 17,
    "chair": 62, "cow": 21, "diningtable": 67, "dog": 18, "horse": 19, "motorbike": 4, "person": 1,
    "pottedplant": 64, "sheep": 20, "sofa": 63, "train": 7, "tvmonitor": 72,
}


class CocoDetection(DetectionDataset):
    """COCO detection: images under `images_dir`, annotations in `annotation_file` (or `coco`, the
    file already opened by load_coco, and `log`, where its problems went: the multi-task reader
    shares both with segmentation)."""

    def __init__(self, *, images_dir: str | Path, annotation_file: str | Path, transform=None, coco=None,
                 log: ProblemLog | None = None) -> None:
        super().__init__(transform=transform, log=log)
        coco = coco or load_coco(annotation_file, log=self.log)
        category_ids = sorted(coco.cats)
        self.class_names = [coco.cats[i]["name"] for i in category_ids]
        label_of = {category_id: label for label, category_id in enumerate(category_ids, start=1)}
        images_dir = Path(images_dir)
        for image_id in sorted(coco.imgs):
            info = coco.imgs[image_id]
            file = images_dir / info["file_name"]
            size = (int(info["height"]), int(info["width"])) if info.get("height") and info.get("width") else None
            boxes, labels, flags = [], [], []
            for annotation in coco.imgToAnns.get(image_id, []):
                x, y, w, h = annotation["bbox"]
                boxes.append([x, y, x + w, y + h])
                labels.append(label_of[annotation["category_id"]])
                flags.append(FLAG_CROWD if annotation.get("iscrowd", 0) else 0)
            boxes, keep = clean_boxes(np.array(boxes, dtype=np.float32), size=size, file=file, log=self.log)
            self.records.append(DetectionRecord(
                file=file, image_id=int(image_id), size=size, boxes=boxes[keep],
                labels=np.array(labels, dtype=np.int64).reshape(-1)[keep],
                flags=np.array(flags, dtype=np.uint8).reshape(-1)[keep], annotation_file=file,
            ))


class CocoSegmentation(SegmentationDataset):
    """COCO instances rasterised to class maps.

    categories: "all" (every category, ascending id), "voc" (the 20 VOC classes; other objects
    become background) or a list of COCO category names (in label order). `coco`, `log`: the
    annotation file already opened by load_coco and where its problems went.
    """

    def __init__(self, *, images_dir: str | Path, annotation_file: str | Path, transform=None,
                 categories: str | list[str] = "all", coco=None, log: ProblemLog | None = None) -> None:
        super().__init__(transform=transform, log=log)
        self.coco = coco or load_coco(annotation_file, log=self.log)
        self.category_label = self._category_labels(categories, annotation_file)
        images_dir = Path(images_dir)
        self.image_ids = sorted(self.coco.imgs)
        self.files = [images_dir / self.coco.imgs[i]["file_name"] for i in self.image_ids]
        unsized = next((info for info in self.coco.imgs.values() if not (info.get("height") and info.get("width"))),
                       None)
        if unsized is not None:  # pycocotools draws polygons at the size the entry gives
            raise MobileVisionError(f"{annotation_file}: image {unsized['id']} ({unsized['file_name']}) has no height "
                                    "and width, which segmentation draws its masks at; add them to its entry")

    def _category_labels(self, categories: str | list[str], annotation_file) -> dict[int, int]:
        if categories == "all":
            ids = sorted(self.coco.cats)
            names = [self.coco.cats[i]["name"] for i in ids]
        elif categories == "voc":
            ids, names = list(VOC_IN_COCO.values()), list(VOC_IN_COCO)
        else:
            id_of = {category["name"]: category_id for category_id, category in self.coco.cats.items()}
            missing = [name for name in categories if name not in id_of]
            if missing:
                raise MobileVisionError(f"{annotation_file}: segmentation categories {missing} are not in its "
                                        f"categories {sorted(id_of)}; fix the names in the dataset YAML")
            ids, names = [id_of[name] for name in categories], list(categories)
        self.class_names = ["background", *names]
        return {category_id: label for label, category_id in enumerate(ids, start=1)}

    def load_mask(self, index: int) -> np.ndarray:
        """(H, W) uint8 class map of image `index`."""
        info = self.coco.imgs[self.image_ids[index]]
        target = np.zeros((info["height"], info["width"]), dtype=np.uint8)
        claimed = np.zeros(target.shape, dtype=np.uint8)
        ignore = np.zeros(target.shape, dtype=bool)
        for annotation in self.coco.imgToAnns.get(self.image_ids[index], []):
            label = self.category_label.get(annotation["category_id"])
            if label is None or not annotation.get("segmentation"):
                continue
            object_mask = self.coco.annToMask(annotation).astype(bool)
            if annotation.get("iscrowd", 0):
                ignore |= object_mask
                continue
            target[object_mask] = label
            claimed += object_mask
        target[(claimed > 1) | ignore] = IGNORE_INDEX
        return target
