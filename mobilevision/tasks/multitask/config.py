"""Multi-task training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mobilevision.engine.config import Recipe, TrainConfig, option, recipes
from mobilevision.tasks.classify.options import ClassifierOptions
from mobilevision.tasks.detect.options import BoxAugmentation, SSDLiteOptions
from mobilevision.tasks.multitask.auto_recipe import auto_config
from mobilevision.tasks.segment.options import DeepLabOptions


@dataclass(frozen=True)
class MultitaskTrainConfig(BoxAugmentation, DeepLabOptions, SSDLiteOptions, ClassifierOptions, TrainConfig):
    model: str = option("multitask_mobilenet_v2", "multi-task model from `mobilevision info` (multitask_mobilenet_v2 "
                        "or _v1)")
    tasks: str = option("classify,detect,segment", "heads to train, comma-separated: classify, detect, segment "
                        "(COCO has no image labels: detect,segment)")
    imgsz: int = option(320, "training and validation input size in pixels (square)")
    batch: int = option(16, "images per step and per process (torchrun: each process takes this many)")
    classify_loss_weight: float = option(1.0, "weight of the classification loss in the summed loss")
    detect_loss_weight: float = option(1.0, "weight of the detection losses (box regression and classification)")
    segment_loss_weight: float = option(1.0, "weight of the segmentation loss (and its auxiliary loss)")
    classify_from_segment: bool = option(False, "the classifier also reads the segmentation head's per-class areas "
                                         "(a linear layer on their logs, added to its logits): for image labels "
                                         "that name the largest object, as the built-in dataset's do")

    def __post_init__(self) -> None:
        ClassifierOptions.__post_init__(self)
        SSDLiteOptions.__post_init__(self)
        DeepLabOptions.__post_init__(self)


QUICK = Recipe("quick", "this project: the three heads on one backbone, 11.5 minutes on a 2-core CPU on the built-in "
           "dataset, from scratch; the quickstart's recipe (docs/experiments.md)",
           MultitaskTrainConfig(model="multitask_mobilenet_v2", width=0.5, imgsz=256, epochs=10, batch=8, lr=0.0035,
                                optimizer="adamw", schedule="cosine", warmup_epochs=0.1, weight_decay=1e-4,
                                clip_grad=10.0, augment="flip", anchor_layout="torchvision", anchor_min_scale=0.15,
                                anchor_max_scale=0.5, match_iou=0.4, decoder=True, decoder_stride=8, loss_stride=4,
                                classify_loss_weight=2.0, segment_loss_weight=4.0, nms_iou=0.5, val_period=5,
                                workers=0, classify_from_segment=True))
RECIPES = recipes(
    QUICK,
    Recipe("auto", "the quick recipe's, with input size, match IoU, batch, learning rate and the segmentation loss's "
           "hard-pixel share chosen from the training boxes and masks and --time (default 15), anchors fitted "
           "(docs/training.md)",
           dataclasses.replace(QUICK.config, time=15.0, anchors="auto"), choose=auto_config),
)
