"""Segmentation training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mobilevision.datasets.transforms import RESIZE_SIDES
from mobilevision.engine.config import Recipe, TrainConfig, option, recipes
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.segment.auto_recipe import auto_config
from mobilevision.tasks.segment.options import DeepLabOptions


@dataclass(frozen=True)
class SegmentTrainConfig(DeepLabOptions, TrainConfig):
    # DeepLab's defaults: the Table 7 network, 513 px crops, poly schedule (TrainConfig's are classify's).
    model: str = option("deeplabv3_mobilenet_v2", "segmentation model name from `mobilevision info`")
    imgsz: int = option(513, "base size: training images' shorter side before scale jitter, and the validation input "
                        "size (longer side, padded)")
    crop: int | None = option(None, "training crop size in pixels (default: imgsz). Smaller than imgsz trains on "
                              "parts of images at full resolution for less compute per step")
    resize: str = option("shorter", "the side of a training image scaled to --imgsz before jitter and crop: shorter "
                         "(DeepLab's and torchvision's training) or longer (validation's: objects in non-square images "
                         "keep the size they are validated at)", RESIZE_SIDES)
    object_crops: float = option(0.0, "share of the training crops placed on an object (a random labelled pixel "
                                 "in the crop, as albumentations' CropNonEmptyMaskIfExists); 0: every crop at random. "
                                 "Small, sparse objects are otherwise missing from most crops")
    scale_min: float = option(0.5, "training scale jitter: smallest factor on the base size (DeepLab: 0.5)")
    scale_max: float = option(2.0, "training scale jitter: largest factor on the base size (DeepLab: 2.0)")
    lr: float = option(0.007, "peak learning rate (DeepLabv3: 0.007 at batch 16)")
    schedule: str = option("poly", "learning-rate schedule after warm-up, stepped every step (DeepLab: poly, "
                           "power 0.9)", ("cosine", "poly", "step"))
    batch: int = option(16, "images per step and per process (torchrun: each process takes this many)")
    output_stride: int = option(16, "backbone output stride (8 = two dilated stages, ~4x the head's cost; 32 = none, "
                                "as the multi-task model's backbone)", (8, 16, 32))

    def __post_init__(self) -> None:
        DeepLabOptions.__post_init__(self)
        # Checked here, as one-line user errors, not by albumentations mid-run.
        if self.crop is not None and self.crop <= 0:
            raise MobileVisionError(f"--crop must be positive, got {self.crop}")
        if not 0 <= self.object_crops <= 1:
            raise MobileVisionError(f"--object-crops {self.object_crops} must be a share from 0 to 1, e.g. 0.5")
        if not 0 < self.scale_min <= self.scale_max:
            raise MobileVisionError(f"--scale-min {self.scale_min} / --scale-max {self.scale_max}: need "
                                    "0 < scale-min <= scale-max, e.g. 0.5 and 2.0 (1 and 1: no jitter)")


QUICK = Recipe("quick", "this project: 15 minutes on a 2-core CPU on the built-in dataset, from scratch "
               "(docs/experiments.md)",
               SegmentTrainConfig(model="deeplabv3_mobilenet_v2", width=0.5, imgsz=256, scale_min=1.0, scale_max=1.0,
                                  epochs=20, batch=16, lr=0.005, optimizer="adamw", schedule="cosine", warmup_epochs=0.5,
                                  weight_decay=1e-4, clip_grad=10.0, output_stride=16, head="mobile", decoder=True,
                                  decoder_stride=8, loss_stride=4, top_k_pixels=0.5, workers=2))

RECIPES = recipes(
    Recipe("voc", "DeepLabv3 paper section 4 as the MobileNetV2 paper (section 6.4) trains Mobile DeepLabv3: OS16, "
           "poly lr 0.007, 513 px crops, 0.5-2x jitter, batch 16, 30k steps (75.32 mIoU with COCO pre-training)",
           SegmentTrainConfig(model="deeplabv3_mobilenet_v2", width=1.0, imgsz=513, epochs=46, batch=16, lr=0.007,
                              optimizer="sgd", momentum=0.9, schedule="poly", weight_decay=4e-5, output_stride=16,
                              head="mobile", weights_backbone="torchvision:IMAGENET1K_V2", workers=8)),
    QUICK,
    # The quick recipe's values, given quick's 15 minutes; the rest chosen from the data.
    Recipe("auto", "the quick recipe's, with input size, crop, the loss's hard-pixel share, batch and learning rate "
           "chosen from the training masks and boxes and --time (default 15) (docs/training.md)",
           dataclasses.replace(QUICK.config, time=15.0), choose=auto_config),
)
