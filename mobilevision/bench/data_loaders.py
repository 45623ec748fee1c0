"""`mobilevision data bench`: images per second of each task's training pipeline through a DataLoader.

Runs on a freshly generated built-in dataset, so numbers compare across machines. One untimed
epoch warms the workers (persistent) and the caches; the next epoch is timed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def benchmark_loaders(*, size: int = 320, images: int = 160, batch: int = 16,
                      workers: tuple[int, ...] = (0, 2)) -> list[tuple[str, int, float]]:
    """Returns (task, num_workers, images per second) for each single task (classify, detect,
    segment), with the training pipeline its default recipe runs."""
    from torch.utils.data import DataLoader

    from mobilevision.datasets.synth.generate import generate_dataset
    from mobilevision.tasks.registry import get_task, single_tasks

    results = []
    with tempfile.TemporaryDirectory(prefix="mobilevision-bench-") as tmp:
        root = generate_dataset(Path(tmp), images=images, seed=0, size=size, workers=2)
        for name in single_tasks():
            task = get_task(name)
            config = task.config_class(data=str(root), imgsz=size)
            dataset = task.training_setup(config, resume_from=None).train_set
            for num_workers in workers:
                loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=num_workers,
                                    collate_fn=task.collate, persistent_workers=num_workers > 0, drop_last=False)
                for _ in loader:
                    pass
                start = time.perf_counter()
                seen = sum(len(batch_images) for batch_images, _ in loader)
                results.append((name, num_workers, seen / (time.perf_counter() - start)))
                print(f"{name:9s} workers={num_workers}: {results[-1][2]:7.1f} images/s", flush=True)
    return results
