"""Accuracy of one runtime on a dataset's val split, through each task's evaluator:
top-1 (ClassificationEvaluator), COCO mAP (coco_eval) and mIoU (SegmentationEvaluator)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from mobilevision.errors import MobileVisionError

MAIN_METRIC = {"classify": "top1", "detect": "mAP", "segment": "miou"}


def model_class_names(data: str, *, task: str) -> list[str]:
    """The class names a fresh model needs to be evaluated on `data` (background first for detection)."""
    from mobilevision.datasets.build import build_dataset

    names = list(build_dataset(data, task=task, split="val").class_names)
    return ["background", *names] if task == "detect" else names


def _loader(data: str, *, task: str, imgsz: int, preprocessing: dict, images: int | None) -> DataLoader:
    from mobilevision import datasets

    transforms = {"classify": datasets.classification_transforms, "detect": datasets.detection_transforms,
                  "segment": datasets.segmentation_transforms}[task]
    collate = {"classify": datasets.classification_collate, "detect": datasets.detection_collate,
               "segment": datasets.segmentation_collate}[task]
    dataset = datasets.build_dataset(data, task=task, split="val", transform=transforms(
        False, size=imgsz, mean=preprocessing["mean"], std=preprocessing["std"]))
    if images:
        dataset = Subset(dataset, range(min(images, len(dataset))))
    return DataLoader(dataset, batch_size=8, collate_fn=collate)


@torch.no_grad()
def evaluate_runtime(model, *, task: str, data: str, imgsz: int, checkpoint: dict, images: int | None) -> dict:
    """{main metric: value} of `model` (any runtime with the task models' eval interface) on the
    first `images` val images of `data` (all with None)."""
    from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
    from mobilevision.tasks.detect.coco_eval import coco_from_targets, coco_results, evaluate_coco
    from mobilevision.tasks.detect.postprocess import rescale_boxes
    from mobilevision.tasks.segment.metrics import SegmentationEvaluator

    loader = _loader(data, task=task, imgsz=imgsz, preprocessing=checkpoint["preprocessing"], images=images)
    class_names = checkpoint["class_names"]
    if task == "detect":
        targets, results = [], []
        for batch, batch_targets in loader:
            sizes = [target["orig_size"] for target in batch_targets]
            predictions = model(batch, orig_sizes=sizes)
            # Ground truth back in original pixels, as the predictions are.
            targets += [{**target, "boxes": rescale_boxes(target["boxes"], from_size=batch.shape[-2:],
                                                          to_size=target["orig_size"])} for target in batch_targets]
            results += coco_results(predictions, [target["image_id"] for target in batch_targets])
        ground_truth = coco_from_targets(targets, num_classes=len(class_names))
        return {"mAP": evaluate_coco(ground_truth, results)["mAP"]}
    evaluator = (ClassificationEvaluator if task == "classify" else SegmentationEvaluator)(class_names)
    if len(loader.dataset) == 0:
        raise MobileVisionError(f"--data {data}: no val images for {task}")
    for batch, batch_targets in loader:
        evaluator.update(model(batch), batch_targets)
    return {MAIN_METRIC[task]: evaluator.compute()[MAIN_METRIC[task]]}
