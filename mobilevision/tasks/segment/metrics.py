"""Segmentation metrics from one confusion matrix: mean IoU, per-class IoU, pixel accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist

from mobilevision.datasets.transforms import IGNORE_INDEX
from mobilevision.errors import MobileVisionError


class SegmentationMetrics:
    """Accumulates a (num_classes, num_classes) int64 confusion matrix: rows are labels, columns
    predictions. Pixels labelled 255 are left out; any other label outside 0..num_classes-1 is an
    error, never silently dropped (it means the dataset and the model disagree on the classes).

    Use: update() per batch, reduce() once after the last batch (sums the matrix over torchrun
    ranks), compute(). mIoU averages over the classes present in the labels or the predictions;
    a class absent from both has IoU 0/0 and is left out, not counted as 0 or 1 (torchvision
    averages over all classes, counting those as 0; on a full VOC val set every class is present,
    so both agree). Per-class IoU is NaN for such classes.
    """

    def __init__(self, num_classes: int, *, class_names: Sequence[str] | None = None) -> None:
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """predictions (N, H, W) class ids, targets (N, H, W) class ids or 255 = ignore."""
        if predictions.shape != targets.shape:
            raise ValueError(f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} differ in shape")
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

    def reduce(self) -> None:
        """Sum the matrix over all ranks when torch.distributed is initialised; call it once."""
        if dist.is_available() and dist.is_initialized():
            # nccl reduces CUDA tensors only; gloo takes the CPU matrix as it is.
            device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
            total = self.matrix.to(device)
            dist.all_reduce(total, op=dist.ReduceOp.SUM)
            self.matrix = total.cpu()

    def per_class_iou(self) -> torch.Tensor:
        """(num_classes,) float64: true positives / (label pixels + predicted pixels - true
        positives); NaN for a class absent from both labels and predictions."""
        matrix = self.matrix.double()
        true_positives = matrix.diagonal()
        union = matrix.sum(dim=1) + matrix.sum(dim=0) - true_positives
        return torch.where(union > 0, true_positives / union.clamp(min=1), torch.nan)

    def compute(self) -> dict[str, float]:
        """{"miou", "pixel_accuracy", "iou/<class name>" per class}; NaN where nothing was counted."""
        iou = self.per_class_iou()
        labelled = self.matrix.sum().item()
        results = {
            "miou": iou.nanmean().item(),
            "pixel_accuracy": self.matrix.diagonal().sum().item() / labelled if labelled else float("nan"),
        }
        results.update({f"iou/{name}": value for name, value in zip(self.class_names, iou.tolist(), strict=True)})
        return results
