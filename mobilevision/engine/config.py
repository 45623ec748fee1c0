"""Training options shared by every task, named recipes, and the small options objects of heads.

Each field of `TrainConfig` (and of a task's subclass, which may mix in its heads' options objects)
becomes one command-line flag (cli/options.py): `weight_decay` -> `--weight-decay`, help text from
the field's metadata. Flags the user did not type stay unset, so a named recipe fills them and
explicit flags override the recipe.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mobilevision.engine.device import DEVICES
from mobilevision.errors import MobileVisionError

Options = TypeVar("Options")


def option(default: Any, help: str, choices: tuple | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """What a training run does. Learning rates are for the batch given (no automatic scaling)."""

    data: str = option("", "dataset folder or YAML (class folders, COCO, VOC or a built-in dataset)")
    model: str = option("mobilenet_v2", "model name from `mobilevision info`")
    width: float = option(1.0, "width multiplier of the backbone")
    imgsz: int = option(224, "training and validation input size in pixels")
    weights: str | None = option(None, "initial weights, which decide the model: a checkpoint, a published "
                                  "name (`mobilevision weights`), a URL or torchvision:IMAGENET1K_V2")
    weights_backbone: str | None = option(None, "initial backbone weights only, e.g. torchvision:IMAGENET1K_V2 or a "
                                          "classify checkpoint (ignored when --weights is given)")
    freeze_backbone: bool = option(False, "train the heads only: the backbone's weights and BatchNorm statistics stay "
                                   "as loaded (heads on one backbone combine with `multitask assemble`)")
    freeze_bn: bool = option(False, "keep the backbone's BatchNorm statistics fixed (small batches, fine-tuning)")
    epochs: int = option(10, "number of training epochs")
    time: float = option(0.0, "training budget in minutes (0: none): after each epoch, the run becomes the steps "
                         "done plus the steps the rest of the budget holds at their mean time so far (training "
                         "and validation; the last epoch may stop part-way), and the learning-rate schedule is "
                         "re-sized to it")
    batch: int = option(32, "images per step and per process (torchrun: each process takes this many)")
    device: str = option("auto", "auto picks cuda, then mps, then cpu", DEVICES)
    project: str = option("runs", "folder that holds runs/<task>/<name>")
    name: str | None = option(None, "run folder name (default: exp, exp2, ...)")
    exist_ok: bool = option(False, "reuse the run folder if it exists instead of making a new name")
    resume: str | None = option(None, "continue a run from its weights/last.pt (same options, same state)")
    workers: int = option(2, "data-loading worker processes per training process")
    lr: float = option(0.05, "peak learning rate (after warm-up)")
    optimizer: str = option("sgd", "optimizer", ("sgd", "rmsprop", "adamw"))
    momentum: float = option(0.9, "SGD / RMSProp momentum")
    nesterov: bool = option(False, "Nesterov momentum for SGD")
    schedule: str = option("cosine", "learning-rate schedule after warm-up, stepped every step",
                           ("cosine", "poly", "step"))
    warmup_epochs: float = option(0.0, "linear warm-up length in epochs (fractions allowed)")
    step_epochs: float = option(1.0, "step schedule: epochs between learning-rate decays")
    step_gamma: float = option(0.98, "step schedule: factor applied at each decay")
    weight_decay: float = option(4e-5, "L2 weight decay (never on BatchNorm parameters or biases)")
    clip_grad: float = option(0.0, "clip the gradient norm to this value (0: no clipping)")
    ema: bool = option(False, "keep an exponential moving average of the weights; validate and export it")
    ema_decay: float = option(0.9998, "EMA decay per step (ramped up over the first steps)")
    ema_ramp: float = option(2000.0, "steps over which the EMA decay ramps up, as 1 - exp(-step / ema_ramp) "
                             "(YOLOv5's 2000; a run of a few thousand steps wants a few hundred)")
    amp: str = option("auto", "mixed precision: auto = bf16/fp16 on CUDA; on a CPU with native bf16 "
                      "(avx512_bf16/AMX) a few steps timed in fp32 and bf16, bf16 taken only if faster (cached per "
                      "CPU, model and size), else off", ("auto", "off", "bf16", "fp16"))
    channels_last: bool = option(True, "NHWC memory format (faster on CPU for depthwise convs)")
    sync_bn: bool = option(False, "synchronise BatchNorm statistics across torchrun processes")
    val_period: int = option(1, "validate after every N-th epoch, the first and the last (best.pt is the best "
                             "validated epoch; skipped validations leave a --time budget to training)")
    save_period_steps: int = option(0, "also save weights/last.pt every N steps (0: at the end of each epoch only)")
    seed: int = option(0, "random seed of the run (weights, data order, augmentation, dropout)")
    recipe: str | None = option(None, "named recipe that sets the defaults of the other options")


@dataclass(frozen=True)
class Recipe:
    """A named set of defaults (`--recipe`), with one line on where its numbers come from. A recipe
    that decides from the data (`auto`) also has `choose(config, start=its config, given=the flags
    typed)`, which returns the run's config with its choices in place of the values not given."""

    name: str
    source: str
    config: TrainConfig
    choose: Callable[..., TrainConfig] | None = None


