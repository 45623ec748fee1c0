"""Round trips: what the readers return for the built-in dataset equals the generator's ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.coco import CocoDetection, CocoSegmentation
from mobilevision.datasets.synth.scene import render_scene
from mobilevision.datasets.synth.shapes import CLASS_NAMES
from mobilevision.datasets.voc import VocDetection, VocSegmentation

from .conftest import SEED, SIZE


def _scene(file: str):
    return render_scene(seed=SEED, index=int(Path(file).stem), size=SIZE)


def _assert_image_close(image, expected):
    # JPEG is lossy (most on small, noisy crops: up to ~6 grey levels on average); another image, or
    # this one in BGR order, is tens of levels off. The decoded image is in RGB, scaled to [0, 1].
    assert image.shape == (3, *expected.shape[:2])
    difference = np.abs(image.permute(1, 2, 0).numpy() * 255 - expected.astype(np.float32))
    assert difference.mean() < 10


@pytest.mark.parametrize("view", ["coco", "voc"])
@pytest.mark.parametrize("split", ["train", "val"])
def test_detection_boxes_and_labels_round_trip(synth_root, view, split):
    if view == "coco":
        dataset = CocoDetection(images_dir=synth_root / "coco" / split,
                                annotation_file=synth_root / "coco/annotations" / f"instances_{split}.json")
    else:
        dataset = VocDetection(root=synth_root / "voc", image_set=split, class_names=CLASS_NAMES)
    assert dataset.class_names == list(CLASS_NAMES) and not dataset.problems
    image_ids = set()
    for image, target in (dataset[i] for i in range(len(dataset))):
        scene = _scene(target["file"])
        _assert_image_close(image, scene.image)
        expected = np.array([inst.box for inst in scene.instances], dtype=np.float32).reshape(-1, 4)
        np.testing.assert_array_equal(target["boxes"].numpy(), expected)
        assert target["labels"].tolist() == [inst.label for inst in scene.instances]
        assert target["boxes"].dtype.is_floating_point and str(target["labels"].dtype) == "torch.int64"
        assert target["difficult"].tolist() == [False] * len(scene.instances)
        assert target["crowd_boxes"].shape == (0, 4) and target["orig_size"] == (SIZE, SIZE)
        image_ids.add(target["image_id"])
    assert len(image_ids) == len(dataset)


@pytest.mark.parametrize("view", ["coco", "voc"])
def test_segmentation_masks_round_trip(synth_root, view):
    if view == "coco":
        dataset = CocoSegmentation(images_dir=synth_root / "coco/val",
                                   annotation_file=synth_root / "coco/annotations/instances_val.json")
    else:
        dataset = VocSegmentation(root=synth_root / "voc", image_set="val", class_names=("background", *CLASS_NAMES))
    assert dataset.class_names == ["background", *CLASS_NAMES]
    for index in range(len(dataset)):
        image, mask = dataset[index]
        scene = _scene(dataset.files[index])
        _assert_image_close(image, scene.image)
        assert mask.dtype.is_floating_point is False and str(mask.dtype) == "torch.int64"
        np.testing.assert_array_equal(mask.numpy(), scene.class_map())


def test_folder_images_are_the_largest_objects_view_and_class(synth_root):
    dataset = build_dataset(synth_root, task="classify", split="train")
    assert dataset.class_names == ["background", *CLASS_NAMES]
    assert len(dataset) > 0
    for index, (file, _) in enumerate(dataset.samples):
        image, label = dataset[index]
        scene = _scene(file)
        _assert_image_close(image, scene.object_view())
        assert label == scene.image_label()


def test_build_dataset_uses_each_view_of_the_builtin_root(synth_root):
    assert isinstance(build_dataset(synth_root, task="detect", split="val"), CocoDetection)
    assert isinstance(build_dataset(synth_root, task="segment", split="val"), VocSegmentation)
    # The VOC view alone still knows its class names (from the marker one level up).
    voc = build_dataset(synth_root / "voc", task="detect", split="val")
    assert voc.class_names == list(CLASS_NAMES) and not voc.problems


def test_voc_segmentation_accepts_an_extra_list_file(synth_root, tmp_path):
    # An SBD-style list: "<image> <mask>" paths relative to the root, and plain ids; duplicates count once.
    val_ids = (synth_root / "voc/ImageSets/Segmentation/val.txt").read_text().split()
    train_ids = (synth_root / "voc/ImageSets/Segmentation/train.txt").read_text().split()
    extra = tmp_path / "train_aug.txt"
    extra.write_text(f"/JPEGImages/{val_ids[0]}.jpg /SegmentationClass/{val_ids[0]}.png\n{val_ids[1]}\n{train_ids[0]}\n")
    dataset = VocSegmentation(root=synth_root / "voc", image_set="train", class_names=("background", *CLASS_NAMES),
                              extra_lists=(extra,))
    assert len(dataset) == len(train_ids) + 2
    image, mask = dataset[len(train_ids)]
    np.testing.assert_array_equal(mask.numpy(), _scene(dataset.files[len(train_ids)]).class_map())
