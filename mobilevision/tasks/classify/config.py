"""Classification training options and the named recipes (`--recipe`) that set their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from mobilevision.engine.config import Recipe, TrainConfig, option, recipes
from mobilevision.tasks.classify.options import ClassifierOptions


@dataclass(frozen=True)
class ClassifyTrainConfig(ClassifierOptions, TrainConfig):
    min_crop_area: float = option(0.08, "smallest image-area fraction of the training random resized crop "
                                  "(ImageNet references: 0.08)")


RECIPES = recipes(
    Recipe("imagenet", "torchvision references/classification, mobilenet_v2 IMAGENET1K_V1 (71.878 top-1): 8 GPUs x "
           "batch 32, SGD 0.045, decay 0.98 per epoch, 300 epochs",
           ClassifyTrainConfig(model="mobilenet_v2", width=1.0, imgsz=224, epochs=300, batch=32, lr=0.045,
                               optimizer="sgd", momentum=0.9, schedule="step", step_epochs=1.0, step_gamma=0.98,
                               weight_decay=4e-5, workers=16)),
    Recipe("imagenet-paper", "MobileNetV2 paper section 6.1: RMSProp (decay and momentum 0.9), lr 0.045 decayed 0.98 "
           "per epoch, weight decay 4e-5, batch 96 on each of 16 workers",
           ClassifyTrainConfig(model="mobilenet_v2", width=1.0, imgsz=224, epochs=300, batch=96, lr=0.045,
                               optimizer="rmsprop", momentum=0.9, schedule="step", step_epochs=1.0, step_gamma=0.98,
                               weight_decay=4e-5, workers=16)),
    Recipe("quick", "this project: 10 minutes on a 2-core CPU on the built-in dataset, from scratch "
           "(docs/experiments.md)",
           ClassifyTrainConfig(model="mobilenet_v2", width=0.5, imgsz=96, epochs=24, batch=32, lr=0.003,
                               optimizer="adamw", schedule="cosine", warmup_epochs=1.0, weight_decay=0.01,
                               label_smoothing=0.0, min_crop_area=0.8, workers=2)),
)
