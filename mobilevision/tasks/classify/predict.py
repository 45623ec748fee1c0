"""`mobilevision classify predict SOURCE`: top-k classes of an image, every image of a folder, or
every frame of a video."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from mobilevision.datasets.transforms import Pipeline, classification_transforms
from mobilevision.tasks.classify.loading import load_classifier
from mobilevision.engine.device import select_device
from mobilevision.engine.media import frames


@torch.no_grad()
def classify_image(network: nn.Module, image: np.ndarray, *, transform: Pipeline, device: torch.device,
                   memory_format: torch.memory_format) -> torch.Tensor:
    """RGB image (H, W, 3) uint8 -> logits (num_classes,) float32 on the CPU, preprocessed by `transform`
    (the evaluation resize and centre crop)."""
    batch = transform(image=image)["image"][None].to(device, memory_format=memory_format)
    return network(batch)[0].float().cpu()


def top_classes(logits: torch.Tensor, *, class_names: Sequence[str], k: int) -> list[dict]:
    """logits (C,) -> the k most probable classes, best first: [{"class": index, "name", "score": probability}]."""
    scores, indices = torch.as_tensor(logits).float().softmax(dim=0).topk(min(k, len(class_names)))
    return [{"class": int(i), "name": class_names[int(i)], "score": float(s)} for s, i in zip(scores, indices)]


def predict_classes(source: str, *, weights: str, model: str = "mobilenet_v2", width: float = 1.0,
                    imgsz: int | None = None, topk: int = 5, device: str = "auto") -> Iterator[dict]:
    """For each image or frame: {"source", "top": [{"class": index, "name", "score": probability}]}."""
    network, info = load_classifier(weights=weights, model=model, width=width)
    preprocessing = info["preprocessing"]
    transform = classification_transforms(False, size=imgsz or preprocessing["input_size"],
                                          mean=preprocessing["mean"], std=preprocessing["std"])
    target = select_device(device)
    network.to(device=target, memory_format=torch.channels_last)
    for name, image in frames(source):
        logits = classify_image(network, image, transform=transform, device=target, memory_format=torch.channels_last)
        yield {"source": name, "top": top_classes(logits, class_names=info["class_names"], k=topk)}
