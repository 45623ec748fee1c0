"""What every segmentation reader shares: validating a class map and building the sample.

Sample: (image (3, H, W) float, mask (H, W) int64) with 0 = background, 1..K-1 the classes and
255 = ignore. A mask with any other value, or of another size than its image, makes the sample
None (reported with the values found) rather than training on a wrong target.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from mobilevision.datasets.image_io import UnreadableImage, read_image
from mobilevision.datasets.problems import ProblemLog, ReportsProblems
from mobilevision.datasets.transforms import IGNORE_INDEX, to_tensor


class SegmentationDataset(ReportsProblems, Dataset, ABC):
    """Base for segmentation readers: subclasses set `files` (image paths) and `class_names`
    (background first) and implement `load_mask(index) -> (H, W) uint8`."""

    count_unit = "images containing"  # what `data check` counts per class

    def classes_of(self, target) -> list[str]:
        """The names of the classes present in a sample's class map (H, W)."""
        return [self.class_names[value] for value in target.unique().tolist() if value < len(self.class_names)]

    def __init__(self, *, transform=None, log: ProblemLog | None = None) -> None:
        self.transform = transform or to_tensor
        self.log = log or ProblemLog()
        self.files: list[Path] = []
        self.class_names: list[str] = []

    def __len__(self) -> int:
        return len(self.files)

    @abstractmethod
    def load_mask(self, index: int) -> np.ndarray:
        """The class map of image `index`: (H, W) uint8 of class ids and 255 (ignore)."""

    def image_file(self, index: int) -> Path:
        return self.files[index]

    def mask_file(self, index: int) -> Path:
        """The file a mask problem is reported against."""
        return self.files[index]

    def __getitem__(self, index: int):
        """(image (3, H, W) float, mask (H, W) int64), or None for a bad image or mask."""
        import torch

        file = self.files[index]
        try:
            image = read_image(file, orientation="stored", strict=True)  # the masks' frame
            mask = self.load_mask(index)
        except UnreadableImage as error:
            self.log.skip(file, str(error))
            return None
        if mask.shape != image.shape[:2]:
            self.log.skip(self.mask_file(index), f"mask is {mask.shape[1]}x{mask.shape[0]} but image {file.name} is "
                                                 f"{image.shape[1]}x{image.shape[0]}")
            return None
        values = np.unique(mask)
        invalid = values[(values >= len(self.class_names)) & (values != IGNORE_INDEX)]
        if invalid.size:
            self.log.skip(self.mask_file(index), f"mask values {invalid.tolist()} are neither a class id "
                                                 f"(0..{len(self.class_names) - 1}) nor {IGNORE_INDEX} (ignore)")
            return None
        out = self.transform(image=image, mask=mask)
        return out["image"], torch.from_numpy(np.asarray(out["mask"], dtype=np.int64))
