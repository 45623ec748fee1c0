"""Detection + segmentation from one multi-task model against SSDLite and DeepLabv3 run one after the
other: latency at 320 px and accuracy after the same training time on the built-in data (issue 8:
at most 0.65x the latency, mAP and mIoU within 2 points).

    .venv/bin/python benchmarks/multitask.py [--data DIR] [--seconds 900] [--runtime optimized|onnxruntime]
    .venv/bin/python benchmarks/multitask.py --quick     # checks the script on a tiny setting

Accuracy: the `quick` recipes of `multitask` (here with --tasks detect,segment), `detect` and
`segment` are trained through the command line users run, each with `--time` set to --seconds: after
each epoch the run is re-sized to the steps the rest of the budget holds (training and
validation). results.csv's per-epoch seconds are reported, as the machine load may change between runs.
The last epoch's validation metrics are compared: COCO mAP of the detector, mIoU of the segmenter.

Latency: the three trained models (random weights with --skip-train) at --imgsz, batch 1, in one
runtime in this process: eager PyTorch with BatchNorm folded and channels_last (optimized), or
ONNX Runtime on their exports; each timed call is the eval forward on a preprocessed image, network
and post-processing (decoding + NMS, argmax). The multi-task model and the pair (detector, then
segmenter) are timed in alternating rounds, so a noisy neighbour slows both alike. The last line is JSON.
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

import numpy as np
import torch

from mobilevision.analysis.complexity import count_madds
from mobilevision.engine.checkpoint import load_checkpoint

CLI = [sys.executable, "-m", "mobilevision.cli"]
ARMS = {  # arm -> (task, extra train flags, (metric of results.csv, reported as))
    "multitask": ("multitask", ["--tasks", "detect,segment"], [("detect/mAP", "mAP"), ("segment/miou", "miou")]),
    "detect": ("detect", [], [("mAP", "mAP")]),
    "segment": ("segment", [], [("miou", "miou")]),
}


def train(arm: str, *, data: Path, out: Path, budget: list[str], extra: list[str]) -> tuple[Path, list[dict]]:
    """(best.pt, results.csv rows) of `<task> train --recipe quick` for `budget` (--time or --epochs)."""
    task, flags, _ = ARMS[arm]
    subprocess.run([*CLI, task, "train", "--recipe", "quick", "--data", str(data), "--project", str(out), "--name",
                    arm, "--exist-ok", *budget, *flags, *extra], check=True)
    with open(out / task / arm / "results.csv", newline="") as file:
        return out / task / arm / "weights" / "best.pt", list(csv.DictReader(file))


def accuracy(*, data: Path, out: Path, budget: list[str], extra: dict[str, list[str]]) -> tuple[dict, dict]:
    """({arm: its row}, {arm: best.pt}) after each arm trained for `budget`."""
    rows, weights = {}, {}
    for arm, (_, _, metrics) in ARMS.items():
        weights[arm], results = train(arm, data=data, out=out, budget=budget, extra=extra[arm])
        rows[arm] = {"epochs": len(results), "train_seconds": round(sum(float(row["time"]) for row in results), 1),
                     "val_seconds": round(sum(float(row["val_time"]) for row in results), 1),
                     **{shown: round(float(results[-1][column]), 4) for column, shown in metrics}}
    return rows, weights


def random_checkpoints(*, folder: Path, imgsz: int, width: float, decoder: bool) -> dict[str, Path]:
    """{arm: checkpoint} of the quick recipes' networks with random weights, 7 classes as the built-in data."""
    from mobilevision.bench.cases import write_checkpoint
    from mobilevision.tasks.detect.config import RECIPES as DETECT
    from mobilevision.tasks.multitask.config import RECIPES as MULTITASK
    from mobilevision.tasks.registry import build_model
    from mobilevision.tasks.segment.config import RECIPES as SEGMENT

    segment = SEGMENT["quick"].config
    specs = {  # arm -> (model name, builder keyword arguments)
        "multitask": (MULTITASK["quick"].config.model, {"tasks": ["detect", "segment"], "imgsz": imgsz,
                                                        "deeplab": {"decoder": decoder}}),
        "detect": (DETECT["quick"].config.model, {"imgsz": imgsz}),
        "segment": (segment.model, {"output_stride": segment.output_stride,
                                    "deeplab": {"head": segment.head, "decoder": segment.decoder}}),
    }
    paths = {}
    for arm, (name, kwargs) in specs.items():
        kwargs = {"width": width, "num_classes": 7, **kwargs}
        paths[arm] = write_checkpoint(build_model(name, **kwargs), folder / f"random-{arm}.pt", model_name=name,
                                      model_kwargs=kwargs, task=ARMS[arm][0], class_names=[], imgsz=imgsz)
    return paths


