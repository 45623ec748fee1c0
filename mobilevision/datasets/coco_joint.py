"""The joint view of COCO-form data: each image with its boxes, its class map and its image label,
augmented together (what the multi-task model and a detector's auxiliary segmentation loss read).

COCO-form data holds all of them in one instances JSON: boxes and masks (COCO itself), and for the
built-in dataset's coco/ view an image label too, which its generator defines as the class of the
largest visible object (0, background, when none is). The COCO detection and segmentation readers
share the opened file; one box- and mask-aware pipeline (transforms.detection_transforms) runs over
the image, its class map and, for the image label, its instance map, so every target describes the
same augmented image: a crop that cuts the largest object away labels the object left largest.

Sample: (image (3, H, W) float, {"boxes": the detection target dict (detection_base.py),
"class_map": (H, W) int64 (255 = ignore), "label": int}), "label" only with image labels; None for
an unreadable image, as the other readers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.datasets.coco import CocoDetection, CocoSegmentation
from mobilevision.datasets.coco_instances import load_coco
from mobilevision.datasets.problems import ProblemLog, ReportsProblems
from mobilevision.datasets.transforms import to_tensor
from mobilevision.errors import MobileVisionError


class CocoJoint(ReportsProblems, Dataset):
    """Boxes, class maps and (with `image_labels`) image labels of one COCO split.

    `targets` lists the targets each sample has; `class_names` maps each of them to its names:
    the boxes' without the background (labels 1..C), the class map's and the labels' with it first.
    """

    def __init__(self, *, images_dir: str | Path, annotation_file: str | Path, transform=None,
                 segmentation_categories: str | list[str] = "all", image_labels: bool = False) -> None:
        # One log: the file's problems are reported once, when it is opened, and both readers share it.
        self.log = ProblemLog()
        coco = load_coco(annotation_file, log=self.log)
        self.detection = CocoDetection(images_dir=images_dir, annotation_file=annotation_file, coco=coco,
                                       log=self.log)
        self.segmentation = CocoSegmentation(images_dir=images_dir, annotation_file=annotation_file, coco=coco,
                                             categories=segmentation_categories, log=self.log)
        self.transform = transform or to_tensor
        self.targets = ("label", "boxes", "class_map") if image_labels else ("boxes", "class_map")
        self.class_names = {"boxes": self.detection.class_names, "class_map": self.segmentation.class_names}
        if image_labels:
            self.class_names["label"] = self.segmentation.class_names

    def __len__(self) -> int:
        return len(self.detection)

    def __getitem__(self, index: int):
        import torch

        loaded = self.detection.load(index)
        if loaded is None:
            return None
        image, boxes = loaded
        class_map = self.segmentation.load_mask(index)
        if "label" in self.targets:
            instance_map, instance_labels = self._instances(index)
            class_map = np.dstack([class_map, instance_map])
        out = self.transform(image=image, mask=class_map, **boxes)
        mask = np.asarray(out["mask"])
        targets = {"boxes": self.detection.target(index, out, orig_size=image.shape[:2])}
        if "label" in self.targets:
            targets["label"] = largest_visible(mask[..., 1], instance_labels)
            mask = mask[..., 0]
        targets["class_map"] = torch.from_numpy(mask.astype(np.int64))
        return out["image"], targets

    def _instances(self, index: int) -> tuple[np.ndarray, list[int]]:
        """(instance map (H, W) uint8: k for the visible pixels of the k-th object, 0 elsewhere;
        [0, label of object 1, label of object 2, ...]) of image `index`."""
        coco, image_id = self.segmentation.coco, self.segmentation.image_ids[index]
        info = coco.imgs[image_id]
        instances, labels = np.zeros((info["height"], info["width"]), dtype=np.uint8), [0]
        for annotation in coco.imgToAnns.get(image_id, []):
            label = self.segmentation.category_label.get(annotation["category_id"])
            if label is None or annotation.get("iscrowd", 0) or not annotation.get("segmentation"):
                continue
            if len(labels) == IGNORE_INDEX:  # the augmentation fills new pixels with 255
                raise MobileVisionError(f"{self.segmentation.files[index]}: more than {IGNORE_INDEX - 1} objects; "
                                        "image labels are for the built-in dataset's few objects per image")
            instances[coco.annToMask(annotation).astype(bool)] = len(labels)
            labels.append(label)
        return instances, labels


def largest_visible(instance_map: np.ndarray, labels: list[int]) -> int:
    """The label of the object with the most pixels in `instance_map` (the first on a tie, as the
    generator picks), 0 when no object is visible; 0 and 255 (augmentation fill) are no object."""
    pixels = np.bincount(instance_map.ravel(), minlength=IGNORE_INDEX + 1)[1:len(labels)]
    return int(labels[1 + int(pixels.argmax())]) if pixels.size and pixels.max() > 0 else 0


class JointTargets(ReportsProblems, Dataset, ABC):
    """The joint view's samples with their targets recast by `targets_of` (a subclass's), for a
    model that reads them its own way."""

    def __init__(self, joint: CocoJoint) -> None:
        self.joint = joint
        self.log = joint.log

    @abstractmethod
    def targets_of(self, targets: dict):
        """The joint view's {"boxes", "class_map", "label"} -> what the model reads."""

    def __len__(self) -> int:
        return len(self.joint)

    def __getitem__(self, index: int):
        sample = self.joint[index]
        if sample is None:
            return None
        image, targets = sample
        return image, self.targets_of(targets)


class DetectionWithClassMaps(JointTargets):
    """The joint view as detection samples for a detector trained with an auxiliary
    segmentation loss: (image, the detection target dict plus "class_map" (H, W) int64, 255 = ignore).

    `class_names` are detection's (without the background); `segment_class_names` the class map's
    (background first).
    """

    def __init__(self, joint: CocoJoint) -> None:
        super().__init__(joint)
        self.class_names = joint.class_names["boxes"]
        self.segment_class_names = joint.class_names["class_map"]

    def targets_of(self, targets: dict) -> dict:
        return {**targets["boxes"], "class_map": targets["class_map"]}
