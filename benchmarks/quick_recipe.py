"""A task's `quick` recipe on the built-in dataset, through the command line users run, against its goal.

    .venv/bin/python benchmarks/quick_recipe.py --task classify|detect|segment [--data DIR] [-- train flags]

Without --data it first writes the task's default built-in dataset (`mobilevision data synth --seed 0`
with --images of 320 px; 80% train, 20% val). Then it runs `mobilevision <task> train --recipe quick`
and prints each epoch's metrics with the training seconds so far, the first epoch that met the goal
(classify: top-1 >= 0.95 within 10 minutes; detect: COCO mAP >= 0.50 and mAP50 >= 0.85 within 15;
segment: mIoU >= 0.80 within 15, issues #4-#6), the wall-clock minutes of the whole run (per-epoch
validation included) and the CPU minutes: on a shared machine the CPU time divided by the core
count says how long the run would take with the machine to itself. The last line is JSON.
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

GOALS = {  # task -> (metric thresholds, minutes)
    "classify": ({"top1": 0.95}, 10),
    "detect": ({"mAP": 0.50, "mAP50": 0.85}, 15),
    "segment": ({"miou": 0.80}, 15),
}
DEFAULT_IMAGES = {"classify": 5000, "detect": 2000, "segment": 2000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(GOALS), required=True)
    parser.add_argument("--data", type=Path, default=None, help="an existing built-in dataset (default: generate one)")
    parser.add_argument("--images", type=int, default=None, help="images to generate (default: per task)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mobilevision-quick"), help="work folder")
    parser.add_argument("extra", nargs="*", help="more `<task> train` flags, after --")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "mobilevision.cli"]
    data = args.data
    if data is None:
        images = args.images or DEFAULT_IMAGES[args.task]
        data = args.out / f"synth{images}"
        if not data.exists():
            subprocess.run([*cli, "data", "synth", "--out", str(data), "--images", str(images), "--seed", "0"],
                           check=True)
    started = time.monotonic()
    subprocess.run([*cli, args.task, "train", "--recipe", "quick", "--data", str(data), "--project", str(args.out),
                    "--name", "quick", "--exist-ok", *args.extra], check=True)
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(args.out / args.task / "quick" / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))

    goal, minutes = GOALS[args.task]
    train_seconds, run_seconds, reached = 0.0, 0.0, None
    for row in rows:
        train_seconds += float(row["time"])
        run_seconds += float(row["time"]) + float(row["val_time"])  # the epochs' wall clock, start-up left out
        validated = all(row[name] for name in goal)  # --val-period leaves the other epochs' metrics empty
        met = validated and all(float(row[name]) >= threshold for name, threshold in goal.items())
        if met and reached is None:
            reached = {"epoch": int(row["epoch"]), "train_minutes": round(train_seconds / 60, 2),
                       "train_and_val_minutes": round(run_seconds / 60, 2)}
        values = "  ".join(f"{name} {float(row[name]):.4f}" if validated else f"{name}   -   " for name in goal)
        print(f"epoch {row['epoch']:>3}  {values}  minutes: train {train_seconds / 60:5.2f}, with val "
              f"{run_seconds / 60:5.2f}  img/s {float(row['images_per_s']):6.1f}{'  <- goal met' if met else ''}")
    final = {name: float(rows[-1][name]) for name in goal}
    summary = {"task": args.task, "goal": goal, "budget_minutes": minutes, "final": final,
               "best": {name: max(float(row[name]) for row in rows if row[name]) for name in goal},
               "first_met": reached, "epochs": len(rows), "train_minutes": round(train_seconds / 60, 2),
               "wall_minutes": round(wall / 60, 2),
               "cpu_minutes": round((usage.ru_utime + usage.ru_stime) / 60, 2), "cores": os.cpu_count(),
               "goal_met_at_end": all(final[n] >= t for n, t in goal.items()),
               # What --time budgets: the epochs' training and validation (start-up and plots are outside).
               "epochs_within_budget": run_seconds <= 60 * minutes,
               "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
