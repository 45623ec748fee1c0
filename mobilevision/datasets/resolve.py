"""`--data`: a dataset path (format detected from its layout) or a small YAML naming the format.

Detected layouts:
  builtin  a folder with `mobilevision_synth.json` (coco/, voc/, folders/ views; see synth/generate.py)
  coco     annotations/instances_<name>.json with images in <name>/ (or images/<name>/);
           <name> starting with "train" / "val" is that split (train2017, val2017, ...)
  voc      JPEGImages/ + Annotations/ or SegmentationClass/ + ImageSets/ (also VOCdevkit/VOC20xx/ inside)
  folder   train/<class>/* and val/<class>/*

The YAML schema is in README ("Dataset YAML"); `resolve_data` checks it and raises a
MobileVisionError naming the file, the key and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mobilevision.errors import MobileVisionError

FORMATS = ("coco", "voc", "folder", "builtin")
SPLITS = ("train", "val")
YAML_KEYS = {"format", "root", "splits", "class_names", "segmentation_categories", "extra_lists"}
MARKER = "mobilevision_synth.json"  # marks a built-in dataset root; synth/generate.py writes it


@dataclass(frozen=True)
class DataSpec:
    """Where a dataset is and how to read it.

    splits maps "train"/"val" to: for coco {"images": Path, "annotations": Path}; for voc an
    image-set name; for folder a Path; for builtin the split name.
    """

    format: str
    root: Path
    splits: dict
    class_names: tuple[str, ...] | None = None
    segmentation_categories: str | tuple[str, ...] = "all"
    extra_lists: dict = field(default_factory=dict)
    source: str = ""

    def view(self, task: str) -> DataSpec:
        """For the built-in dataset, the view a task reads: COCO for detection (the path used on
        COCO) and the joint view (boxes and masks in one file), VOC for segmentation (palette PNGs),
        class folders for classification."""
        if self.format != "builtin":
            return self
        marker = json.loads((self.root / MARKER).read_text())
        names = tuple(marker["class_names"])
        if task in ("detect", "joint"):
            return _coco_spec(self.root / "coco", source=self.source)
        if task == "segment":
            return DataSpec("voc", self.root / "voc", {s: s for s in SPLITS}, class_names=names, source=self.source)
        # Folder labels in the segmentation order (background = 0), not alphabetical.
        return DataSpec("folder", self.root / "folders", {s: self.root / "folders" / s for s in SPLITS},
                        class_names=(marker["folder_background_class"], *names), source=self.source)


def resolve_data(data: str | Path) -> DataSpec:
    """Detect the format of a dataset folder, or read a dataset YAML."""
    path = Path(data).expanduser()
    if path.suffix.lower() in (".yaml", ".yml"):
        return _from_yaml(path)
    if not path.is_dir():
        raise MobileVisionError(f"--data {data}: no such folder or YAML file; give a dataset folder or a .yaml file")
    detected = detect_format(path)
    if detected is None:
        raise MobileVisionError(
            f"--data {data}: cannot tell the dataset format; expected a COCO tree (annotations/instances_*.json), "
            "a VOC tree (JPEGImages/, Annotations/, ImageSets/), class folders (train/<class>/, val/<class>/) "
            "or a built-in dataset (mobilevision data synth); or write a dataset YAML naming the format")
    return _spec(detected[0], detected[1], splits=None, source=str(data))


def detect_format(path: Path) -> tuple[str, Path] | None:
    """(format, root) of a dataset folder, or None when no known layout matches."""
    if (path / MARKER).is_file():
        return "builtin", path
    if list((path / "annotations").glob("instances_*.json")):
        return "coco", path
    for voc_root in (path, *sorted((path / "VOCdevkit").glob("VOC20*"), reverse=True)):
        if (voc_root / "JPEGImages").is_dir() and (voc_root / "ImageSets").is_dir():
            return "voc", voc_root
    if all((path / split).is_dir() and any(p.is_dir() for p in (path / split).iterdir()) for split in SPLITS):
        return "folder", path
    return None


def _coco_spec(root: Path, *, source: str, splits: dict | None = None, **options) -> DataSpec:
    if splits is None:
        splits = {}
        for annotation in sorted((root / "annotations").glob("instances_*.json")):
            name = annotation.stem.removeprefix("instances_")
            split = next((s for s in SPLITS if name.startswith(s)), None)
            if split is not None and split not in splits:
                splits[split] = name
    resolved = {}
    for split, entry in splits.items():
        if isinstance(entry, dict):
            if set(entry) != {"images", "annotations"}:
                raise MobileVisionError(f"{source}: splits.{split} must have exactly the keys images and annotations")
            resolved[split] = {"images": root / entry["images"], "annotations": root / entry["annotations"]}
        else:
            images = root / str(entry)
            if not images.is_dir() and (root / "images" / str(entry)).is_dir():
                images = root / "images" / str(entry)
            resolved[split] = {"images": images, "annotations": root / "annotations" / f"instances_{entry}.json"}
    return DataSpec("coco", root, resolved, source=source, **options)


def _spec(format: str, root: Path, *, splits: dict | None, source: str, **options) -> DataSpec:
    if format in ("coco", "builtin") and options.get("class_names") is not None:
        raise MobileVisionError(f"{source}: class_names cannot be set for a {format} dataset (its names come from "
                                "its annotations); for COCO segmentation use segmentation_categories")
    if format == "coco":
        return _coco_spec(root, source=source, splits=splits, **options)
    if format == "voc":
        if options.get("class_names") is None and (root.parent / MARKER).is_file():
            # The VOC view of a built-in dataset: its class names are in the marker, not VOC's 20.
            options["class_names"] = tuple(json.loads((root.parent / MARKER).read_text())["class_names"])
        return DataSpec("voc", root, dict(splits or {s: s for s in SPLITS}), source=source, **options)
    if format == "folder":
        return DataSpec("folder", root, {s: root / str(d) for s, d in (splits or {s: s for s in SPLITS}).items()},
                        source=source, **options)
    return DataSpec("builtin", root, {s: s for s in SPLITS}, source=source, **options)


def _from_yaml(path: Path) -> DataSpec:
    import yaml

    if not path.is_file():
        raise MobileVisionError(f"--data {path}: YAML file not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise MobileVisionError(f"{path}: not valid YAML ({str(error).splitlines()[0]}); fix the syntax") from error
    if not isinstance(config, dict):
        raise MobileVisionError(f"{path}: expected a mapping with keys {sorted(YAML_KEYS)}")
    unknown = set(config) - YAML_KEYS
    if unknown:
        raise MobileVisionError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(YAML_KEYS)}")
    root = (path.parent / str(config.get("root", "."))).resolve()
    if not root.is_dir():
        raise MobileVisionError(f"{path}: root {config.get('root')!r} is not a folder (resolved to {root}); "
                                "root is relative to the YAML file")
    format = config.get("format")
    if format is None:
        detected = detect_format(root)
        if detected is None:
            raise MobileVisionError(f"{path}: no 'format' given and none detected in {root}; "
                                    f"add format: {'|'.join(FORMATS)}")
        format, root = detected
    if format not in FORMATS:
        raise MobileVisionError(f"{path}: format {format!r} is not one of {', '.join(FORMATS)}")
    splits = config.get("splits")
    if splits is not None and (not isinstance(splits, dict) or not set(splits) <= set(SPLITS)):
        raise MobileVisionError(f"{path}: splits must map train and/or val to a split entry, got {splits!r}")
    options = {}
    if "class_names" in config:
        names = config["class_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise MobileVisionError(f"{path}: class_names must be a list of distinct strings")
        options["class_names"] = tuple(names)
    if "segmentation_categories" in config:
        categories = config["segmentation_categories"]
        if categories not in ("all", "voc") and not isinstance(categories, list):
            raise MobileVisionError(f"{path}: segmentation_categories must be all, voc or a list of category names")
        options["segmentation_categories"] = categories if isinstance(categories, str) else tuple(categories)
    if "extra_lists" in config:
        extra = config["extra_lists"]
        if not isinstance(extra, dict) or not all(isinstance(v, list) for v in extra.values()):
            raise MobileVisionError(f"{path}: extra_lists must map a split to a list of list files")
        options["extra_lists"] = {split: tuple(files) for split, files in extra.items()}
    return _spec(format, root, splits=splits, source=str(path), **options)

