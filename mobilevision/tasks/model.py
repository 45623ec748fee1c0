"""What the single-task models share: a backbone of their own, or the declared features of one the
multi-task model owns, and one forward:

    features = backbone(images); raw = head_outputs(features)
    eval:     postprocess(raw)                 predictions (logits, detections, class maps)
    training: losses(raw, targets, features)   {name: loss}, which the training loop sums

raw_outputs(images) is the part that is exported and counted; a subclass defines head_outputs,
losses and postprocess, and names its raw outputs in `raw_output_names`.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mobilevision.backbones import FeatureSpec, build_backbone
from mobilevision.errors import MobileVisionError


class TrainingNeedsTargets(MobileVisionError, ValueError):
    """A task model in training mode called without targets (ValueError, as torchvision raises it)."""


class TaskModel(nn.Module, metaclass=ABCMeta):
    raw_output_names: tuple[str, ...] = ()  # raw_outputs' tensors, as the ONNX export names them

    def attach_backbone(self, backbone: str, *, width: float, out_features: Sequence[str], freeze_bn: bool,
                        backbone_features: Mapping[str, FeatureSpec] | None, **options) -> Mapping[str, FeatureSpec]:
        """Build the backbone (`options`: its own, e.g. output_stride) unless `backbone_features`
        (a shared backbone's) are given, then `self.backbone` is None; its declared features."""
        self.backbone = None
        if backbone_features is None:
            self.backbone = build_backbone(backbone, width=width, out_features=list(out_features), freeze_bn=freeze_bn,
                                           **options)
            backbone_features = self.backbone.feature_info()
        return backbone_features

    @abstractmethod
    def head_outputs(self, features: dict[str, torch.Tensor], *, image_size: tuple[int, int]):
        """The backbone's named feature maps -> the head's raw tensors (raw_output_names)."""

    @abstractmethod
    def losses(self, raw, targets, *, features: dict[str, torch.Tensor], image_size: tuple[int, int]) -> dict:
        """{name: loss} of the raw outputs against the task's targets."""

    @abstractmethod
    def postprocess(self, raw, *, image_size: tuple[int, int], **options):
        """Eval-mode predictions from raw outputs, any runtime's."""

    def raw_outputs(self, images: torch.Tensor):
        """The exported and counted part: (N, 3, H, W) -> the head's raw tensors (raw_output_names)."""
        return self.head_outputs(self.backbone(images), image_size=tuple(images.shape[-2:]))

    def forward(self, images: torch.Tensor, targets=None, **options):
        """Eval: predictions (`options` go to postprocess, e.g. a detector's orig_sizes); training:
        the named losses against `targets`."""
        if self.training and targets is None:
            raise TrainingNeedsTargets(f"{type(self).__name__} in training mode needs targets; call model.eval() "
                                       "to predict")
        image_size = tuple(images.shape[-2:])
        features = self.backbone(images)
        raw = self.head_outputs(features, image_size=image_size)
        if not self.training:
            return self.postprocess(raw, image_size=image_size, **options)
        return self.losses(raw, targets, features=features, image_size=image_size)
