"""`mobilevision segment train`: build Mobile DeepLabv3 and the VOC / COCO / built-in masks, then run the engine."""

from __future__ import annotations

from functools import partial

from torch import nn

from mobilevision.backbones.pretrained import IMAGENET_MEAN, IMAGENET_STD
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.collate import segmentation_collate
from mobilevision.datasets.transforms import segmentation_transforms
from mobilevision.errors import MobileVisionError
from mobilevision.engine.loop import seed_everything
from mobilevision.engine.run_setup import fit_in_run_dir, require_data, require_samples
from mobilevision.engine.run_setup import resumed_config as engine_resumed_config
from mobilevision.tasks.registry import build_model, model_entry
from mobilevision.tasks.segment.config import SegmentTrainConfig
from mobilevision.tasks.segment.loading import load_initial_weights
from mobilevision.tasks.segment.metrics import SegmentationEvaluator

resumed_config = partial(engine_resumed_config, task="segment", config_class=SegmentTrainConfig)


def segmentation_model(name: str) -> None:
    if model_entry(name).task != "segment":
        raise MobileVisionError(f"--model {name} is a {model_entry(name).task} model; segment needs one of the "
                                "deeplabv3_* models (`mobilevision info`)")


def build_segmenter(config: SegmentTrainConfig, *, num_classes: int) -> tuple[nn.Module, dict]:
    """(model, its builder keyword arguments, as the checkpoint records them)."""
    segmentation_model(config.model)
    model_kwargs = {"width": config.width, "num_classes": num_classes, "head": config.head,
                    "output_stride": config.output_stride, "decoder": config.decoder,
                    "decoder_stride": config.decoder_stride, "aux": config.aux,
                    "freeze_bn": config.freeze_backbone, "top_k_pixels": config.top_k_pixels,
                    "loss_stride": config.loss_stride}
    seed_everything(config.seed)  # the same initial weights on every rank and every rerun
    return build_model(config.model, **model_kwargs), model_kwargs


def train_segmenter(config: SegmentTrainConfig, *, resume_from: dict | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics {"miou", "pixel_accuracy"}.

    Validation runs on whole images scaled (longer side) to imgsz and padded with ignore, so the
    metrics are those of the padded-input size; `segment val` can evaluate at other sizes.
    """
    require_data(config, expected="a VOC tree (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/), a COCO "
                 "tree, a dataset YAML or a built-in dataset folder (`mobilevision data synth`)")
    preprocessing = {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input_size": config.imgsz}
    transform = {"size": config.imgsz, "mean": preprocessing["mean"], "std": preprocessing["std"]}
    train_set = build_dataset(config.data, task="segment", split="train", transform=segmentation_transforms(
        True, crop=config.crop, scale_range=(config.scale_min, config.scale_max), **transform))
    val_set = build_dataset(config.data, task="segment", split="val",
                            transform=segmentation_transforms(False, **transform))
    require_samples(config, train_set=train_set, val_set=val_set)
    class_names = list(train_set.class_names)

    model, model_kwargs = build_segmenter(config, num_classes=len(class_names))
    if resume_from is None:
        load_initial_weights(model, weights=config.weights, weights_backbone=config.weights_backbone,
                             class_names=class_names)
    return fit_in_run_dir(model, task="segment", config=config, model_kwargs=model_kwargs, class_names=class_names,
                          preprocessing=preprocessing, train_set=train_set, val_set=val_set,
                          collate_fn=segmentation_collate, make_evaluator=lambda: SegmentationEvaluator(class_names),
                          resume_from=resume_from, freeze_backbone=config.freeze_backbone)
