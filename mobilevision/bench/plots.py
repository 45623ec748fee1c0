"""The bench's PNGs: latency (or accuracy) against multiply-adds, latency against resolution,
and MobileNetV1 against MobileNetV2 per task."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from mobilevision.visualize.plots import _pyplot

MARKERS = {"v1": "s", "v2": "o"}


def _family(model_name: str) -> str:
    return "v1" if model_name.endswith("mobilenet_v1") else "v2"


def plot_against_madds(rows: list[dict], out: Path, *, key: str, ylabel: str) -> None:
    """One scatter per task: `key` (median_ms or metric) against MAdds, colour = runtime, marker = V1/V2."""
    plt = _pyplot()
    ours = [row for row in rows if row.get("madds") and row.get(key) not in (None, "")]
    tasks = sorted({row["task"] for row in ours})
    figure, axes = plt.subplots(1, max(1, len(tasks)), figsize=(5 * max(1, len(tasks)), 4), squeeze=False)
    runtimes = sorted({row["runtime"] for row in ours})
    for axis, task in zip(axes[0], tasks):
        for colour, runtime in enumerate(runtimes):
            for family, marker in MARKERS.items():
                points = [(row["madds"] / 1e6, row[key]) for row in ours
                          if row["task"] == task and row["runtime"] == runtime and _family(row["model"]) == family]
                if points:
                    axis.scatter(*zip(*points), marker=marker, color=f"C{colour}", label=f"{runtime} {family}")
        # Runtimes differ by 10x and more: a log axis keeps the fast ones readable.
        axis.set(title=task, xlabel="multiply-adds (M)", ylabel=ylabel, yscale="log" if key == "median_ms" else "linear")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def plot_latency_vs_resolution(rows: list[dict], out: Path) -> None:
    """One line per (model, width, runtime) measured at two or more input sizes."""
    plt = _pyplot()
    lines = defaultdict(list)
    for row in rows:
        if row.get("madds") and row.get("median_ms"):
            lines[(row["model"], row["width"], row["runtime"])].append((row["imgsz"], row["median_ms"]))
    figure, axis = plt.subplots(figsize=(6, 4))
    for (model, width, runtime), points in sorted(lines.items()):
        if len(points) > 1:
            axis.plot(*zip(*sorted(points)), marker="o", label=f"{model} {width:g} {runtime}")
    axis.set(xlabel="input side (px)", ylabel="batch-1 median latency (ms)", yscale="log")
    if axis.lines:
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def plot_v1_vs_v2(rows: list[dict], out: Path) -> None:
    """Grouped bars: batch-1 latency of each runtime for every (task, width, imgsz) measured on both."""
    plt = _pyplot()
    latency = {(row["task"], row["width"], row["imgsz"], _family(row["model"]), row["runtime"]): row["median_ms"]
               for row in rows if row.get("madds") and row.get("median_ms")}
    groups = sorted({key[:3] for key in latency if key[3] == "v1" and (*key[:3], "v2", key[4]) in latency})
    runtimes = sorted({key[4] for key in latency})
    figure, axis = plt.subplots(figsize=(max(6, 2.5 * len(groups)), 4))
    width = 0.8 / max(1, 2 * len(runtimes))
    for index, runtime in enumerate(runtimes):
        for offset, family in enumerate(("v1", "v2")):
            position = (2 * index + offset) * width
            heights = [latency.get((*group, family, runtime), 0) for group in groups]
            axis.bar([g + position for g in range(len(groups))], heights, width, color=f"C{index}",
                     hatch="//" if family == "v1" else "", label=f"{runtime} {family}")
    axis.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))],
                    [f"{task} {w:g} {size}" for task, w, size in groups])
    axis.set(ylabel="batch-1 median latency (ms)", title="MobileNetV1 (hatched) against MobileNetV2")
    if groups:
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def write_plots(folder: Path, rows: list[dict]) -> list[Path]:
    """latency_vs_madds.png, accuracy_vs_madds.png (with --data), latency_vs_resolution.png, v1_vs_v2.png."""
    written = [folder / "latency_vs_madds.png", folder / "latency_vs_resolution.png", folder / "v1_vs_v2.png"]
    plot_against_madds(rows, written[0], key="median_ms", ylabel="batch-1 median latency (ms)")
    plot_latency_vs_resolution(rows, written[1])
    plot_v1_vs_v2(rows, written[2])
    if any(row.get("metric") not in (None, "") for row in rows):
        written.append(folder / "accuracy_vs_madds.png")
        plot_against_madds(rows, written[-1], key="metric", ylabel="top-1 / mAP / mIoU")
    return written
