"""`mobilevision bench`: every model in every runtime, each timed in its own fresh process.

Writes runs/bench/<name>/: results.csv, results.json, PNG plots, and weights/ with the checkpoints
and ONNX files that were timed. `--paper` only prints our counts beside the papers' tables.
`--memory-budget` adds eager_split / optimized_split rows: MobileNetV2 models in memory-efficient
mode, each block in the fewest channel groups whose fp32 activations fit the budget.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from mobilevision.bench.cases import RUNTIMES
from mobilevision.bench.run import DEFAULT_TIMING
from mobilevision.cli.flag_types import non_negative_int, positive_float, positive_int
from mobilevision.errors import MobileVisionError


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="params, MAdds, latency, throughput, memory and accuracy per runtime",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=None,
                        help="registered models (default: V1 against V2 for each task, see cases.py)")
    parser.add_argument("--widths", nargs="+", type=positive_float, default=None,
                        help="width multipliers (default 1.0)")
    parser.add_argument("--imgsz", nargs="+", type=positive_int, default=None,
                        help="input sides (default: 224 classify, 320 detect, 512 segment)")
    parser.add_argument("--weights", nargs="+", default=None, help="trained checkpoints or published names such as "
                        "torchvision:ssdlite320_mobilenet_v3_large (`mobilevision weights` lists them) to bench "
                        "instead of --models")
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES), help="runtimes to time")
    parser.add_argument("--data", default=None,
                        help="dataset (folder or YAML): accuracy per runtime, and INT8 calibrated on its images")
    parser.add_argument("--data-images", type=non_negative_int, default=200, help="val images for accuracy (0: all)")
    parser.add_argument("--calib-images", type=positive_int, default=32, help="images that calibrate INT8")
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1, help="threads of every runtime")
    parser.add_argument("--warmup", type=non_negative_int, default=DEFAULT_TIMING["warmup"],
                        help="untimed calls before timing")
    parser.add_argument("--iters", type=positive_int, default=DEFAULT_TIMING["iters"],
                        help="timed batch-1 calls (median and p90)")
    parser.add_argument("--batch", type=positive_int, default=DEFAULT_TIMING["batch"],
                        help="batch of the throughput measurement")
    parser.add_argument("--batch-iters", type=positive_int, default=DEFAULT_TIMING["batch_iters"],
                        help="timed calls at --batch")
    parser.add_argument("--rounds", type=positive_int, default=1,
                        help="time every row this many times, in alternating sweeps over all rows, and keep each "
                        "row's round with the lowest median (on a shared machine, a noisy neighbour can slow one "
                        "row's whole timing window; 3 sweeps make a one-off ratio unlikely)")
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULT_TIMING["seed"],
                        help="seed of the weights, inputs and calibration")
    parser.add_argument("--memory-budget", type=_memory_size, default=None, metavar="SIZE",
                        help="also time MobileNetV2 models' eager runtimes in memory-efficient mode, each block split "
                             "into the fewest channel groups whose fp32 activations fit SIZE (bytes, 256KiB, 1.5MiB)")
    parser.add_argument("--compare", choices=("torchvision",), default=None,
                        help="also time torchvision's mobile models and print ratios: random weights, or "
                        "beside a published --weights name torchvision's own model with the same file")
    parser.add_argument("--paper", action="store_true", help="print params/MAdds beside the papers', and our latency "
                        "of each TF zoo release beside its published accuracy, and exit")
    parser.add_argument("--project", default="runs", help="runs folder (default: runs)")
    parser.add_argument("--name", default=None, help="run name under runs/bench/ (default: exp, exp2, ...)")
    parser.add_argument("--exist-ok", action="store_true", help="reuse runs/bench/<name> if it exists")
    parser.set_defaults(run=run)


def _memory_size(text: str) -> int:
    from mobilevision.analysis.memory import parse_bytes

    try:
        size = parse_bytes(text)
    except MobileVisionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if size <= 0:  # 0 would silently mean "no budget"
        raise argparse.ArgumentTypeError(f"memory size {text!r}: give a positive size (e.g. 256KiB)")
    return size


def run(args: argparse.Namespace) -> int:
    from mobilevision.bench.run import BenchSettings, run_bench
    from mobilevision.tasks.checkpoint_file import read_checkpoint

    if args.paper:
        import torch

        from mobilevision.bench.paper import paper_markdown, paper_rows
        from mobilevision.engine.machine import cpu_name

        print("Our parameters and multiply-adds beside the published ones (shared/reference/numbers.md; "
              "ImageNet rows with a 1001-way classifier as TF-slim); for each TF zoo release, its published "
              f"accuracy beside our latency of it: eager PyTorch, {torch.get_num_threads()} threads, batch 1, the "
              f"network alone, median of {args.iters} calls after {args.warmup}, on {cpu_name()}:")
        print(paper_markdown(paper_rows(warmup=args.warmup, iters=args.iters)))
        return 0
    for weights in args.weights or ():
        if os.path.isfile(weights):  # a checkpoint, not a published name: a bad file is one line before any work
            read_checkpoint(weights)
    run_bench(BenchSettings(**{item.name: getattr(args, item.name) for item in dataclasses.fields(BenchSettings)}))
    return 0
