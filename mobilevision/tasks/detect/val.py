"""`mobilevision detect val`: COCO's 12 numbers (and VOC07 / VOC12 mAP on VOC data) of a detector
checkpoint on a dataset split; predictions.json (COCO results format) and PR_curve.png go to
runs/detect/val*."""

from __future__ import annotations

from pathlib import Path

import torch

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import detection_collate
from mobilevision.datasets.transforms import detection_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.detect.coco_eval import save_coco_results
from mobilevision.tasks.detect.train import evaluator_factory
from mobilevision.engine.checkpoint import load_checkpoint
from mobilevision.engine.distributed import broadcast_object, dist_info
from mobilevision.engine.evaluation import evaluate_dataset
from mobilevision.engine.run_dir import new_run_dir


def load_detector(weights: str) -> tuple[torch.nn.Module, dict]:
    """(SSDLite in eval mode, its checkpoint) from a `detect train` checkpoint."""
    network, checkpoint = load_checkpoint(weights)
    if checkpoint["task"] != "detect":
        raise MobileVisionError(f"--weights {weights}: a {checkpoint['task']} checkpoint; detect needs a detector "
                                "trained with `mobilevision detect train`")
    return network, checkpoint


def validate_detector(*, weights: str, data: str, imgsz: int | None = None, batch: int = 16, device: str = "auto",
                      workers: int = 2, split: str = "val", project: str = "runs", name: str = "val",
                      progress: bool = True) -> tuple[dict[str, float], Path | None]:
    """(metrics, run folder) of the checkpoint on `data`'s split. metrics: the 12 COCO numbers
    (mAP, mAP50, ..., AR100_large), voc07_mAP and voc12_mAP on VOC data, "images", and
    "per_class_AP": {class: {"AP", "AP50", "instances"}} (COCO's, by class). Every
    torchrun rank evaluates a shard; the predictions are gathered, so the numbers equal a single
    process's. The run folder (rank 0 only; None elsewhere) holds predictions.json and PR_curve.png."""
    network, checkpoint = load_detector(weights)
    preprocessing = checkpoint["preprocessing"]
    size = imgsz or preprocessing["input_size"]
    dataset = build_dataset(data, task="detect", split=split, transform=detection_transforms(
        False, size=size, mean=preprocessing["mean"], std=preprocessing["std"]))
    if list(dataset.class_names) != list(checkpoint["class_names"]):
        raise MobileVisionError(f"--data {data}: its classes {list(dataset.class_names)[:5]} are not the "
                                f"{len(checkpoint['class_names'])} classes the weights were trained on "
                                f"({checkpoint['class_names'][:5]}); evaluate on the dataset it was trained for")
    if len(dataset) == 0:
        raise MobileVisionError(f"--data {data}: no images in the {split} split")
    evaluator = evaluator_factory(data, list(checkpoint["class_names"]), imgsz=size, split=split)()
    metrics = evaluate_dataset(network, dataset, evaluator, collate_fn=detection_collate, batch=batch, workers=workers,
                               device=device, progress=progress)
    metrics["images"] = len(evaluator.targets)
    metrics["per_class_AP"] = evaluator.per_class()
    dist = dist_info()
    run_dir = new_run_dir(project, "detect", name, exist_ok=False) if dist.is_main else None
    run_dir = broadcast_object(run_dir)
    if dist.is_main:
        save_coco_results(evaluator.results, run_dir / "predictions.json")
        evaluator.plot(run_dir)
    return metrics, run_dir if dist.is_main else None
