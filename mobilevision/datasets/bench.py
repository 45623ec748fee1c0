"""`mobilevision data bench`: images per second of each training pipeline through a DataLoader.

Runs on a freshly generated built-in dataset, so numbers compare across machines. One untimed
epoch warms the workers (persistent) and the caches; the next epoch is timed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def benchmark_loaders(*, size: int = 320, images: int = 160, batch: int = 16,
                      workers: tuple[int, ...] = (0, 2)) -> list[tuple[str, int, float]]:
    """Returns (task, num_workers, images per second) for classify, detect and segment."""
    from torch.utils.data import DataLoader

    from mobilevision.datasets.build import build_dataset
    from mobilevision.datasets.collate import classification_collate, detection_collate, segmentation_collate
    from mobilevision.datasets.synth.generate import generate_dataset
    from mobilevision.datasets.transforms import (
        classification_transforms, detection_transforms, segmentation_transforms,
    )

    pipelines = {
        "classify": (classification_transforms, classification_collate),
        "detect": (detection_transforms, detection_collate),
        "segment": (segmentation_transforms, segmentation_collate),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="mobilevision-bench-") as tmp:
        root = generate_dataset(Path(tmp), images=images, seed=0, size=size, workers=2)
        for task, (make_transform, collate) in pipelines.items():
            dataset = build_dataset(root, task=task, split="train", transform=make_transform(True, size=size))
            for num_workers in workers:
                loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=num_workers,
                                    collate_fn=collate, persistent_workers=num_workers > 0, drop_last=False)
                for _ in loader:
                    pass
                start = time.perf_counter()
                seen = sum(len(batch_images) for batch_images, _ in loader)
                results.append((task, num_workers, seen / (time.perf_counter() - start)))
                print(f"{task:9s} workers={num_workers}: {results[-1][2]:7.1f} images/s", flush=True)
    return results
