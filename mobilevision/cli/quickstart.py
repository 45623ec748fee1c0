"""`mobilevision quickstart`: the end-to-end tour that `make demo` runs (demos/quickstart/)."""

from __future__ import annotations

import argparse

from mobilevision.bench.cases import RUNTIMES
from mobilevision.cli.flag_types import port, positive_float, positive_int
from mobilevision.demos.quickstart.settings import DATASET_IMAGES, RECIPE, TRAIN_MINUTES, VAL_IMAGES, QuickstartSettings
from mobilevision.engine.device import DEVICES

MIN_TRAIN_IMAGES = 8  # one batch of the recipe
DESCRIPTION = f"""On the built-in dataset: generate it; train a MobileNetV2 multi-task model (classification,
SSDLite and DeepLabv3 on one backbone pass) with the multitask `{RECIPE}` recipe for --train-minutes;
evaluate it (top-1, COCO mAP, mAP@.5, mIoU); benchmark it against MobileNetV1 at the same width
(params, multiply-adds, latency per runtime, accuracy); export it to ONNX; render an annotated demo
video and a gallery of predictions; then serve the web demo on 127.0.0.1. Everything goes into
runs/quickstart/ (--project, --name), with summary.json and summary.md. A second run reuses the
dataset, checkpoints, ONNX export and benchmark when nothing they came from changed, and says so."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("quickstart", help="the whole suite end to end on the built-in dataset "
                                   "(what `make demo` runs)", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=positive_int, default=DATASET_IMAGES,
                        help=f"built-in images to generate, train + val (default: {DATASET_IMAGES})")
    parser.add_argument("--val-images", type=positive_int, default=VAL_IMAGES,
                        help=f"how many of them form the val split (default: {VAL_IMAGES})")
    parser.add_argument("--imgsz", type=positive_int, default=None, help="input size, and side of the generated images "
                        "(default: the recipe's)")
    parser.add_argument("--train-minutes", type=positive_float, default=TRAIN_MINUTES, help="training budget in "
                        "minutes: as many epochs of the recipe as fit, the learning-rate schedule sized to them "
                        f"(multitask train --time; default: {TRAIN_MINUTES:g})")
    parser.add_argument("--epochs", type=positive_int, default=None, help="train this many epochs instead of "
                        "--train-minutes")
    parser.add_argument("--width", type=positive_float, default=None, help="width multiplier of both backbones "
                        "(default: the recipe's)")
    parser.add_argument("--train-v1", action="store_true", help="also train the MobileNetV1 model with the same "
                        "recipe, for its accuracy (doubles the training time); by default it is timed untrained")
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(QuickstartSettings.runtimes),
                        help=f"runtimes to time (default: {' '.join(QuickstartSettings.runtimes)})")
    parser.add_argument("--bench-iters", type=positive_int, default=QuickstartSettings.bench_iters,
                        help=f"timed batch-1 calls per runtime (default: {QuickstartSettings.bench_iters})")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="device for training and evaluation (default: auto)")
    parser.add_argument("--project", default="runs", help="folder that holds the run folder (default: runs)")
    parser.add_argument("--name", default="quickstart", help="run folder name (default: quickstart)")
    parser.add_argument("--fresh", action="store_true", help="make everything again instead of reusing an earlier "
                        "run's dataset, checkpoints, export and benchmark")
    parser.add_argument("--no-serve", action="store_true", help="stop before starting the web demo")
    parser.add_argument("--port", type=port, default=7860, help="port of the web demo on 127.0.0.1 (default: 7860)")
    parser.set_defaults(run=run)


def settings_from_args(args: argparse.Namespace) -> QuickstartSettings:
    """The flags as QuickstartSettings, with values argparse cannot check as one-line errors."""
    from mobilevision.errors import MobileVisionError

    if args.images - args.val_images < MIN_TRAIN_IMAGES:
        raise MobileVisionError(f"--images {args.images} --val-images {args.val_images}: the quickstart needs at "
                                f"least {MIN_TRAIN_IMAGES} train images; raise --images or lower --val-images")
    if args.imgsz is not None and args.imgsz < 64:
        raise MobileVisionError(f"--imgsz {args.imgsz}: the built-in images are at least 64 px")
    return QuickstartSettings(images=args.images, val_images=args.val_images, imgsz=args.imgsz, epochs=args.epochs,
                              train_minutes=args.train_minutes, width=args.width, train_v1=args.train_v1,
                              runtimes=tuple(args.runtimes), bench_iters=args.bench_iters, device=args.device,
                              project=args.project, name=args.name, fresh=args.fresh, serve=not args.no_serve,
                              port=args.port)


def run(args: argparse.Namespace) -> int:
    from mobilevision.demos.quickstart.tour import run_quickstart

    run_quickstart(settings_from_args(args))
    return 0
