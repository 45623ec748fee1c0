"""Accuracy of one runtime on a dataset's val split, through the task's own evaluator and the
engine's evaluation loop: top-1, COCO mAP, mIoU, or a multi-task model's score (the task's main metric)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import get_task


def dataset_class_names(data: str, *, task: str) -> list[str] | dict[str, list[str]]:
    """The class names of `data` as a checkpoint of `task` stores them (detection: no background;
    multitask: per task the dataset has labels for)."""
    names = get_task(task).dataset(data, split="val").class_names
    return {key: list(value) for key, value in names.items()} if isinstance(names, dict) else list(names)


def evaluate_runtime(model: torch.nn.Module, *, task: str, data: str, imgsz: int, checkpoint: dict,
                     images: int | None) -> dict:
    """{main metric: value} of `model` (any runtime with the task models' eval interface) on the
    first `images` val images of `data` (all with None)."""
    from mobilevision.engine.evaluation import evaluate

    spec = get_task(task)
    class_names = checkpoint["class_names"]
    found = dataset_class_names(data, task=task)
    if isinstance(found, dict):  # the dataset may label more tasks than the model has
        found = {name: found.get(name) for name in class_names}
    if found != class_names:
        raise MobileVisionError(f"--data {data}: its classes are not the {len(class_names)} classes of "
                                f"{checkpoint['model_name']}")
    dataset = spec.dataset(data, split="val", transform=spec.eval_transform(size=imgsz,
                                                                           preprocessing=checkpoint["preprocessing"]))
    if len(dataset) == 0:
        raise MobileVisionError(f"--data {data}: no val images for {task}")
    if images:
        dataset = Subset(dataset, range(min(images, len(dataset))))
    loader = DataLoader(dataset, batch_size=8, collate_fn=spec.collate)
    evaluator = spec.make_evaluator(data, class_names, imgsz=imgsz)()
    metrics = evaluate(model, loader, evaluator, device=torch.device("cpu"), progress=False)
    return {spec.main_metric: metrics[spec.main_metric]}
