"""Malformed COCO annotations (issue 35, item 3): an annotation without bbox, a bbox of 3 values,
a string in a bbox, a polygon of 3 numbers, an RLE of another size than its image (and one whose
counts do not cover it), an image entry without file_name. Each bad annotation is one line in
`data check` (file, annotation and image, value, fix; exit code 1, as for every problem it
finds); a training run drops them with one warning per file and goes on; an image entry that
cannot be placed is a one-line error (exit code 2).
"""

from __future__ import annotations

import json
import logging

import pytest

from mobilevision.cli import main
from mobilevision.datasets.coco_joint import CocoJoint

from .coco_tree import BOX, IMAGES, corrupt_mid_scan, data_check, write_coco

RLE_FIX = "encode the mask again at its image's size (pycocotools.mask.encode); annotation dropped"
BBOX_FIX = "write it as [x, y, width, height] in pixels; annotation dropped"

# annotation 100 on image 1 -> its line in `data check`, after the annotation file's name
MALFORMED = {
    "no bbox": ({"segmentation": [[30, 30, 40, 30, 40, 40]]},
                "has no bbox; add one, [x, y, width, height] in pixels; annotation dropped"),
    "3-value bbox": ({"bbox": [30, 30, 10]}, f"has bbox [30, 30, 10]: 3 values, not 4; {BBOX_FIX}"),
    "string in bbox": ({"bbox": [30, "30", 10, 10]}, f"has bbox [30, '30', 10, 10]: '30' is not a number; {BBOX_FIX}"),
    "3-number polygon": ({"bbox": [30, 30, 10, 10], "segmentation": [[30, 30, 40]]},
                         ("has polygon [30, 30, 40]: 3 numbers, not x, y pairs of at least 3 points; "
                          "fix or delete the polygon; annotation dropped")),
    "RLE of another size": ({"bbox": [30, 30, 10, 10], "segmentation": {"size": [24, 32], "counts": [768]}},
                            f"has an RLE of size [24, 32] (height, width) but its image is [48, 64]; {RLE_FIX}"),
    "RLE counts short": ({"bbox": [30, 30, 10, 10], "segmentation": {"size": [48, 64], "counts": [100, 20]}},
                         f"has an RLE whose counts cover 120 pixels, not 48 x 64 = 3072; {RLE_FIX}"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_data_check_lists_each_malformed_annotation_in_one_line(tmp_path, capsys, case):
    annotation, message = MALFORMED[case]
    root = write_coco(tmp_path / "coco", [annotation])
    code, problems = data_check(capsys, root)
    file = root / "annotations" / "instances_train.json"
    # Once for each view that reads the file (detect/train, segment/train), nothing else.
    assert problems == [f"problem: {file}: annotation 100 (image 1, 1.jpg) {message}"] * 2
    assert code == 2


def test_an_image_entry_without_file_name_is_a_one_line_error(tmp_path, capsys):
    root = write_coco(tmp_path / "coco", [], splits=("train", "val"))
    for split in ("train", "val"):
        path = root / "annotations" / f"instances_{split}.json"
        document = json.loads(path.read_text())
        del document["images"][1]["file_name"]
        path.write_text(json.dumps(document))
    expected = (f"{root / 'annotations' / 'instances_train.json'}: image 2 has no file_name; "
                "add the image's file name (relative to the images folder) to its entry")
    for command in (["data", "check", str(root)],
                    ["detect", "train", "--data", str(root), "--project", str(tmp_path), "--device", "cpu"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.strip().endswith(f"error: {expected}"), err


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_training_drops_what_is_malformed_with_one_warning_per_file_and_goes_on(tmp_path, capsys, caplog, task):
    root = write_coco(tmp_path / "coco", [annotation for annotation, _ in MALFORMED.values()], splits=("train", "val"))
    corrupt_mid_scan(root / "train" / "2.jpg")
    with caplog.at_level(logging.WARNING, logger="mobilevision.datasets"):  # stderr outside pytest
        code = main([task, "train", "--data", str(root), "--project", str(tmp_path), "--name", "run", "--epochs", "1",
                     "--width", "0.35", "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err[-2000:]
    assert (tmp_path / task / "run" / "weights" / "last.pt").is_file()
    lines = [record.getMessage() for record in caplog.records]
    warnings = [line for line in lines if "malformed" in line]
    first = "annotation 100 (image 1, 1.jpg) has no bbox"
    assert warnings == [f"{root / 'annotations' / f'instances_{split}.json'}: 6 malformed annotation(s) dropped, "
                        f"the first: {first}; add one, [x, y, width, height] in pixels; annotation dropped; "
                        "`mobilevision data check` lists them all" for split in ("train", "val")]
    assert any(line.startswith(f"{root / 'train' / '2.jpg'}: corrupt JPEG data") for line in lines)


def test_the_joint_view_reports_each_malformed_annotation_once_and_keeps_the_rest(tmp_path):
    root = write_coco(tmp_path / "coco", [annotation for annotation, _ in MALFORMED.values()])
    joint = CocoJoint(images_dir=root / "train", annotation_file=root / "annotations" / "instances_train.json")
    assert [problem.reason.split(" ", 2)[1] for problem in joint.problems] == [str(100 + k) for k in range(6)]
    x, y, w, h = BOX
    for index in range(IMAGES):
        _, targets = joint[index]
        assert targets["boxes"]["boxes"].tolist() == [[x, y, x + w, y + h]]
        assert targets["class_map"].unique().tolist() == [0, 1]
