"""The `mobilevision data` command group: synth, check, stats, bench."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="generate, check and benchmark datasets",
                                 description="Generate the built-in dataset, validate a dataset, "
                                 "benchmark the loaders.")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    synth = commands.add_parser("synth", help="write the built-in dataset (COCO, VOC and class folders)",
                                description="Generate scenes of shapes on cluttered backgrounds and write them as a "
                                "COCO tree, a VOC tree and class folders, with train and val splits. Classes: "
                                "circle, rectangle, triangle, star, ring, cross; the folder view files each image "
                                "under the class of its largest object, or 'background' when it has none; VOC masks "
                                "have no 255 border. The same seed gives byte-identical files.")
    synth.add_argument("--out", type=Path, required=True, help="output folder (created)")
    synth.add_argument("--images", type=int, default=1000,
                       help="number of images, train + val (default 1000)")
    synth.add_argument("--val-images", type=int, default=None,
                       help="how many of them (the last ones) form the val split (default: 20%%)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--size", type=int, default=320, help="image side in pixels (default 320)")
    synth.add_argument("--workers", type=int, default=2, help="generator processes (default 2)")
    # Data unlike the default, to check recipes on; left out, the built-in dataset is unchanged.
    synth.add_argument("--object-size", type=float, nargs=2, metavar=("MIN", "MAX"), default=(0.1, 0.6),
                       help="object diameters, fractions of the image's shorter side, drawn log-uniformly "
                       "(default 0.1 0.6)")
    synth.add_argument("--image-size", type=int, nargs=2, metavar=("MIN", "MAX"), default=None,
                       help="each image's sqrt(width x height) in pixels, drawn log-uniformly (default: --size)")
    synth.add_argument("--aspect-ratio", type=float, nargs=2, metavar=("MIN", "MAX"), default=(1.0, 1.0),
                       help="each image's width / height, drawn log-uniformly (default 1 1: square)")
    synth.add_argument("--classes", type=int, default=6, help="number of classes, the first N shapes (1-6, default 6)")
    synth.add_argument("--imbalance", type=float, default=1.0,
                       help="how many times more objects of the first class than of the last, geometric in between "
                       "(default 1: balanced)")
    synth.set_defaults(run=run_synth)

    check = commands.add_parser("check", help="validate a dataset and list every problem",
                                description="Read every sample; print counts per class, image sizes and each "
                                "problem (file, reason and fix): unreadable or corrupt images, bad boxes and masks, "
                                "malformed annotations (training drops them), EXIF orientations to check. Exit code 1 "
                                "when a problem is found, 2 when the dataset cannot be read at all.")
    check.add_argument("data", help="dataset folder or dataset YAML")
    check.set_defaults(run=run_check)

    stats = commands.add_parser("stats", help="dataset statistics: sizes, objects, classes, mask pixels",
                                description="Per split, from the annotations (no image is decoded): image sizes, "
                                "objects per image, object sizes relative to the image and COCO's small / medium / "
                                "large counts, box aspect ratios, objects per class, the share of mask pixels per "
                                "class and images per class of class folders. Prints a table and writes stats.json "
                                "and a histogram PNG per split to runs/data/<name>/.")
    stats.add_argument("data", help="dataset folder or dataset YAML")
    stats.add_argument("--project", default="runs", help="folder that holds runs/data/<name> (default: runs)")
    stats.add_argument("--name", default="stats", help="run folder name (default: stats, stats2, ...)")
    stats.add_argument("--exist-ok", action="store_true", help="reuse the run folder if it exists")
    stats.add_argument("--json", action="store_true", help="print the statistics as JSON on stdout, nothing else")
    stats.set_defaults(run=run_stats)

    bench = commands.add_parser("bench", help="images/s of the training data pipelines",
                                description="Time each task's training pipeline through a DataLoader with 0 and 2 "
                                "workers on a generated dataset.")
    bench.add_argument("--imgsz", type=int, default=320, help="image size in pixels (default 320)")
    bench.add_argument("--images", type=int, default=160, help="images to generate for the benchmark (default 160)")
    bench.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    bench.set_defaults(run=run_bench)


def run_synth(args: argparse.Namespace) -> int:
    import time

    from mobilevision.datasets.synth.generate import generate_dataset
    from mobilevision.datasets.synth.options import SceneOptions
    from mobilevision.errors import MobileVisionError

    if args.images < 1 or args.size < 64:
        raise MobileVisionError(f"--images {args.images} --size {args.size}: need at least 1 image of at least 64 px")
    options = SceneOptions(object_size=tuple(args.object_size),
                           image_size=tuple(args.image_size) if args.image_size else None,
                           aspect_ratio=tuple(args.aspect_ratio), classes=args.classes, imbalance=args.imbalance)
    start = time.perf_counter()
    generate_dataset(args.out, images=args.images, val_images=args.val_images, seed=args.seed, size=args.size,
                     workers=args.workers, options=options)
    elapsed = time.perf_counter() - start
    sizes = f"{args.size} px" if args.image_size is None else f"{args.image_size[0]}-{args.image_size[1]} px"
    print(f"wrote {args.images} images of {sizes} to {args.out} in {elapsed:.2f} s "
          f"({args.images / elapsed:.0f} images/s)")
    return 0


def run_check(args: argparse.Namespace) -> int:
    import logging

    from mobilevision.datasets.check import check_dataset, print_reports

    # The report lists every problem; the readers' warnings would print each one twice.
    logging.getLogger("mobilevision.datasets").setLevel(logging.ERROR)

    # Bad input is exit code 2 across the suite, found here as when a command reads the data.
    return 2 if print_reports(check_dataset(args.data)) else 0


def run_stats(args: argparse.Namespace) -> int:
    import json
    import logging
    import sys

    from mobilevision.datasets.stats import dataset_stats
    from mobilevision.engine.run_dir import new_run_dir
    from mobilevision.visualize.dataset_plots import plot_split_stats

    # Problems are `data check`'s to list; here they would only interleave with the table.
    logging.getLogger("mobilevision.datasets").setLevel(logging.ERROR)
    splits = dataset_stats(args.data)
    summary = {"data": str(args.data), "splits": {stats.split: stats.summary() for stats in splits}}
    run_dir = new_run_dir(args.project, "data", args.name, exist_ok=args.exist_ok)
    (run_dir / "stats.json").write_text(json.dumps(summary, indent=1))
    for stats in splits:
        plot_split_stats(stats, run_dir / f"stats_{stats.split}.png")
    if args.json:
        print(json.dumps(summary))
    else:
        print("\n".join(line for stats in splits for line in stats.lines()))
    print(f"run folder: {run_dir}", file=sys.stderr)
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from mobilevision.bench.data_loaders import benchmark_loaders

    benchmark_loaders(size=args.imgsz, images=args.images, batch=args.batch)
    return 0
