"""Step 1: the built-in dataset, generated once and reused while it has the size asked for."""

from __future__ import annotations

import json
from pathlib import Path

from mobilevision.datasets import generate_dataset
from mobilevision.datasets.resolve import MARKER
from mobilevision.demos.quickstart.settings import DATASET_SEED


def prepare_dataset(folder: Path, *, images: int, val_images: int, size: int, fresh: bool) -> tuple[Path, bool]:
    """(the dataset folder, whether it was reused): `images` scenes of (size, size) pixels, the
    last `val_images` of them val, seed DATASET_SEED, generated unless `folder` already holds
    exactly that (and not `fresh`). The marker file is written last, so its presence means a
    complete dataset."""
    marker = folder / MARKER
    wanted = {"images": images, "val_images": val_images, "size": size, "seed": DATASET_SEED}
    if marker.is_file() and not fresh:
        made = json.loads(marker.read_text())
        found = {key: made.get(key) for key in wanted}
        if found == wanted:
            print(f"reusing {folder}: {images} images of {size} px, {val_images} of them val (--fresh generates "
                  "them again)")
            return folder, True
        print(f"{folder} holds {found['images']} images of {found['size']} px ({found['val_images']} val); "
              f"generating {images} of {size} px ({val_images} val)")
    generate_dataset(folder, images=images, val_images=val_images, seed=DATASET_SEED, size=size)
    print(f"wrote {images} images of {size} px to {folder}, {images - val_images} train and {val_images} val")
    return folder, False
