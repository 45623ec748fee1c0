"""What a logit grid of stride s can score at best: the val labels themselves, averaged onto the
grid and resized back as the model's logits are, then scored like a prediction.

    .venv/bin/python benchmarks/segment_grid_ceiling.py --data /tmp/mobilevision-quick/synth2000 [--imgsz 256]

Each label map (at --imgsz, as `segment val` resizes it) becomes one-hot class planes, is
average-pooled by s (a class's share of each cell), resized back bilinearly and arg-maxed. The
mIoU that gives is the score of the best smooth map on that grid: thin parts narrower than a cell
fade into their surroundings. A head whose logits come on that grid (DeepLab without the decoder
at output stride 16) can beat it only by sharper-than-average logits, so it is a ceiling in
practice, not a proof.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.transforms import IGNORE_INDEX, segmentation_transforms
from mobilevision.tasks.segment.evaluator import SegmentationEvaluator


def grid_prediction(labels: torch.Tensor, *, stride: int, num_classes: int) -> torch.Tensor:
    """(H, W) labels (255 = ignore) -> (H, W) class map from their stride-s area averages."""
    labelled = (labels != IGNORE_INDEX).float()
    planes = F.one_hot(labels.clamp(max=num_classes - 1), num_classes).permute(2, 0, 1).float() * labelled
    shares = F.avg_pool2d(planes[None], stride, ceil_mode=True)
    return F.interpolate(shares, size=labels.shape, mode="bilinear", align_corners=False)[0].argmax(dim=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a segmentation dataset (the built-in one)")
    parser.add_argument("--imgsz", type=int, default=256, help="the size `segment val` scores at")
    parser.add_argument("--strides", type=int, nargs="+", default=[16, 8, 4])
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    dataset = build_dataset(args.data, task="segment", split=args.split, transform=segmentation_transforms(
        False, size=args.imgsz, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    classes = len(dataset.class_names)
    for stride in args.strides:
        evaluator = SegmentationEvaluator(dataset.class_names)
        for index in range(len(dataset)):
            labels = torch.as_tensor(dataset[index][1]).long()
            evaluator.update(grid_prediction(labels, stride=stride, num_classes=classes)[None], labels[None])
        miou = evaluator.compute()["miou"]
        per_class = "  ".join(f"{name} {iou:.3f}" for name, iou in
                              zip(dataset.class_names, evaluator.per_class_iou(evaluator.reduced).tolist()))
        print(f"stride {stride:2d}: mIoU {miou:.4f}   {per_class}")


if __name__ == "__main__":
    main()
