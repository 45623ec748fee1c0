"""Wall-clock timing after warm-up, and the peak resident memory of this process."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


@torch.no_grad()
def time_calls(fn: Callable, inputs, *, warmup: int, iters: int) -> dict[str, float]:
    """{"median_ms", "p90_ms", "min_ms"} of `iters` calls of fn(inputs) after `warmup` untimed ones
    (which let allocators, ORT's arenas and oneDNN's kernel caches settle). On a shared machine the
    minimum is the call that was least disturbed: the closest to the idle-machine latency."""
    for _ in range(warmup):
        fn(inputs)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn(inputs)
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)), "min_ms": min(times)}


def _status_kib(key: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


class PeakMemory:
    """Peak RSS of this process above its RSS at start(), in MiB: model weights, runtime session,
    activations and allocator caches. Linux resets the high-water mark (VmHWM) on writing 5 to
    /proc/self/clear_refs, so the imports before start() do not count; elsewhere the lifetime peak
    (ru_maxrss) minus the RSS at start() is used, which can only over-count.

    Where Linux reports it (RssFile), the shared libraries' code paged in since start() is taken
    out: a process forked from one that imported them (bench/worker.py) pages their code in as it
    first runs it, where a process that imported them itself had most of it in at start()."""

    def start(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        self.baseline_kib = _status_kib("VmRSS") or 0
        self.file_kib = _status_kib("RssFile") or 0

    def peak_mib(self) -> float:
        peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        code_paged_in = max(0, (_status_kib("RssFile") or 0) - self.file_kib)
        return max(0, peak - self.baseline_kib - code_paged_in) / 1024
