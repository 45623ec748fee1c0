"""Segmentation metrics from one confusion matrix: mean IoU, per-class IoU, pixel accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from mobilevision.conventions import IGNORE_INDEX
from mobilevision.engine.distributed import reduce_sum
from mobilevision.errors import MobileVisionError
from mobilevision.visualize.plots import plot_confusion_matrix, plot_per_class_iou


class SegmentationEvaluator:
    """Implements engine.Evaluator over a (K, K) int64 confusion matrix of pixels: rows are
    labels, columns predictions, K = len(class_names). Pixels labelled 255 are left out; any other
    label outside 0..K-1 is an error, never silently dropped (it means the dataset and the model
    disagree on the classes).

    update() per batch; compute() sums the matrix over torchrun ranks (reduce()) and returns
    {"miou", "pixel_accuracy"}. mIoU averages over the classes present in the labels or the
    predictions: a class absent from both has IoU 0/0 and is left out, not counted as 0 or 1
    (torchvision's reference averages over all classes, counting those as 0; on the full VOC val
    set every class is present, so both agree). per_class_iou() is NaN for such classes; it is
    plotted rather than returned, so results.csv keeps one column per metric.
    """

    main_metric = "miou"

    def __init__(self, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        self.matrix = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        self.reduced: torch.Tensor | None = None

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """predictions (N, H, W) class ids, targets (N, H, W) class ids or 255 = ignore."""
        if predictions.shape != targets.shape:
            raise ValueError(
                f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} differ in shape"
            )
        labelled = targets != IGNORE_INDEX
        labels, predicted = targets[labelled].long(), predictions[labelled].long()
        for name, values in (("label", labels), ("prediction", predicted)):
            bad = values[(values < 0) | (values >= self.num_classes)]
            if bad.numel():
                raise MobileVisionError(
                    f"{name} values {sorted(set(bad.unique().tolist()))} are neither a class id "
                    f"(0..{self.num_classes - 1}) nor {IGNORE_INDEX} (ignore); check num_classes against the dataset"
                )
        counts = torch.bincount(labels * self.num_classes + predicted, minlength=self.num_classes**2)
        self.matrix += counts.reshape(self.num_classes, self.num_classes).cpu()

    def reduce(self) -> torch.Tensor:
        """The matrix summed over all ranks when torch.distributed is initialised (else a copy).
        The accumulated matrix itself is untouched, so calling compute() twice counts once."""
        return reduce_sum(self.matrix)

    def per_class_iou(self, matrix: torch.Tensor | None = None) -> torch.Tensor:
        """(K,) float64: true positives / (label pixels + predicted pixels - true positives);
        NaN for a class absent from both labels and predictions. Of this rank's matrix unless
        a (reduced) `matrix` is given."""
        matrix = (self.matrix if matrix is None else matrix).double()
        true_positives = matrix.diagonal()
        union = matrix.sum(dim=1) + matrix.sum(dim=0) - true_positives
        return torch.where(union > 0, true_positives / union.clamp(min=1), torch.nan)

    def compute(self) -> dict[str, float]:
        """{"miou", "pixel_accuracy"} over all ranks; NaN when no pixel was labelled."""
        # Kept for plot(), which runs on rank 0 only and so must not start a collective itself.
        self.reduced = matrix = self.reduce()
        labelled = matrix.sum().item()
        return {
            "miou": self.per_class_iou(matrix).nanmean().item(),
            "pixel_accuracy": matrix.diagonal().sum().item() / labelled if labelled else float("nan"),
        }

    def plot(self, folder: Path) -> None:
        """per_class_iou.png and pixel_confusion_matrix.png (each labelled class's pixels by
        predicted class: boundary errors show in the background column, class mix-ups elsewhere)
        of the matrix the last compute() reduced over all ranks."""
        if self.reduced is None:
            raise RuntimeError("SegmentationEvaluator.plot() needs compute() first")
        plot_per_class_iou(self.per_class_iou(self.reduced).numpy(), self.class_names, folder / "per_class_iou.png")
        plot_confusion_matrix(self.reduced.numpy(), self.class_names, folder / "pixel_confusion_matrix.png",
                              write_fractions=True, title="pixels: fraction of each labelled class")
