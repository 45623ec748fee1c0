"""The command-line pieces every task's `train|val|predict` group shares."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from typing import TypeVar

from mobilevision.tasks.engine.config import TrainConfig, add_config_arguments

Result = TypeVar("Result")


def add_train_parser(modes: argparse._SubParsersAction, *, config_class: type[TrainConfig], recipes: dict,
                     help: str, description: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """`<task> train`: one flag per config field, the recipes and their sources in --help, and --json."""
    train = modes.add_parser("train", help=help, description=description + " Recipes: "
                             + "; ".join(f"{r.name}: {r.source}" for r in recipes.values()))
    add_config_arguments(train, config_class, recipes=recipes)
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON on stdout")
    train.set_defaults(run=run)
    return train


def on_every_rank(device: str, work: Callable[[], Result]) -> Result | None:
    """Run `work` in every torchrun process (evaluation reduces across them); the result on rank 0,
    None on the others, which then print nothing."""
    from mobilevision.tasks.engine.distributed import init_distributed, shutdown

    is_main = init_distributed(device).is_main
    try:
        result = work()
    finally:
        shutdown()
    return result if is_main else None


def print_results(results: Iterable[dict], *, as_json: bool, line: Callable[[dict], str]) -> int:
    """Predictions as one JSON list on stdout with --json, else one `line(result)` each as they come."""
    collected = []
    for result in results:
        if as_json:
            collected.append(result)
        else:
            print(line(result))
    if as_json:
        print(json.dumps(collected, indent=2))
    return 0
