"""`--recipe auto` against `--recipe quick` and torchvision's models on one dataset, the same minutes each.

Each run is a separate process: `mobilevision {detect,segment} train --recipe auto|quick --time M`
(the budget counts its validations too), `benchmarks/detect_race.py --arms torchvision` (torchvision's
ssdlite320_mobilenet_v3_large from scratch) and `benchmarks/segment_race.py --arms lraspp`
(lraspp_mobilenet_v3_large from scratch); those two count only training seconds. Runs go
`--parallel` at a time with `--threads` threads each, so every run sees the same share of the CPU
(on 2 cores: two runs of one thread). Prints each run's final metrics and writes them to
`<out>/results.json`.

    mobilevision data synth --out /tmp/race/small --images 1500 --val-images 200 \\
        --object-size 0.03 0.12 --image-size 240 640 --aspect-ratio 0.5 2
    python benchmarks/recipe_race.py --data /tmp/race/small --out /tmp/race/small_runs --minutes 10 \\
        --runs detect:auto detect:torchvision detect:quick segment:auto segment:quick segment:lraspp
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPES = ("auto", "quick")
KEYS = {"detect": ("mAP", "mAP50", "mAP_small", "mAP_large"), "segment": ("miou", "pixel_accuracy")}


def command(task: str, arm: str, *, data: Path, out: Path, minutes: float) -> list[str]:
    """The argv of one run."""
    if arm in RECIPES:
        return [sys.executable, "-m", "mobilevision.cli", task, "train", "--data", str(data), "--recipe", arm,
                "--time", f"{minutes:g}", "--project", str(out), "--name", f"{task}_{arm}", "--exist-ok"]
    script = {"torchvision": "detect_race.py", "lraspp": "segment_race.py"}[arm]
    argv = [sys.executable, str(HERE / script), "--data", str(data), "--seconds", f"{60 * minutes:g}",
            "--arms", arm, "--workers", "0"]
    if arm == "lraspp":  # the whole training split, as the recipes read, on this run's threads
        train = len((data / "voc" / "ImageSets" / "Segmentation" / "train.txt").read_text().split())
        argv += ["--train-images", str(train), "--threads", os.environ["OMP_NUM_THREADS"],
                 "--json", str(out / "segment_lraspp.json")]
    return argv


def final_metrics(task: str, arm: str, *, out: Path, log: str) -> dict:
    """The last validation's metrics of a finished run."""
    if arm in RECIPES:
        with open(out / task / f"{task}_{arm}" / "results.csv", newline="") as file:
            rows = [row for row in csv.DictReader(file)]
        last = rows[-1]
        return {key.split("/")[-1]: float(value) for key, value in last.items()
                if value and key.split("/")[-1] in (*KEYS[task], "epoch")}
    if arm == "torchvision":
        return json.loads([line for line in log.splitlines() if line.startswith("{")][-1])
    return json.loads((out / "segment_lraspp.json").read_text())["lraspp"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a `mobilevision data synth` folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs, logs and results.json")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--runs", nargs="+", required=True,
                        help="task:arm, arm one of auto, quick, torchvision (detect), lraspp (segment)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    pending = [tuple(run.split(":")) for run in args.runs]
    running: list[tuple[tuple[str, str], subprocess.Popen, Path]] = []
    results = {}
    while pending or running:
        while pending and len(running) < args.parallel:
            task, arm = pending.pop(0)
            log = args.out / f"{task}_{arm}.log"
            argv = command(task, arm, data=args.data.resolve(), out=args.out.resolve(), minutes=args.minutes)
            print(f"[{time.strftime('%H:%M:%S')}] start {task}:{arm}: {' '.join(argv)}", flush=True)
            running.append(((task, arm), subprocess.Popen(argv, env=env, stdout=open(log, "w"),
                                                          stderr=subprocess.STDOUT), log))
        time.sleep(5)
        for entry in [entry for entry in running if entry[1].poll() is not None]:
            running.remove(entry)
            (task, arm), process, log = entry
            if process.returncode:
                print(f"{task}:{arm} failed ({process.returncode}); see {log}", flush=True)
                continue
            results[f"{task}:{arm}"] = final_metrics(task, arm, out=args.out, log=log.read_text())
            print(f"[{time.strftime('%H:%M:%S')}] {task}:{arm}: {json.dumps(results[f'{task}:{arm}'])}", flush=True)
            (args.out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
