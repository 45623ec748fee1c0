"""Accuracy of one runtime on a dataset's val split, through each task's own evaluator and the
engine's evaluation loop: top-1 (ClassificationEvaluator), COCO mAP (DetectionEvaluator), mIoU
(SegmentationEvaluator) and a multi-task model's score (MultiTaskEvaluator: the mean of those)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from mobilevision.errors import MobileVisionError

MAIN_METRIC = {"classify": "top1", "detect": "mAP", "segment": "miou", "multitask": "score"}


def dataset_class_names(data: str, *, task: str) -> list[str] | dict[str, list[str]]:
    """The class names of `data` as a checkpoint of `task` stores them (detection: no background;
    multitask: per task the dataset has labels for)."""
    from mobilevision.datasets.build import build_dataset

    names = build_dataset(data, task=task, split="val").class_names
    return {key: list(value) for key, value in names.items()} if task == "multitask" else list(names)


def _loader(data: str, *, task: str, imgsz: int, preprocessing: dict, images: int | None) -> DataLoader:
    from mobilevision import datasets

    # The multi-task model is validated on the detector's square resize, its targets for every task.
    transforms = {"classify": datasets.classification_transforms, "detect": datasets.detection_transforms,
                  "segment": datasets.segmentation_transforms, "multitask": datasets.detection_transforms}[task]
    collate = {"classify": datasets.classification_collate, "detect": datasets.detection_collate,
               "segment": datasets.segmentation_collate, "multitask": datasets.multitask_collate}[task]
    dataset = datasets.build_dataset(data, task=task, split="val", transform=transforms(
        False, size=imgsz, mean=preprocessing["mean"], std=preprocessing["std"]))
    if len(dataset) == 0:
        raise MobileVisionError(f"--data {data}: no val images for {task}")
    if images:
        dataset = Subset(dataset, range(min(images, len(dataset))))
    return DataLoader(dataset, batch_size=8, collate_fn=collate)


def evaluate_runtime(model: torch.nn.Module, *, task: str, data: str, imgsz: int, checkpoint: dict,
                     images: int | None) -> dict:
    """{main metric: value} of `model` (any runtime with the task models' eval interface) on the
    first `images` val images of `data` (all with None)."""
    from mobilevision.engine.evaluation import evaluate

    class_names = checkpoint["class_names"] if task == "multitask" else list(checkpoint["class_names"])
    found = dataset_class_names(data, task=task)
    if task == "multitask":  # the dataset may label more tasks than the model has
        found = {name: found.get(name) for name in class_names}
    if found != class_names:
        raise MobileVisionError(f"--data {data}: its classes are not the {len(class_names)} classes of "
                                f"{checkpoint['model_name']}")
    if task == "multitask":
        from mobilevision.tasks.multitask.evaluator import evaluator_factory

        evaluator = evaluator_factory(data, class_names, imgsz=imgsz)()
    elif task == "detect":
        from mobilevision.tasks.detect.train import evaluator_factory

        evaluator = evaluator_factory(data, class_names, imgsz=imgsz)()
    elif task == "classify":
        from mobilevision.tasks.classify.evaluator import ClassificationEvaluator

        evaluator = ClassificationEvaluator(class_names)
    else:
        from mobilevision.tasks.segment.metrics import SegmentationEvaluator

        evaluator = SegmentationEvaluator(class_names)
    loader = _loader(data, task=task, imgsz=imgsz, preprocessing=checkpoint["preprocessing"], images=images)
    metrics = evaluate(model, loader, evaluator, device=torch.device("cpu"), progress=False)
    return {MAIN_METRIC[task]: metrics[MAIN_METRIC[task]]}
