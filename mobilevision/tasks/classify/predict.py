"""`mobilevision classify predict SOURCE`: top-k classes of an image, every image of a folder, or
every frame of a video."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from mobilevision.datasets.folder import IMAGE_SUFFIXES
from mobilevision.datasets.image_io import UnreadableImage, read_image
from mobilevision.datasets.transforms import classification_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.loading import load_classifier
from mobilevision.tasks.engine.device import select_device

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def frames(source: str | Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB image (H, W, 3) uint8) for an image, each image of a folder, or each video frame."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise MobileVisionError(f"{source}: no images in this folder")
        for file in files:
            yield from frames(file)
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise MobileVisionError(f"{source}: OpenCV cannot open this video")
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield f"{path}#frame{index}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
        capture.release()
    elif path.is_file():
        try:
            yield str(path), read_image(path)
        except UnreadableImage as error:
            raise MobileVisionError(f"{source}: {error}") from error
    else:
        raise MobileVisionError(f"{source}: no such image, folder or video")


@torch.no_grad()
def predict_classes(source: str, *, weights: str, model: str = "mobilenet_v2", width: float = 1.0,
                    imgsz: int | None = None, topk: int = 5, device: str = "auto") -> Iterator[dict]:
    """For each image or frame: {"source", "top": [{"class": index, "name", "score": probability}]}."""
    network, info = load_classifier(weights=weights, model=model, width=width)
    preprocessing = info["preprocessing"]
    transform = classification_transforms(False, size=imgsz or preprocessing["input_size"],
                                          mean=preprocessing["mean"], std=preprocessing["std"])
    target = select_device(device)
    network.to(device=target, memory_format=torch.channels_last)
    count = min(topk, len(info["class_names"]))
    for name, image in frames(source):
        batch = transform(image=image)["image"][None].to(target, memory_format=torch.channels_last)
        scores, indices = network(batch).float().softmax(dim=1)[0].topk(count)
        yield {"source": name, "top": [{"class": int(i), "name": info["class_names"][int(i)], "score": float(s)}
                                       for s, i in zip(scores, indices)]}
