"""`mobilevision classify train`: build the classifier and the class-folder data, then run the engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mobilevision.backbones.pretrained import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import classification_collate
from mobilevision.datasets.transforms import classification_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.config import ClassifyTrainConfig
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.classify.loading import classification_model, head_classes
from mobilevision.tasks.engine.checkpoint import read_checkpoint
from mobilevision.tasks.engine.distributed import broadcast_object, dist_info
from mobilevision.tasks.engine.loop import ModelSpec, fit, seed_everything
from mobilevision.tasks.engine.run_dir import new_run_dir, write_args
from mobilevision.tasks.registry import build_model
from mobilevision.tasks.weights import load_weights

# Options that may differ when a run is resumed (where it runs, not what it computes).
RESUME_OVERRIDES = ("device", "workers")


def resumed_config(resume: str, options: dict) -> tuple[ClassifyTrainConfig, dict]:
    """The interrupted run's own config (plus device / workers if given) and its checkpoint."""
    checkpoint = read_checkpoint(resume)
    if checkpoint["task"] != "classify":
        raise MobileVisionError(f"--resume {resume}: a {checkpoint['task']} run, not a classify run")
    if checkpoint["epoch"] >= checkpoint["args"]["epochs"] and checkpoint["sampler"]["position"] == 0:
        raise MobileVisionError(f"--resume {resume}: that run already finished all {checkpoint['args']['epochs']} epochs")
    names = {item.name for item in dataclasses.fields(ClassifyTrainConfig)}
    args = {key: value for key, value in checkpoint["args"].items() if key in names}
    args.update({key: options[key] for key in RESUME_OVERRIDES if key in options})
    args["resume"] = str(resume)
    return ClassifyTrainConfig(**args), checkpoint


def train_classifier(config: ClassifyTrainConfig, *, resume_from: dict | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics."""
    if not config.data:
        raise MobileVisionError("--data is required: a class-folder dataset (train/<class>/, val/<class>/), "
                                "a dataset YAML or a built-in dataset folder")
    classification_model(config.model)
    dist = dist_info()
    preprocessing = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_size": config.imgsz}
    transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
    train_set = build_dataset(config.data, task="classify", split="train",
                              transform=classification_transforms(True, **transform))
    val_set = build_dataset(config.data, task="classify", split="val",
                            transform=classification_transforms(False, **transform))
    if len(train_set) == 0 or len(val_set) == 0:
        raise MobileVisionError(f"--data {config.data}: no images in the train or val split")
    class_names = list(train_set.class_names)

    model_kwargs = {"width": config.width, "num_classes": len(class_names), "label_smoothing": config.label_smoothing,
                    "freeze_bn": config.freeze_backbone}
    seed_everything(config.seed)  # the same initial weights on every rank and every rerun
    model = build_model(config.model, **model_kwargs)
    if config.weights and resume_from is None:
        # Other classes than the weights were trained on: keep the new, randomly initialised head.
        load_weights(model, config.weights, include_head=head_classes(config.weights) == len(class_names))
    if config.freeze_backbone:
        model.backbone.requires_grad_(False)

    if resume_from is not None:
        run_dir = Path(config.resume).resolve().parent.parent
    else:
        run_dir = new_run_dir(config.project, "classify", config.name, exist_ok=config.exist_ok) if dist.is_main else None
        run_dir = broadcast_object(run_dir)
    if dist.is_main:
        write_args(run_dir, dataclasses.asdict(config))
        print(f"run folder: {run_dir}", flush=True)
    spec = ModelSpec(task="classify", model_name=config.model, model_kwargs=model_kwargs, class_names=class_names,
                     preprocessing=preprocessing)
    return fit(model=model, spec=spec, train_set=train_set, val_set=val_set, collate_fn=classification_collate,
               make_evaluator=lambda: ClassificationEvaluator(class_names), config=config, run_dir=run_dir,
               resume_from=resume_from)
