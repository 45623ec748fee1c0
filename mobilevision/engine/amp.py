"""Mixed precision: the autocast dtype of a training run. On a CPU, `--amp auto` is decided by a
measurement, not by a capability flag: bf16 autocast was slower than fp32 for these depthwise-heavy
networks on an Intel Xeon whose oneDNN reports native bf16 (the quickstart recipe 17.2 against 20.1
images/s). So where bf16 is native at all, a few training steps are timed in each precision and bf16
is taken only when clearly faster; the decision is cached in the user's cache per CPU, model, size,
batch, threads and torch version. Where bf16 would be emulated, fp32 is taken without timing.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mobilevision.engine.device import autocast, to_device
from mobilevision.engine.machine import cpu_name
from mobilevision.engine.measured_choice import cached_choice, provenance, store_choice
from mobilevision.errors import MobileVisionError

# bf16 must be faster than fp32 by this fraction to be taken: timings on a shared machine differ by
# a few percent, and bf16 costs a little accuracy, which a tie does not pay for.
MARGIN = 0.05
TIMED_STEPS = 2  # per precision, after one untimed step in which oneDNN builds its kernels
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
# Part of the cache key, raised whenever the models change which layers autocast runs in bf16, as
# that changes what bf16 costs: 2 since strided depthwise blocks trained in fp32, 3 since they train
# in bf16 through depthwise kernels (backbones/strided_depthwise.py).
PRECISION_RULES = 3


def amp_dtype(amp: str, device: torch.device, *, trial: AmpTrial | None = None,
              log: Callable[[str], None] = print) -> torch.dtype | None:
    """The autocast dtype of `--amp amp` on `device`, or None for full precision.

    auto: bf16 on CUDA when supported (no loss scaling needed), else fp16; off on MPS; on a CPU
    the faster of fp32 and bf16 by `trial` (None: fp32) where oneDNN has native bf16, else fp32.
    """
    if amp == "off":
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type != "cpu":
            return None
        if not native_bf16():
            log("amp auto: fp32 (this CPU has no native bf16: emulated bf16 is slower; not timed)")
            return None
        if trial is None:
            log("amp auto: fp32 (bf16 not timed here)")
            return None
        choice = trial.choose()
        log(choice.summary())
        return PRECISIONS[choice.precision]
    if amp == "fp16" and device.type == "cpu":
        raise MobileVisionError("--amp fp16 is for CUDA; on CPU use --amp bf16 or off")
    return torch.bfloat16 if amp == "bf16" else torch.float16


def native_bf16() -> bool:
    """oneDNN has native bf16 kernels on this CPU (avx512_bf16 or AMX); elsewhere it emulates them."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@dataclass(frozen=True)
class AmpChoice:
    """What `--amp auto` took on a CPU and why."""

    precision: str  # "fp32" or "bf16"
    seconds: dict[str, float]  # {precision: seconds per training step}, measured now or when cached
    measured_now: bool  # False: read from `cache`
    cache: Path
    not_cached: str | None = None  # why `cache` could not be written

    def summary(self) -> str:
        """One line: "amp auto: fp32 0.31 s/step vs bf16 0.42 s/step (measured now; cached in <file>)"."""
        order = [self.precision, *(name for name in self.seconds if name != self.precision)]
        timings = " vs ".join(f"{name} {self.seconds[name]:.3f} s/step" for name in order)
        where = provenance(measured_now=self.measured_now, cache=self.cache, not_cached=self.not_cached)
        return f"amp auto: {timings}, bf16 taken only if {MARGIN:.0%} faster ({where})"


@dataclass(frozen=True)
class AmpTrial:
    """What `--amp auto` times on a CPU: `seconds_per_step(dtype)` (None: fp32), and the key and
    file its decision is cached under."""

    key: dict
    seconds_per_step: Callable[[torch.dtype | None], float]
    cache: Path

    def choose(self) -> AmpChoice:
        """bf16 if a step in it is faster than in fp32 by more than MARGIN; cached, or timed now."""
        entry = cached_choice(self.cache, key=self.key)
        if entry is not None and entry.get("precision") in PRECISIONS:
            return AmpChoice(precision=entry["precision"], seconds=entry["seconds"], measured_now=False,
                             cache=self.cache)
        seconds = {name: self.seconds_per_step(dtype) for name, dtype in PRECISIONS.items()}
        precision = "bf16" if seconds["bf16"] * (1.0 + MARGIN) < seconds["fp32"] else "fp32"
        not_cached = store_choice(self.cache, key=self.key, entry={"key": self.key, "precision": precision,
                                                                    "seconds": seconds})
        return AmpChoice(precision=precision, seconds=seconds, measured_now=True, cache=self.cache,
                         not_cached=not_cached)


def amp_cache() -> Path:
    """The user's file of `--amp auto` decisions: under the torch hub cache, beside published weights."""
    return Path(torch.hub.get_dir()) / "mobilevision" / "amp_choice.json"


def amp_key(*, model_name: str, model_kwargs: dict, imgsz: int, batch: int, channels_last: bool) -> dict:
    """What an `--amp auto` decision holds for: this CPU, model, input, threads, torch and the
    models' precision rules."""
    return {"cpu": cpu_name(), "model": model_name, "model_kwargs": json.loads(json.dumps(model_kwargs, default=str)),
            "imgsz": imgsz, "batch": batch, "channels_last": channels_last, "threads": torch.get_num_threads(),
            "torch": torch.__version__, "precision_rules": PRECISION_RULES}


def step_timer(model: nn.Module, *, sample: Callable[[], tuple], device: torch.device,
               memory_format: torch.memory_format) -> Callable[[torch.dtype | None], float]:
    """seconds_per_step for AmpTrial: forward (training mode, a dict of losses) and backward of a
    copy of `model` on the batch `sample()` returns ((N, 3, H, W) images, targets), in autocast of
    the dtype; the best of TIMED_STEPS after an untimed one. The copy keeps the model's BatchNorm
    statistics and gradients untouched; the batch is taken only when something is timed."""

    @functools.cache
    def prepared() -> tuple[nn.Module, torch.Tensor, object]:
        images, targets = sample()
        return (copy.deepcopy(model).train(), images.to(device, memory_format=memory_format), to_device(targets, device))

    def seconds_per_step(dtype: torch.dtype | None) -> float:
        trial, images, targets = prepared()
        times = []
        for _ in range(1 + TIMED_STEPS):
            start = time.perf_counter()
            with autocast(device, dtype):
                losses = trial(images, targets)
            sum(losses.values()).backward()
            trial.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - start)
        return min(times[1:])

    return seconds_per_step

