"""The one training runner every task shares: its options (or a resumed run's own) become a
config, the task sets up model and data, the run folder opens on rank 0 for every rank, and `fit`
trains. Under torchrun every process runs it."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Protocol

from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.engine.config import Recipe, TrainConfig, absolute_data, check_config, config_from_options, flag_name
from mobilevision.engine.distributed import broadcast_object, dist_info, init_distributed, shutdown
from mobilevision.engine.loop import ModelSpec, fit
from mobilevision.engine.run_dir import new_run_dir, write_args
from mobilevision.engine.time_budget import Pace
from mobilevision.errors import MobileVisionError

# Options a resumed run takes from the command line: where it runs, not what it computes. Any other
# flag that differs from the run's own is refused, as continuing with another --lr or --batch would
# be neither the run nor a new one (a new run starts from its weights with --weights).
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
    """The interrupted run's own config (plus device / workers if given, and --data if the run's
    data has moved) and its checkpoint."""
    checkpoint = read_checkpoint(resume)
    if checkpoint["task"] != task:
        raise MobileVisionError(f"--resume {resume}: a {checkpoint['task']} run, not a {task} run")
    if checkpoint["epoch"] >= checkpoint["args"]["epochs"] and checkpoint["sampler"]["position"] == 0:
        raise MobileVisionError(f"--resume {resume}: that run already finished all "
                                f"{checkpoint['args']['epochs']} epochs; to train on, start a new run from it "
                                f"with --weights {resume}")
    names = {item.name for item in dataclasses.fields(config_class)}
    args = {key: value for key, value in checkpoint["args"].items() if key in names}
    args["data"] = absolute_data(_resumed_data(args["data"], options.get("data"), resume=resume))
    conflicts = [f"{flag_name(key)} {value} (the run's {args.get(key)})" for key, value in options.items()
                 if key not in (*RESUME_OVERRIDES, "resume", "data") and value != args.get(key)]
    if conflicts:
        raise MobileVisionError(f"--resume {resume} continues the run with its own options, which "
                                f"{', '.join(conflicts)} would change; leave those flags out, or start a new run "
                                f"from its weights with --weights {resume}")
    args.update({key: options[key] for key in RESUME_OVERRIDES if key in options})
    args["resume"] = str(resume)
    config = config_class(**args)
    check_config(config)
    return config, checkpoint


def _resumed_data(stored: str, given: str | None, *, resume: str) -> str:
    """The run's own --data, or `given` if the run's is gone (the dataset moved), as ultralytics
    resumes; a `given` elsewhere than an existing run's data is refused."""
    if given is None or Path(given).expanduser().resolve() == Path(stored).expanduser().resolve():
        return stored
    if Path(stored).expanduser().exists():
        raise MobileVisionError(f"--resume {resume} continues the run on its own data {stored}, not --data "
                                f"{given}: leave --data out, or start a new run from its weights with --weights "
                                f"{resume}")
    if dist_info().is_main:
        print(f"--data {given}: the run's data {stored} is gone; resuming on {given} (its classes must be the "
              "run's)", file=sys.stderr, flush=True)
    return given


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


def train(task: TrainableTask, config: TrainConfig, *, resume_from: dict | None = None,
          on_pace: Callable[[Pace], None] | None = None) -> dict[str, float]:
    """Train per `config`, or continue the run whose last.pt (`config.resume`) was read into
    `resume_from`; returns the last validation metrics. `on_pace`: as `fit`'s. With freeze_backbone only the heads learn
    (the backbone's BatchNorm statistics stay too, through the model's freeze_bn)."""
    if not config.data:  # --data has no sensible default
        raise MobileVisionError(f"--data is required: {task.data_layouts}")
    task.check_model(config.model)
    setup = task.training_setup(config, resume_from=resume_from)
    if resume_from is not None and setup.class_names != resume_from["class_names"]:
        # Loading the weights would relabel the classes (same count, other order) or fail on the
        # class layer's shape (another count): the run's head was trained for its own classes.
        raise MobileVisionError(f"--resume {config.resume}: --data {config.data} has "
                                f"{_class_difference(setup.class_names, resume_from['class_names'])}; resume on "
                                f"the run's own dataset, or start a new run with --weights {config.resume}")
    if len(setup.train_set) == 0 or len(setup.val_set) == 0:
        raise MobileVisionError(f"--data {config.data}: no images in the train or val split "
                                f"({len(setup.train_set)} train, {len(setup.val_set)} val)")
    if config.freeze_backbone:
        setup.model.backbone.requires_grad_(False)
    spec = ModelSpec(task=task.name, model_name=config.model, model_kwargs=setup.model_kwargs,
                     class_names=setup.class_names, preprocessing=setup.preprocessing)
    return fit(model=setup.model, spec=spec, train_set=setup.train_set, val_set=setup.val_set,
               collate_fn=task.collate, make_evaluator=setup.make_evaluator, config=config,
               run_dir=open_run_dir(config, task=task.name), resume_from=resume_from, on_pace=on_pace)


def _class_difference(found: list[str] | dict, trained: list[str] | dict) -> str:
    """Where a dataset's classes part from a run's: their count, or the first one in another place
    (a multi-task run's per task)."""
    if isinstance(trained, dict):
        task = next(name for name in trained if found.get(name) != trained[name])
        return f"{task}: {_class_difference(found.get(task, []), trained[task])}"
    if len(found) != len(trained):
        return f"{len(found)} classes, the run was trained on {len(trained)}"
    index = next(index for index, (name, other) in enumerate(zip(found, trained)) if name != other)
    return f"class {index} {found[index]!r} where the run has {trained[index]!r} (the classes in another order)"


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
