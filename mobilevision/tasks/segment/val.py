"""`mobilevision segment val`: mIoU, per-class IoU and pixel accuracy of a segmenter on a split,
from one confusion matrix summed over torchrun ranks; optionally multi-scale + flip (Table 7's MF)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import segmentation_collate
from mobilevision.datasets.transforms import segmentation_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.engine.device import select_device
from mobilevision.engine.distributed import dist_info
from mobilevision.engine.evaluation import evaluate
from mobilevision.engine.run_dir import new_run_dir
from mobilevision.engine.sampling import eval_loader
from mobilevision.tasks.segment.inference import PAPER_SCALES, multiscale_probabilities
from mobilevision.tasks.segment.loading import load_segmenter
from mobilevision.tasks.segment.metrics import SegmentationEvaluator


class MultiscaleSegmenter(nn.Module):
    """Eval-mode wrapper: forward(images (N, 3, H, W)) -> class map (N, H, W) from the softmax
    averaged over `scales` and horizontal flips, so the engine's evaluate() drives it unchanged."""

    def __init__(self, model: nn.Module, *, scales: Sequence[float] = PAPER_SCALES, flip: bool = True) -> None:
        super().__init__()
        self.model = model
        self.scales = tuple(scales)
        self.flip = flip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return multiscale_probabilities(self.model, images, scales=self.scales, flip=self.flip).argmax(dim=1)


def _finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a class absent from labels and predictions has no IoU."""
    return None if math.isnan(value) else value


def validate_segmenter(*, weights: str, data: str, imgsz: int | None = None, batch: int = 8, device: str = "auto",
                       workers: int = 2, split: str = "val", multiscale: bool = False, runtime: str = "torch",
                       project: str = "runs", name: str | None = None, progress: bool = True) -> dict:
    """{"miou", "pixel_accuracy", "per_class_iou": {class: IoU or None}, "images"} of the
    weights on `data`'s split. Images are scaled (longer side) to imgsz (default: the training
    size) and padded with ignore, so metrics are at that size. Rank 0 writes per_class_iou.png
    into a new runs/segment/val* folder. Samples with unreadable images or invalid masks are
    reported by the dataset (file and reason) and left out."""
    network, info = load_segmenter(weights, runtime=runtime)
    preprocessing, class_names = info["preprocessing"], list(info["class_names"])
    size = imgsz or preprocessing["input_size"]
    dataset = build_dataset(data, task="segment", split=split, transform=segmentation_transforms(
        False, size=size, mean=preprocessing["mean"], std=preprocessing["std"]))
    if len(dataset.class_names) != len(class_names):
        shown = ", ".join(dataset.class_names[:4])
        raise MobileVisionError(f"--data {data}: {len(dataset.class_names)} classes ({shown}, ...) but the weights "
                                f"have {len(class_names)}; evaluate on the dataset they were trained on")
    if len(dataset) == 0:
        raise MobileVisionError(f"--data {data}: the {split} split has no images")
    dist = dist_info()
    target = select_device(device if runtime == "torch" else "cpu", local_rank=dist.local_rank)
    memory_format = torch.channels_last if runtime == "torch" else torch.contiguous_format
    network.to(device=target, memory_format=memory_format)
    evaluated = MultiscaleSegmenter(network) if multiscale else network
    loader = eval_loader(dataset, rank=dist.rank, world_size=dist.world_size, batch=batch, workers=workers,
                         collate_fn=segmentation_collate)
    evaluator = SegmentationEvaluator(class_names)
    metrics = evaluate(evaluated, loader, evaluator, device=target, memory_format=memory_format,
                       progress=progress and dist.is_main)
    if dist.is_main:
        folder = new_run_dir(project, "segment", name or "val", exist_ok=False)
        evaluator.plot(folder)
    per_class = evaluator.per_class_iou(evaluator.reduced).tolist()
    return {"miou": _finite_or_none(metrics["miou"]), "pixel_accuracy": _finite_or_none(metrics["pixel_accuracy"]),
            "per_class_iou": {name: _finite_or_none(iou) for name, iou in zip(class_names, per_class, strict=True)},
            "images": len(dataset)}
