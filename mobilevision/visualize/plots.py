"""PNG plots of runs: loss and metric curves from results.csv, a confusion matrix, precision-recall
curves and IoU per class."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

NOT_CURVES = {"epoch", "lr", "time", "val_time", "images_per_s"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_results(results_csv: Path, out: Path) -> None:
    """One panel per loss (columns starting "loss") and per metric, against the epoch."""
    with open(results_csv, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return
    columns = [name for name in rows[0] if name not in NOT_CURVES]
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3), squeeze=False)
    for axis, name in zip(axes[0], columns):
        # Epochs without a value (not validated, --val-period) are left out, so the line joins the rest.
        points = [(int(row["epoch"]), float(row[name])) for row in rows if row.get(name)]
        axis.plot([epoch for epoch, _ in points], [value for _, value in points], marker=".")
        axis.set_title(name)
        axis.set_xlabel("epoch")
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def plot_confusion_matrix(matrix: np.ndarray, class_names: list[str], out: Path, *, write_fractions: bool = False,
                          title: str | None = None) -> None:
    """(C, C) counts, rows = true class, columns = predicted; each row shown as fractions. Cells
    print their count, or with write_fractions their row fraction (pixel counts run to millions)."""
    plt = _pyplot()
    size = max(4.0, 0.35 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axis.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    if len(class_names) <= 30:
        ticks = range(len(class_names))
        axis.set_xticks(ticks, class_names, rotation=90)
        axis.set_yticks(ticks, class_names)
        for row in ticks:
            for column in ticks:
                if matrix[row, column]:
                    text = f"{fractions[row, column]:.2f}" if write_fractions else int(matrix[row, column])
                    color = "white" if fractions[row, column] > 0.5 else "black"  # readable on dark cells
                    axis.text(column, row, text, ha="center", va="center", fontsize=7, color=color)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if title:
        axis.set_title(title)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def plot_pr_curves(precision: np.ndarray, recall: np.ndarray, class_names: list[str], out: Path) -> None:
    """Precision (IoU thresholds T, recall points R, classes K; -1 where a class has no ground truth)
    against recall (R,): per class at the first IoU (0.5), and the class mean at it and over all T."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 5))
    at_50 = np.where(precision[0] < 0, np.nan, precision[0])
    if len(class_names) <= 30:
        for k, name in enumerate(class_names):
            if not np.isnan(at_50[:, k]).all():
                axis.plot(recall, at_50[:, k], linewidth=1, label=f"{name} {np.nanmean(at_50[:, k]):.3f}")
    over_ious = np.where(precision < 0, np.nan, precision)
    axis.plot(recall, np.nanmean(at_50, axis=1), "k", linewidth=2.5, label=f"all classes @0.5 {np.nanmean(at_50):.3f}")
    axis.plot(recall, np.nanmean(over_ious, axis=(0, 2)), "k--", linewidth=2,
              label=f"all classes @0.5:0.95 {np.nanmean(over_ious):.3f}")
    axis.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall (COCOeval)")
    axis.legend(loc="lower left", fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


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
