"""The anchors checked against the training boxes when detection training starts (`--anchors`).

One line gives the best possible recall of the model's anchors at its match IoU (heads/anchor_fit.py),
with a warning below BPR_WARNING, as YOLOv5's autoanchor checks its anchors; `--anchors auto` first
fits the anchor scales and aspect ratios to the boxes and returns the fitted options, which the
checkpoint's model kwargs then hold, so val, predict, export and the demos rebuild those anchors.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable, Mapping

from torch import nn

from mobilevision.datasets.box_records import annotated_boxes, input_boxes
from mobilevision.datasets.build import build_dataset
from mobilevision.datasets.detection_base import DetectionDataset
from mobilevision.engine.config import as_kwargs, options_of
from mobilevision.engine.distributed import dist_info
from mobilevision.heads.anchor_fit import coverage, fit_anchors
from mobilevision.heads.anchors import format_aspect_ratios, parse_aspect_ratios
from mobilevision.tasks.detect.options import SSDLiteOptions

BPR_WARNING = 0.98  # YOLOv5's threshold for refitting its anchors


def checked_anchor_options(*, data: str, imgsz: int, model: str, model_kwargs: Mapping,
                           train_set: DetectionDataset | None = None,
                           detector_of: Callable[[nn.Module], nn.Module] = lambda built: built) -> dict:
    """model_kwargs["ssdlite"] after the check: fitted to data's training boxes (resized to the
    (imgsz, imgsz) input) when its `anchors` is "auto", else unchanged. `train_set`: the training
    run's detection dataset, whose annotations are then not read again. `detector_of(model)`: the
    SSDLite within the model built (the multi-task model's detect head). Prints on rank 0 only."""
    from mobilevision.tasks.registry import build_model  # the registry imports this task's modules

    options = options_of(SSDLiteOptions, model_kwargs.get("ssdlite"))
    boxes = input_boxes(annotated_boxes(train_set if train_set is not None else _quiet_training_set(data)), size=imgsz)
    image_size = (imgsz, imgsz)
    # The model's own strides and anchor generator, so the anchors measured are the ones trained.
    probe = detector_of(build_model(model, **{**model_kwargs, "ssdlite": as_kwargs(options)}))
    bpr, mean_iou = coverage(boxes, generator=probe.anchor_generator, strides=probe.strides, image_size=image_size,
                             match_iou=options.match_iou)
    lines = [(f"anchors: best possible recall {bpr:.3f} (mean best IoU {mean_iou:.3f}) of {len(boxes)} training "
              f"boxes at match IoU {options.match_iou} and {imgsz} px")]
    if options.anchors == "auto":
        fit = fit_anchors(boxes, layout=options.anchor_layout, min_scale=options.anchor_min_scale,
                          max_scale=options.anchor_max_scale,
                          aspect_ratios=parse_aspect_ratios(options.anchor_aspect_ratios), strides=probe.strides,
                          image_size=image_size, match_iou=options.match_iou)
        options = dataclasses.replace(options, anchor_min_scale=fit.min_scale, anchor_max_scale=fit.max_scale,
                                      anchor_aspect_ratios=format_aspect_ratios(fit.aspect_ratios))
        bpr = fit.bpr
        lines.append(f"anchors auto: scales {fit.min_scale}-{fit.max_scale}, aspect ratios "
                     f"{options.anchor_aspect_ratios}: best possible recall {fit.bpr:.3f} (mean best IoU "
                     f"{fit.mean_iou:.3f}), {fit.positives:.1f} positive anchors per box")
    if bpr < BPR_WARNING:
        hint = (f"a larger --imgsz (for boxes near the finest stride, {probe.strides[0]} px), a lower --match-iou, "
                "or anchor options by hand" if options.anchors == "auto" else "--anchors auto fits them to the boxes")
        lines.append(f"warning: anchors cover only {bpr:.1%} of the training boxes at IoU {options.match_iou} "
                     f"(below {BPR_WARNING:.0%}); {hint}")
    if dist_info().is_main:
        print("\n".join(lines), file=sys.stderr, flush=True)  # stdout is for --json
    return as_kwargs(options)


def _quiet_training_set(data: str) -> DetectionDataset:
    """data's detection training split, read without warnings: the training set's own reading warns
    about its bad annotations once."""
    datasets_logger = logging.getLogger("mobilevision.datasets")
    level = datasets_logger.level
    datasets_logger.setLevel(logging.ERROR)
    try:
        return build_dataset(data, task="detect", split="train")
    finally:
        datasets_logger.setLevel(level)
