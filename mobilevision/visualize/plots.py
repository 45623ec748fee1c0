"""PNG plots of a run: loss and metric curves from results.csv, and a confusion matrix."""

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
