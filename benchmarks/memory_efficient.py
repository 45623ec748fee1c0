"""Memory-efficient inference (MobileNetV2 paper, section 5.1): how much activation memory it saves
and what the splitting costs on this CPU.

MobileNetV2 1.0 at 224, batch 1, fp32: the measured activation peak (tasks/memory.py) of the normal
mode, of every block in k channel groups, and of byte budgets (each block in the fewest groups
that fit, tasks/memory_budget.py), beside MobileNetV1 1.0's; then the median latency of each at 1
and 2 threads, eager (BatchNorm unfolded, NCHW) and optimized (folded, channels_last); then single
blocks at rising k, to show down to which group size splitting stays nearly free. Latencies are
timed in rounds (each configuration once per round) so that a noisy neighbour slows all alike.
Run it on an idle machine; --quick checks the script on a tiny setting in seconds.

    .venv/bin/python benchmarks/memory_efficient.py [--runs 100 --warmup 10]
    .venv/bin/python benchmarks/memory_efficient.py --quick
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mobilevision.analysis.memory import analytic_activation_memory, measured_activation_peak, parse_bytes
from mobilevision.analysis.memory_budget import plan_memory_budget, unit_inputs
from mobilevision.backbones.memory_efficient import disable_memory_efficient, enable_memory_efficient, split_units
from mobilevision.deploy.fold import optimize_for_inference
from mobilevision.tasks.registry import build_model

# Blocks of different shapes: block 1 has few channels at high resolution (96 expanded at 112 px),
# block 16 many at low resolution (960 at 7 px).
TIMED_BLOCKS = (1, 4, 11, 16)
BLOCK_GROUPS = (1, 2, 4, 8, 16, 32)


@dataclass
class Mode:
    """One configuration: a model and, for MobileNetV2, its groups per block (None: normal mode)."""

    name: str
    backbone: str
    groups: dict[str, int] | None


def _models(*, backbone: str, width: float) -> dict[str, nn.Module]:
    """{"eager": built model in eval mode, "optimized": BatchNorm folded, channels_last}."""
    torch.manual_seed(0)
    built = build_model(backbone, width=width, num_classes=1000).eval()
    return {"eager": built, "optimized": optimize_for_inference(built)}


def _apply(model: nn.Module, mode: Mode) -> None:
    disable_memory_efficient(model)
    if mode.groups:
        enable_memory_efficient(model, groups=mode.groups)


def _images(runtime: str, imgsz: int) -> torch.Tensor:
    """(1, 3, S, S), N(0, 1), in the memory format the runtime's model expects."""
    images = torch.randn(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(0))
    return images.contiguous(memory_format=torch.channels_last if runtime == "optimized" else torch.contiguous_format)


