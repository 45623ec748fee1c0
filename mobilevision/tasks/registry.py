"""The two registries: the models the suite can build, by name (`mobilevision info` prints them),
and the four tasks, one `Task` object each. Everything that looks a task or a model up by name
comes here; nothing else keeps a dict keyed by task name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import torch
from torch import nn

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.base import SingleTask, Task
from mobilevision.tasks.checkpoint_file import build_recorded, check_fit, read_checkpoint, written_by
from mobilevision.tasks.classify.model import build_classifier
from mobilevision.tasks.detect.model import build_ssdlite
from mobilevision.tasks.multitask.model import build_multitask
from mobilevision.tasks.segment.model import build_deeplabv3

V2_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
V1_WIDTHS = (0.25, 0.5, 0.75, 1.0, 1.25)


@dataclass(frozen=True)
class ModelEntry:
    """A named builder: `build(width=..., num_classes=..., ...)` returns the task model."""

    name: str
    task: str
    builder: Callable[..., nn.Module]
    widths: tuple[float, ...]
    imgsz: int
    num_classes: int
    description: str
    defaults: dict = field(default_factory=dict)  # the builder's keyword arguments that make this model

    def build(self, **kwargs) -> nn.Module:
        """The model with `kwargs` over `defaults` (see with_defaults)."""
        return self.builder(**self.with_defaults(**kwargs))

    def with_defaults(self, **kwargs) -> dict:
        """`kwargs` over `defaults`: the builder's arguments that make this model; a head's options
        dict is merged key by key, so ssdlite={"nms_iou": 0.5} keeps the entry's other SSDLite options."""
        merged = dict(self.defaults)
        for key, value in kwargs.items():
            both_dicts = isinstance(value, Mapping) and isinstance(merged.get(key), Mapping)
            merged[key] = {**merged[key], **value} if both_dicts else value
        return merged


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry("mobilenet_v2", "classify", build_classifier, V2_WIDTHS, 224, 1000,
                   "MobileNetV2 ImageNet classifier (paper Table 4)", {"backbone": "mobilenet_v2"}),
        ModelEntry("mobilenet_v1", "classify", build_classifier, V1_WIDTHS, 224, 1000,
                   "MobileNetV1 ImageNet classifier (V1 paper Table 1, ReLU6 as TF-slim and timm)",
                   {"backbone": "mobilenet_v1"}),
        ModelEntry("mobilenet_v3_large", "classify", build_classifier, (0.75, 1.0), 224, 1000,
                   "MobileNetV3-Large ImageNet classifier (V3 paper Table 3: 5.4M, 219M)",
                   {"backbone": "mobilenet_v3_large"}),
        ModelEntry("mobilenet_v3_small", "classify", build_classifier, (0.75, 1.0), 224, 1000,
                   "MobileNetV3-Small ImageNet classifier (V3 paper Table 3: 2.5M, 56M)",
                   {"backbone": "mobilenet_v3_small"}),
        ModelEntry("ssdlite_mobilenet_v2", "detect", build_ssdlite, (0.5, 0.75, 1.0), 300, 91,
                   "SSDLite on MobileNetV2, TF ssdlite_mobilenet_v2_coco (V2 paper Table 6: 4.3M, 0.8B)",
                   {"backbone": "mobilenet_v2", "imgsz": 300}),
        ModelEntry("ssdlite_mobilenet_v1", "detect", build_ssdlite, (0.5, 0.75, 1.0), 300, 91,
                   "SSDLite on MobileNetV1, same head (V2 paper Table 6: 5.1M, 1.3B)",
                   {"backbone": "mobilenet_v1", "imgsz": 300}),
        ModelEntry("ssd_mobilenet_v1", "detect", build_ssdlite, (0.5, 0.75, 1.0), 300, 91,
                   "SSD on MobileNetV1 with full-conv extras and 1x1 predictors, TF ssd_mobilenet_v1_coco "
                   "(V1 paper Table 13: 6.8M, 1.2B)",
                   {"backbone": "mobilenet_v1", "imgsz": 300, "ssdlite": {"box_head": "ssd"}}),
        ModelEntry("ssdlite320_mobilenet_v3_large", "detect", build_ssdlite, (1.0,), 320, 91,
                   "SSDLite on MobileNetV3-Large (reduced tail), as torchvision's ssdlite320_mobilenet_v3_large "
                   "(V3 paper 6.2: 3.44M params)",
                   {"backbone": "mobilenet_v3_large", "imgsz": 320, "backbone_options": {"reduced_tail": True},
                    "ssdlite": {"anchor_layout": "torchvision", "nms_iou": 0.55}, "topk_candidates": 300,
                    "max_detections": 300}),
        ModelEntry("deeplabv3_mobilenet_v2", "segment", build_deeplabv3, (0.5, 1.0), 513, 21,
                   "Mobile DeepLabv3, MobileNetV2*, OS16, mobile head (V2 paper Table 7: 2.11M, 2.75B)",
                   {"backbone": "mobilenet_v2", "deeplab": {"head": "mobile"}}),
        ModelEntry("deeplabv3_aspp_mobilenet_v2", "segment", build_deeplabv3, (1.0,), 513, 21,
                   "DeepLabv3, MobileNetV2*, OS16, full ASPP (V2 paper Table 7: 4.52M, 5.8B)",
                   {"backbone": "mobilenet_v2", "deeplab": {"head": "aspp"}}),
        ModelEntry("deeplabv3_mobilenet_v1", "segment", build_deeplabv3, (0.5, 1.0), 513, 21,
                   "Mobile DeepLabv3, MobileNetV1, OS16, mobile head (V1 against V2 on the same head)",
                   {"backbone": "mobilenet_v1", "deeplab": {"head": "mobile"}}),
        ModelEntry("lraspp_mobilenet_v3_large", "segment", build_deeplabv3, (0.75, 1.0), 520, 21,
                   "LR-ASPP on MobileNetV3-Large, OS16, as torchvision's lraspp_mobilenet_v3_large (V3 paper 6.3)",
                   {"backbone": "mobilenet_v3_large", "deeplab": {"head": "lraspp"}}),
        ModelEntry("deeplabv3_mobilenet_v3_large", "segment", build_deeplabv3, (1.0,), 520, 21,
                   "DeepLabv3 on MobileNetV3-Large, OS16, as torchvision's deeplabv3_mobilenet_v3_large (with aux)",
                   {"backbone": "mobilenet_v3_large", "deeplab": {"head": "torchvision", "aux": True}}),
        ModelEntry("deeplabv3_aspp_mobilenet_v1", "segment", build_deeplabv3, (1.0,), 513, 21,
                   "DeepLabv3, MobileNetV1, OS16, full ASPP (V2 paper Table 7: 11.15M, 14.25B)",
                   {"backbone": "mobilenet_v1", "deeplab": {"head": "aspp"}}),
        *(ModelEntry(f"multitask_{backbone}", "multitask", build_multitask, (0.5, 0.75, 1.0), 320, 21,
                     f"one {title} forward (OS32) for the classifier, SSDLite and Mobile DeepLabv3 heads",
                     {"backbone": backbone})
          for backbone, title in (("mobilenet_v2", "MobileNetV2"), ("mobilenet_v1", "MobileNetV1"))),
    )
}


