"""Augmentation and evaluation pipelines: shapes, normalisation, boxes and masks following the image."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.image_io import read_image
from mobilevision.datasets.transforms import (
    IGNORE_INDEX,
    RandomIoUCrop,
    classification_transforms,
    detection_transforms,
    segmentation_transforms,
)


def test_exif_orientation_is_applied(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255  # white left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", exif=exif, quality=95)
    (tmp_path / "rotated.jpg").write_bytes(buffer.getvalue())
    decoded = read_image(tmp_path / "rotated.jpg")
    assert decoded.shape == (40, 20, 3)
    assert decoded[:8].min() > 200 and decoded[12:].max() < 50  # the left edge is now the top


def test_mean_std_and_size_are_keyword_arguments():
    image = np.full((50, 70, 3), 128, np.uint8)
    half = classification_transforms(False, size=32, mean=(0.5,) * 3, std=(0.5,) * 3)(image=image)["image"]
    imagenet = classification_transforms(False, size=32)(image=image)["image"]
    assert half.shape == imagenet.shape == (3, 32, 32) and half.dtype == torch.float32
    assert torch.allclose(half, torch.full_like(half, 128 / 255 * 2 - 1), atol=1e-4)
    assert not torch.allclose(half, imagenet)


def test_detection_eval_resize_maps_boxes():
    image = np.zeros((100, 200, 3), np.uint8)
    out = detection_transforms(False, size=50)(image=image, bboxes=np.array([[20, 10, 120, 90]], np.float32),
                                               labels=np.array([3]), flags=np.array([0]))
    assert out["image"].shape == (3, 50, 50)
    np.testing.assert_allclose(out["bboxes"], [[5, 5, 30, 45]])


def test_detection_train_pipeline_keeps_boxes_labels_and_flags_aligned(synth_root):
    dataset = build_dataset(synth_root, task="detect", split="train", transform=detection_transforms(True, size=96))
    for epoch in range(3):
        for index in range(len(dataset)):
            image, target = dataset[index]
            assert image.shape == (3, 96, 96)
            boxes = target["boxes"]
            assert boxes.dtype == torch.float32 and boxes.shape == (len(target["labels"]), 4)
            assert (boxes[:, 2:] > boxes[:, :2]).all() and (boxes >= 0).all() and (boxes <= 96).all()
            assert ((target["labels"] >= 1) & (target["labels"] <= 6)).all()
            assert target["orig_size"] == (128, 128)


def test_detection_flip_augmentation_keeps_every_box_and_mirrors_it():
    image = np.zeros((100, 200, 3), np.uint8)
    transform = detection_transforms(True, size=50, augment="flip")
    seen = set()
    for _ in range(40):
        out = transform(image=image, bboxes=np.array([[20, 10, 120, 90]], np.float32), labels=np.array([3]),
                        flags=np.array([0]))
        assert out["image"].shape == (3, 50, 50) and list(out["labels"]) == [3]
        seen.add(tuple(np.round(out["bboxes"][0], 3)))
    assert seen == {(5, 5, 30, 45), (20, 5, 45, 45)}  # as it is, or mirrored; never cropped
    with pytest.raises(ValueError, match="augmentation"):
        detection_transforms(True, size=50, augment="mosaic")


def test_random_iou_crop_overlaps_the_boxes_it_keeps():
    crop = RandomIoUCrop()
    crop.set_random_seed(0)
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.8]])
    for _ in range(50):
        x1, y1, x2, y2 = crop.get_params_dependent_on_data({"shape": (100, 200)}, {"bboxes": boxes})["crop_coords"]
        assert 0 <= x1 < x2 <= 200 and 0 <= y1 < y2 <= 100
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2 * [200, 100]
        assert ((centers > [x1, y1]) & (centers < [x2, y2])).all(axis=1).any()


def test_segmentation_train_crop_pads_mask_with_ignore_and_image_with_mean():
    image = np.full((20, 30, 3), (124, 116, 104), np.uint8)  # the ImageNet mean colour
    mask = np.ones((20, 30), np.uint8)
    transform = segmentation_transforms(True, size=64)
    for _ in range(5):
        out = transform(image=image, mask=mask)
        assert out["image"].shape == (3, 64, 64) and out["mask"].shape == (64, 64)
        assert set(np.unique(out["mask"]).tolist()) <= {1, IGNORE_INDEX}
        assert out["image"].abs().max() < 0.02  # padding = the mean = 0 after normalising


def test_segmentation_train_crop_smaller_than_base_size_keeps_the_scale():
    # A 4 px checkerboard of classes 1/2: at base size 40 (= the image) and scale exactly 1 the
    # 24 px crop is a window of the unscaled image, so every 4x4 cell of it keeps one class.
    rows, cols = np.indices((40, 40))
    mask = (((rows // 4) + (cols // 4)) % 2 + 1).astype(np.uint8)
    image = np.repeat(mask[..., None] * 100, 3, axis=2).astype(np.uint8)
    transform = segmentation_transforms(True, size=40, crop=24, scale_range=(1.0, 1.0))
    out = transform(image=image, mask=mask)
    assert out["image"].shape == (3, 24, 24) and tuple(out["mask"].shape) == (24, 24)
    window = np.asarray(out["mask"])
    runs = np.flatnonzero(np.diff(window[0]) != 0)  # column edges between cells along the first row
    assert len(runs) >= 4 and set(np.diff(runs).tolist()) == {4}  # cells stay 4 px wide: no rescaling


@pytest.mark.parametrize("resize, object_rows", [("shorter", 16), ("longer", 8)])
def test_segmentation_train_resize_side(resize, object_rows):
    """A 20 x 40 image with a 4-row band of class 1, at size 80 without jitter: scaled 4x by its
    shorter side, 2x by its longer side, as eval scales it (the band 8 rows tall there too)."""
    mask = np.zeros((20, 40), np.uint8)
    mask[8:12] = 1
    image = np.zeros((20, 40, 3), np.uint8)
    train = segmentation_transforms(True, size=80, crop=80, scale_range=(1.0, 1.0), resize=resize)
    out = train(image=image, mask=mask)
    assert (np.asarray(out["mask"]) == 1).any(axis=1).sum() == object_rows
    evaluated = segmentation_transforms(False, size=80)(image=image, mask=mask)
    assert (np.asarray(evaluated["mask"]) == 1).any(axis=1).sum() == 8
    with pytest.raises(ValueError, match="resize must be one of"):
        segmentation_transforms(True, size=80, resize="width")


@pytest.mark.parametrize("object_crops, low, high", [(0.0, 0, 12), (0.5, 30, 75), (1.0, 100, 100)])
def test_segmentation_object_crops_hold_the_object(object_crops, low, high):
    """A 4 x 4 object in a 200 x 200 image, 20 px crops: a random crop holds it about 1 time in 40
    ((20 + 3) / 200 per axis, squared), an object crop always; half of each about half (50 +- 5)."""
    mask = np.zeros((200, 200), np.uint8)
    mask[150:154, 30:34] = 3
    mask[:10] = IGNORE_INDEX  # never the pixel a crop is placed on
    image = np.zeros((200, 200, 3), np.uint8)
    train = segmentation_transforms(True, size=200, crop=20, scale_range=(1.0, 1.0), object_crops=object_crops)
    held = sum(int((np.asarray(train(image=image, mask=mask)["mask"]) == 3).any()) for _ in range(100))
    assert low <= held <= high
    with pytest.raises(ValueError, match="object_crops"):
        segmentation_transforms(True, size=80, object_crops=1.5)


def test_segmentation_train_scale_range_is_checked():
    with pytest.raises(ValueError, match="scale_range"):
        segmentation_transforms(True, size=40, scale_range=(2.0, 0.5))


@pytest.mark.parametrize("size, shape", [(40, (40, 40)), (None, (20, 30))])
def test_segmentation_eval_resize_pad_or_whole_image(size, shape):
    mask = np.zeros((20, 30), np.uint8)
    out = segmentation_transforms(False, size=size)(image=np.zeros((20, 30, 3), np.uint8), mask=mask)
    assert tuple(out["mask"].shape) == shape and out["image"].shape[1:] == shape
    if size:
        assert (out["mask"][27:] == IGNORE_INDEX).all() and (out["mask"][:26] == 0).all()


def test_segmentation_and_classification_datasets_with_train_pipelines(synth_root):
    segment = build_dataset(synth_root, task="segment", split="train", transform=segmentation_transforms(True, size=96))
    image, mask = segment[0]
    assert image.shape == (3, 96, 96) and mask.shape == (96, 96) and mask.dtype == torch.int64
    classify = build_dataset(synth_root, task="classify", split="train",
                             transform=classification_transforms(True, size=64))
    image, label = classify[0]
    assert image.shape == (3, 64, 64) and isinstance(label, int)
