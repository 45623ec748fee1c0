"""`--compare torchvision`: torchvision's mobile models timed beside ours, and the speed goals
(issue 7) as ratios of our latency to an anchor's (below 1 = we are faster)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch

# (name, task, input side, runtimes): all with random weights, never a download.
ANCHORS = (
    ("mobilenet_v2", "classify", 224, ("eager", "eager_channels_last", "ort_fp32")),
    ("ssdlite320_mobilenet_v3_large", "detect", 320, ("eager",)),
    ("lraspp_mobilenet_v3_large", "segment", 520, ("eager",)),
)


@dataclass(frozen=True)
class Goal:
    """ours (model label, runtime) against theirs (label, runtime): ratio = ours / theirs <= at_most."""

    description: str
    ours: tuple[str, str]
    theirs: tuple[str, str]
    at_most: float


GOALS = (
    Goal("ORT fp32 no slower than torchvision mobilenet_v2 -> ORT",
         ("mobilenet_v2-1-224", "ort_fp32"), ("tv:mobilenet_v2-224", "ort_fp32"), 1.0),
    Goal("ORT fp32 >= 4x faster than torchvision mobilenet_v2 eager",
         ("mobilenet_v2-1-224", "ort_fp32"), ("tv:mobilenet_v2-224", "eager"), 0.25),
    Goal("optimised eager no slower than torchvision eager channels_last",
         ("mobilenet_v2-1-224", "optimized"), ("tv:mobilenet_v2-224", "eager_channels_last"), 1.0),
    Goal("INT8 >= 1.5x faster than our ORT fp32",
         ("mobilenet_v2-1-224", "ort_int8"), ("mobilenet_v2-1-224", "ort_fp32"), 1 / 1.5),
    Goal("SSDLite-MobileNetV2 320 end to end (ORT fp32) <= half of torchvision ssdlite320 eager",
         ("ssdlite_mobilenet_v2-1-320", "ort_fp32"), ("tv:ssdlite320_mobilenet_v3_large-320", "eager"), 0.5),
    Goal("SSDLite-MobileNetV2 320 end to end (optimised eager) <= half of torchvision ssdlite320 eager",
         ("ssdlite_mobilenet_v2-1-320", "optimized"), ("tv:ssdlite320_mobilenet_v3_large-320", "eager"), 0.5),
    Goal("DeepLabv3-MobileNetV2 OS16 512 (ORT fp32) no slower than lraspp 520 eager",
         ("deeplabv3_mobilenet_v2-1-512", "ort_fp32"), ("tv:lraspp_mobilenet_v3_large-520", "eager"), 1.0),
    Goal("DeepLabv3-MobileNetV2 OS16 512 (optimised eager) no slower than lraspp 520 eager",
         ("deeplabv3_mobilenet_v2-1-512", "optimized"), ("tv:lraspp_mobilenet_v3_large-520", "eager"), 1.0),
)


def anchor_label(name: str, imgsz: int) -> str:
    return f"tv:{name}-{imgsz}"


def export_torchvision_mobilenet_v2(path: Path, *, imgsz: int = 224) -> Path:
    """torchvision's mobilenet_v2 (random weights) to ONNX the way ours is exported: torch.export's
    exporter, dynamic batch; ONNX Runtime folds its BatchNorms itself."""
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None).eval()
    with contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(model, (torch.zeros(2, 3, imgsz, imgsz),), dynamo=True, input_names=["images"],
                                    output_names=["logits"],
                                    dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},))
    program.save(str(path))
    return path


def goal_ratios(rows: list[dict]) -> list[dict]:
    """One entry per goal whose two rows were measured: ours/theirs of the median latency (the
    goal's measure), whether it holds, and ours/theirs of the minimum (least disturbed) latency."""
    measured = {(row["label"], row["runtime"]): row for row in rows if row.get("median_ms")}
    ratios = []
    for goal in GOALS:
        if goal.ours in measured and goal.theirs in measured:
            ours, theirs = measured[goal.ours], measured[goal.theirs]
            ratio = ours["median_ms"] / theirs["median_ms"]
            ratio_of_min = ours["min_ms"] / theirs["min_ms"] if ours.get("min_ms") and theirs.get("min_ms") else None
            ratios.append({"goal": goal.description, "ours_ms": ours["median_ms"], "theirs_ms": theirs["median_ms"],
                           "ratio": ratio, "at_most": goal.at_most, "met": ratio <= goal.at_most,
                           "ratio_of_min": ratio_of_min})
    return ratios
