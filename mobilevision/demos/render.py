"""Several predictors' results on a frame, as both demos show them: drawn (masks under boxes, top
classes in the top-left corner, a legend of the segmented classes in the bottom-left one, by each
task's overlays), as JSON, and as legend entries for the web page."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.registry import get_task
from mobilevision.visualize.compose import Overlay, compose
from mobilevision.visualize.draw import class_colour

DEFAULT_CONF = 0.3  # lowest detection score the demos show unless --conf says otherwise


def predict_all(predictors: Sequence[FramePredictor], image: np.ndarray, *, tasks: Collection[str],
                conf: float) -> list[tuple[FramePredictor, dict]]:
    """(predictor, its results restricted to `tasks`) for each predictor with a task in `tasks`;
    a predictor with none of them is not run at all."""
    outputs = []
    for predictor in predictors:
        wanted = [task for task in predictor.tasks if task in tasks]
        if wanted:
            results = predictor(image, conf=conf)
            outputs.append((predictor, {task: results[task] for task in wanted}))
    return outputs


def overlays(outputs: Sequence[tuple[FramePredictor, dict]]) -> list[Overlay]:
    """What each task draws for its results in `outputs` (predict_all's)."""
    return [overlay for predictor, results in outputs
            for overlay in get_task(predictor.task).overlays_of(results, predictor.class_names)]


def render(image: np.ndarray, outputs: Sequence[tuple[FramePredictor, dict]]) -> np.ndarray:
    """image (H, W, 3) uint8 RGB with every result of `outputs` (predict_all's) drawn on a copy."""
    return compose(image, overlays(outputs))


def summarize(outputs: Sequence[tuple[FramePredictor, dict]]) -> dict[str, list[dict]]:
    """The results as JSON, {task: [{"model", ...each task's entries}]}: detections ("box", "score",
    "label", "name"), top classes ("class", "name", "score"), segmented classes ("class", "name",
    "fraction")."""
    summary = {}
    for predictor, results in outputs:
        for task, result in results.items():
            entries = get_task(task).entries(result, predictor.class_names[task])
            summary.setdefault(task, []).extend({"model": predictor.name, **entry} for entry in entries)
    return summary


def legend_entries(summary: dict[str, list[dict]]) -> list[tuple[str, tuple[int, int, int], str]]:
    """(class name, its RGB colour, what was found: "2 boxes, 31% of pixels") of every class that
    summarize's result detected (entries with a box) or segmented (with a fraction), in the colours
    the overlay uses."""
    found: dict[str, dict] = {}
    for entries in summary.values():
        for entry in entries:
            if "box" in entry or "fraction" in entry:
                label = entry["label"] if "box" in entry else entry["class"]
                seen = found.setdefault(entry["name"], {"label": label, "boxes": 0, "fraction": 0.0})
                seen["boxes"] += "box" in entry
                seen["fraction"] += entry.get("fraction", 0.0)
    rows = []
    for name, seen in found.items():
        parts = []
        if seen["boxes"]:
            parts.append(f"{seen['boxes']} box" + ("es" if seen["boxes"] > 1 else ""))
        if seen["fraction"]:
            parts.append(f"{seen['fraction']:.0%} of pixels")
        rows.append((name, class_colour(seen["label"]), ", ".join(parts)))
    return rows
