"""Detection training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mobilevision.engine.config import Recipe, TrainConfig, option, recipes
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.detect.auto_recipe import auto_config
from mobilevision.tasks.detect.options import BoxAugmentation, SSDLiteOptions


@dataclass(frozen=True)
class DetectTrainConfig(BoxAugmentation, SSDLiteOptions, TrainConfig):
    model: str = option("ssdlite_mobilenet_v2", "detector from `mobilevision info` (ssdlite_mobilenet_v2 or _v1)")
    imgsz: int = option(320, "training and validation input size in pixels (square)")
    batch: int = option(16, "images per step and per process (torchrun: each process takes this many)")
    aux_segment: float = option(0.0, "weight of an auxiliary segmentation loss during training (0: none): DeepLab's "
                                "mobile head on the stride-32 features learns the class maps of COCO-form data "
                                "(the built-in dataset's too); training only, the detector is unchanged")

    def __post_init__(self) -> None:
        SSDLiteOptions.__post_init__(self)
        if not self.aux_segment >= 0:
            raise MobileVisionError(f"--aux-segment must not be negative, got {self.aux_segment}")


QUICK = Recipe("quick", "this project: 15 minutes on a 2-core CPU on the built-in dataset, from scratch "
               "(docs/experiments.md)",
               DetectTrainConfig(model="ssdlite_mobilenet_v2", width=0.5, imgsz=384, epochs=10, batch=8, lr=0.0035,
                                 optimizer="adamw", schedule="cosine", warmup_epochs=0.5, weight_decay=1e-4,
                                 clip_grad=10.0, augment="flip", anchor_layout="torchvision", anchor_min_scale=0.15,
                                 anchor_max_scale=0.5, match_iou=0.4, val_period=5, amp="off", ema=True,
                                 ema_decay=0.995, ema_ramp=200.0, nms_iou=0.5, workers=0))

RECIPES = recipes(
    Recipe("coco", "torchvision references/detection, ssdlite320_mobilenet_v3_large (21.3 mAP): 8 GPUs x batch 24, "
           "SGD 0.15 + cosine, 660 epochs from scratch; here on SSDLite-MobileNetV2 with TF's anchors",
           DetectTrainConfig(model="ssdlite_mobilenet_v2", width=1.0, imgsz=320, epochs=660, batch=24, lr=0.15,
                             optimizer="sgd", momentum=0.9, schedule="cosine", warmup_epochs=1.0, weight_decay=4e-5,
                             workers=8)),
    Recipe("coco-tf", "TF object detection ssdlite_mobilenet_v2_coco.config (22 mAP): 300 px, batch 24, RMSProp "
           "0.004 x 0.95 per 800k steps, 200k steps, ImageNet backbone",
           DetectTrainConfig(model="ssdlite_mobilenet_v2", width=1.0, imgsz=300, epochs=40, batch=24, lr=0.004,
                             optimizer="rmsprop", momentum=0.9, schedule="step", step_epochs=163.0, step_gamma=0.95,
                             weight_decay=4e-5, workers=8, weights_backbone="torchvision:IMAGENET1K_V2")),
    QUICK,
    # The quick recipe's values, given quick's 15 minutes, anchors fitted; the rest chosen from the data.
    Recipe("auto", "the quick recipe's, with input size, match IoU, batch and learning rate chosen from the training "
           "boxes and --time (default 15), anchors fitted (docs/training.md)",
           dataclasses.replace(QUICK.config, time=15.0, anchors="auto"), choose=auto_config),
)
