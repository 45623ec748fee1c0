"""The evaluator interface every task implements, and the evaluation loop that drives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mobilevision.engine.device import autocast, select_device, to_device
from mobilevision.engine.distributed import dist_info
from mobilevision.engine.sampling import eval_loader


class Evaluator(Protocol):
    """Accumulates one validation pass of a task (a fresh object per pass).

    main_metric: the key of `compute()` that picks best.pt (higher is better).
    update(predictions, targets): one batch; predictions are what the model returns in eval mode,
        targets what the task's collate function returns, both on the model's device.
    compute() -> {name: value}: sums and counts reduced over torchrun ranks first
        (`engine.distributed.reduce_sum`), so the values equal a single process's on the same data.
    plot(folder): after compute(), writes the task's PNGs (confusion matrix, PR curves, ...).
    """

    main_metric: str

    def update(self, predictions: Any, targets: Any) -> None: ...

    def compute(self) -> dict[str, float]: ...

    def plot(self, folder: Path) -> None: ...


def evaluate_dataset(model: nn.Module, dataset: Dataset, evaluator: Evaluator, *, collate_fn, batch: int,
                     workers: int, device: str, channels_last: bool = True, progress: bool = True) -> dict[str, float]:
    """`evaluate` of `model`, moved to the `device` chosen (auto, cpu, ...), on this torchrun rank's
    shard of `dataset`: what every task's `val` runs. Every rank must call it. channels_last=False
    for a runtime that takes plain contiguous arrays (ONNX Runtime)."""
    dist = dist_info()
    target = select_device(device, local_rank=dist.local_rank)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device=target, memory_format=memory_format)
    loader = eval_loader(dataset, rank=dist.rank, world_size=dist.world_size, batch=batch, workers=workers,
                         collate_fn=collate_fn)
    return evaluate(model, loader, evaluator, device=target, memory_format=memory_format,
                    progress=progress and dist.is_main)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, evaluator: Evaluator, *, device: torch.device,
             memory_format: torch.memory_format = torch.contiguous_format, amp: torch.dtype | None = None,
             progress: bool = True) -> dict[str, float]:
    """Run `model` (eval mode) over `loader` into `evaluator`; returns `evaluator.compute()`.

    Every rank must call this (compute() reduces across ranks); the model's mode is restored after.
    """
    was_training = model.training
    model.eval()
    for batch in tqdm(loader, desc="val", disable=not progress, leave=False, dynamic_ncols=True):
        images, targets = batch[0], batch[1]
        if images.shape[0] == 0:  # every sample of the batch was unreadable and dropped
            continue
        with autocast(device, amp):
            predictions = model(images.to(device, non_blocking=True, memory_format=memory_format))
        evaluator.update(predictions, to_device(targets, device))
    model.train(was_training)
    return evaluator.compute()
