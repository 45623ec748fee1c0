"""The multi-task view of COCO-form data: boxes, class map and image label of the same augmented image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.datasets import detection_transforms
from mobilevision.datasets.synth.scene import render_scene
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.multitask.dataset import multitask_collate
from mobilevision.tasks.registry import get_task


def test_image_labels_are_the_generators(synth):
    dataset = get_task("multitask").dataset(synth, split="val", transform=detection_transforms(False, size=128))
    assert dataset.tasks == ("classify", "detect", "segment")
    assert dataset.class_names["classify"] == dataset.class_names["segment"] == ["background",
                                                                                 *dataset.class_names["detect"]]
    for index in range(len(dataset)):
        _, targets = dataset[index]
        scene = render_scene(seed=0, index=int(Path(targets["detect"]["file"]).stem), size=128)
        assert targets["classify"] == scene.image_label()
        assert torch.equal(targets["segment"], torch.from_numpy(scene.class_map().astype(np.int64)))


def test_augmented_targets_describe_one_image(synth):
    dataset = get_task("multitask").dataset(synth, split="train", transform=detection_transforms(True, size=96))
    for index in range(len(dataset)):
        image, targets = dataset[index]
        mask, found = targets["segment"], targets["detect"]
        assert image.shape == (3, 96, 96) and mask.shape == (96, 96)
        for box, label in zip(found["boxes"].round().long(), found["labels"]):
            inside = mask[box[1]:box[3], box[0]:box[2]]
            assert (inside == label).any()  # each box still frames pixels of its class
        objects = mask[(mask != 0) & (mask != IGNORE_INDEX)]
        assert (targets["classify"] == 0) == (objects.numel() == 0)
        assert targets["classify"] == 0 or (objects == targets["classify"]).any()


def test_collate_batches_every_task(synth):
    dataset = get_task("multitask").dataset(synth, split="val", transform=detection_transforms(False, size=64))
    images, targets = multitask_collate([dataset[0], None, dataset[1]])
    assert images.shape == (2, 3, 64, 64)
    assert targets["classify"].shape == (2,) and targets["segment"].shape == (2, 64, 64)
    assert len(targets["detect"]) == 2 and {"boxes", "labels", "orig_size"} <= set(targets["detect"][0])


def test_coco_data_has_boxes_and_masks_but_no_image_labels(synth):
    dataset = get_task("multitask").dataset(synth / "coco", split="val")
    assert dataset.tasks == ("detect", "segment") and set(dataset[0][1]) == {"detect", "segment"}


def test_voc_data_is_refused_in_one_line(synth):
    with pytest.raises(MobileVisionError, match="COCO instances JSON") as error:
        get_task("multitask").dataset(synth / "voc", split="val")
    assert "\n" not in str(error.value)
