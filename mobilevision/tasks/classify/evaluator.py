"""Top-1 / top-5 accuracy and the confusion matrix, reduced across torchrun ranks."""

from __future__ import annotations

from pathlib import Path

import torch

from mobilevision.engine.distributed import reduce_sum
from mobilevision.visualize.plots import plot_confusion_matrix


class ClassificationEvaluator:
    """Implements engine.Evaluator: update(logits (N, C), labels (N,)); compute() -> top1, top5."""

    main_metric = "top1"

    def __init__(self, class_names: list[str]) -> None:
        self.class_names = list(class_names)
        count = len(self.class_names)
        self.confusion = torch.zeros(count, count, dtype=torch.int64)
        self.top5_correct = torch.zeros((), dtype=torch.int64)

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        logits, labels = predictions.float().cpu(), targets.cpu()
        count = len(self.class_names)
        predicted = logits.argmax(dim=1)
        self.confusion += torch.bincount(labels * count + predicted, minlength=count * count).view(count, count)
        top = logits.topk(min(5, count), dim=1).indices
        self.top5_correct += (top == labels[:, None]).any(dim=1).sum()

    def compute(self) -> dict[str, float]:
        # Sums, not means, cross the ranks, so every image counts once whatever the shard sizes.
        self.confusion = reduce_sum(self.confusion)
        self.top5_correct = reduce_sum(self.top5_correct)
        total = max(1, int(self.confusion.sum()))
        return {"top1": float(self.confusion.trace()) / total, "top5": float(self.top5_correct) / total}

    def plot(self, folder: Path) -> None:
        plot_confusion_matrix(self.confusion.numpy(), self.class_names, folder / "confusion_matrix.png")
