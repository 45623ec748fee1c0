"""The image classifier: a backbone and a classifier head on its "classify" feature."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from mobilevision.backbones import FeatureSpec, backbone_class
from mobilevision.engine.config import options_of
from mobilevision.heads.classifier import ClassifierHead
from mobilevision.tasks.classify.options import ClassifierOptions
from mobilevision.tasks.model import TaskModel


class ImageClassifier(TaskModel):
    """Backbone + global pooling + linear classifier.

    Training mode: forward(images (N, 3, H, W), targets (N,) int64) -> {"classification": loss}.
    Eval mode: forward(images) -> logits (N, num_classes).

    With `backbone_features` (the declared features of a backbone the multi-task model owns and
    shares) it builds no backbone of its own (`backbone` is None) and is run by that model
    through head_outputs, losses and postprocess.
    """

    raw_output_names = ("logits",)

    def __init__(self, *, backbone: str = "mobilenet_v2", width: float = 1.0, num_classes: int = 1000,
                 classifier: ClassifierOptions | Mapping | None = None, dropout: float = 0.2, freeze_bn: bool = False,
                 backbone_options: Mapping | None = None,
                 backbone_features: Mapping[str, FeatureSpec] | None = None) -> None:
        super().__init__()
        self.options = options_of(ClassifierOptions, classifier)
        self.feature_name = backbone_class(backbone).roles["classifier"]
        info = self.attach_backbone(backbone, width=width, out_features=[self.feature_name], freeze_bn=freeze_bn,
                                    backbone_features=backbone_features, **dict(backbone_options or {}))
        self.head = ClassifierHead(info[self.feature_name].channels, num_classes, dropout=dropout,
                                   hidden_channels=backbone_class(backbone).classifier_hidden_channels(width))
        self.num_classes = num_classes

    def head_outputs(self, features: dict[str, torch.Tensor], *, image_size: tuple[int, int]) -> torch.Tensor:
        """The backbone's feature maps -> logits (N, num_classes)."""
        return self.head(features[self.feature_name])

    def losses(self, logits: torch.Tensor, targets: torch.Tensor, *, features: dict[str, torch.Tensor],
               image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """{"classification": cross-entropy of logits (N, num_classes) against labels (N,) int64}."""
        return {"classification": F.cross_entropy(logits, targets, label_smoothing=self.options.label_smoothing)}

    def postprocess(self, logits: torch.Tensor, *, image_size: tuple[int, int]) -> torch.Tensor:
        """Eval-mode predictions from raw outputs (any runtime's): the logits themselves."""
        return logits


def build_classifier(*, backbone: str = "mobilenet_v2", width: float = 1.0, num_classes: int = 1000,
                     classifier: ClassifierOptions | Mapping | None = None, dropout: float | None = None,
                     freeze_bn: bool = False, backbone_options: Mapping | None = None,
                     backbone_features: Mapping[str, FeatureSpec] | None = None) -> ImageClassifier:
    """The ImageNet network of the chosen backbone. Dropout defaults follow the reference models:
    0.2 for MobileNetV2 and V3 (torchvision), 0 for MobileNetV1 (timm). `classifier`: the head's options
    (a ClassifierOptions or its dict). `backbone_options`: the backbone's own keyword arguments
    (TF-slim's tf_conventions). `backbone_features`: the head only, on a backbone the multi-task
    model shares."""
    if dropout is None:
        dropout = 0.0 if backbone == "mobilenet_v1" else 0.2
    return ImageClassifier(backbone=backbone, width=width, num_classes=num_classes, classifier=classifier,
                           dropout=dropout, freeze_bn=freeze_bn, backbone_options=backbone_options,
                           backbone_features=backbone_features)
