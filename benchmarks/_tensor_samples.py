"""In-memory (image, label) samples shared by the benchmark scripts."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class TensorSamples(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.images[index], int(self.labels[index])


def random_samples(*, count: int, imgsz: int, classes: int, seed: int = 0) -> TensorSamples:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(count, 3, imgsz, imgsz, generator=generator)
    return TensorSamples(images, torch.randint(0, classes, (count,), generator=generator))
