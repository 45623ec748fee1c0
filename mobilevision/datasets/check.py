"""`mobilevision data check`: read every sample of every view of a dataset and report.

For each (task, split) the dataset serves it counts objects/images per class, summarises image
sizes and lists every problem (file and reason) the readers found, including samples they skip.
Images are read in this process, so problems found in `__getitem__` are all seen. Where boxes or
masks are drawn on the pixels it also lists each image that carries an EXIF orientation: the
readers ignore it (image_io.py says why), which is right only if its annotations did too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.image_io import ORIENTATIONS, exif_orientation
from mobilevision.datasets.problems import Problem
from mobilevision.datasets.resolve import SPLITS, DataSpec, resolve_data
from mobilevision.datasets.voc import VocDetection, VocSegmentation


@dataclass
class ViewReport:
    task: str
    split: str
    format: str
    samples: int
    class_counts: dict[str, int]  # `unit` per class: objects, or images holding the class
    unit: str = "images"
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (h, w) of every readable image
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.task}/{self.split} ({self.format}): {self.samples} samples, {len(self.problems)} problem(s)"]
        if self.sizes:
            heights, widths = np.array(self.sizes).T
            out.append(f"  image size: width {widths.min()}..{widths.max()} (median {int(np.median(widths))}), "
                       f"height {heights.min()}..{heights.max()} (median {int(np.median(heights))})")
        counts = ", ".join(f"{name} {count}" for name, count in self.class_counts.items())
        out.append(f"  {self.unit} per class: {counts}")
        return out


def tasks_of(spec: DataSpec, split: str) -> list[str]:
    """The tasks a resolved dataset can serve for `split`."""
    if spec.format == "builtin":
        return ["classify", "detect", "segment"]
    if spec.format == "folder":
        return ["classify"]
    if spec.format == "coco":
        return ["detect", "segment"]
    image_set = spec.splits.get(split, split)
    return [task for task, reader in (("detect", VocDetection), ("segment", VocSegmentation))
            if (spec.root / "ImageSets" / reader.image_set_folder / f"{image_set}.txt").is_file()]


def check_view(spec: DataSpec, *, task: str, split: str) -> ViewReport:
    dataset = build_dataset(spec, task=task, split=split)
    counts: Counter = Counter()
    report = ViewReport(task, split, spec.view(task).format, len(dataset), {}, unit=dataset.count_unit)
    for index in range(len(dataset)):
        sample = dataset[index]
        if sample is None:
            continue
        image, target = sample
        report.sizes.append((int(image.shape[1]), int(image.shape[2])))
        counts.update(dataset.classes_of(target))
    report.class_counts = {name: counts[name] for name in dataset.class_names}
    report.problems = list(dataset.problems)
    if task in ("detect", "segment"):
        report.problems += [problem for index in range(len(dataset))
                            if (problem := orientation_problem(dataset.image_file(index))) is not None]
    return report


def orientation_problem(file: Path) -> Problem | None:
    """The image's EXIF orientation as a problem to check by eye, None when it has none."""
    value = exif_orientation(file)
    if value == 1:
        return None
    return Problem(str(file), f"EXIF orientation {value} (viewers {ORIENTATIONS[value]}) ignored: the image is "
                              "read as stored, the frame COCO and VOC annotations are drawn in; if its annotations "
                              "were drawn on the turned view, save the pixels turned and without the tag "
                              "(PIL's ImageOps.exif_transpose)")


def check_dataset(data: str | Path) -> list[ViewReport]:
    """Reports for every (task, split) the dataset at `data` serves."""
    spec = resolve_data(data)
    return [check_view(spec, task=task, split=split)
            for split in SPLITS if split in spec.splits for task in tasks_of(spec, split)]


def print_reports(reports: list[ViewReport]) -> int:
    """Print the reports; return the number of problems."""
    problems = 0
    for report in reports:
        print("\n".join(report.lines()))
        for problem in report.problems:
            print(f"  problem: {problem.file}: {problem.reason}")
        problems += len(report.problems)
    print(f"{problems} problem(s) found" if problems else "no problems found")
    return problems
