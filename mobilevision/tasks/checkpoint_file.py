"""A checkpoint file as every command takes it (--weights, --resume, `mv.load`): read without
unpickling code (backbones/torch_file.py), checked for the keys the command needs, and its tensors
checked against the model built for it. Each failure is one line that names the file, what is
wrong and what to do; a file of another model or width says which one it holds, not which of its
300 tensors differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from mobilevision.backbones.key_mapping import class_layers
from mobilevision.backbones.torch_file import read_torch_file
from mobilevision.errors import MobileVisionError

# What every command needs to rebuild and run the model (engine/checkpoint.py lists every key).
INFERENCE_KEYS = ("task", "model_name", "model_kwargs", "state_dict", "class_names", "preprocessing")
PREPROCESSING_KEYS = ("mean", "std", "input_size")
# What a resumed run reads besides (engine/trainer.py and engine/loop.py).
RESUME_KEYS = ("args", "epoch", "global_step", "best_metric", "metrics", "optimizer", "scheduler", "scaler",
               "sampler", "rng")


def written_by(task: object = None) -> str:
    """The fix for a checkpoint no command can use: one a run of `task` wrote."""
    task = task if isinstance(task, str) else "<task>"
    return f"pass a checkpoint that `mobilevision {task} train` wrote (runs/{task}/<name>/weights/best.pt)"


def read_checkpoint(path: str | Path, *, resume: bool = False, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint dict with every key a command reads (with `resume`, a resumed run's too)."""
    checkpoint = read_torch_file(path, map_location=map_location)
    fix = "resume from a run's weights/last.pt" if resume else written_by(
        checkpoint.get("task") if isinstance(checkpoint, dict) else None)
    if not isinstance(checkpoint, dict) or "model_name" not in checkpoint:
        raise MobileVisionError(f"{path} is not a mobilevision checkpoint (it has no model_name); {fix}")
    missing = [key for key in (*INFERENCE_KEYS, *(RESUME_KEYS if resume else ())) if key not in checkpoint]
    missing += [f"preprocessing.{key}" for key in PREPROCESSING_KEYS
                if isinstance(checkpoint.get("preprocessing"), Mapping) and key not in checkpoint["preprocessing"]]
    if missing:
        raise MobileVisionError(f"{path} lacks {', '.join(missing)}: not a whole mobilevision checkpoint (cut down, "
                                f"or written by another tool or version); {fix}")
    for key in ("model_kwargs", "state_dict", "preprocessing"):
        if not isinstance(checkpoint[key], Mapping):
            raise MobileVisionError(f"{path}: its {key} is a {type(checkpoint[key]).__name__}, not a dict; {fix}")
    return checkpoint


def build_recorded(checkpoint: Mapping, *, path: str | Path, fix: str | None = None) -> nn.Module:
    """The model a checkpoint (or an ONNX export's metadata) names, built with the arguments it
    records; `fix` says what to do when it cannot be (default: written_by its task)."""
    from mobilevision.tasks.registry import MODELS, build_model

    name, fix = checkpoint["model_name"], fix or written_by(checkpoint.get("task"))
    if name not in MODELS:
        raise MobileVisionError(f"{path} holds a model named {name!r}, which this version does not build (it "
                                f"builds {', '.join(MODELS)}); {fix}")
    try:
        return build_model(name, **checkpoint["model_kwargs"])
    except (TypeError, ValueError, KeyError) as error:  # arguments of another version's builder
        raise MobileVisionError(f"{path} records arguments the {name} builder does not take ({error}): written by "
                                f"another version of mobilevision; {fix}") from None


