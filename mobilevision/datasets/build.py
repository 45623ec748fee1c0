"""`build_dataset`: the one entry point from `--data` + task + split to a torch Dataset."""

from __future__ import annotations

from pathlib import Path

from mobilevision.datasets.resolve import DataSpec, resolve_data
from mobilevision.errors import MobileVisionError

VIEWS = ("classify", "detect", "segment", "joint")  # what each task reads; joint: every target of an image


def build_dataset(data: str | Path | DataSpec, *, task: str, split: str, transform=None):
    """The dataset `task` reads from `data` (a path, a YAML file or a resolved DataSpec).

    task: the view, "classify" | "detect" | "segment" | "joint" (every target of COCO-form data,
    coco_joint.py); split: "train" | "val"; transform: one of the pipelines in transforms.py for
    that view, detection's for joint (None: image as float in [0, 1], targets untouched).
    """
    if task not in VIEWS:
        raise ValueError(f"task must be one of {VIEWS}, got {task!r}")
    resolved = data if isinstance(data, DataSpec) else resolve_data(data)
    spec = resolved.view(task)
    if split not in spec.splits:
        raise MobileVisionError(f"{spec.source or spec.root}: no {split!r} split (found {sorted(spec.splits)}); "
                                "add it under 'splits' in the dataset YAML")
    entry = spec.splits[split]
    categories = spec.segmentation_categories
    categories = list(categories) if isinstance(categories, tuple) else categories
    if task == "joint":
        if spec.format != "coco":
            raise MobileVisionError(f"{spec.source or spec.root}: the multi-task model reads boxes and masks from one "
                                    f"COCO instances JSON (COCO or the built-in dataset), not a {spec.format} dataset")
        from mobilevision.datasets.coco_joint import CocoJoint

        return CocoJoint(images_dir=entry["images"], annotation_file=entry["annotations"], transform=transform,
                             segmentation_categories=categories, image_labels=resolved.format == "builtin")
    if task == "classify":
        if spec.format != "folder":
            raise MobileVisionError(f"{spec.source or spec.root}: a {spec.format} dataset has no image labels; "
                                    "classification needs class folders (<split>/<class>/<image>) "
                                    "or the built-in dataset")
        from mobilevision.datasets.folder import ImageFolder

        return ImageFolder(root=entry, transform=transform, class_names=spec.class_names)
    if spec.format == "folder":
        raise MobileVisionError(f"{spec.source or spec.root}: class folders hold no boxes or masks; "
                                f"{task} needs a COCO or VOC dataset or the built-in one")
    if spec.format == "coco":
        from mobilevision.datasets.coco import CocoDetection, CocoSegmentation

        if task == "detect":
            return CocoDetection(images_dir=entry["images"], annotation_file=entry["annotations"], transform=transform)
        return CocoSegmentation(images_dir=entry["images"], annotation_file=entry["annotations"], transform=transform,
                                categories=categories)
    from mobilevision.datasets.voc import VOC_CLASSES, VocDetection, VocSegmentation

    names = spec.class_names or VOC_CLASSES
    if task == "detect":
        return VocDetection(root=spec.root, image_set=entry, transform=transform, class_names=names)
    return VocSegmentation(root=spec.root, image_set=entry, transform=transform, class_names=("background", *names),
                           extra_lists=spec.extra_lists.get(split, ()))
