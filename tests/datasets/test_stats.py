"""`data stats` on datasets small enough to count by hand: a COCO tree whose images do not even
exist (the numbers come from the annotations), a VOC tree with one mask read through a dataset
YAML, and the built-in dataset with its class folders."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mobilevision.cli import main
from mobilevision.datasets.image_io import encode_label_png
from mobilevision.datasets.stats import dataset_stats


def write_coco(root: Path) -> Path:
    """Image 1 (200 x 100): a 20 x 10 cat, a 40 x 80 dog and a cat crowd region; image 2 (50 x 50):
    a cat filling it. Category ids 3 and 7 (not contiguous); no image file is written."""
    images = [{"id": 1, "file_name": "1.jpg", "width": 200, "height": 100},
              {"id": 2, "file_name": "2.jpg", "width": 50, "height": 50}]
    boxes = [(1, 3, [0, 0, 20, 10], 0), (1, 7, [10, 10, 40, 80], 0), (1, 3, [100, 0, 50, 50], 1),
             (2, 3, [0, 0, 50, 50], 0)]
    annotations = [{"id": k, "image_id": image, "category_id": category, "bbox": box, "area": box[2] * box[3],
                    "iscrowd": crowd} for k, (image, category, box, crowd) in enumerate(boxes, start=1)]
    (root / "annotations").mkdir(parents=True)
    (root / "train").mkdir()
    coco = {"images": images, "annotations": annotations,
            "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]}
    (root / "annotations" / "instances_train.json").write_text(json.dumps(coco))
    return root


def test_coco_stats_match_the_hand_count(tmp_path, capsys):
    [stats] = dataset_stats(write_coco(tmp_path / "coco"))
    summary = stats.summary()
    assert stats.split == "train" and summary["images"] == 2 and summary["objects"] == 3  # the crowd left out
    assert summary["image_width"] == {"min": 50, "median": 125, "mean": 125, "max": 200}
    assert summary["objects_per_image"] == {"min": 1, "median": 1.5, "mean": 1.5, "max": 2}
    # sqrt(200 / 20000), sqrt(3200 / 20000), sqrt(2500 / 2500); widths / heights 2, 0.5, 1
    assert sorted(stats.relative_sizes) == pytest.approx([0.1, 0.4, 1.0])
    assert sorted(stats.aspect_ratios) == pytest.approx([0.5, 1.0, 2.0])
    assert summary["coco_size"] == {"small": 1, "medium": 2, "large": 0}  # areas 200, 3200, 2500
    assert summary["instances_per_class"] == {"cat": 2, "dog": 1}
    assert summary["pixel_frequency"] == {"background": 1.0, "cat": 0.0, "dog": 0.0}  # boxes, no masks

    capsys.readouterr()
    assert main(["data", "stats", str(tmp_path / "coco"), "--project", str(tmp_path / "runs"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # stdout holds the JSON and nothing else
    assert printed["splits"]["train"] == json.loads(json.dumps(summary))
    run = tmp_path / "runs" / "data" / "stats"
    assert json.loads((run / "stats.json").read_text()) == printed and (run / "stats_train.png").is_file()


def test_voc_mask_pixel_shares_and_boxes_through_a_dataset_yaml(tmp_path):
    """One 10 x 10 image: 20 cat pixels, 10 dog pixels, 5 void (255), 65 background; the YAML names
    the two classes."""
    root = tmp_path / "voc"
    for folder in ("JPEGImages", "Annotations", "SegmentationClass", "ImageSets/Main", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True)
    cv2.imwrite(str(root / "JPEGImages" / "a.jpg"), np.zeros((10, 10, 3), np.uint8))
    mask = np.zeros((10, 10), np.uint8)
    cat, dog = 1, 2
    mask[0:2, :] = cat
    mask[2, :] = dog
    mask[3, :5] = 255
    (root / "SegmentationClass" / "a.png").write_bytes(encode_label_png(mask))
    # No <size>: the image file's header gives it.
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>10</xmax><ymax>2</ymax></bndbox></object></annotation>")
    for folder in ("Main", "Segmentation"):
        (root / "ImageSets" / folder / "train.txt").write_text("a\n")
    (tmp_path / "data.yaml").write_text("format: voc\nroot: voc\nsplits: {train: train}\nclass_names: [cat, dog]\n")
    [stats] = dataset_stats(str(tmp_path / "data.yaml"))
    summary = stats.summary()
    assert summary["images"] == 1 and summary["image_width"]["max"] == 10
    assert stats.aspect_ratios.tolist() == [5.0]  # VOC's 1-based inclusive corners: 10 x 2 pixels
    assert summary["instances_per_class"] == {"cat": 1, "dog": 0}
    shares = summary["pixel_frequency"]
    assert shares["background"] == pytest.approx(65 / 95)
    assert shares["cat"] == pytest.approx(20 / 95) and shares["dog"] == pytest.approx(10 / 95)


def test_builtin_dataset_and_its_class_folders(synth_root):
    """Every view of the built-in dataset; its class folders alone give images per class and sizes."""
    train = dataset_stats(synth_root)[0].summary()
    assert {"instances_per_class", "pixel_frequency", "images_per_class"} <= set(train)
    assert train["objects"] == sum(train["instances_per_class"].values())
    folders = dataset_stats(synth_root / "folders")[0].summary()
    files = {folder.name: len(list(folder.glob("*.jpg"))) for folder in (synth_root / "folders" / "train").iterdir()}
    assert folders["images_per_class"] == {name: files[name] for name in folders["images_per_class"]}
    assert folders["images"] == sum(files.values()) and "objects" not in folders
