"""What every task's `train` does around `fit`: turn the command line (or a resumed run's own
options) into a config, check --data, open the run folder on rank 0 for every rank, and print
the metrics as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from mobilevision.errors import MobileVisionError
from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.engine.config import TrainConfig, config_from_options, explicit_options
from mobilevision.engine.distributed import broadcast_object, dist_info, init_distributed, shutdown
from mobilevision.engine.evaluation import Evaluator
from mobilevision.engine.loop import ModelSpec, fit
from mobilevision.engine.run_dir import new_run_dir, write_args

# Options that may differ when a run is resumed (where it runs, not what it computes).
RESUME_OVERRIDES = ("device", "workers")


def resumed_config(resume: str, options: dict, *, task: str,
                   config_class: type[TrainConfig]) -> tuple[TrainConfig, dict]:
    """The interrupted run's own config (plus device / workers if given) and its checkpoint."""
    checkpoint = read_checkpoint(resume)
    if checkpoint["task"] != task:
        raise MobileVisionError(f"--resume {resume}: a {checkpoint['task']} run, not a {task} run")
    if checkpoint["epoch"] >= checkpoint["args"]["epochs"] and checkpoint["sampler"]["position"] == 0:
        raise MobileVisionError(f"--resume {resume}: that run already finished all {checkpoint['args']['epochs']} epochs")
    names = {item.name for item in dataclasses.fields(config_class)}
    args = {key: value for key, value in checkpoint["args"].items() if key in names}
    args.update({key: options[key] for key in RESUME_OVERRIDES if key in options})
    args["resume"] = str(resume)
    return config_class(**args), checkpoint


def run_train_command(args: argparse.Namespace, *, task: str, config_class: type[TrainConfig], recipes: dict,
                      train: Callable[..., dict[str, float]]) -> int:
    """The body of `<task> train`: join torchrun, build the config from the flags (or resume),
    call `train(config, resume_from=checkpoint or None)`, print its metrics with --json."""
    options = explicit_options(args, config_class)
    is_main = init_distributed(options.get("device", "auto")).is_main
    try:
        if options.get("resume"):
            config, checkpoint = resumed_config(options["resume"], options, task=task, config_class=config_class)
            metrics = train(config, resume_from=checkpoint)
        else:
            metrics = train(config_from_options(config_class, options, recipes=recipes), resume_from=None)
        if args.json and is_main:
            print(json.dumps(metrics))
    finally:
        shutdown()
    return 0


def require_data(config: TrainConfig, *, expected: str) -> None:
    """--data has no sensible default; `expected` names the layouts the task reads."""
    if not config.data:
        raise MobileVisionError(f"--data is required: {expected}")


def require_samples(config: TrainConfig, *, train_set: Dataset, val_set: Dataset) -> None:
    if len(train_set) == 0 or len(val_set) == 0:
        raise MobileVisionError(f"--data {config.data}: no images in the train or val split "
                                f"({len(train_set)} train, {len(val_set)} val)")


def open_run_dir(config: TrainConfig, *, task: str) -> Path:
    """runs/<task>/<name> made by rank 0 and shared with every rank, or the resumed run's own
    folder (weights/last.pt sits two levels below it); args.yaml written, the folder printed."""
    dist = dist_info()
    if config.resume:
        run_dir = Path(config.resume).resolve().parent.parent
    else:
        run_dir = new_run_dir(config.project, task, config.name, exist_ok=config.exist_ok) if dist.is_main else None
        run_dir = broadcast_object(run_dir)
    if dist.is_main:
        write_args(run_dir, dataclasses.asdict(config))
        print(f"run folder: {run_dir}", file=sys.stderr, flush=True)  # stdout is for --json
    return run_dir


def fit_in_run_dir(model: nn.Module, *, task: str, config: TrainConfig, model_kwargs: dict,
                   class_names: list[str] | dict[str, list[str]], preprocessing: dict, train_set: Dataset,
                   val_set: Dataset, collate_fn: Callable, make_evaluator: Callable[[], Evaluator],
                   resume_from: dict | None, freeze_backbone: bool) -> dict[str, float]:
    """The end of every task's `train`: with `freeze_backbone` only the heads learn (the backbone's
    BatchNorm statistics stay too, through the model's freeze_bn), then the run folder opens and
    `fit` trains; returns its last validation metrics."""
    if freeze_backbone:
        model.backbone.requires_grad_(False)
    spec = ModelSpec(task=task, model_name=config.model, model_kwargs=model_kwargs, class_names=class_names,
                     preprocessing=preprocessing)
    return fit(model=model, spec=spec, train_set=train_set, val_set=val_set, collate_fn=collate_fn,
               make_evaluator=make_evaluator, config=config, run_dir=open_run_dir(config, task=task),
               resume_from=resume_from)
