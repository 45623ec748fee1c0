"""`data stats` histograms: one PNG per split of what datasets/stats.py counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mobilevision.visualize.plots import _pyplot

BINS = 30


def plot_split_stats(stats, out: Path) -> None:
    """Histograms of a SplitStats' image sides, objects per image, relative object sizes and aspect
    ratios (log scale: 1/4 and 4 are equally far from square), and bars of its per-class counts."""
    panels = [("image sides (px)", "hist2", stats.image_sizes)]
    if stats.objects_per_image is not None:
        panels += [("objects per image", "counts", stats.objects_per_image),
                   ("object size / image size", "loghist", stats.relative_sizes),
                   ("box aspect ratio (w / h)", "loghist", stats.aspect_ratios),
                   ("objects per class", "bars", stats.instances_per_class)]
    if stats.pixel_frequency is not None:
        panels.append(("share of mask pixels", "bars", stats.pixel_frequency))
    if stats.images_per_class is not None:
        panels.append(("images per class", "bars", stats.images_per_class))
    plt = _pyplot()
    columns = min(len(panels), 4)
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.4 * rows), squeeze=False)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for axis, (title, kind, values) in zip(axes.flat, panels):
        axis.set_title(f"{stats.split}: {title}", fontsize=9)
        if kind == "bars":
            axis.bar(range(len(values)), list(values.values()))
            axis.set_xticks(range(len(values)), list(values), rotation=90, fontsize=7)
        elif kind == "hist2":
            axis.hist([values[:, 1], values[:, 0]], bins=BINS, label=["width", "height"])
            axis.legend(fontsize=7)
        elif kind == "counts":
            axis.hist(values, bins=np.arange(int(values.max(initial=0)) + 2) - 0.5)
        elif kind == "loghist" and len(values) and values.min() > 0:
            axis.hist(values, bins=np.geomspace(values.min(), values.max() * 1.0001, BINS))
            axis.set_xscale("log")
        else:
            axis.hist(values, bins=BINS)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
