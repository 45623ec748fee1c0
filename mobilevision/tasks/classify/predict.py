"""`mobilevision classify predict SOURCE`: top-k classes of an image, every image of a folder, or
every frame of a video."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mobilevision.datasets.transforms import classification_transforms
from mobilevision.tasks.classify.loading import load_classifier
from mobilevision.tasks.engine.device import select_device
from mobilevision.tasks.media import frames


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