@torch.no_grad()
def interleaved_medians(calls: dict[str, tuple], *, warmup: int, runs: int) -> dict[str, float]:
    """Median ms of each call {name: (prepare, run)}: `runs` rounds, each running every call once
    after its untimed prepare() (switching a model's mode), after `warmup` rounds."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_index in range(warmup + runs):
        for name, (prepare, run) in calls.items():
            prepare()
            start = time.perf_counter()
            run()
            if round_index >= warmup:
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(values)) for name, values in times.items()}


def _modes(v2: nn.Module, *, ks: tuple[int, ...], budgets: tuple[str, ...], imgsz: int) -> list[Mode]:
    modes = [Mode(name="V2 normal", backbone="mobilenet_v2", groups=None)]
    units = split_units(v2)[0]
    for k in ks:
        modes.append(Mode(name=f"V2 k={k}", backbone="mobilenet_v2", groups={u.name: min(k, u.hidden) for u in units}))
    for budget in budgets:
        plan = plan_memory_budget(v2, imgsz=imgsz, budget_bytes=parse_bytes(budget), bytes_per_element=4,
                                  forward=v2.raw_outputs)
        modes.append(Mode(name=f"V2 budget {budget}", backbone="mobilenet_v2", groups=plan.plan.groups))
    disable_memory_efficient(v2)
    return modes + [Mode(name="V1 (no split mode)", backbone="mobilenet_v1", groups=None)]


def memory_table(models: dict[str, dict[str, nn.Module]], modes: list[Mode], *, imgsz: int) -> tuple[str, dict]:
    """(Markdown table, {mode name: measured peak / V2 normal's}) on the optimized (fastest) model."""
    lines = ["| mode | smallest group (ch) | measured peak KiB, fp32 | / V2 normal | analytic peak KiB, fp32 | "
             "largest tensor K, 16-bit (Table 3) |", "|---|---|---|---|---|---|"]
    normal, ratios = None, {}
    for mode in modes:
        model = models[mode.backbone]["optimized"]
        _apply(model, mode)
        measured = measured_activation_peak(model, _images("optimized", imgsz), forward=model.raw_outputs)
        fp32 = analytic_activation_memory(model, imgsz=imgsz, bytes_per_element=4, forward=model.raw_outputs)
        fp16 = analytic_activation_memory(model, imgsz=imgsz, bytes_per_element=2, forward=model.raw_outputs)
        normal = normal or measured
        ratios[mode.name] = measured / normal
        smallest = ""
        if mode.groups:
            hidden = {unit.name: unit.hidden for unit in split_units(model)[0]}
            smallest = str(min(hidden[name] // k for name, k in mode.groups.items()))
        lines.append(f"| {mode.name} | {smallest} | {measured / 2**10:,.0f} | {ratios[mode.name]:.2f} | "
                     f"{fp32.peak_bytes / 2**10:,.0f} | {fp16.largest_tensor_bytes / 1000:,.0f}K |")
        disable_memory_efficient(model)
    return "\n".join(lines), ratios


def latency_table(models: dict[str, dict[str, nn.Module]], modes: list[Mode], *, imgsz: int, threads: tuple[int, ...],
                  warmup: int, runs: int) -> str:
    columns = [(runtime, count) for count in threads for runtime in ("eager", "optimized")]
    medians = {}
    for count in threads:
        torch.set_num_threads(count)
        calls = {}
        for runtime in ("eager", "optimized"):
            images = _images(runtime, imgsz)
            for mode in modes:
                model = models[mode.backbone][runtime]
                calls[(mode.name, runtime, count)] = (lambda model=model, mode=mode: _apply(model, mode),
                                                      lambda model=model, images=images: model.raw_outputs(images))
        medians |= interleaved_medians(calls, warmup=warmup, runs=runs)
    header = " | ".join(f"{runtime} {count}t ms | x normal" for runtime, count in columns)
    lines = [f"| mode | {header} |", "|---|" + "---|" * 2 * len(columns)]
    for mode in modes:
        cells = []
        for runtime, count in columns:
            ms = medians[(mode.name, runtime, count)]
            cells.append(f"{ms:.1f} | {ms / medians[(modes[0].name, runtime, count)]:.2f}")
        lines.append(f"| {mode.name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def block_table(v2: nn.Module, *, imgsz: int, threads: tuple[int, ...], warmup: int, runs: int) -> str:
    """Single blocks of the optimized V2 on their real input shapes, at rising k."""
    units = [unit for unit in split_units(v2)[0] if unit.index in TIMED_BLOCKS]
    inputs = unit_inputs(v2, units, imgsz=imgsz, forward=v2.raw_outputs)
    rows = [(unit, k) for unit in units for k in BLOCK_GROUPS if k <= unit.hidden]
    medians = {}
    for count in threads:
        torch.set_num_threads(count)
        calls = {}
        for unit, k in rows:
            x = inputs[unit.name].contiguous(memory_format=torch.channels_last)
            calls[(unit.name, k, count)] = (lambda unit=unit, k=k: enable_memory_efficient(v2, groups={unit.name: k}),
                                            lambda unit=unit, x=x: unit.forward(x))
        medians |= interleaved_medians(calls, warmup=warmup, runs=runs)
    disable_memory_efficient(v2)
    header = " | ".join(f"{count}t ms | x k=1" for count in threads)
    lines = [f"| block | input | expanded ch | k | group ch | {header} |",
             "|---|---|---|---|---|" + "---|" * 2 * len(threads)]
    for unit, k in rows:
        shape = "x".join(str(size) for size in inputs[unit.name].shape[1:])
        ms = {n: (medians[(unit.name, k, n)], medians[(unit.name, 1, n)]) for n in threads}
        cells = " | ".join(f"{split:.2f} | {split / whole:.2f}" for split, whole in ms.values())
        lines.append(f"| {unit.name} | {shape} | {unit.hidden} | {k} | {unit.hidden // k} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100, help="timed rounds (default: 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed rounds first (default: 10)")
    parser.add_argument("--quick", action="store_true", help="width 0.35 at 64 px, 3 rounds: checks the script runs")
    args = parser.parse_args()
    width, imgsz, ks, budgets = 1.0, 224, (2, 4, 6, 8, 16, 32), ("3MiB", "2MiB")
    warmup, runs = args.warmup, args.runs
    if args.quick:
        width, imgsz, ks, budgets, warmup, runs = 0.35, 64, (2, 8), ("200KiB",), 1, 3
    threads = (1, 2)
    print(f"MobileNetV2 {width} vs MobileNetV1 {width} at {imgsz} px, batch 1, fp32, random weights; torch "
          f"{torch.__version__}; load average {os.getloadavg()[0]:.2f} at start; {warmup} + {runs} rounds")
    models = {backbone: _models(backbone=backbone, width=width) for backbone in ("mobilenet_v2", "mobilenet_v1")}
    modes = _modes(models["mobilenet_v2"]["optimized"], ks=ks, budgets=budgets, imgsz=imgsz)
    print("\nActivation memory (optimized model; 'k=6' is the paper's t groups; smallest group = fewest expanded "
          "channels per group in any block)\n")
    table, ratios = memory_table(models, modes, imgsz=imgsz)
    print(table)
    fits = [name for name, ratio in ratios.items() if name.startswith("V2 ") and ratio <= 1 / 3]
    print(f"\nAt most 1/3 of V2 normal's measured peak: {', '.join(fits) or 'none of these'}")
    print("\nMedian latency (ms), x normal = / V2 normal in the same runtime and threads\n")
    print(latency_table(models, modes, imgsz=imgsz, threads=threads, warmup=warmup, runs=runs))
    print("\nSingle blocks, optimized, at rising k: the cost of smaller groups\n")
    print(block_table(models["mobilenet_v2"]["optimized"], imgsz=imgsz, threads=threads, warmup=warmup, runs=runs))


if __name__ == "__main__":
    main()
