"""The quick recipe on the built-in dataset: top-1 on its val split and the wall time it took.

    .venv/bin/python benchmarks/quick_recipe.py [--data DIR] [--out /tmp/quick] [-- extra train flags]

Without --data it first writes the default built-in dataset (`mobilevision data synth`, 1000 images
of 320 px, seed 0; 800 train / 200 val). Then it runs `mobilevision classify train --recipe quick`
(the real command line) and prints, per epoch, top-1 and the time since the start, the time at which
top-1 first reached 95%, and the CPU seconds the run used: on a shared machine the CPU time divided
by the core count says how long the run would take with the machine to itself.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="an existing built-in dataset (default: generate one)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mobilevision-quick"), help="work folder")
    parser.add_argument("extra", nargs="*", help="more `classify train` flags, after --")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "mobilevision.cli"]
    data = args.data
    if data is None:
        data = args.out / "synth"
        if not data.exists():
            subprocess.run([*cli, "data", "synth", "--out", str(data), "--images", "1000", "--seed", "0"], check=True)
    started = time.monotonic()
    subprocess.run([*cli, "classify", "train", "--recipe", "quick", "--data", str(data), "--project", str(args.out),
                    "--name", "quick", "--exist-ok", *args.extra], check=True)
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(args.out / "classify" / "quick" / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    elapsed, reached = 0.0, None
    for row in rows:
        elapsed += float(row["time"])
        if reached is None and float(row["top1"]) >= 0.95:
            reached = int(row["epoch"])
        print(f"epoch {row['epoch']:>3}  top1 {float(row['top1']):.4f}  train img/s {float(row['images_per_s']):6.1f}")
    summary = {"final_top1": float(rows[-1]["top1"]), "best_top1": max(float(r["top1"]) for r in rows),
               "first_epoch_at_95": reached, "epochs": len(rows), "wall_minutes": round(wall / 60, 2),
               "cpu_minutes": round((usage.ru_utime + usage.ru_stime) / 60, 2), "cores": os.cpu_count(),
               "load_average_1min_at_end": os.getloadavg()[0]}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
