"""Step 3: a trained multi-task checkpoint's metrics on the val split (`multitask val`), as a table."""

from __future__ import annotations

import shutil
from pathlib import Path

from mobilevision.deploy.runtime import load_trained
from mobilevision.engine.validator import validate
from mobilevision.tasks.registry import get_task

# The metrics the quickstart reports, with the names its tables give them.
METRICS = {"classify/top1": "top-1", "detect/mAP": "COCO mAP", "detect/mAP50": "mAP@.5", "segment/miou": "mIoU"}


def evaluate_checkpoint(checkpoint: Path, *, data: Path, folder: Path, name: str, device: str, batch: int,
                        workers: int) -> tuple[dict, Path]:
    """({"classify/top1", "detect/mAP", "detect/mAP50", "segment/miou", ..., "images"} on the val split
    at the checkpoint's input size, <folder>/multitask/<name> with the plots and predictions.json).
    An earlier run's evaluation there is removed first, so the folder keeps its name."""
    shutil.rmtree(folder / "multitask" / name, ignore_errors=True)
    result = validate(get_task("multitask"), load_trained(str(checkpoint), task="multitask"), data=str(data),
                      batch=batch, device=device, workers=workers, project=str(folder), name=name)
    return result.metrics, result.run_dir


def metric_cell(value: float | None) -> str:
    """A metric as the tables show it: three decimals, "-" where there is none (an untrained model)."""
    return "-" if value is None else f"{value:.3f}"


def evaluation_markdown(rows: list[dict]) -> str:
    """rows: {"model": label, "images": val images, and METRICS' keys} -> a Markdown table."""
    lines = ["| model | " + " | ".join(METRICS.values()) + " | val images |",
             "|---|" + "---|" * len(METRICS) + "---|"]
    for row in rows:
        cells = " | ".join(metric_cell(row.get(key)) for key in METRICS)
        lines.append(f"| {row['model']} | {cells} | {row['images']} |")
    return "\n".join(lines)
