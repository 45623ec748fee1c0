"""`mobilevision data stats`: what a dataset holds, per split, read from its annotations.

Image sizes, objects per image, object sizes relative to the image (sqrt(box area / image area),
COCO's small / medium / large by area in original pixels), box aspect ratios (width / height),
instances per class, the share of labelled pixels per class in the masks, and images per class of
class folders. The readers are the ones training uses (build_dataset), so a dataset YAML's classes
and splits apply. Boxes come from the annotations (box_records.py) and masks from their files; no
image is decoded (class folders' sizes come from the file headers).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.datasets.box_records import annotated_boxes, header_size
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.check import tasks_of
from mobilevision.datasets.image_io import UnreadableImage
from mobilevision.datasets.resolve import SPLITS, DataSpec, resolve_data

COCO_SMALL_AREA = 32**2  # COCO's object size buckets, in original-image pixels
COCO_LARGE_AREA = 96**2


@dataclass
class SplitStats:
    """One split's numbers; arrays are per image (image_sizes, objects_per_image) or per object."""

    split: str
    image_sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))  # (I, 2) h, w
    objects_per_image: np.ndarray | None = None  # (I,) detection view only
    relative_sizes: np.ndarray | None = None  # (N,) sqrt(box area / image area)
    aspect_ratios: np.ndarray | None = None  # (N,) box width / height
    areas: np.ndarray | None = None  # (N,) box area in original pixels
    instances_per_class: dict[str, int] | None = None
    pixel_frequency: dict[str, float] | None = None  # share of the non-ignored mask pixels
    images_per_class: dict[str, int] | None = None  # class folders

    def summary(self) -> dict:
        """The JSON form: counts per class, and min / median / mean / max of each distribution."""
        out: dict = {"images": len(self.image_sizes)}
        if len(self.image_sizes):
            out["image_height"] = _summary(self.image_sizes[:, 0])
            out["image_width"] = _summary(self.image_sizes[:, 1])
        if self.objects_per_image is not None:
            out["objects"] = int(self.objects_per_image.sum())
            out["objects_per_image"] = _summary(self.objects_per_image)
            out["relative_size"] = _summary(self.relative_sizes)
            out["aspect_ratio"] = _summary(self.aspect_ratios)
            out["coco_size"] = {"small": int((self.areas < COCO_SMALL_AREA).sum()),
                                "medium": int(((self.areas >= COCO_SMALL_AREA) & (self.areas < COCO_LARGE_AREA)).sum()),
                                "large": int((self.areas >= COCO_LARGE_AREA).sum())}
            out["instances_per_class"] = self.instances_per_class
        if self.pixel_frequency is not None:
            out["pixel_frequency"] = self.pixel_frequency
        if self.images_per_class is not None:
            out["images_per_class"] = self.images_per_class
        return out

    def lines(self) -> list[str]:
        """The printed table of the summary."""
        summary = self.summary()
        out = [f"{self.split}: {summary['images']} images"]
        for key in ("image_width", "image_height", "objects_per_image", "relative_size", "aspect_ratio"):
            if key in summary:
                values = summary[key]
                out.append(f"  {key:<18} min {values['min']:<8.4g} median {values['median']:<8.4g} "
                           f"mean {values['mean']:<8.4g} max {values['max']:.4g}")
        if "coco_size" in summary:
            sizes = summary["coco_size"]
            out.append(f"  {'objects':<18} {summary['objects']} (COCO small {sizes['small']}, medium "
                       f"{sizes['medium']}, large {sizes['large']})")
        for key, title in (("instances_per_class", "objects per class"),
                           ("images_per_class", "images per class (class folders)"),
                           ("pixel_frequency", "share of mask pixels per class")):
            if key in summary:
                out.append(f"  {title}:")
                out += [f"    {name:<24} {value:.4f}" if isinstance(value, float) else f"    {name:<24} {value}"
                        for name, value in summary[key].items()]
        return out


def dataset_stats(data: str | DataSpec) -> list[SplitStats]:
    """The statistics of every split the dataset at `data` has, from every view it serves."""
    spec = data if isinstance(data, DataSpec) else resolve_data(data)
    return [split_stats(spec, split=split) for split in SPLITS if split in spec.splits and tasks_of(spec, split)]


def split_stats(spec: DataSpec, *, split: str) -> SplitStats:
    stats = SplitStats(split)
    views = tasks_of(spec, split)
    if "detect" in views:
        _add_boxes(stats, build_dataset(spec, task="detect", split=split))
    if "segment" in views:
        _add_masks(stats, build_dataset(spec, task="segment", split=split), split=split,
                   sizes=not len(stats.image_sizes))
    if "classify" in views:
        _add_folders(stats, build_dataset(spec, task="classify", split=split), sizes=not len(stats.image_sizes))
    return stats


def _add_boxes(stats: SplitStats, dataset) -> None:
    images = annotated_boxes(dataset)
    stats.image_sizes = np.array([image.size for image in images], dtype=np.int64).reshape(-1, 2)
    stats.objects_per_image = np.array([len(image.boxes) for image in images], dtype=np.int64)
    boxes = np.concatenate([image.boxes for image in images]) if images else np.zeros((0, 4), np.float32)
    image_areas = np.repeat([h * w for h, w in stats.image_sizes], stats.objects_per_image).astype(np.float64)
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    stats.areas = (widths * heights).astype(np.float64)
    stats.relative_sizes = np.sqrt(stats.areas / image_areas)
    stats.aspect_ratios = (widths / heights).astype(np.float64)
    counts = Counter(int(label) for image in images for label in image.labels)
    stats.instances_per_class = {name: counts[label] for label, name in enumerate(dataset.class_names, start=1)}


def _add_masks(stats: SplitStats, dataset, *, split: str, sizes: bool) -> None:
    """Pixel counts per class over every readable mask (ignore and out-of-range values left out)."""
    classes = len(dataset.class_names)
    counts = np.zeros(classes, dtype=np.int64)
    shapes = []
    # COCO's masks are drawn from their polygons: minutes for train2017, so the loop shows its progress.
    for index in tqdm(range(len(dataset)), desc=f"{split} masks", leave=False, dynamic_ncols=True):
        try:
            mask = dataset.load_mask(index)
        except UnreadableImage:  # `data check` names it
            continue
        shapes.append(mask.shape[:2])
        values = mask[mask != IGNORE_INDEX]
        counts += np.bincount(values[values < classes], minlength=classes)
    total = max(int(counts.sum()), 1)
    stats.pixel_frequency = {name: float(count / total) for name, count in zip(dataset.class_names, counts)}
    if sizes:
        stats.image_sizes = np.array(shapes, dtype=np.int64).reshape(-1, 2)


def _add_folders(stats: SplitStats, dataset, *, sizes: bool) -> None:
    counts = Counter(label for _, label in dataset.samples)
    stats.images_per_class = {name: counts[label] for label, name in enumerate(dataset.class_names)}
    if sizes:
        found = [size for file, _ in dataset.samples if (size := header_size(file)) is not None]
        stats.image_sizes = np.array(found, dtype=np.int64).reshape(-1, 2)


def _summary(values: np.ndarray) -> dict:
    if not len(values):
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "max": 0.0}
    return {"min": float(np.min(values)), "median": float(np.median(values)), "mean": float(np.mean(values)),
            "max": float(np.max(values))}
