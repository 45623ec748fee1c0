"""--data: format detection from a folder's layout, and the dataset YAML."""

from __future__ import annotations

import pytest

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.resolve import resolve_data
from mobilevision.errors import MobileVisionError


def test_layouts_are_detected(synth_root):
    assert resolve_data(synth_root).format == "builtin"
    coco = resolve_data(synth_root / "coco")
    assert coco.format == "coco" and set(coco.splits) == {"train", "val"}
    assert coco.splits["val"]["images"] == synth_root / "coco/val"
    assert resolve_data(synth_root / "voc").format == "voc"
    assert resolve_data(synth_root / "folders").format == "folder"


def test_nested_vocdevkit_and_coco_2017_names(tmp_path):
    voc = tmp_path / "voc/VOCdevkit/VOC2012"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "ImageSets").mkdir()
    spec = resolve_data(tmp_path / "voc")
    assert spec.format == "voc" and spec.root == voc
    (tmp_path / "coco/annotations").mkdir(parents=True)
    for name in ("train2017", "val2017"):
        (tmp_path / "coco/annotations" / f"instances_{name}.json").write_text("{}")
    spec = resolve_data(tmp_path / "coco")
    assert spec.splits["train"]["images"] == tmp_path / "coco/train2017"


def test_yaml_names_format_root_splits_and_classes(synth_root, tmp_path):
    config = tmp_path / "shapes.yaml"
    config.write_text(f"format: voc\nroot: {synth_root / 'voc'}\nsplits: {{train: val, val: val}}\n"
                      "class_names: [circle, rectangle, triangle, star, ring, cross]\n")
    dataset = build_dataset(config, task="segment", split="train")
    assert len(dataset) == len(build_dataset(synth_root, task="segment", split="val"))
    assert dataset.class_names[0] == "background"
    coco_yaml = tmp_path / "coco.yaml"
    coco_yaml.write_text(f"root: {synth_root / 'coco'}\nsegmentation_categories: [ring, star]\n"
                         "splits:\n  val: {images: val, annotations: annotations/instances_val.json}\n")
    dataset = build_dataset(coco_yaml, task="segment", split="val")
    assert dataset.class_names == ["background", "ring", "star"]
    assert set(dataset[0][1].unique().tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("text, message", [
    ("format: kitti\n", "not one of"),
    ("colour: red\n", "unknown key"),
    ("root: nowhere\n", "not a folder"),
    ("format: voc\nsplits: [train]\n", "splits must map"),
    ("format: [unclosed\n", "not valid YAML"),
    ("format: coco\nclass_names: [a, b]\n", "class_names cannot be set"),
])
def test_yaml_errors_name_the_file_and_the_fix(tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(MobileVisionError, match=message) as error:
        resolve_data(config)
    assert str(config) in str(error.value)


def test_unknown_layout_and_wrong_task_are_user_errors(synth_root, tmp_path):
    with pytest.raises(MobileVisionError, match="cannot tell the dataset format"):
        resolve_data(tmp_path)
    with pytest.raises(MobileVisionError, match="no image labels"):
        build_dataset(synth_root / "coco", task="classify", split="train")
    with pytest.raises(MobileVisionError, match="hold no boxes"):
        build_dataset(synth_root / "folders", task="detect", split="train")
