"""`mobilevision classify val`: top-1 / top-5 of a checkpoint (or published weights) on a split."""

from __future__ import annotations

from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import classification_collate
from mobilevision.datasets.transforms import classification_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.classify.loading import load_classifier
from mobilevision.engine.evaluation import evaluate_dataset


def validate_classifier(*, weights: str, data: str, model: str = "mobilenet_v2", width: float = 1.0,
                        imgsz: int | None = None, batch: int = 64, device: str = "auto", workers: int = 2,
                        split: str = "val", progress: bool = True) -> dict[str, float]:
    """{"top1", "top5", "images"} of the weights on `data`'s split; every torchrun rank takes a shard
    and the counts are summed, so the numbers equal a single process's."""
    network, info = load_classifier(weights=weights, model=model, width=width)
    preprocessing = info["preprocessing"]
    size = imgsz or preprocessing["input_size"]
    dataset = build_dataset(data, task="classify", split=split, transform=classification_transforms(
        False, size=size, mean=preprocessing["mean"], std=preprocessing["std"]))
    # Published weights name classes in words, ImageNet folders by synset: there only the count can
    # be checked (folders sort into torchvision's class order).
    names_differ = info["from_checkpoint"] and list(dataset.class_names) != list(info["class_names"])
    if names_differ or len(dataset.class_names) != len(info["class_names"]):
        raise MobileVisionError(f"--data {data}: its {len(dataset.class_names)} classes are not the "
                                f"{len(info['class_names'])} classes the weights were trained on")
    evaluator = ClassificationEvaluator(info["class_names"])
    metrics = evaluate_dataset(network, dataset, evaluator, collate_fn=classification_collate, batch=batch,
                               workers=workers, device=device, progress=progress)
    return {**metrics, "images": int(evaluator.confusion.sum())}