def recipes(*entries: Recipe) -> dict[str, Recipe]:
    """{name: recipe}, in the order given (`--help` lists them so)."""
    return {entry.name: entry for entry in entries}


def config_from_options(config_class: type[TrainConfig], options: dict[str, Any], *,
                        recipes: Mapping[str, Recipe]) -> TrainConfig:
    """The recipe's config (or the class defaults) with the explicit options on top, --data absolute."""
    recipe = options.get("recipe")
    if recipe is not None and recipe not in recipes:
        raise MobileVisionError(f"unknown recipe {recipe!r}; known recipes: {', '.join(recipes)}")
    base = recipes[recipe].config if recipe else config_class()
    config = dataclasses.replace(base, **options)
    config = dataclasses.replace(config, data=absolute_data(config.data))
    check_config(config)
    if recipe and recipes[recipe].choose and config.data:  # without --data, training says it is required
        config = recipes[recipe].choose(config, start=recipes[recipe].config, given=options.keys())
    return config


def absolute_data(data: str) -> str:
    """--data as an absolute path, as a run records it, so that it resumes from any directory
    ("" stays "": --data not given)."""
    return str(Path(data).expanduser().resolve()) if data else data


def flag_name(name: str) -> str:
    """A config field's command-line flag: weight_decay -> --weight-decay."""
    return "--" + name.replace("_", "-")


def check_config(config: TrainConfig) -> None:
    """Values argparse cannot check, as one-line user errors."""
    # argparse's float() takes "nan" and "inf", which slip through range checks (nan <= 0 is False) and
    # turn every weight NaN at the first step: refused here for every float field, a task's included.
    for item in dataclasses.fields(config):
        if isinstance(value := getattr(config, item.name), float) and not math.isfinite(value):
            raise MobileVisionError(f"{flag_name(item.name)} must be a finite number, got {value}")
    for name in ("epochs", "batch", "imgsz", "width", "lr", "val_period", "step_epochs", "step_gamma"):
        if not (value := getattr(config, name)) > 0:
            raise MobileVisionError(f"{flag_name(name)} must be positive, got {value}")
    for name in ("workers", "save_period_steps", "warmup_epochs", "time", "momentum", "weight_decay", "clip_grad"):
        if not (value := getattr(config, name)) >= 0:
            raise MobileVisionError(f"{flag_name(name)} must not be negative, got {value}")
    if not 0.0 < config.ema_decay < 1.0:
        raise MobileVisionError(f"--ema-decay must be in (0, 1), got {config.ema_decay}")
    if not config.ema_ramp > 0:
        raise MobileVisionError(f"--ema-ramp must be positive, got {config.ema_ramp}")


def options_of(options_class: type[Options], source: object) -> Options:
    """A head's options object (SSDLiteOptions, DeepLabOptions, ...) from a training config that
    carries its fields, a checkpoint's dict of them, or an options object already; None: defaults."""
    if source is None:
        return options_class()
    if type(source) is options_class:  # a training config is a subclass: only its head's fields are taken
        return source
    if isinstance(source, Mapping):
        return options_class(**source)
    return options_class(**{item.name: getattr(source, item.name) for item in dataclasses.fields(options_class)})


def as_kwargs(options: object) -> dict:
    """A head's options object as the plain dict a checkpoint's model_kwargs stores (weights_only-loadable)."""
    return dataclasses.asdict(options)
