"""The command-line pieces every task's `train|val|predict` group shares."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from typing import TypeVar

from mobilevision.engine.config import TrainConfig, add_config_arguments

Result = TypeVar("Result")
DEVICES = ("auto", "cpu", "cuda", "mps")


def add_train_parser(modes: argparse._SubParsersAction, *, config_class: type[TrainConfig], recipes: dict,
                     help: str, description: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """`<task> train`: one flag per config field, the recipes and their sources in --help, and --json."""
    train = modes.add_parser("train", help=help, description=description + " Recipes: "
                             + "; ".join(f"{r.name}: {r.source}" for r in recipes.values()))
    add_config_arguments(train, config_class, recipes=recipes)
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON on stdout")
    train.set_defaults(run=run)
    return train


def add_val_options(parser: argparse.ArgumentParser, *, data: str, batch: int) -> None:
    """--data (a dataset of the kinds `data` names), --split, --batch, --workers and --json of `<task> val`."""
    parser.add_argument("--data", required=True, help=f"dataset folder or YAML ({data})")
    parser.add_argument("--split", default="val", choices=("train", "val"), help="split to evaluate (default: val)")
    parser.add_argument("--batch", type=int, default=batch, help=f"images per batch (default: {batch})")
    parser.add_argument("--workers", type=int, default=2, help="data-loading worker processes (default: 2)")
    parser.add_argument("--json", action="store_true", help="print only the metrics as JSON on stdout")


def add_output_options(parser: argparse.ArgumentParser, *, task: str, folder: str) -> None:
    """--imgsz, --device, --project and --name of a `<task> val|predict` that writes runs/<task>/<folder>*."""
    parser.add_argument("--imgsz", type=int, default=None, help="input size (default: the checkpoint's)")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    parser.add_argument("--project", default="runs", help=f"folder that holds runs/{task}/<name> (default: runs)")
    parser.add_argument("--name", default=folder, help=f"run folder name (default: {folder}, {folder}2, ...)")


def on_every_rank(device: str, work: Callable[[], Result]) -> Result | None:
    """Run `work` in every torchrun process (evaluation reduces across them); the result on rank 0,
    None on the others, which then print nothing."""
    from mobilevision.engine.distributed import init_distributed, shutdown

    is_main = init_distributed(device).is_main
    try:
        result = work()
    finally:
        shutdown()
    return result if is_main else None


def run_val_command(args: argparse.Namespace, validate: Callable[..., tuple[dict, object]], *,
                    summary: Callable[[dict, object], str]) -> int:
    """The body of `<task> val` for `validate(weights, data, imgsz, batch, device, workers, split, project, name,
    progress) -> (metrics, run folder)`: run on every torchrun rank; rank 0 prints the metrics as JSON
    (--json) or `summary(metrics, run folder)`."""
    result = on_every_rank(args.device, lambda: validate(
        weights=args.weights, data=args.data, imgsz=args.imgsz, batch=args.batch, device=args.device,
        workers=args.workers, split=args.split, project=args.project, name=args.name, progress=not args.json))
    if result is not None:
        print(json.dumps(result[0]) if args.json else summary(*result))
    return 0


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
