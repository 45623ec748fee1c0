"""Bad data: each case is reported with its file and reason, and never stops or poisons a run.

Rules under test: boxes partly outside the image are clipped; inverted, zero-area (also after
clipping) boxes and unknown categories are dropped with a problem; an unreadable or missing image,
a mask with invalid values or of another size makes the sample None, which the collate functions
drop and count; an image without objects is a valid sample.
"""

from __future__ import annotations

import json
import logging
import pickle

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.coco import CocoDetection, CocoSegmentation
from mobilevision.datasets.collate import classification_collate, detection_collate, segmentation_collate
from mobilevision.datasets.folder import ImageFolder
from mobilevision.datasets.image_io import encode_label_png
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.datasets.voc import VocDetection
from mobilevision.errors import MobileVisionError


def _coco(tmp_path, annotations, *, images=1, size=(60, 80)):
    """A COCO tree of `images` grey (h, w) JPEGs with the given annotations on image 1."""
    (tmp_path / "images").mkdir(exist_ok=True)
    entries = []
    for image_id in range(1, images + 1):
        cv2.imwrite(str(tmp_path / "images" / f"{image_id}.jpg"), np.full((*size, 3), 128, np.uint8))
        entries.append({"id": image_id, "file_name": f"{image_id}.jpg", "height": size[0], "width": size[1]})
    for k, annotation in enumerate(annotations, start=1):
        annotation.setdefault("id", k)
        annotation.setdefault("image_id", 1)
        annotation.setdefault("iscrowd", 0)
        annotation.setdefault("area", 1.0)
    data = {"images": entries, "annotations": annotations,
            "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]}
    (tmp_path / "instances.json").write_text(json.dumps(data))
    return tmp_path / "images", tmp_path / "instances.json"


def test_boxes_clipped_dropped_and_categories_mapped(tmp_path, caplog):
    images, annotations = _coco(tmp_path, [
        {"category_id": 7, "bbox": [10, 10, 20, 20]},   # fine -> label 2 (ids 3, 7 -> 1, 2)
        {"category_id": 3, "bbox": [70, 50, 30, 30]},   # partly outside -> clipped
        {"category_id": 3, "bbox": [30, 30, -5, 10]},   # x2 < x1 -> dropped
        {"category_id": 3, "bbox": [30, 30, 0, 10]},    # zero area -> dropped
        {"category_id": 3, "bbox": [100, 10, 10, 10]},  # wholly outside: zero area after clipping
        {"category_id": 99, "bbox": [5, 5, 10, 10]},    # unknown category -> dropped
        {"category_id": 7, "bbox": [0, 0, 80, 60], "iscrowd": 1},  # crowd: kept apart for evaluation
    ])
    with caplog.at_level(logging.WARNING, logger="mobilevision.datasets"):
        dataset = CocoDetection(images_dir=images, annotation_file=annotations)
    assert dataset.class_names == ["cat", "dog"]
    _, target = dataset[0]
    np.testing.assert_array_equal(target["boxes"].numpy(), [[10, 10, 30, 30], [70, 50, 80, 60]])
    assert target["labels"].tolist() == [2, 1]
    np.testing.assert_array_equal(target["crowd_boxes"].numpy(), [[0, 0, 80, 60]])
    reasons = [problem.reason for problem in dataset.problems]
    assert any("x2 < x1" in r for r in reasons)
    assert sum("zero area" in r for r in reasons) == 2
    assert any("annotation 6 (image 1, 1.jpg) has unknown category id 99" in r for r in reasons)
    # Box problems name the image, annotation problems the file they are in (test_malformed.py).
    assert [problem.file.rsplit("/", 1)[-1] for problem in dataset.problems] == ["instances.json"] + ["1.jpg"] * 3
    assert len(caplog.records) == len(dataset.problems) == 4
    assert dataset.skipped == 0


def test_an_image_without_objects_is_a_valid_sample(tmp_path):
    images, annotations = _coco(tmp_path, [], images=2)
    dataset = CocoDetection(images_dir=images, annotation_file=annotations,
                            transform=detection_transforms(True, size=64))
    image, target = dataset[1]
    assert image.shape == (3, 64, 64) and target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
    assert not dataset.problems


@pytest.mark.parametrize("damage, reason", [
    (lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]), "truncated JPEG"),
    (lambda path: path.write_bytes(b"this is not an image"), "not an image (starts with b'this is not an i')"),
    (lambda path: path.write_bytes(b"\xff\xd8\xff garbage that ends like a JPEG \xff\xd9"),
     "not a decodable image (a JPEG header on damaged data)"),
    (lambda path: path.write_bytes(b""), "empty file"),
    (lambda path: path.unlink(), "cannot open"),
])
def test_unreadable_or_missing_image_gives_none_and_a_problem(synth_copy, damage, reason):
    dataset = build_dataset(synth_copy, task="detect", split="train")
    damage(dataset.records[0].file)
    assert dataset[0] is None
    assert dataset.skipped == 1
    assert dataset.problems[-1].file == str(dataset.records[0].file)
    assert reason in dataset.problems[-1].reason
    assert dataset[1] is not None


