"""`--runtime auto` by measurement: each correct runtime of a checkpoint timed briefly at the input
size asked for, the fastest taken, and the choice kept beside the checkpoint (<checkpoint>.runtime.json)
for the next run on the same machine.

Which runtime is fastest depends on the model and the CPU: ONNX Runtime runs MobileNetV2 about 2x
faster than folded PyTorch, yet the quickstart's multi-task graph 1.8x slower on an AMD EPYC and an
Intel Xeon alike, and 1.17x slower to 1.08x faster on an EPYC once its segmentation logits left the
graph at the loss's grid (docs/benchmarks.md). So nothing is assumed: the choice is keyed by the
checkpoint's identity (size and modification time), the input size, the thread count, the CPU's
name and the runtimes' versions, and any change among them is a new measurement.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from mobilevision.engine.measured_choice import cached_choice, provenance, read_choices, store_choice

# Another runtime must beat folded PyTorch by this fraction to be taken: two timings on a shared
# 2-core machine differ by a few percent, and a tie must not pick the runtime that may be slower.
MARGIN = 0.05
# Timing rounds per runtime, the best kept: a neighbour's burst of work slows one round, rarely all.
ROUNDS = 2
SECONDS_PER_ROUND = 0.3  # of timed calls per runtime and round, after its warm-up
# oneDNN builds its kernels in the first two calls (about a second each for SSDLite on 2 cores); the
# third still ran slow in a trial on an AMD EPYC.
WARMUP_CALLS = 3


@dataclass(frozen=True)
class RuntimeChoice:
    """What `--runtime auto` took and why."""

    runtime: str  # the chosen runtime's display name
    milliseconds: dict[str, float]  # {runtime: median ms of one batch-1 call}, measured now or when cached
    imgsz: int
    cpu: str
    measured_now: bool  # False: read from `cache`
    cache: Path
    not_cached: str | None = None  # why `cache` could not be written
    load: float | None = None  # the machine's 1-minute load average when it was measured

    def summary(self) -> str:
        """One line: "runtime auto: torch (...) 10.0 ms vs onnxruntime 18.2 ms at 256 px on <CPU> (measured now;
        cached in <file>)", and a warning when the machine was busy then (its neighbours slow
        multi-threaded PyTorch most, so the choice may not hold on an idle machine)."""
        others = sorted((name for name in self.milliseconds if name != self.runtime), key=self.milliseconds.get)
        timings = " vs ".join(f"{name} {self.milliseconds[name]:.1f} ms" for name in [self.runtime, *others])
        where = provenance(measured_now=self.measured_now, cache=self.cache, not_cached=self.not_cached)
        cores = os.cpu_count() or 1
        busy = (f"; the machine was busy (load {self.load:.1f} on {cores} cores): delete {self.cache} to measure "
                "again" if self.load is not None and self.load > cores else "")
        return f"runtime auto: {timings} at {self.imgsz} px on {self.cpu} ({where}){busy}"


def choice_cache(checkpoint: Path) -> Path:
    """The choices' file of `checkpoint`: beside it, e.g. best.pt.runtime.json."""
    return checkpoint.with_name(f"{checkpoint.name}.runtime.json")


def choice_key(checkpoint: Path, *, imgsz: int, threads: int, cpu: str, runtimes: list[str]) -> dict:
    """What a cached choice holds for: this file as it is now, this size, threads, CPU and software."""
    import onnxruntime

    stat = checkpoint.stat()
    return {"checkpoint": {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}, "imgsz": imgsz, "threads": threads,
            "cpu": cpu, "runtimes": sorted(runtimes),
            "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}}


def choose_runtime(*, cache: Path, key: dict, timers: Mapping[str, Callable[[], float]], reference: str,
                   imgsz: int, cpu: str, rounds: int = ROUNDS) -> RuntimeChoice:
    """The fastest of `timers` ({runtime: a call that times it once and returns its ms}, the
    reference first), or the one cached under `key` in `cache` (then nothing is timed).
    `reference` (folded PyTorch) keeps the choice unless another is faster by more than MARGIN."""
    entry = cached_choice(cache, key=key)
    if entry is not None and entry.get("runtime") in timers:
        return RuntimeChoice(runtime=entry["runtime"], milliseconds=entry["milliseconds"], imgsz=imgsz, cpu=cpu,
                             measured_now=False, cache=cache, load=entry.get("load"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    # One runtime after the other, in the order given, never interleaved: ONNX Runtime's intra-op
    # threads keep spinning after each run (its default) and take the cores from torch ops that
    # follow (MobileNetV2 at 224 on a busy 2-core AMD EPYC: folded PyTorch 102 ms when interleaved
    # with ONNX Runtime's rounds, 62 ms when timed before it).
    milliseconds = {name: min(timer() for _ in range(rounds)) for name, timer in timers.items()}
    chosen = fastest(milliseconds, reference=reference)
    # Choices for an earlier state of the checkpoint can never match again: they are dropped.
    keep = {text: stored for text, stored in read_choices(cache).items()
            if isinstance(stored, dict) and stored.get("key", {}).get("checkpoint") == key["checkpoint"]}
    record = {"key": key, "runtime": chosen, "milliseconds": milliseconds, "load": load}
    not_cached = store_choice(cache, key=key, entry=record, keep=keep)
    return RuntimeChoice(runtime=chosen, milliseconds=milliseconds, imgsz=imgsz, cpu=cpu, measured_now=True,
                         cache=cache, not_cached=not_cached, load=load)


def fastest(milliseconds: Mapping[str, float], *, reference: str) -> str:
    """The runtime of `milliseconds` ({runtime: ms}) that auto takes: `reference` unless another is
    faster than it by more than MARGIN."""
    return min(milliseconds, key=lambda name: milliseconds[name] * (1.0 if name == reference else 1.0 + MARGIN))


def network_timer(build: Callable[[], torch.nn.Module], *, imgsz: int, memory_format: torch.memory_format,
                  torch_threads: int, seconds: float = SECONDS_PER_ROUND) -> Callable[[], float]:
    """A call that times the network `build()` returns (eval interface, batch 1 at imgsz x imgsz,
    post-processing included) with torch on `torch_threads` and returns the median ms. Its first
    call builds the network (nothing is built for a cached choice) and warms it up (WARMUP_CALLS)."""
    images = torch.rand(1, 3, imgsz, imgsz).contiguous(memory_format=memory_format)
    built: list[torch.nn.Module] = []

    @torch.no_grad()
    def timer() -> float:
        torch.set_num_threads(torch_threads)
        if not built:
            built.append(build())
            for _ in range(WARMUP_CALLS):
                built[0](images)
        times, deadline = [], time.perf_counter() + seconds
        while len(times) < 3 or time.perf_counter() < deadline:
            start = time.perf_counter()
            built[0](images)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    return timer
