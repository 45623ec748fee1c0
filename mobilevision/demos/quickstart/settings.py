"""What a quickstart run does: one field per `mobilevision quickstart` flag."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mobilevision.bench.cases import RUNTIMES
from mobilevision.bench.run import DEFAULT_TIMING

RECIPE = "quick"  # the multi-task recipe it trains with (tasks/multitask/config.py), read at run time
# Train + val, as `mobilevision data synth --images`: fewer over-fit the 10-minute model, more did
# no better (docs/benchmarks.md).
DATASET_IMAGES = 8000
VAL_IMAGES = 400  # the last ones; a fixed split, so a larger train split does not lengthen evaluation
DATASET_SEED = 0
# Training minutes when --epochs is not given: with the other steps' 75-90 s and `make install`'s
# 80-95, a clean clone's `make demo` ends within 15 minutes on a 2-core CPU (docs/benchmarks.md: 11
# gave 13.9 twice once forked bench workers cut the benchmark step to 43-45 s).
TRAIN_MINUTES = 11.5
# What `--runtime auto` chooses among; eager PyTorch, which no deployment runs, is left to
# `mobilevision bench` (timing it took 14 of the benchmark step's 80 s).
QUICKSTART_RUNTIMES = tuple(runtime for runtime in RUNTIMES if runtime != "eager")
BACKBONES = {"mobilenet_v2": "MobileNetV2", "mobilenet_v1": "MobileNetV1"}


@dataclass(frozen=True)
class QuickstartSettings:
    """imgsz and width left None take the recipe's values; imgsz is also the side of the generated
    images, so no pixel is decoded only to be resized away. epochs None: train for train_minutes."""

    images: int = DATASET_IMAGES
    val_images: int = VAL_IMAGES
    imgsz: int | None = None
    epochs: int | None = None
    train_minutes: float = TRAIN_MINUTES
    width: float | None = None
    train_v1: bool = False  # MobileNetV1 trained too (doubles the training time), else timed untrained
    runtimes: tuple[str, ...] = QUICKSTART_RUNTIMES
    bench_iters: int = DEFAULT_TIMING["iters"]
    device: str = "auto"
    project: str = "runs"
    name: str = "quickstart"
    fresh: bool = False
    serve: bool = True
    port: int = 7860

    @property
    def folder(self) -> Path:
        return Path(self.project) / self.name
