"""The benchmark: every model in every runtime, each timed in its own fresh process (worker.py),
what `mobilevision bench` and the quickstart run.

Writes runs/bench/<name>/: results.csv, results.json, PNG plots, and weights/ with the checkpoints
and ONNX files that were timed. `--paper` only prints our counts beside the papers' tables.
`--memory-budget` adds eager_split / optimized_split rows: MobileNetV2 models in memory-efficient
mode, each block in the fewest channel groups whose fp32 activations fit the budget.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mobilevision.bench.anchors import Anchor
from mobilevision.bench.cases import DEFAULT_CASES, RUNTIMES, BenchCase
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.registry import get_task, model_entry

# The worker's timing settings (besides threads) unless flags say otherwise; the quickstart's too.
DEFAULT_TIMING = {"warmup": 10, "iters": 50, "batch": 8, "batch_iters": 3, "seed": 0}


@dataclass(frozen=True)
class BenchSettings:
    """What one benchmark measures: `mobilevision bench`'s flags (cli/bench.py), the Python API's
    `benchmark` keywords. None for models / widths / imgsz: the default cases (cases.DEFAULT_CASES)."""

    models: list[str] | None = None
    widths: list[float] | None = None
    imgsz: list[int] | None = None
    weights: list[str] | None = None
    runtimes: list[str] = field(default_factory=lambda: list(RUNTIMES))
    data: str | None = None
    data_images: int = 200
    calib_images: int = 32
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    warmup: int = DEFAULT_TIMING["warmup"]
    iters: int = DEFAULT_TIMING["iters"]
    batch: int = DEFAULT_TIMING["batch"]
    batch_iters: int = DEFAULT_TIMING["batch_iters"]
    rounds: int = 1
    seed: int = DEFAULT_TIMING["seed"]
    memory_budget: int | None = None
    compare: str | None = None
    project: str = "runs"
    name: str | None = None
    exist_ok: bool = False


def _cases(args: BenchSettings, folder: Path) -> list[BenchCase]:
    from mobilevision.bench.accuracy import dataset_class_names
    from mobilevision.bench.cases import checkpoint_case, fresh_case

    if args.weights:
        if args.models:
            raise MobileVisionError("give --models or --weights, not both (a checkpoint names its own model)")
        sizes = args.imgsz or [None]
        return [checkpoint_case(weights, imgsz=size) for weights, size in itertools.product(args.weights, sizes)]
    if args.models or args.widths or args.imgsz:
        models = args.models or list(dict.fromkeys(name for name, _, _ in DEFAULT_CASES))
        chosen = [(name, width, size) for name in models for width in args.widths or [1.0]
                  for size in args.imgsz or [get_task(model_entry(name).task).bench_imgsz]]
    else:
        chosen = list(DEFAULT_CASES)
    cases = []
    for name, width, size in chosen:
        # With --data, fresh models get the dataset's classes so calibration and evaluation can run.
        names = dataset_class_names(args.data, task=model_entry(name).task) if args.data else None
        cases.append(fresh_case(name, width=width, imgsz=size, folder=folder, class_names=names, seed=args.seed))
    return cases


def _measure(spec: dict) -> dict:
    """worker.measure(spec) in a fresh process (worker.py says how), in this process's current
    directory (the spec's paths may be relative to it)."""
    from mobilevision.bench.worker import forks

    request = json.dumps({**spec, "cwd": os.getcwd()}) + "\n"
    if forks():
        worker = _forking_worker()
        worker.stdin.write(request)
        worker.stdin.flush()
        answer = worker.stdout.readline()
    else:
        answer = _start_worker().communicate(request)[0]
    result = json.loads(answer) if answer.strip() else {"error": "the bench worker ended without a result"}
    if "error" in result:
        raise MobileVisionError(f"bench worker for {spec.get('checkpoint') or spec.get('name')} "
                                f"{spec['runtime']} failed: {result['error']}")
    return result


def _start_worker() -> subprocess.Popen:
    # Its stderr (the runtimes' chatter) is not shown: a failure comes back as its answer.
    return subprocess.Popen([sys.executable, "-m", "mobilevision.bench.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


_FORKING_WORKER: dict = {}  # the one running: {"process": Popen, "environment": the os.environ it started with}


def _forking_worker() -> subprocess.Popen:
    """This process's forking worker, started on first use, and again if it died or this process's
    environment changed since (the libraries it loaded read theirs as they load); it ends when its
    stdin closes, at the latest when this process ends."""
    environment = dict(os.environ)
    running = _FORKING_WORKER.get("process")
    if running is not None and running.poll() is None and _FORKING_WORKER["environment"] == environment:
        return running
    if running is not None:
        running.stdin.close()
        running.wait()
    _FORKING_WORKER.update(process=_start_worker(), environment=environment)
    return _FORKING_WORKER["process"]


def _timing(args: BenchSettings) -> dict:
    return {"threads": args.threads, "warmup": args.warmup, "iters": args.iters, "batch": args.batch,
            "batch_iters": args.batch_iters, "seed": args.seed}


def _splits(case: BenchCase, *, runtimes: list[str], memory_budget: int | None) -> list[tuple[str, int | None]]:
    """(runtime, memory budget in bytes or None) of every row of `case`: each runtime, then with
    --memory-budget the eager ones of a MobileNetV2 model again in memory-efficient mode."""
    chosen = [(runtime, None) for runtime in runtimes]
    if memory_budget and case.model_name.endswith("mobilenet_v2"):
        chosen += [(runtime, memory_budget) for runtime in runtimes if runtime in ("eager", "optimized")]
    return chosen


def _check_budget(case: BenchCase, *, budget: int, runtime: str) -> None:
    """Fail before any timing when a block of `case` cannot fit `budget` (a one-line error)."""
    from mobilevision.analysis.memory_budget import plan_memory_budget
    from mobilevision.deploy.runtime import load_runtime

    model, _ = load_runtime(runtime=runtime, checkpoint=str(case.checkpoint), onnx=None, threads=1)
    plan_memory_budget(model, imgsz=case.imgsz, budget_bytes=budget, bytes_per_element=4, forward=model.raw_outputs)


def measure_case(case: BenchCase, *, runtimes: list[str], timing: dict, data: str | None = None,
                 data_images: int | None = None, memory_budget: int | None = None) -> list[dict]:
    """One result row per runtime of a prepared case (cases.prepare), each measured by a worker in
    its own process. timing: the worker spec's threads, warmup, iters, batch, batch_iters and seed;
    data: a dataset whose first data_images val images (all: None) give each runtime's accuracy."""
    rows = []
    for runtime, budget in _splits(case, runtimes=runtimes, memory_budget=memory_budget):
        onnx = case.onnx_int8 if runtime == "ort_int8" else case.onnx
        spec = {"source": "ours", "task": case.task, "runtime": runtime, "imgsz": case.imgsz,
                "checkpoint": str(case.checkpoint), "onnx": str(onnx), "data": data,
                "data_images": data_images, "memory_budget": budget, **timing}
        label = f"{runtime}_split" if budget else runtime
        print(f"bench: {case.label} {label}", file=sys.stderr, flush=True)
        result = _measure(spec)
        metric = get_task(case.task).main_metric
        rows.append({"label": case.label, "model": case.model_name, "task": case.task, "width": case.width,
                     "imgsz": case.imgsz, **case.stats, **result, "runtime": label,
                     "metric_name": metric if metric in result else "", "metric": result.get(metric, "")})
    return rows


def _anchors(cases: list[BenchCase]) -> list[tuple[Anchor, BenchCase | None]]:
    """(anchor, the published case it is torchvision's own model of, or None) of each torchvision
    model --compare times: the random-weight ANCHORS beside any case that is not a published
    model, and for each published one its model with the same file (anchors.published_anchor)."""
    from mobilevision.bench.anchors import ANCHORS, published_anchor

    chosen = [(anchor, None) for anchor in ANCHORS] if any(case.published is None for case in cases) else []
    return chosen + [(published_anchor(case), case) for case in cases if case.published]


def _check_outputs(anchors: list[tuple[Anchor, BenchCase | None]], *, seed: int) -> dict[str, dict]:
    """{anchor label: same_outputs.compare_outputs' result} of each anchor of a published case."""
    from mobilevision.bench.runtimes import torchvision_model
    from mobilevision.bench.same_outputs import compare_outputs

    checks = {}
    for anchor, case in anchors:
        if case is not None:
            print(f"bench: {anchor.label} against {case.label}: same outputs?", file=sys.stderr, flush=True)
            model = torchvision_model(anchor.name, state_dict=anchor.state_dict)
            checks[anchor.label] = compare_outputs(case, model, name=anchor.name, seed=seed)
    return checks


def _anchor_rows(anchors: list[tuple[Anchor, BenchCase | None]], *, args: BenchSettings, folder: Path,
                 checks: dict[str, dict]) -> list[dict]:
    from mobilevision.bench.anchors import export_torchvision_mobilenet_v2

    rows = []
    for anchor, _ in anchors:
        for runtime in anchor.runtimes:
            onnx = None
            if runtime == "ort_fp32":
                onnx = str(export_torchvision_mobilenet_v2(folder / f"tv-{anchor.name}-{anchor.imgsz}.onnx",
                                                           imgsz=anchor.imgsz))
            print(f"bench: torchvision {anchor.label} {runtime}", file=sys.stderr, flush=True)
            result = _measure({"source": "torchvision", "name": anchor.name, "task": anchor.task, "runtime": runtime,
                               "imgsz": anchor.imgsz, "onnx": onnx, "state_dict": anchor.state_dict, **_timing(args)})
            rows.append({"label": anchor.label, "model": anchor.model, "task": anchor.task, "width": 1.0,
                         "imgsz": anchor.imgsz, "runtime": runtime, **result, **checks.get(anchor.label, {})})
    return rows


def _check_lines(checks: dict[str, dict]) -> list[str]:
    """One line per published anchor: whether it computes what ours computes."""
    lines = []
    for label, check in checks.items():
        verdict = ("same outputs as ours" if check["same_outputs"] else
                   "NOT the same outputs as ours, so its ratios compare two different computations")
        detections = {True: "; final detections equal", False: "; final detections differ", None: ""}
        lines.append(f"{label}, torchvision's own model with the same published file: {verdict} (raw outputs differ by "
                     f"at most {check['outputs_max_abs_diff']:.2g}{detections[check['same_detections']]})")
    return lines


def _auto_lines(rows: list[dict]) -> list[str]:
    """One line per model timed both folded (optimized) and in ONNX Runtime (ort_fp32): which of
    them `--runtime auto` takes by these timings (deploy/runtime_choice.py's rule)."""
    from mobilevision.deploy.runtime import FOLDED, ONNXRUNTIME
    from mobilevision.deploy.runtime_choice import MARGIN, fastest

    lines = []
    for (label, imgsz), group in itertools.groupby(rows, key=lambda row: (row["label"], row["imgsz"])):
        medians = {row["runtime"]: row["median_ms"] for row in group if row.get("median_ms")}
        if "optimized" in medians and "ort_fp32" in medians:
            chosen = fastest({FOLDED: medians["optimized"], ONNXRUNTIME: medians["ort_fp32"]}, reference=FOLDED)
            lines.append(f"runtime auto on {label} at {imgsz} px: {chosen} (optimized {medians['optimized']:.1f} ms "
                         f"vs ort_fp32 {medians['ort_fp32']:.1f} ms; ONNX Runtime is taken only if {MARGIN:.0%} "
                         "faster)")
    return lines


def fastest_rounds(sweeps: list[list[dict]]) -> list[dict]:
    """One row per measured row: from the sweeps (each a list of the same rows in the same order),
    the round with the lowest median_ms, its accuracy fields from the first sweep (the only one
    given data), and every round's median in "median_ms_rounds"."""
    rows = []
    for measured in zip(*sweeps, strict=True):
        fastest = min(measured, key=lambda row: row["median_ms"])
        accuracy = {key: value for key, value in measured[0].items() if key not in fastest or key.startswith("metric")}
        rows.append({**fastest, **accuracy, "median_ms_rounds": [row["median_ms"] for row in measured]})
    return rows


def _settings_note(args: BenchSettings, *, published_anchors: bool) -> str:
    return (f"Each runtime timed in its own fresh process, {args.threads} threads (torch intra-op and ONNX Runtime "
            f"intra-op; ORT workers run pre/post-processing in torch on 1 thread). Batch 1: {args.warmup} warm-up + "
            f"{args.iters} timed calls, median and p90; throughput: batch {args.batch}, median of {args.batch_iters}. "
            f"Same seeded inputs (seed {args.seed}): N(0, 1) (B, 3, S, S) batches for classify/segment (output: "
            "logits / class map), uint8 480x640 images end to end for detect (resize + normalise, network, "
            "decode + NMS). Peak memory: the worker's peak RSS above its RSS after imports (Linux VmHWM, reset "
            "before loading the model). Activation memory (act. KiB), batch 1, the network alone (raw outputs; "
            "torchvision's whole forward), weights excluded: analytic = the most bytes of activations that must "
            "exist at one op, at 4 bytes per value (INT8 rows: 1); measured = the most bytes of tensors alive at "
            "once in a real eager forward, input included (not for ONNX Runtime, which plans its own buffers). "
            f"{'Random weights.' if not args.weights else 'Trained weights.'}"
            + (" Rows tv:<builder>.<WEIGHTS>: torchvision's own model loaded with the same published file as ours, "
               "eager, its raw outputs (and a detector's detections) checked against ours before timing; a "
               "detector's own transform resizes with torch, ours with OpenCV." if published_anchors else "")
            + (f" Every row timed in {args.rounds} alternating sweeps over all rows; each keeps its round with the "
               "lowest median (all rounds' medians in results.json)." if args.rounds > 1 else ""))


def load_note(load_before: float, load_after: float) -> str:
    """The machine's load average over a measurement, and a warning when it was busy."""
    note = f" Load average (1 min) {load_before:.1f} at start, {load_after:.1f} at end."
    if max(load_before, load_after) > (os.cpu_count() or 1):
        note += (" The machine was busy (load above its core count): latencies are inflated, multi-threaded eager "
                 "PyTorch most (its OpenMP threads wait on each other); compare ratios within this run.")
    return note


def run_bench(args: BenchSettings) -> tuple[list[dict], Path]:
    """Measure, print the tables and write runs/bench/<name>/; returns (its rows, its folder)."""
    from mobilevision.bench.anchors import GOALS, goal_ratios, published_goals
    from mobilevision.bench.cases import prepare
    from mobilevision.bench.plots import write_plots
    from mobilevision.bench.report import ratios_markdown, results_markdown, write_results
    from mobilevision.engine.run_dir import new_run_dir

    folder = new_run_dir(args.project, "bench", args.name, exist_ok=args.exist_ok)
    load_before = os.getloadavg()[0]
    cases = _cases(args, folder / "weights")
    for case in cases:
        for runtime, budget in _splits(case, runtimes=args.runtimes, memory_budget=args.memory_budget):
            if budget:
                _check_budget(case, budget=budget, runtime=runtime)
    anchors = _anchors(cases) if args.compare == "torchvision" else []
    for case in cases:
        print(f"bench: exporting {case.label}", file=sys.stderr, flush=True)
        prepare(case, folder=folder / "weights", data=args.data, calib_images=args.calib_images, seed=args.seed)
    checks = _check_outputs(anchors, seed=args.seed)
    sweeps = []
    for sweep in range(max(1, args.rounds)):
        data = args.data if sweep == 0 else None  # accuracy does not depend on the round: measured once
        rows = []
        for case in cases:
            rows += measure_case(case, runtimes=args.runtimes, timing=_timing(args), data=data,
                                 data_images=args.data_images or None, memory_budget=args.memory_budget)
        rows += _anchor_rows(anchors, args=args, folder=folder / "weights", checks=checks)
        sweeps.append(rows)
    rows = fastest_rounds(sweeps)
    goals = GOALS + tuple(goal for anchor, case in anchors if case is not None
                          for goal in published_goals(case, anchor, runtimes=args.runtimes))
    ratios = goal_ratios(rows, goals=goals)
    note = _settings_note(args, published_anchors=bool(checks)) + load_note(load_before, os.getloadavg()[0])
    write_results(folder, rows=rows, ratios=ratios, settings={**dataclasses.asdict(args), "note": note})
    write_plots(folder, rows)
    print(note)
    print(results_markdown(rows, batch=args.batch))
    for line in [*_check_lines(checks), *_auto_lines(rows)]:
        print(line)
    for row in rows:
        if row.get("memory_plan"):
            print(f"{row['label']} {row['runtime']}: {row['memory_plan']}")
    if ratios:
        print("\nRatios of median batch-1 latency, ours / theirs (same run):")
        print(ratios_markdown(ratios))
    print(f"\nResults in {folder}/ (results.csv, results.json, *.png)")
    return rows, folder
