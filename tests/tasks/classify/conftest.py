"""A tiny class-folder dataset written with OpenCV: three colour classes, 48 px images."""

from pathlib import Path

import cv2
import numpy as np
import pytest

CLASSES = ("blue", "green", "red")


def write_class_folders(root: Path, *, train_per_class: int, val_per_class: int, size: int = 48) -> Path:
    """root/{train,val}/<class>/*.png: a noisy background with a filled disc of the class colour."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                image = rng.integers(0, 100, (size, size, 3), dtype=np.uint8)
                colour = [40, 40, 40]
                colour[label] = 230  # BGR order: blue, green, red
                center = tuple(int(v) for v in rng.integers(size // 3, 2 * size // 3, 2))
                cv2.circle(image, center, size // 4, colour, thickness=-1)
                cv2.imwrite(str(folder / f"{index:03d}.png"), image)
    return root


@pytest.fixture(scope="session")
def class_folders(tmp_path_factory) -> Path:
    """36 training images and 15 validation images (odd, so torchrun shards are unequal)."""
    return write_class_folders(tmp_path_factory.mktemp("folders"), train_per_class=12, val_per_class=5)
