"""The multi-task model's data: the joint view of COCO-form data (datasets/coco_joint.py), its
targets named by the task that learns from them, and their collate."""

from __future__ import annotations

import torch

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.datasets.coco_joint import CocoJoint, JointTargets
from mobilevision.datasets.collate import Batch, _kept, pad_stack
from mobilevision.tasks.multitask.model import TASKS

# The joint view's target each task learns from.
TARGET_OF = {"classify": "label", "detect": "boxes", "segment": "class_map"}


class MultiTaskDataset(JointTargets):
    """Samples (image (3, H, W) float, {"classify": label int, "detect": the detection target dict,
    "segment": class map (H, W) int64, 255 = ignore}) for the tasks the data has labels for
    (`tasks`; "classify" only with image labels, as the built-in dataset's); `class_names` per task."""

    def __init__(self, joint: CocoJoint) -> None:
        super().__init__(joint)
        self.tasks = tuple(task for task in TASKS if TARGET_OF[task] in joint.targets)
        self.class_names = {task: joint.class_names[TARGET_OF[task]] for task in self.tasks}

    def targets_of(self, targets: dict) -> dict:
        return {task: targets[TARGET_OF[task]] for task in self.tasks}


def multitask_collate(samples: list) -> Batch:
    """-> Batch(images (N, 3, H, W) float, {"classify": labels (N,) int64, "detect": list of N
    target dicts, "segment": masks (N, H, W) int64}) with the tasks the samples have."""
    kept, dropped = _kept(samples)
    images = pad_stack([image for image, _ in kept], fill=0.0)
    tasks = kept[0][1] if kept else {}
    targets = {}
    if "classify" in tasks:
        targets["classify"] = torch.tensor([target["classify"] for _, target in kept], dtype=torch.int64)
    if "detect" in tasks:
        targets["detect"] = [target["detect"] for _, target in kept]
    if "segment" in tasks:
        targets["segment"] = pad_stack([target["segment"] for _, target in kept], fill=IGNORE_INDEX)
    return Batch(images, targets, dropped)
