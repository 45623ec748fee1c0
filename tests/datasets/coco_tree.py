"""Tiny COCO trees for the bad-data tests, the `data check` they run and a JPEG damaged mid-scan."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from mobilevision.cli import main

HEIGHT, WIDTH = 48, 64
IMAGES = 4
BOX = [8, 8, 16, 16]  # every image's good annotation: a box and its square polygon


def write_coco(root: Path, extra: list[dict], *, splits: tuple[str, ...] = ("train",)) -> Path:
    """A COCO tree of IMAGES noise JPEGs (64x48) per split, each with one good annotation, plus
    `extra` annotations (ids 100, 101, ... on image 1 unless they say); returns `root`."""
    rng = np.random.default_rng(0)
    images = [{"id": i, "file_name": f"{i}.jpg", "height": HEIGHT, "width": WIDTH} for i in range(1, IMAGES + 1)]
    x, y, w, h = BOX
    annotations = [{"id": i, "image_id": i, "category_id": 1, "bbox": BOX, "area": w * h, "iscrowd": 0,
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]} for i in range(1, IMAGES + 1)]
    annotations += [{"id": 100 + k, "image_id": 1, "category_id": 1, "area": 100, "iscrowd": 0, **annotation}
                    for k, annotation in enumerate(extra)]
    (root / "annotations").mkdir(parents=True)
    for split in splits:
        (root / split).mkdir()
        for image in images:
            pixels = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
            cv2.imwrite(str(root / split / image["file_name"]), pixels)
        document = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(document))
    return root


def data_check(capsys, root: Path) -> tuple[int, list[str]]:
    """`mobilevision data check root`: its exit code and its problem lines."""
    capsys.readouterr()
    code = main(["data", "check", str(root)])
    out = capsys.readouterr().out
    return code, [line.strip() for line in out.splitlines() if line.strip().startswith("problem:")]


def corrupt_mid_scan(path: Path) -> None:
    """16 random bytes over the middle of the JPEG's compressed data; its end marker stays."""
    data = bytearray(path.read_bytes())
    middle = (data.index(b"\xff\xda") + len(data)) // 2
    data[middle:middle + 16] = np.random.default_rng(0).integers(0, 256, 16, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
