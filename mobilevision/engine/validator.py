"""The one validation runner every task shares: a trained model on a dataset split, through the
task's evaluator, sharded over torchrun ranks; the metrics and a run folder with its plots."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mobilevision.engine.distributed import broadcast_object, dist_info
from mobilevision.engine.evaluation import evaluate_dataset
from mobilevision.engine.run_dir import new_run_dir
from mobilevision.errors import MobileVisionError


@dataclass(frozen=True)
class ValResult:
    """What every task's `val` returns. metrics: what `--json` prints: compute()'s numbers (None
    where there was nothing to measure), "images" and the task's extras (per-class tables); run_dir:
    the folder of its plots and files, on rank 0 (None on the others)."""

    metrics: dict[str, Any]
    run_dir: Path | None

    def summary(self) -> str:
        """The numbers on one line, then a row per class of each per-class table (as ultralytics' val
        prints), then where the files went."""
        scalars = [f"{name} {_shown(value)}" for name, value in self.metrics.items()
                   if name != "images" and not isinstance(value, dict)]
        lines = ["  ".join(scalars)]
        for table in self.metrics.values():
            if isinstance(table, dict):
                lines += _table_rows(table)
        return "\n".join([*lines, f"{self.metrics['images']} images; plots and files in {self.run_dir}"])


class ValidatedTask(Protocol):
    """What the runner needs of a task (tasks/base.py's Task)."""

    name: str
    collate: Any

    def eval_transform(self, *, size: int, preprocessing: dict) -> Any: ...

    def dataset(self, data: str, *, split: str, transform: Any) -> Any: ...

    def fit_to_data(self, dataset: Any, trained: Any, *, data: str) -> Any: ...

    def make_evaluator(self, data: str, class_names: Any, *, imgsz: int, split: str) -> Any: ...

    def val_network(self, network: Any, **options) -> Any: ...

    def val_metrics(self, evaluator: Any, *, dataset: Any) -> dict: ...

    def save_val_outputs(self, evaluator: Any, run_dir: Path) -> None: ...


def validate(task: ValidatedTask, trained: Any, *, data: str, imgsz: int | None = None, batch: int = 16,
             device: str = "auto", workers: int = 2, split: str = "val", project: str = "runs",
             name: str | None = None, progress: bool = True, **options) -> ValResult:
    """`trained` (tasks.base.TrainedModel, any runtime) on `data`'s split at `imgsz` (default: the
    weights' input size). Every torchrun rank evaluates a shard; sums are reduced (and detections
    gathered), so the numbers equal a single process's. `options`: the task's val flags."""
    size = imgsz or trained.preprocessing["input_size"]
    dataset = task.dataset(data, split=split, transform=task.eval_transform(size=size,
                                                                          preprocessing=trained.preprocessing))
    trained = task.fit_to_data(dataset, trained, data=data)
    if len(dataset) == 0:
        raise MobileVisionError(f"--data {data}: no images in the {split} split")
    evaluator = task.make_evaluator(data, trained.class_names, imgsz=size, split=split)()
    on_torch = trained.runtime.startswith("torch")
    metrics = evaluate_dataset(task.val_network(trained.network, **options), dataset, evaluator,
                               collate_fn=task.collate, batch=batch, workers=workers,
                               device=device if on_torch else "cpu", channels_last=on_torch, progress=progress)
    metrics = {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in metrics.items()}
    metrics.update(task.val_metrics(evaluator, dataset=dataset))
    dist = dist_info()
    run_dir = broadcast_object(new_run_dir(project, task.name, name or "val", exist_ok=False) if dist.is_main else None)
    if dist.is_main:
        task.save_val_outputs(evaluator, run_dir)
    return ValResult(metrics=metrics, run_dir=run_dir if dist.is_main else None)


def _shown(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _table_rows(table: dict) -> list[str]:
    """A per-class table: {class: value} or {class: {column: value}}, one aligned row per class."""
    columns = list(next(iter(table.values()), {}) or {}) if all(isinstance(v, dict) for v in table.values()) else []
    rows = [f"{'class':>20s} " + " ".join(f"{column:>9s}" for column in columns)] if columns else []
    # A segmenter's {class: IoU}: one value per class, no header needed.
    for name, value in table.items():
        cells = [_shown(value[column]) for column in columns] if columns else [_shown(value)]
        rows.append(f"{name:>20s} " + " ".join(f"{cell:>9s}" for cell in cells))
    return rows