def runtime_models(checkpoints: dict[str, Path], *, runtime: str, imgsz: int, folder: Path) -> dict:
    """{arm: model in eval mode} in `runtime`, as `mobilevision bench` loads them: BatchNorm folded +
    channels_last, or ONNX Runtime on the `mobilevision export` of each checkpoint."""
    from mobilevision.deploy.export import export
    from mobilevision.deploy.runtime import load_runtime

    loaded = {}
    for arm, checkpoint in checkpoints.items():
        onnx = None
        if runtime == "onnxruntime":
            onnx = export(str(checkpoint), fmt="onnx", imgsz=imgsz, int8=False, calib=None, calib_images=0,
                          out=str(folder / f"{arm}-{imgsz}.onnx"))["onnx"]
        loaded[arm], _ = load_runtime(runtime="ort_fp32" if onnx else "optimized", checkpoint=str(checkpoint), onnx=onnx,
                                   threads=os.cpu_count() or 1)
    return loaded


@torch.no_grad()
def latency(models: dict, *, runtime: str, imgsz: int, warmup: int, rounds: int) -> dict:
    """Median and min ms of the multi-task model and of the detector + segmenter, in alternating rounds."""
    image = torch.randn(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    image = image.contiguous(memory_format=torch.channels_last if runtime == "optimized" else torch.contiguous_format)
    calls = {"multitask": lambda: models["multitask"](image),
             "detect+segment": lambda: (models["detect"](image), models["segment"](image))}
    times = {name: [] for name in calls}
    for index in range(warmup + rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            if index >= warmup:
                times[name].append((time.perf_counter() - started) * 1000)
    result = {name: {"median_ms": round(float(np.median(ms)), 2), "min_ms": round(min(ms), 2)}
              for name, ms in times.items()}
    for statistic in ("median", "min"):
        ratio = result["multitask"][f"{statistic}_ms"] / result["detect+segment"][f"{statistic}_ms"]
        result[f"ratio_{statistic}"] = round(ratio, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="a built-in dataset (default: generate 1000 images "
                        "of 320 px into --out)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/mobilevision-multitask"), help="work folder")
    parser.add_argument("--seconds", type=float, default=900.0, help="training seconds per model, validation included "
                        "(default: 900)")
    parser.add_argument("--skip-train", action="store_true", help="latency only, on random weights")
    parser.add_argument("--runtime", choices=("optimized", "onnxruntime"), default="optimized",
                        help="what runs the three models (default: folded BatchNorm + channels_last PyTorch)")
    parser.add_argument("--imgsz", type=int, default=320, help="latency input size (default: 320)")
    parser.add_argument("--width", type=float, default=0.5, help="width of the untrained models (default: 0.5, the "
                        "quick recipes')")
    parser.add_argument("--decoder", action="store_true", help="the multi-task model with the DeepLabv3+ decoder, "
                        "as the segment quick recipe's segmenter (sharper masks, slower)")
    parser.add_argument("--rounds", type=int, default=50, help="timed rounds (default: 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default: 5)")
    parser.add_argument("--quick", action="store_true", help="30 images of 128 px, 1 epoch at 64 px, 3 rounds at "
                        "128 px: checks the script runs")
    args = parser.parse_args()
    tiny = ["--workers", "0", "--imgsz", "64", "--batch", "4"] if args.quick else []
    extra = {arm: tiny + (["--decoder"] if arm == "multitask" and args.decoder else []) for arm in ARMS}
    imgsz, rounds, warmup = (128, 3, 1) if args.quick else (args.imgsz, args.rounds, args.warmup)
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data
    if data is None and not args.skip_train:
        images, size = (30, 128) if args.quick else (1000, 320)
        data = args.out / f"synth{images}-{size}"
        if not data.exists():
            subprocess.run([*CLI, "data", "synth", "--out", str(data), "--images", str(images), "--size", str(size)],
                           check=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f} "
          "at start", flush=True)

    summary = {"runtime": args.runtime, "imgsz": imgsz}
    weights = None
    if not args.skip_train:
        budget = ["--epochs", "1"] if args.quick else ["--time", f"{args.seconds / 60:g}"]
        summary["accuracy"], weights = accuracy(data=data, out=args.out, budget=budget, extra=extra)
        rows = summary["accuracy"]
        summary["mAP_points_behind"] = round(100 * (rows["detect"]["mAP"] - rows["multitask"]["mAP"]), 2)
        summary["miou_points_behind"] = round(100 * (rows["segment"]["miou"] - rows["multitask"]["miou"]), 2)
    checkpoints = weights or random_checkpoints(folder=args.out, imgsz=imgsz, width=args.width, decoder=args.decoder)
    madds = {arm: count_madds(model, imgsz=imgsz, forward=model.raw_outputs)
             for arm, model in ((arm, load_checkpoint(path)[0]) for arm, path in checkpoints.items())}
    summary["madds"] = {**madds, "ratio": round(madds["multitask"] / (madds["detect"] + madds["segment"]), 3)}
    models = runtime_models(checkpoints, runtime=args.runtime, imgsz=imgsz, folder=args.out)
    summary["latency"] = latency(models, runtime=args.runtime, imgsz=imgsz, warmup=warmup, rounds=rounds)
    summary["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
