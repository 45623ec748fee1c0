"""The models the suite can build, by name: `mobilevision info` prints this table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.classify.model import build_classifier
from mobilevision.tasks.detect.model import build_ssdlite
from mobilevision.tasks.multitask.model import build_multitask
from mobilevision.tasks.segment.model import build_deeplabv3

V2_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
V1_WIDTHS = (0.25, 0.5, 0.75, 1.0, 1.25)


@dataclass(frozen=True)
class ModelEntry:
    """A named builder: `builder(width=..., num_classes=..., ...)` returns the task model."""

    name: str
    task: str
    builder: Callable[..., nn.Module]
    widths: tuple[float, ...]
    imgsz: int
    num_classes: int
    description: str


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            name="mobilenet_v2",
            task="classify",
            builder=partial(build_classifier, backbone="mobilenet_v2"),
            widths=V2_WIDTHS,
            imgsz=224,
            num_classes=1000,
            description="MobileNetV2 ImageNet classifier (paper Table 4)",
        ),
        ModelEntry(
            name="mobilenet_v1",
            task="classify",
            builder=partial(build_classifier, backbone="mobilenet_v1"),
            widths=V1_WIDTHS,
            imgsz=224,
            num_classes=1000,
            description="MobileNetV1 ImageNet classifier (V1 paper Table 1, ReLU6 as TF-slim and timm)",
        ),
        ModelEntry(
            name="ssdlite_mobilenet_v2",
            task="detect",
            builder=partial(build_ssdlite, backbone="mobilenet_v2", imgsz=300),
            widths=(0.5, 0.75, 1.0),
            imgsz=300,
            num_classes=91,
            description="SSDLite on MobileNetV2, TF ssdlite_mobilenet_v2_coco (V2 paper Table 6: 4.3M, 0.8B)",
        ),
        ModelEntry(
            name="ssdlite_mobilenet_v1",
            task="detect",
            builder=partial(build_ssdlite, backbone="mobilenet_v1", imgsz=300),
            widths=(0.5, 0.75, 1.0),
            imgsz=300,
            num_classes=91,
            description="SSDLite on MobileNetV1, same head (V2 paper Table 6: 5.1M, 1.3B)",
        ),
        ModelEntry(
            name="deeplabv3_mobilenet_v2",
            task="segment",
            builder=partial(build_deeplabv3, backbone="mobilenet_v2", head="mobile"),
            widths=(0.5, 1.0),
            imgsz=513,
            num_classes=21,
            description="Mobile DeepLabv3, MobileNetV2*, OS16, mobile head (V2 paper Table 7: 2.11M, 2.75B)",
        ),
        ModelEntry(
            name="deeplabv3_aspp_mobilenet_v2",
            task="segment",
            builder=partial(build_deeplabv3, backbone="mobilenet_v2", head="aspp"),
            widths=(1.0,),
            imgsz=513,
            num_classes=21,
            description="DeepLabv3, MobileNetV2*, OS16, full ASPP (V2 paper Table 7: 4.52M, 5.8B)",
        ),
        ModelEntry(
            name="deeplabv3_mobilenet_v1",
            task="segment",
            builder=partial(build_deeplabv3, backbone="mobilenet_v1", head="mobile"),
            widths=(0.5, 1.0),
            imgsz=513,
            num_classes=21,
            description="Mobile DeepLabv3, MobileNetV1, OS16, mobile head (V1 against V2 on the same head)",
        ),
        ModelEntry(
            name="deeplabv3_aspp_mobilenet_v1",
            task="segment",
            builder=partial(build_deeplabv3, backbone="mobilenet_v1", head="aspp"),
            widths=(1.0,),
            imgsz=513,
            num_classes=21,
            description="DeepLabv3, MobileNetV1, OS16, full ASPP (V2 paper Table 7: 11.15M, 14.25B)",
        ),
        *(
            ModelEntry(
                name=f"multitask_{backbone}",
                task="multitask",
                builder=partial(build_multitask, backbone=backbone),
                widths=(0.5, 0.75, 1.0),
                imgsz=320,
                num_classes=21,
                description=f"one {title} forward (OS32) for the classifier, SSDLite and Mobile DeepLabv3 heads",
            )
            for backbone, title in (("mobilenet_v2", "MobileNetV2"), ("mobilenet_v1", "MobileNetV1"))
        ),
    )
}


def model_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise MobileVisionError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; keyword arguments override the builder's defaults."""
    return model_entry(name).builder(**kwargs)
