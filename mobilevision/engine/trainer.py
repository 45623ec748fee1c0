"""The one training runner every task shares: its options (or a resumed run's own) become a
config, the task sets up model and data, the run folder opens on rank 0 for every rank, and `fit`
trains. Under torchrun every process runs it."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol

from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.engine.config import Recipe, TrainConfig, config_from_options
from mobilevision.engine.distributed import broadcast_object, dist_info, init_distributed, shutdown
from mobilevision.engine.loop import ModelSpec, fit
from mobilevision.engine.run_dir import new_run_dir, write_args
from mobilevision.errors import MobileVisionError

# Options that may differ when a run is resumed (where it runs, not what it computes).
RESUME_OVERRIDES = ("device", "workers")


class TrainableTask(Protocol):
    """What the runner needs of a task (tasks/base.py's Task)."""

    name: str
    config_class: type[TrainConfig]
    recipes: dict[str, Recipe]
    data_layouts: str
    collate: Any

    def check_model(self, name: str) -> None: ...

    def config_from_weights(self, config: TrainConfig, *, given: Collection[str]) -> TrainConfig: ...

    def training_setup(self, config: TrainConfig, *, resume_from: dict | None) -> Any: ...


def resumed_config(resume: str, options: dict, *, task: str,
                   config_class: type[TrainConfig]) -> tuple[TrainConfig, dict]:
    """The interrupted run's own config (plus device / workers if given) and its checkpoint."""
    checkpoint = read_checkpoint(resume)
    if checkpoint["task"] != task:
        raise MobileVisionError(f"--resume {resume}: a {checkpoint['task']} run, not a {task} run")
    if checkpoint["epoch"] >= checkpoint["args"]["epochs"] and checkpoint["sampler"]["position"] == 0:
        raise MobileVisionError(f"--resume {resume}: that run already finished all "
                                f"{checkpoint['args']['epochs']} epochs")
    names = {item.name for item in dataclasses.fields(config_class)}
    args = {key: value for key, value in checkpoint["args"].items() if key in names}
    args.update({key: options[key] for key in RESUME_OVERRIDES if key in options})
    args["resume"] = str(resume)
    return config_class(**args), checkpoint


def run_training(task: TrainableTask, options: dict[str, Any]) -> dict[str, float] | None:
    """`<task> train` with the options the user gave (flags left out are absent): join torchrun,
    build the config from the recipe and options (or resume), train. The last validation metrics
    on rank 0, None on the others."""
    is_main = init_distributed(options.get("device", "auto")).is_main
    try:
        if options.get("resume"):
            config, checkpoint = resumed_config(options["resume"], options, task=task.name,
                                                config_class=task.config_class)
            metrics = train(task, config, resume_from=checkpoint)
        else:
            config = config_from_options(task.config_class, options, recipes=task.recipes)
            # Between the recipe and the flags the user typed: the architecture of --weights.
            metrics = train(task, task.config_from_weights(config, given=options.keys()))
    finally:
        shutdown()
    return metrics if is_main else None


def train(task: TrainableTask, config: TrainConfig, *, resume_from: dict | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics. With freeze_backbone only the heads learn
    (the backbone's BatchNorm statistics stay too, through the model's freeze_bn)."""
    if not config.data:  # --data has no sensible default
        raise MobileVisionError(f"--data is required: {task.data_layouts}")
    task.check_model(config.model)
    setup = task.training_setup(config, resume_from=resume_from)
    if len(setup.train_set) == 0 or len(setup.val_set) == 0:
        raise MobileVisionError(f"--data {config.data}: no images in the train or val split "
                                f"({len(setup.train_set)} train, {len(setup.val_set)} val)")
    if config.freeze_backbone:
        setup.model.backbone.requires_grad_(False)
    spec = ModelSpec(task=task.name, model_name=config.model, model_kwargs=setup.model_kwargs,
                     class_names=setup.class_names, preprocessing=setup.preprocessing)
    return fit(model=setup.model, spec=spec, train_set=setup.train_set, val_set=setup.val_set,
               collate_fn=task.collate, make_evaluator=setup.make_evaluator, config=config,
               run_dir=open_run_dir(config, task=task.name), resume_from=resume_from)


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
