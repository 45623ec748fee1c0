"""MobileNetV2, MobileNetV1 and MobileNetV3 feature extractors, their blocks, and pretrained-weight import."""

from __future__ import annotations

from mobilevision.backbones.base import Backbone, FeatureSpec
from mobilevision.backbones.mobilenet_v1 import MobileNetV1
from mobilevision.backbones.mobilenet_v2 import MobileNetV2
from mobilevision.backbones.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from mobilevision.errors import MobileVisionError

BACKBONES: dict[str, type[Backbone]] = {"mobilenet_v2": MobileNetV2, "mobilenet_v1": MobileNetV1,
                                         "mobilenet_v3_large": MobileNetV3Large, "mobilenet_v3_small": MobileNetV3Small}


def backbone_class(name: str) -> type[Backbone]:
    """The class registered under `name`; its `roles` say which feature each task reads."""
    if name not in BACKBONES:
        raise MobileVisionError(f"unknown backbone {name!r}; known backbones: {', '.join(BACKBONES)}")
    return BACKBONES[name]


def build_backbone(name: str, **kwargs) -> Backbone:
    """Build a backbone by name; keyword arguments go to its constructor (width, output_stride, ...)."""
    return backbone_class(name)(**kwargs)


__all__ = ["BACKBONES", "Backbone", "FeatureSpec", "MobileNetV1", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
           "backbone_class", "build_backbone"]
