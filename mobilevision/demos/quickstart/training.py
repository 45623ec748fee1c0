"""Step 2: a multi-task model trained with the multitask recipe, or the run a previous quickstart
finished with the same settings, or the one it left unfinished, continued where it stopped."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from mobilevision.demos.quickstart.estimate import announce
from mobilevision.demos.quickstart.settings import RECIPE, QuickstartSettings
from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.engine.config import config_from_options
from mobilevision.engine.trainer import resumed_config, train
from mobilevision.tasks.multitask.config import RECIPES, MultitaskTrainConfig
from mobilevision.tasks.registry import get_task


def training_config(settings: QuickstartSettings, *, backbone: str, data: Path) -> MultitaskTrainConfig:
    """The recipe's config with the quickstart's data, run folder and size options on top."""
    options = {"recipe": RECIPE, "model": f"multitask_{backbone}", "data": str(data), "device": settings.device,
               "project": str(settings.folder), "name": backbone, "exist_ok": True}
    options.update({key: value for key in ("imgsz", "epochs", "width")
                    if (value := getattr(settings, key)) is not None})
    if settings.epochs is None:
        options["time"] = settings.train_minutes  # fit re-sizes the recipe's epochs to the minutes
    return config_from_options(MultitaskTrainConfig, options, recipes=RECIPES)


def run_folder(config: MultitaskTrainConfig) -> Path:
    return Path(config.project) / "multitask" / str(config.name)


def previous_run(config: MultitaskTrainConfig, *, data_marker: Path) -> tuple[str, str]:
    """("finished" | "interrupted" | "none", why) of the run folder `config` trains into: finished
    or interrupted with exactly these options, after the dataset was written."""
    last, best = run_folder(config) / "weights" / "last.pt", run_folder(config) / "weights" / "best.pt"
    if not last.is_file():
        return "none", "no earlier run"
    checkpoint = read_checkpoint(last)
    # resume: where a run continued from; epochs: what a run with --time re-sized them to.
    ignored = {"resume", "epochs"} if config.time > 0 else {"resume"}
    changed = [f"{key} {checkpoint['args'].get(key)} -> {value}" for key, value in dataclasses.asdict(config).items()
               if checkpoint["args"].get(key) != value and key not in ignored]
    if changed:
        return "none", f"the earlier run had other options ({', '.join(changed)})"
    if last.stat().st_mtime < data_marker.stat().st_mtime:
        return "none", "the dataset was written after the earlier run"
    epochs = checkpoint["args"]["epochs"]
    # The condition `--resume` refuses as "already finished".
    if checkpoint["epoch"] >= epochs and checkpoint["sampler"]["position"] == 0 and best.is_file():
        return "finished", f"finished {epochs} epochs with these options"
    return "interrupted", f"stopped after epoch {checkpoint['epoch']} of {epochs}"


def train_or_reuse(config: MultitaskTrainConfig, *, data_marker: Path, fresh: bool) -> tuple[Path, bool, int]:
    """(weights/best.pt of the run, whether an earlier finished run was reused, the epochs it trained)."""
    best = run_folder(config) / "weights" / "best.pt"
    state, why = ("none", "--fresh") if fresh else previous_run(config, data_marker=data_marker)
    if state == "finished":
        print(f"reusing {best}: {why} (--fresh trains again)")
    elif state == "interrupted":
        print(f"continuing {run_folder(config)}: {why}")
        resumed, checkpoint = resumed_config(str(best.with_name("last.pt")), {}, task="multitask",
                                             config_class=MultitaskTrainConfig)
        train(get_task("multitask"), resumed, resume_from=checkpoint, on_pace=functools.partial(announce, config=resumed))
    else:
        length = f"{config.time:g} minutes" if config.time > 0 else f"{config.epochs} epochs"
        print(f"training {config.model} (recipe {RECIPE}: width {config.width:g}, {config.imgsz} px, {length}, "
              f"batch {config.batch}) into {run_folder(config)}; {why}")
        train(get_task("multitask"), config, on_pace=functools.partial(announce, config=config))
    return best, state == "finished", read_checkpoint(best.with_name("last.pt"))["args"]["epochs"]
