"""Predictors' results on a frame, as both demos show them: drawn (masks under boxes, top-k text in
the top-left corner, a legend of the segmented classes in the bottom-left one), as JSON, and as
legend entries for the web page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mobilevision.visualize.draw import class_colour, draw_detections, draw_panel
from mobilevision.visualize.masks import blend_mask, class_fractions, mask_legend
from mobilevision.demos.predictor import Predictor
from mobilevision.tasks.classify.predict import top_classes
from mobilevision.tasks.detect.predict import describe_detections

TOP_K = 3  # classes listed per classifier


def render(image: np.ndarray, outputs: Sequence[tuple[Predictor, dict]]) -> np.ndarray:
    """image (H, W, 3) uint8 RGB with every result of `outputs` (predict_all's) drawn on a copy."""
    canvas, legend, classes = image, [], []
    for predictor, results in outputs:
        if "segment" in results:
            names = predictor.class_names["segment"]
            canvas = blend_mask(canvas, results["segment"])
            legend += mask_legend(class_fractions(results["segment"], class_names=names), class_names=names)
    for predictor, results in outputs:
        if "detect" in results:
            found = results["detect"]
            canvas = draw_detections(canvas, found["boxes"], found["labels"], found["scores"],
                                     class_names=predictor.class_names["detect"])
        if "classify" in results:
            top = top_classes(results["classify"], class_names=predictor.class_names["classify"], k=TOP_K)
            classes += [(f"{entry['name']} {entry['score']:.0%}", None) for entry in top]
    canvas = draw_panel(canvas, classes, corner="top-left")
    return draw_panel(canvas, legend, corner="bottom-left")


def summarize(outputs: Sequence[tuple[Predictor, dict]]) -> dict[str, list[dict]]:
    """The results as JSON: {"detect": [{"model", "box", "score", "label", "name"}], "classify":
    [{"model", "class", "name", "score"}] (top TOP_K), "segment": [{"model", "class", "name", "fraction"}]}."""
    summary = {}
    for predictor, results in outputs:
        for task, result in results.items():
            names = predictor.class_names[task]
            if task == "detect":
                entries = describe_detections(result, class_names=names)
            elif task == "classify":
                entries = top_classes(result, class_names=names, k=TOP_K)
            else:
                entries = [{"class": index, "name": names[index], "fraction": round(fraction, 4)}
                           for index, fraction in class_fractions(result, class_names=names).items()]
            summary.setdefault(task, []).extend({"model": predictor.name, **entry} for entry in entries)
    return summary


def legend_entries(summary: dict[str, list[dict]]) -> list[tuple[str, tuple[int, int, int], str]]:
    """(class name, its RGB colour, what was found: "2 boxes, 31% of pixels") of every class that
    summarize's result detected or segmented, in the colours the overlay uses."""
    found: dict[str, dict] = {}
    for task, label_key in (("detect", "label"), ("segment", "class")):
        for entry in summary.get(task, []):
            seen = found.setdefault(entry["name"], {"label": entry[label_key], "boxes": 0, "fraction": 0.0})
            if task == "detect":
                seen["boxes"] += 1
            else:
                seen["fraction"] += entry["fraction"]
    rows = []
    for name, seen in found.items():
        parts = []
        if seen["boxes"]:
            parts.append(f"{seen['boxes']} box" + ("es" if seen["boxes"] > 1 else ""))
        if seen["fraction"]:
            parts.append(f"{seen['fraction']:.0%} of pixels")
        rows.append((name, class_colour(seen["label"]), ", ".join(parts)))
    return rows
