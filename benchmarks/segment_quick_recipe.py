"""The `quick` segmentation recipe on the built-in dataset, through the command line users run:
`mobilevision segment train --recipe quick` on 900 training images of 320 px, then `segment val
--json` on the 300 val images. Prints the training minutes (wall clock, validation included)
and the mIoU; the target is mIoU >= 0.80 within 15 minutes on a 2-core CPU.

    python benchmarks/segment_quick_recipe.py --data /tmp/segbench/data --epochs 30
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from segment_race import race_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/segbench/data"))
    parser.add_argument("--train-images", type=int, default=900)
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--project", type=Path, default=Path("/tmp/segbench/runs"))
    args = parser.parse_args()
    yaml_file = race_data(args.data, train_images=args.train_images)
    command = [sys.executable, "-m", "mobilevision.cli", "segment", "train", "--recipe", "quick", "--data",
               str(yaml_file), "--device", "cpu", "--project", str(args.project), "--name", "quick"]
    if args.epochs:
        command += ["--epochs", str(args.epochs)]
    started = time.perf_counter()
    train = subprocess.run(command, capture_output=True, text=True, check=True)
    minutes = (time.perf_counter() - started) / 60
    run_dir = Path(next(line for line in train.stdout.splitlines() if line.startswith("run folder: ")).split(": ", 1)[1])
    val = subprocess.run([sys.executable, "-m", "mobilevision.cli", "segment", "val", "--weights",
                          str(run_dir / "weights" / "last.pt"), "--data", str(yaml_file), "--device", "cpu",
                          "--project", str(args.project), "--json"], capture_output=True, text=True, check=True)
    metrics = json.loads(val.stdout)
    print(f"quick recipe: {minutes:.1f} min of training (incl. per-epoch validation), mIoU {metrics['miou']:.4f}, "
          f"pixel accuracy {metrics['pixel_accuracy']:.4f}; per class: "
          + ", ".join(f"{name} {iou:.2f}" for name, iou in metrics["per_class_iou"].items() if iou is not None))
    print(f"run folder: {run_dir}")


if __name__ == "__main__":
    main()
