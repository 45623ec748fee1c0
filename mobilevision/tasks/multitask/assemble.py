"""`mobilevision multitask assemble`: single-task checkpoints whose heads were trained on one frozen
backbone, combined into one multi-task checkpoint without training.

Each head keeps its weights (its state-dict keys under `tasks.<task>.`, see model.py), so the
combined model's outputs equal each checkpoint's own model's. That holds only if the checkpoints
share the backbone bit for bit, normalise their inputs alike, and the segmenter ran at output
stride 32, as the multi-task backbone does; anything else is refused with the checkpoints named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mobilevision.backbones.key_mapping import load_strict
from mobilevision.engine.checkpoint import package_versions, save_atomic
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.checkpoint_file import read_checkpoint
from mobilevision.tasks.multitask.model import OUTPUT_STRIDE, TASKS
from mobilevision.tasks.registry import build_model, load_checkpoint, model_entry

FIX = "train each head with --freeze-backbone from the same --weights-backbone"
# The head options each single-task model hands the multi-task model (its own options object).
HEAD_OPTIONS = ("classifier", "ssdlite", "deeplab")


@dataclass(frozen=True)
class TaskCheckpoint:
    path: str
    model: nn.Module  # with the EMA weights when the run kept them, as load_checkpoint gives it
    checkpoint: dict
    kwargs: dict  # what its model was built with, the registry entry's defaults included

    @classmethod
    def load(cls, path: str) -> TaskCheckpoint:
        model, checkpoint = load_checkpoint(path)
        kwargs = {**model_entry(checkpoint["model_name"]).defaults, **checkpoint["model_kwargs"]}
        return cls(path=path, model=model, checkpoint=checkpoint, kwargs=kwargs)


def task_checkpoints(weights: list[str]) -> dict[str, TaskCheckpoint]:
    """{task: its checkpoint} in TASKS order; one checkpoint per task."""
    loaded: dict[str, TaskCheckpoint] = {}
    for path in weights:
        task = read_checkpoint(path)["task"]
        if task not in TASKS:
            raise MobileVisionError(f"{path}: a {task} checkpoint; assemble takes classify, detect and segment ones")
        if task in loaded:
            raise MobileVisionError(f"{loaded[task].path} and {path} are both {task} checkpoints; give one per task")
        loaded[task] = TaskCheckpoint.load(path)
    return {task: loaded[task] for task in TASKS if task in loaded}


def check_compatible(parts: dict[str, TaskCheckpoint]) -> None:
    """One backbone architecture and normalisation, output stride 32, identical backbone weights."""
    first = next(iter(parts.values()))
    for task, part in parts.items():
        if (part.kwargs["backbone"], part.kwargs["width"]) != (first.kwargs["backbone"], first.kwargs["width"]):
            raise MobileVisionError(f"{first.path} and {part.path} have different backbones ({first.kwargs['backbone']} "
                                    f"{first.kwargs['width']:g} and {part.kwargs['backbone']} {part.kwargs['width']:g})")
        normalisation = [part.checkpoint["preprocessing"][key] for key in ("mean", "std")]
        if normalisation != [first.checkpoint["preprocessing"][key] for key in ("mean", "std")]:
            raise MobileVisionError(f"{first.path} and {part.path} normalise their inputs differently, but the shared "
                                    f"backbone sees one input; {FIX}")
        stride = part.kwargs.get("output_stride", OUTPUT_STRIDE)
        if stride != OUTPUT_STRIDE:
            raise MobileVisionError(f"{part.path}: a {task} model at output stride {stride}, but the multi-task "
                                    f"backbone runs at {OUTPUT_STRIDE} (SSDLite needs it); train it with --output-stride 32")
    reference: dict[str, tuple[str, torch.Tensor]] = {}  # backbone tensor -> (first checkpoint holding it, value)
    for part in parts.values():
        for name, tensor in part.model.backbone.state_dict().items():
            if not tensor.is_floating_point():
                continue  # BatchNorm's step counter, which no output depends on
            seen_in, seen = reference.setdefault(name, (part.path, tensor))
            if not torch.equal(seen, tensor):
                raise MobileVisionError(f"{seen_in} and {part.path} have different backbone weights (first at "
                                        f"backbone.{name}); assemble needs heads trained on one frozen backbone: {FIX}")


def assemble(weights: list[str], *, out: str, imgsz: int | None = None) -> dict:
    """Write the multi-task checkpoint of the heads in `weights` (one checkpoint per task) to `out`;
    returns {"out", "model_name", "tasks"}. imgsz: the input size it records (default: the largest
    of the checkpoints')."""
    parts = task_checkpoints(weights)
    check_compatible(parts)
    first = next(iter(parts.values()))
    size = imgsz or max(part.checkpoint["preprocessing"]["input_size"] for part in parts.values())
    kwargs = {"width": first.kwargs["width"], "tasks": list(parts), "imgsz": size,
              "num_classes": {task: part.model.num_classes for task, part in parts.items()}}
    for part in parts.values():
        kwargs.update({key: part.kwargs[key] for key in HEAD_OPTIONS if key in part.kwargs})
    model_name = f"multitask_{first.kwargs['backbone']}"
    model = build_model(model_name, **kwargs)
    state_dict = {}
    for task, part in parts.items():
        for name, tensor in part.model.state_dict().items():
            state_dict[name if name.startswith("backbone.") else f"tasks.{task}.{name}"] = tensor
    load_strict(model, state_dict, source=" + ".join(part.path for part in parts.values()))
    checkpoint = {
        "task": "multitask", "model_name": model_name, "model_kwargs": kwargs, "state_dict": model.state_dict(),
        "ema_state_dict": None,
        "class_names": {task: list(part.checkpoint["class_names"]) for task, part in parts.items()},
        "preprocessing": {"mean": list(first.checkpoint["preprocessing"]["mean"]),
                          "std": list(first.checkpoint["preprocessing"]["std"]), "input_size": size},
        "metrics": {f"{task}/{name}": value for task, part in parts.items()
                    for name, value in (part.checkpoint.get("metrics") or {}).items()},
        "assembled_from": {task: part.path for task, part in parts.items()}, "versions": package_versions(),
    }
    save_atomic(checkpoint, Path(out))
    return {"out": str(out), "model_name": model_name, "tasks": list(parts)}
