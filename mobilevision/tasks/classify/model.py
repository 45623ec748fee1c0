"""The image classifier: a backbone and a classifier head on its "classify" feature."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobilevision.backbones import backbone_class, build_backbone
from mobilevision.heads.classifier import ClassifierHead


class ImageClassifier(nn.Module):
    """Backbone + global pooling + linear classifier.

    Training mode: forward(images (N, 3, H, W), targets (N,) int64) -> {"classification": loss}.
    Eval mode: forward(images) -> logits (N, num_classes).
    """

    def __init__(
        self,
        *,
        backbone: str = "mobilenet_v2",
        width: float = 1.0,
        num_classes: int = 1000,
        dropout: float = 0.2,
        label_smoothing: float = 0.0,
        freeze_bn: bool = False,
    ) -> None:
        super().__init__()
        self.feature_name = backbone_class(backbone).roles["classify"]
        self.backbone = build_backbone(backbone, width=width, out_features=[self.feature_name], freeze_bn=freeze_bn)
        in_channels = self.backbone.feature_info()[self.feature_name].channels
        self.head = ClassifierHead(in_channels, num_classes, dropout=dropout)
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def raw_outputs(self, images: torch.Tensor) -> torch.Tensor:
        """The exported and counted part of the model: (N, 3, H, W) -> logits (N, num_classes)."""
        return self.head(self.backbone(images)[self.feature_name])

    def postprocess(self, logits: torch.Tensor, *, image_size: tuple[int, int]) -> torch.Tensor:
        """Eval-mode predictions from raw outputs (any runtime's): the logits themselves."""
        return logits

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.raw_outputs(images)
        if not self.training:
            return self.postprocess(logits, image_size=tuple(images.shape[-2:]))
        if targets is None:
            raise ValueError("ImageClassifier in training mode needs targets; call model.eval() to predict")
        return {"classification": F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)}


def build_classifier(
    *,
    backbone: str = "mobilenet_v2",
    width: float = 1.0,
    num_classes: int = 1000,
    dropout: float | None = None,
    label_smoothing: float = 0.0,
    freeze_bn: bool = False,
) -> ImageClassifier:
    """The ImageNet network of the chosen backbone. Dropout defaults follow the reference models:
    0.2 for MobileNetV2 (torchvision), 0 for MobileNetV1 (timm)."""
    if dropout is None:
        dropout = 0.2 if backbone == "mobilenet_v2" else 0.0
    return ImageClassifier(
        backbone=backbone,
        width=width,
        num_classes=num_classes,
        dropout=dropout,
        label_smoothing=label_smoothing,
        freeze_bn=freeze_bn,
    )