def model_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise MobileVisionError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; keyword arguments override the entry's (see ModelEntry.build)."""
    return model_entry(name).build(**kwargs)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu",
                    use_ema: bool = True) -> tuple[nn.Module, dict]:
    """(model rebuilt from the checkpoint's builder name and kwargs with its weights loaded, checkpoint
    dict), in eval mode. The EMA weights are loaded when the run kept them (its metrics describe them)."""
    checkpoint = read_checkpoint(path, map_location=map_location)
    model = build_recorded(checkpoint, path=path)
    weights = checkpoint["ema_state_dict"] if use_ema and checkpoint.get("ema_state_dict") else checkpoint["state_dict"]
    recorded = (checkpoint["model_name"], checkpoint["model_kwargs"])
    check_fit(model, weights, path=path, task=checkpoint["task"], built=recorded,
              fix="its model_kwargs do not describe its tensors (an edited file, or another version's); "
              + written_by(checkpoint["task"]))
    model.load_state_dict(weights)
    return model.eval(), checkpoint


@cache
def tasks() -> dict[str, Task]:
    """{name: Task} of every task, in the order the command line lists them (imported on first use:
    the task modules build on this module's model registry)."""
    from mobilevision.tasks.classify.task import ClassifyTask
    from mobilevision.tasks.detect.task import DetectTask
    from mobilevision.tasks.multitask.task import MultitaskTask
    from mobilevision.tasks.segment.task import SegmentTask

    return {task.name: task for task in (ClassifyTask(), DetectTask(), SegmentTask(), MultitaskTask())}


def get_task(name: str) -> Task:
    if name not in tasks():
        raise MobileVisionError(f"unknown task {name!r}; tasks: {', '.join(tasks())}")
    return tasks()[name]


def single_tasks() -> tuple[str, ...]:
    """The tasks a head serves (classify, detect, segment), in the order results are drawn and listed."""
    return tuple(name for name, task in tasks().items() if isinstance(task, SingleTask))