def test_undecodable_png_is_unreadable(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    dataset = ImageFolder(root=tmp_path)
    assert dataset[0] is None and "not a decodable image" in dataset.problems[0].reason


def test_image_size_differing_from_the_annotation_is_skipped(tmp_path):
    images, annotations = _coco(tmp_path, [{"category_id": 3, "bbox": [1, 1, 5, 5]}])
    cv2.imwrite(str(images / "1.jpg"), np.zeros((40, 40, 3), np.uint8))
    dataset = CocoDetection(images_dir=images, annotation_file=annotations)
    assert dataset[0] is None and "40x40 but its annotation says 80x60" in dataset.problems[0].reason


def test_mask_with_invalid_values_or_size_is_skipped(synth_copy):
    dataset = build_dataset(synth_copy, task="segment", split="val")
    bad_value = np.zeros((128, 128), np.uint8)
    bad_value[5, 5] = 42
    dataset.masks[0].write_bytes(encode_label_png(bad_value))
    dataset.masks[1].write_bytes(encode_label_png(np.zeros((64, 128), np.uint8)))
    ignore_only = np.full((128, 128), 255, np.uint8)
    dataset.masks[2].write_bytes(encode_label_png(ignore_only))
    assert dataset[0] is None and dataset[1] is None
    assert dataset[2][1].unique().tolist() == [255]
    assert "mask values [42] are neither a class id (0..6) nor 255" in dataset.problems[0].reason
    assert dataset.problems[0].file == str(dataset.masks[0])
    assert "mask is 128x64 but image" in dataset.problems[1].reason
    assert dataset.skipped == 2


def _voc_split_and_index(root, xml_path):
    split = "train" if xml_path.stem in (root / "voc/ImageSets/Main/train.txt").read_text().split() else "val"
    dataset = build_dataset(root / "voc", task="detect", split=split)
    return dataset, next(i for i, r in enumerate(dataset.records) if r.file.stem == xml_path.stem)


def test_voc_unknown_class_name_is_dropped(synth_copy):
    path = next(p for p in sorted((synth_copy / "voc/Annotations").glob("*.xml")) if p.read_text().count("<object>") >= 2)
    text = path.read_text()
    first_name = text.split("<name>")[1].split("</name>")[0]
    path.write_text(text.replace(f"<name>{first_name}</name>", "<name>unicorn</name>", 1))
    dataset, index = _voc_split_and_index(synth_copy, path)
    assert any("unknown class name 'unicorn'" in p.reason and p.file == str(path) for p in dataset.problems)
    assert len(dataset[index][1]["boxes"]) == text.count("<object>") - 1


def test_voc_difficult_objects_are_flagged(synth_copy):
    xml = sorted((synth_copy / "voc/Annotations").glob("*.xml"))
    path = next(p for p in xml if "<object>" in p.read_text())
    path.write_text(path.read_text().replace("<difficult>0</difficult>", "<difficult>1</difficult>", 1))
    dataset, index = _voc_split_and_index(synth_copy, path)
    difficult = dataset[index][1]["difficult"].tolist()
    assert difficult[0] is True and not any(difficult[1:])


def test_coco_segmentation_polygons_rle_crowd_and_unknown_category(tmp_path):
    square = [[10, 10, 30, 10, 30, 30, 10, 30]]  # polygon covering pixels 10..29
    rle = {"size": [60, 80], "counts": [60 * 50 + 5, 3, 57, 3, 60 * 80 - (60 * 50 + 5) - 63]}  # uncompressed RLE
    images, annotations = _coco(tmp_path, [
        {"category_id": 3, "bbox": [10, 10, 20, 20], "segmentation": square},
        {"category_id": 7, "bbox": [50, 5, 2, 3], "segmentation": rle},
        {"category_id": 7, "bbox": [60, 40, 10, 10], "segmentation": [[60, 40, 70, 40, 70, 50, 60, 50]], "iscrowd": 1},
        {"category_id": 99, "bbox": [0, 0, 5, 5], "segmentation": [[0, 0, 5, 0, 5, 5]]},
    ])
    dataset = CocoSegmentation(images_dir=images, annotation_file=annotations)
    _, mask = dataset[0]
    mask = mask.numpy()
    assert dataset.class_names == ["background", "cat", "dog"]
    assert (mask[12:28, 12:28] == 1).all() and mask[5, 5] == 0
    assert (mask[5:8, 50] == 2).all() and mask[5, 52] == 0
    assert (mask[42:48, 62:68] == 255).all()
    assert any("unknown category id 99" in p.reason for p in dataset.problems)
    voc = CocoSegmentation(images_dir=images, annotation_file=annotations, categories="voc")
    assert len(voc.class_names) == 21 and voc.class_names[8] == "cat"  # COCO id 17 is VOC's cat, not ours


def test_collate_drops_none_and_counts_through_a_dataloader(synth_copy):
    dataset = build_dataset(synth_copy, task="detect", split="train", transform=detection_transforms(False, size=64))
    dataset.records[1].file.write_bytes(b"broken")
    loader = DataLoader(dataset, batch_size=4, collate_fn=detection_collate, num_workers=1)
    batches = list(loader)
    assert sum(batch.dropped for batch in batches) == 1
    assert sum(len(batch[1]) for batch in batches) == len(dataset) - 1
    images, targets = batches[0]
    assert images.shape == (3, 3, 64, 64) and len(targets) == 3
    copy = pickle.loads(pickle.dumps(batches[0]))
    assert copy.dropped == 1 and torch.equal(copy[0], images)


def test_all_collates_pad_and_handle_an_all_dropped_batch():
    masks = [torch.zeros(4, 6, dtype=torch.int64), torch.ones(5, 3, dtype=torch.int64)]
    images, stacked = segmentation_collate([(torch.zeros(3, 4, 6), masks[0]), None, (torch.ones(3, 5, 3), masks[1])])
    assert images.shape == (2, 3, 5, 6) and stacked.shape == (2, 5, 6)
    assert stacked[0, 4].tolist() == [255] * 6 and stacked[1, 0, 3:].tolist() == [255] * 3
    assert images[1, :, 0, 3:].abs().sum() == 0
    batch = classification_collate([None, (torch.zeros(3, 2, 2), 4)])
    assert batch.dropped == 1 and batch[1].tolist() == [4]
    empty = detection_collate([None, None])
    assert empty.dropped == 2 and len(empty[0]) == 0 and empty[1] == []


def test_grayscale_rgba_and_16_bit_images_are_converted(tmp_path):
    folder = tmp_path / "shape"
    folder.mkdir()
    Image.fromarray(np.full((8, 10), 200, np.uint8), mode="L").save(folder / "gray.png")
    Image.fromarray(np.full((8, 10, 4), (10, 20, 30, 0), np.uint8), mode="RGBA").save(folder / "rgba.png")
    cv2.imwrite(str(folder / "deep.png"), np.full((8, 10), 40000, np.uint16))
    cv2.imwrite(str(folder / "deep_colour.png"), np.full((8, 10, 3), (0, 30000, 65535), np.uint16))  # BGR
    dataset = ImageFolder(root=tmp_path)
    pixels = {file.stem: dataset[i][0][:, 0, 0].mul(255).round().tolist() for i, (file, _) in enumerate(dataset.samples)}
    assert pixels == {"gray": [200] * 3, "rgba": [10, 20, 30], "deep": [156] * 3, "deep_colour": [255, 117, 0]}
    assert not dataset.problems


def test_voc_boxes_are_checked_against_the_image_when_the_xml_has_no_size(synth_copy):
    path = next(p for p in sorted((synth_copy / "voc/Annotations").glob("*.xml")) if "<object>" in p.read_text())
    text = path.read_text()
    text = text[: text.index("\t<size>")] + text[text.index("</size>\n") + len("</size>\n"):]
    outside = ("\t<object>\n\t\t<name>star</name>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>200</xmin>"
               "\n\t\t\t<ymin>5</ymin>\n\t\t\t<xmax>220</xmax>\n\t\t\t<ymax>20</ymax>\n\t\t</bndbox>\n\t</object>\n")
    path.write_text(text.replace("</annotation>", outside + "</annotation>"))
    dataset, index = _voc_split_and_index(synth_copy, path)
    assert dataset.records[index].size is None and not dataset.problems
    _, target = dataset[index]
    assert len(target["boxes"]) == text.count("<object>")
    assert "zero area after clipping" in dataset.problems[0].reason and dataset.problems[0].file == str(path)


def test_broken_annotation_files_are_user_errors(tmp_path):
    (tmp_path / "instances.json").write_text("{not json")
    with pytest.raises(MobileVisionError, match="instances.json: not a COCO instances JSON"):
        CocoDetection(images_dir=tmp_path, annotation_file=tmp_path / "instances.json")
    with pytest.raises(MobileVisionError, match="image-set list not found"):
        VocDetection(root=tmp_path, image_set="train")
