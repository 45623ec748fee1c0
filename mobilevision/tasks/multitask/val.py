"""`mobilevision multitask val`: every task's metrics of a multi-task checkpoint on a split, from one
backbone pass per image: top-1 / top-5, COCO's 12 numbers, mIoU and pixel accuracy. predictions.json
(COCO results format) and the tasks' plots go to runs/multitask/val*."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import multitask_collate
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.detect.coco_eval import save_coco_results
from mobilevision.engine.checkpoint import load_checkpoint
from mobilevision.engine.distributed import broadcast_object, dist_info
from mobilevision.engine.evaluation import evaluate_dataset
from mobilevision.engine.run_dir import new_run_dir
from mobilevision.tasks.multitask.evaluator import evaluator_factory


def load_multitask(weights: str) -> tuple[torch.nn.Module, dict]:
    """(multi-task model in eval mode, its checkpoint) from `multitask train` or `multitask assemble`."""
    network, checkpoint = load_checkpoint(weights)
    if checkpoint["task"] != "multitask":
        raise MobileVisionError(f"--weights {weights}: a {checkpoint['task']} checkpoint; multitask needs one written "
                                f"by `multitask train` or `multitask assemble` (or use `{checkpoint['task']}` commands)")
    return network, checkpoint


def validate_multitask(*, weights: str, data: str, imgsz: int | None = None, batch: int = 16, device: str = "auto",
                       workers: int = 2, split: str = "val", project: str = "runs", name: str = "val",
                       progress: bool = True) -> tuple[dict, Path | None]:
    """(metrics, run folder) of the checkpoint on `data`'s split: "<task>/<metric>" for its tasks,
    "score" (the mean of their main metrics) and "images"; NaN (nothing to measure) becomes None.
    Images are resized to (imgsz, imgsz) as in training. Every torchrun rank evaluates a shard; the
    run folder exists on rank 0 only (None elsewhere)."""
    network, checkpoint = load_multitask(weights)
    preprocessing, class_names = checkpoint["preprocessing"], checkpoint["class_names"]
    size = imgsz or preprocessing["input_size"]
    dataset = build_dataset(data, task="multitask", split=split, transform=detection_transforms(
        False, size=size, mean=preprocessing["mean"], std=preprocessing["std"]))
    for task, names in class_names.items():
        if list(dataset.class_names.get(task, [])) != list(names):
            raise MobileVisionError(f"--data {data}: its {task} classes {list(dataset.class_names.get(task, []))[:5]} "
                                    f"are not the {len(names)} the weights were trained on ({names[:5]}); evaluate "
                                    "on the dataset they were trained for")
    if len(dataset) == 0:
        raise MobileVisionError(f"--data {data}: no images in the {split} split")
    evaluator = evaluator_factory(data, class_names, imgsz=size, split=split)()
    metrics = evaluate_dataset(network, dataset, evaluator, collate_fn=multitask_collate, batch=batch, workers=workers,
                               device=device, progress=progress)
    dist = dist_info()
    metrics = {key: None if math.isnan(value) else value for key, value in metrics.items()}
    run_dir = broadcast_object(new_run_dir(project, "multitask", name, exist_ok=False) if dist.is_main else None)
    if dist.is_main:
        evaluator.plot(run_dir)
        if "detect" in evaluator.evaluators:
            save_coco_results(evaluator.evaluators["detect"].results, run_dir / "predictions.json")
    return {**metrics, "images": len(dataset)}, run_dir if dist.is_main else None
