"""The command-line pieces every command shares: a training config's flags, and the weights,
output and data options of `val` and `predict`."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from mobilevision.cli.flag_types import positive_float, positive_int
from mobilevision.engine.config import Recipe, TrainConfig
from mobilevision.engine.device import DEVICES


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type[TrainConfig], *,
                         recipes: dict[str, Recipe] | None = None) -> None:
    """One flag per field of `config_class`: `weight_decay` -> `--weight-decay`, booleans as
    `--x/--no-x`; unset flags are absent from the parsed namespace, so a recipe can fill them."""
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
    return {item.name: getattr(args, item.name) for item in dataclasses.fields(config_class)
            if hasattr(args, item.name)}


def add_weights_arguments(parser: argparse.ArgumentParser, *, task: str, runtime: str = "torch") -> None:
    """--weights and what runs them: --runtime, --device, --imgsz; --model and --width for published weights."""
    parser.add_argument("--weights", required=True, help=f"a checkpoint (runs/{task}/<name>/weights/best.pt), its "
                        "ONNX export (with --runtime onnxruntime), or a published name such as "
                        "torchvision:ssdlite320_mobilenet_v3_large or torchvision:IMAGENET1K_V2 (`mobilevision "
                        "weights` lists them)")
    parser.add_argument("--runtime", default=runtime, choices=("auto", "torch", "onnxruntime"),
                        help="torch; onnxruntime (CPU; a .pt is exported once, beside it); auto: on a CPU the "
                        "faster of folded torch and ONNX Runtime, timed once and cached beside the checkpoint; torch "
                        f"with BatchNorm folded on a GPU (default: {runtime})")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    parser.add_argument("--imgsz", type=positive_int, default=None, help="input size (default: the weights' own)")
    parser.add_argument("--model", default=None, help="network of published weights (checkpoints name their own; "
                        "default: mobilenet_v2)")
    parser.add_argument("--width", type=positive_float, default=1.0,
                        help="width of published weights (default: 1.0)")


def add_output_arguments(parser: argparse.ArgumentParser, *, task: str, folder: str) -> None:
    """--project and --name of a `<task> val|predict` that writes runs/<task>/<folder>*."""
    parser.add_argument("--project", default="runs", help=f"folder that holds runs/{task}/<name> (default: runs)")
    parser.add_argument("--name", default=folder, help=f"run folder name (default: {folder}, {folder}2, ...)")


def print_results(results: Iterable[dict], *, as_json: bool, line: Callable[[dict], str]) -> int:
    """Results as one JSON list on stdout with --json, else one `line(result)` each as they come."""
    collected = []
    for result in results:
        if as_json:
            collected.append(result)
        else:
            print(line(result))
    if as_json:
        print(json.dumps(collected, indent=2))
    return 0
