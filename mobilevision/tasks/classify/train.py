"""`mobilevision classify train`: build the classifier and the class-folder data, then run the engine."""

from __future__ import annotations

from mobilevision.backbones.pretrained import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import classification_collate
from mobilevision.datasets.transforms import classification_transforms
from mobilevision.tasks.classify.config import ClassifyTrainConfig
from mobilevision.tasks.classify.evaluator import ClassificationEvaluator
from mobilevision.tasks.classify.loading import classification_model, head_classes
from mobilevision.engine.loop import seed_everything
from mobilevision.engine.run_setup import fit_in_run_dir, require_data, require_samples
from mobilevision.tasks.registry import build_model
from mobilevision.engine.weights import load_weights


def train_classifier(config: ClassifyTrainConfig, *, resume_from: dict | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics."""
    require_data(config, expected="a class-folder dataset (train/<class>/, val/<class>/), a dataset YAML or a "
                 "built-in dataset folder")
    classification_model(config.model)
    preprocessing = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_size": config.imgsz}
    transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
    train_set = build_dataset(config.data, task="classify", split="train",
                              transform=classification_transforms(True, min_crop_area=config.min_crop_area,
                                                                  **transform))
    val_set = build_dataset(config.data, task="classify", split="val",
                            transform=classification_transforms(False, **transform))
    require_samples(config, train_set=train_set, val_set=val_set)
    class_names = list(train_set.class_names)

    model_kwargs = {"width": config.width, "num_classes": len(class_names), "label_smoothing": config.label_smoothing,
                    "freeze_bn": config.freeze_backbone}
    seed_everything(config.seed)  # the same initial weights on every rank and every rerun
    model = build_model(config.model, **model_kwargs)
    if config.weights and resume_from is None:
        # Other classes than the weights were trained on: keep the new, randomly initialised head.
        load_weights(model, config.weights, include_head=head_classes(config.weights) == len(class_names))
    return fit_in_run_dir(model, task="classify", config=config, model_kwargs=model_kwargs, class_names=class_names,
                          preprocessing=preprocessing, train_set=train_set, val_set=val_set,
                          collate_fn=classification_collate, make_evaluator=lambda: ClassificationEvaluator(class_names),
                          resume_from=resume_from, freeze_backbone=config.freeze_backbone)
