"""Step 4: the multi-task model on MobileNetV2 against the same model on MobileNetV1 at the same
width and input size, timed by `mobilevision bench`'s own pieces (export, INT8 calibration and one
fresh worker process per runtime) into <run folder>/bench/.

MobileNetV1 is timed untrained unless --train-v1 trained it with the same recipe: its latency,
params and multiply-adds do not depend on its weights, and training it would double the
quickstart's time, so by default its accuracy is "-" and the table says why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from mobilevision.bench.cases import checkpoint_case, prepare, write_checkpoint
from mobilevision.bench.plots import write_plots
from mobilevision.bench.report import write_results
from mobilevision.bench.run import DEFAULT_TIMING, load_note, measure_case
from mobilevision.demos.quickstart.evaluation import METRICS, metric_cell
from mobilevision.engine.checkpoint import read_checkpoint
from mobilevision.tasks.registry import build_model

CALIB_IMAGES = 32  # val images that calibrate the INT8 model, as `mobilevision bench`


def untrained_checkpoint(trained: Path, *, backbone: str, path: Path) -> Path:
    """A seeded random-weight multi-task model on `backbone`, built with the trained checkpoint's
    options (heads, classes, input size), written to `path` unless it is already there and newer."""
    if path.is_file() and path.stat().st_mtime >= trained.stat().st_mtime:
        return path
    reference = read_checkpoint(trained)
    torch.manual_seed(0)
    model_name = f"multitask_{backbone}"
    model = build_model(model_name, **reference["model_kwargs"])
    return write_checkpoint(model, path, model_name=model_name, model_kwargs=reference["model_kwargs"],
                            task="multitask", class_names=reference["class_names"],
                            imgsz=reference["preprocessing"]["input_size"])


def bench_timing(iters: int) -> dict:
    """The bench worker's timing settings with `iters` timed batch-1 calls (fewer warm-up and
    throughput calls when iters is smaller than their defaults), on every core."""
    return {**DEFAULT_TIMING, "threads": os.cpu_count() or 1, "iters": iters,
            "warmup": min(DEFAULT_TIMING["warmup"], iters), "batch_iters": min(DEFAULT_TIMING["batch_iters"], iters)}


def run_benchmark(checkpoints: list[Path], *, folder: Path, data: Path, runtimes: tuple[str, ...], iters: int,
                  fresh: bool) -> tuple[list[dict], str, bool]:
    """(`mobilevision bench` result rows, one per checkpoint and runtime; the settings note; whether
    they were reused). Reused from <folder>/results.json when it was measured after every
    checkpoint was written, with the same checkpoints, runtimes and timing, and not `fresh`."""
    settings = {"checkpoints": [str(path) for path in checkpoints], "runtimes": list(runtimes),
                "timing": bench_timing(iters)}
    results = folder / "results.json"
    if results.is_file() and not fresh:
        earlier = json.loads(results.read_text())
        newest = max(path.stat().st_mtime for path in checkpoints)
        if {key: earlier["settings"].get(key) for key in settings} == settings and results.stat().st_mtime > newest:
            print(f"reusing {results}: measured with these models and settings (--fresh, or deleting {folder}, "
                  "measures again)")
            return earlier["rows"], earlier["settings"]["note"], True
    load_before = os.getloadavg()[0]
    rows = []
    for checkpoint in checkpoints:
        case = checkpoint_case(str(checkpoint), imgsz=None)
        print(f"bench: exporting {case.label} (ONNX fp32, and INT8 calibrated on {CALIB_IMAGES} val images)")
        prepare(case, folder=_exports(folder), data=str(data), calib_images=CALIB_IMAGES, seed=0)
        rows += measure_case(case, runtimes=list(runtimes), timing=settings["timing"])
    timing = settings["timing"]
    note = (f"Latency: median of {timing['iters']} batch-1 calls after {timing['warmup']} warm-up calls, "
            f"{timing['threads']} threads, each runtime in its own fresh process (`mobilevision bench`)."
            + load_note(load_before, os.getloadavg()[0]))
    write_results(folder, rows=rows, ratios=[], settings={**settings, "note": note})
    write_plots(folder, rows)
    return rows, note, False


def _exports(folder: Path) -> Path:
    """Where the benchmark in `folder` writes its ONNX exports (bench.cases.prepare names them)."""
    return folder / "weights"


def benchmarked_export(folder: Path, rows: list[dict], *, model_name: str) -> tuple[Path, float]:
    """(the fp32 ONNX export the benchmark in `folder` timed of `model_name`'s checkpoint, its largest
    |ONNX Runtime - PyTorch| on the raw outputs), from run_benchmark's rows."""
    row = next(row for row in rows if row["model"] == model_name)
    return _exports(folder) / f"{row['label']}.onnx", row["export_max_abs_diff"]


def comparison_rows(bench_rows: list[dict], models: list[dict]) -> list[dict]:
    """One row per model: models' {"model_name", "model" (label), "weights" (what they are),
    "metrics" (METRICS' keys, or None untrained)} joined with its bench rows: params, madds and
    {runtime: median batch-1 ms}."""
    rows = []
    for model in models:
        measured = [row for row in bench_rows if row["model"] == model["model_name"]]
        rows.append({"model": model["model"], "weights": model["weights"], "params": measured[0]["params"],
                     "madds": measured[0]["madds"],
                     "latency_ms": {row["runtime"]: row["median_ms"] for row in measured},
                     **{key: (model["metrics"] or {}).get(key) for key in METRICS}})
    return rows


def comparison_markdown(rows: list[dict]) -> str:
    """comparison_rows as a Markdown table: latency columns per runtime, accuracy "-" when untrained."""
    runtimes = list(dict.fromkeys(runtime for row in rows for runtime in row["latency_ms"]))
    lines = ["| model | weights | params | multiply-adds | " + " | ".join(f"{runtime} ms" for runtime in runtimes)
             + " | " + " | ".join(METRICS.values()) + " |",
             "|---|---|---|---|" + "---|" * (len(runtimes) + len(METRICS))]
    for row in rows:
        latency = " | ".join(f"{row['latency_ms'][runtime]:.1f}" if runtime in row["latency_ms"] else "-"
                             for runtime in runtimes)
        accuracy = " | ".join(metric_cell(row.get(key)) for key in METRICS)
        lines.append(f"| {row['model']} | {row['weights']} | {row['params'] / 1e6:.2f}M | {row['madds'] / 1e6:,.0f}M | "
                     f"{latency} | {accuracy} |")
    return "\n".join(lines)
