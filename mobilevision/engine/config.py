"""Training options shared by every task, and their 1:1 mapping onto command-line flags.

Each field of `TrainConfig` (and of a task's subclass) becomes one flag: `weight_decay` ->
`--weight-decay`, help text from the field's metadata, booleans as `--x/--no-x`. Flags the user did
not type stay unset, so a named recipe fills them and explicit flags override the recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mobilevision.errors import MobileVisionError


def option(default: Any, help: str, choices: tuple | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """What a training run does. Learning rates are for the batch given (no automatic scaling)."""

    data: str = option("", "dataset folder or YAML (class folders, COCO, VOC or a built-in dataset)")
    model: str = option("mobilenet_v2", "model name from `mobilevision info`")
    width: float = option(1.0, "width multiplier of the backbone")
    imgsz: int = option(224, "training and validation input size in pixels")
    weights: str | None = option(None, "initial weights: a checkpoint, a URL or a name like torchvision:IMAGENET1K_V2")
    epochs: int = option(10, "number of training epochs")
    time: float = option(0.0, "training budget in minutes (0: none): after each epoch, the run becomes the steps "
                         "done plus the steps the rest of the budget holds at their mean time so far (training "
                         "and validation; the last epoch may stop part-way), and the learning-rate schedule is "
                         "re-sized to it")
    batch: int = option(32, "images per step and per process (torchrun: each process takes this many)")
    device: str = option("auto", "auto picks cuda, then mps, then cpu", ("auto", "cpu", "cuda", "mps"))
    project: str = option("runs", "folder that holds runs/<task>/<name>")
    name: str | None = option(None, "run folder name (default: exp, exp2, ...)")
    exist_ok: bool = option(False, "reuse the run folder if it exists instead of making a new name")
    resume: str | None = option(None, "continue a run from its weights/last.pt (same options, same state)")
    workers: int = option(2, "data-loading worker processes per training process")
    lr: float = option(0.05, "peak learning rate (after warm-up)")
    optimizer: str = option("sgd", "optimizer", ("sgd", "rmsprop", "adamw"))
    momentum: float = option(0.9, "SGD / RMSProp momentum")
    nesterov: bool = option(False, "Nesterov momentum for SGD")
    schedule: str = option("cosine", "learning-rate schedule after warm-up, stepped every step", ("cosine", "poly", "step"))
    warmup_epochs: float = option(0.0, "linear warm-up length in epochs (fractions allowed)")
    step_epochs: float = option(1.0, "step schedule: epochs between learning-rate decays")
    step_gamma: float = option(0.98, "step schedule: factor applied at each decay")
    weight_decay: float = option(4e-5, "L2 weight decay (never on BatchNorm parameters or biases)")
    clip_grad: float = option(0.0, "clip the gradient norm to this value (0: no clipping)")
    ema: bool = option(False, "keep an exponential moving average of the weights; validate and export it")
    ema_decay: float = option(0.9998, "EMA decay per step (ramped up over the first steps)")
    ema_ramp: float = option(2000.0, "steps over which the EMA decay ramps up, as 1 - exp(-step / ema_ramp) "
                             "(YOLOv5's 2000; a run of a few thousand steps wants a few hundred)")
    amp: str = option("auto", "mixed precision: auto = bf16/fp16 on CUDA, bf16 on CPUs with native bf16 "
                      "(avx512_bf16/AMX), else off", ("auto", "off", "bf16", "fp16"))
    channels_last: bool = option(True, "NHWC memory format (about 1.3-2x faster on CPU for depthwise convs)")
    sync_bn: bool = option(False, "synchronise BatchNorm statistics across torchrun processes")
    val_period: int = option(1, "validate after every N-th epoch, the first and the last (best.pt is the best "
                             "validated epoch; skipped validations leave a --time budget to training)")
    save_period_steps: int = option(0, "also save weights/last.pt every N steps (0: at the end of each epoch only)")
    seed: int = option(0, "random seed of the run (weights, data order, augmentation, dropout)")
    recipe: str | None = option(None, "named recipe that sets the defaults of the other options")



@dataclass(frozen=True)
class Recipe:
    """A named set of defaults (`--recipe`), with where its numbers come from."""

    name: str
    source: str
    config: TrainConfig

def add_config_arguments(parser: argparse.ArgumentParser, config_class: type[TrainConfig], *,
                         recipes: dict | None = None) -> None:
    """One flag per field of `config_class`; unset flags are absent from the parsed namespace."""
    for item in dataclasses.fields(config_class):
        flag = "--" + item.name.replace("_", "-")
        help_text = f"{item.metadata['help']} (default: {item.default})"
        if item.name == "recipe" and recipes:
            help_text = f"{item.metadata['help']}: {', '.join(recipes)}"
            parser.add_argument(flag, choices=tuple(recipes), default=argparse.SUPPRESS, help=help_text)
        elif isinstance(item.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            kind = {"int": int, "float": float}.get(str(item.type).split(" ")[0], str)
            parser.add_argument(flag, type=kind, choices=item.metadata["choices"], default=argparse.SUPPRESS,
                                help=help_text)


def explicit_options(args: argparse.Namespace, config_class: type[TrainConfig]) -> dict[str, Any]:
    """The options the user typed (flags left out are not in the namespace)."""
    return {item.name: getattr(args, item.name) for item in dataclasses.fields(config_class) if hasattr(args, item.name)}


def config_from_options(config_class: type[TrainConfig], options: dict[str, Any], *, recipes: dict) -> TrainConfig:
    """The recipe's config (or the class defaults) with the explicit options on top."""
    recipe = options.get("recipe")
    if recipe is not None and recipe not in recipes:
        raise MobileVisionError(f"unknown recipe {recipe!r}; known recipes: {', '.join(recipes)}")
    base = recipes[recipe].config if recipe else config_class()
    config = dataclasses.replace(base, **options)
    check_config(config)
    return config


def check_config(config: TrainConfig) -> None:
    """Values argparse cannot check, as one-line user errors."""
    positive = {"epochs": config.epochs, "batch": config.batch, "imgsz": config.imgsz, "width": config.width,
                "lr": config.lr, "val_period": config.val_period}
    for name, value in positive.items():
        if value <= 0:
            raise MobileVisionError(f"--{name.replace('_', '-')} must be positive, got {value}")
    for name in ("workers", "save_period_steps", "warmup_epochs", "time"):
        if (value := getattr(config, name)) < 0:
            raise MobileVisionError(f"--{name.replace('_', '-')} must not be negative, got {value}")
    if not 0.0 < config.ema_decay < 1.0:
        raise MobileVisionError(f"--ema-decay must be in (0, 1), got {config.ema_decay}")
    if config.ema_ramp <= 0:
        raise MobileVisionError(f"--ema-ramp must be positive, got {config.ema_ramp}")
