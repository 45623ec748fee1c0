"""Step 6b: a gallery of predictions: val images with every task's results drawn as the demos draw
them (the class map under the boxes, the top classes, a legend), in one PNG grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mobilevision.datasets.image_io import read_image
from mobilevision.demos.render import DEFAULT_CONF, predict_all, render
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.registry import single_tasks

GALLERY_IMAGES = 16
COLUMNS = 4
TILE = 320  # side of each drawn image: small images are upscaled so their labels stay legible
GAP = 4  # white pixels between tiles


def tile_grid(tiles: Sequence[np.ndarray], *, columns: int) -> np.ndarray:
    """(T, T, 3) uint8 tiles -> one (rows * (T + GAP) - GAP, columns * (T + GAP) - GAP, 3) image, row by row."""
    side = tiles[0].shape[0]
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (side + GAP) - GAP, columns * (side + GAP) - GAP, 3), 255, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * (side + GAP), (index % columns) * (side + GAP)
        grid[top:top + side, left:left + side] = tile
    return grid


def render_gallery(predictors: Sequence[FramePredictor], images: Sequence[Path], *, out: Path) -> Path:
    """The first GALLERY_IMAGES `images`, each resized to (TILE, TILE) and drawn with the predictors'
    results, in a grid of COLUMNS columns saved as the PNG `out`."""
    tiles = []
    for path in images[:GALLERY_IMAGES]:
        image = cv2.resize(read_image(path), (TILE, TILE), interpolation=cv2.INTER_LINEAR)
        tiles.append(render(image, predict_all(predictors, image, tasks=single_tasks(), conf=DEFAULT_CONF)))
    cv2.imwrite(str(out), cv2.cvtColor(tile_grid(tiles, columns=COLUMNS), cv2.COLOR_RGB2BGR))
    print(f"gallery of {len(tiles)} val images -> {out}")
    return out