def check_fit(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, path: str | Path, task: str,
              built: tuple[str, Mapping], fix: str, record: tuple[str, Mapping] | None = None,
              ignore_prefixes: tuple[str, ...] = (), other_classes: bool = False) -> None:
    """Nothing when `state_dict` has exactly `model`'s tensor names and shapes (outside
    `ignore_prefixes`; with `other_classes`, outside its class layers too); else one line: the
    registered model and width whose tensors the file holds (tried first: `record`, what the file
    says it holds), the model the command `built` (name, builder kwargs), how many tensors differ,
    and `fix`."""
    difference = _difference(model, state_dict, ignore_prefixes=ignore_prefixes, other_classes=other_classes)
    if difference is None:
        return
    found = _identify(state_dict, task=task, record=record, skip=built)
    holds = _describe(*found, versus=built) if found else f"tensors of no {task} model this version builds"
    raise MobileVisionError(f"{path} holds {holds}; this command built {_describe(*built, versus=found)} "
                            f"({difference}); {fix}")


def _difference(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, ignore_prefixes: tuple[str, ...],
                other_classes: bool) -> str | None:
    """None when the shapes match, else a summary: "256 of 314 tensors have other shapes, first ..."."""
    expected = {key: tensor for key, tensor in model.state_dict().items() if not key.startswith(ignore_prefixes)}
    given = {key: tensor for key, tensor in state_dict.items() if not key.startswith(ignore_prefixes)}
    num_classes = getattr(model, "num_classes", None)
    if other_classes and isinstance(num_classes, int):  # a multi-task model counts classes per task
        for key in class_layers(expected, given, num_classes=num_classes)[0]:
            del expected[key], given[key]
    shapes = sorted(key for key in set(expected) & set(given) if expected[key].shape != given[key].shape)
    missing, unexpected = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
    if not (shapes or missing or unexpected):
        return None
    parts = [(f"{len(shapes)} of {len(expected)} tensors have other shapes, first {shapes[0]}: file "
              f"{tuple(given[shapes[0]].shape)}, model {tuple(expected[shapes[0]].shape)}")] if shapes else []
    parts += [f"{len(keys)} {label}, first {keys[0]}" for label, keys in (("missing", missing),
                                                                           ("unexpected", unexpected)) if keys]
    return "; ".join(parts)


def _identify(state_dict: Mapping[str, torch.Tensor], *, task: str, record: tuple[str, Mapping] | None,
              skip: tuple[str, Mapping]) -> tuple[str, Mapping] | None:
    """(name, kwargs) of the first registered model of `task`, at one of its widths, whose tensors
    `state_dict` has: `record` first, then each model and width with the record's other arguments.
    Built on the meta device, so trying them all allocates nothing."""
    from mobilevision.tasks.registry import MODELS, build_model

    recorded_name, recorded = record or skip
    candidates = [record] if record is not None else []
    for name, entry in MODELS.items():
        if entry.task == task:
            # Another model shares only the class count (its own defaults make the rest).
            same = dict(recorded) if name == recorded_name else {
                key: value for key, value in recorded.items() if key == "num_classes"}
            candidates += [(name, {**same, "width": width}) for width in entry.widths]
    for name, kwargs in candidates:
        if (name, dict(kwargs)) == (skip[0], dict(skip[1])):
            continue
        try:
            with torch.device("meta"):
                candidate = build_model(name, **kwargs)
        except Exception:  # noqa: BLE001, S112 - arguments this model's builder does not take: not this one
            continue
        if _difference(candidate, state_dict, ignore_prefixes=(), other_classes=False) is None:
            return name, kwargs
    return None


def _describe(name: str, kwargs: Mapping, *, versus: tuple[str, Mapping] | None) -> str:
    """"mobilenet_v2 at width 0.5"; when `versus` is the same model and width, with the builder
    arguments that tell them apart ("num_classes 4")."""
    width = float(kwargs.get("width", 1.0))
    described = f"{name} at width {width}"
    if versus is None or (versus[0], float(versus[1].get("width", 1.0))) != (name, width):
        return described
    mine, other = _flat(kwargs), _flat(versus[1])
    differing = [f"{key} {value}" for key, value in mine.items() if key in other and other[key] != value]
    return ", ".join([described, *differing[:3]])


def _flat(kwargs: Mapping, prefix: str = "") -> dict:
    """{"ssdlite": {"nms_iou": 0.5}} -> {"ssdlite.nms_iou": 0.5}."""
    flat = {}
    for key, value in kwargs.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, prefix=f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
