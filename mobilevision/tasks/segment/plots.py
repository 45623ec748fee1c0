"""The segmentation run's plot: IoU per class after each validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mobilevision.visualize.plots import _pyplot


def plot_per_class_iou(iou: np.ndarray, class_names: list[str], out: Path) -> None:
    """Horizontal bars of (K,) IoUs in [0, 1]; a NaN class (absent from labels and predictions)
    is named "absent" instead of drawn as 0, which would read as a class the model always misses."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, max(3.0, 0.3 * len(class_names) + 1)))
    present = ~np.isnan(iou)
    positions = np.arange(len(class_names))
    axis.barh(positions[present], iou[present], color="tab:blue")
    labels = [name if ok else f"{name} (absent)" for name, ok in zip(class_names, present, strict=True)]
    axis.set_yticks(positions, labels)
    axis.invert_yaxis()  # class 0 on top, as listed
    axis.set_xlim(0, 1)
    axis.set_xlabel("IoU")
    axis.set_title(f"mIoU {np.nanmean(iou):.4f}" if present.any() else "no labelled pixels")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
