"""`--compare torchvision`: torchvision's mobile models timed beside ours, and the speed goals
(issue 7) as ratios of our latency to an anchor's (below 1 = we are faster).

Beside our fresh models: torchvision's with random weights (ANCHORS). Beside a published model
(--weights torchvision:...): torchvision's own model loaded with the same published file, whose
outputs are checked against ours (same_outputs.py), and ours / theirs for each of our runtimes.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from mobilevision.bench.cases import BenchCase
from mobilevision.bench.runtimes import TORCHVISION_BUILDERS
from mobilevision.errors import MobileVisionError


@dataclass(frozen=True)
class Anchor:
    """A torchvision model timed beside ours in `runtimes`, at `imgsz`."""

    name: str  # torchvision's builder (runtimes.TORCHVISION_BUILDERS)
    task: str
    imgsz: int
    runtimes: tuple[str, ...]
    weights: str | None = None  # the published model whose file it loads; None: random weights
    state_dict: str | None = None  # that file, in the torch hub cache

    @property
    def model(self) -> str:
        """The table's model: tv:<builder>, or tv:<builder>.<WEIGHTS> with published weights."""
        return f"tv:{self.weights.split(':', 1)[1]}" if self.weights else f"tv:{self.name}"

    @property
    def label(self) -> str:
        return f"{self.model}-{self.imgsz}"


# Random weights, never a download.
ANCHORS = (
    Anchor("mobilenet_v2", "classify", 224, ("eager", "eager_channels_last", "ort_fp32")),
    Anchor("ssdlite320_mobilenet_v3_large", "detect", 320, ("eager",)),
    Anchor("lraspp_mobilenet_v3_large", "segment", 520, ("eager",)),
)


@dataclass(frozen=True)
class Goal:
    """ours (model label, runtime) against theirs (label, runtime): ratio = ours / theirs <= at_most."""

    description: str
    ours: tuple[str, str]
    theirs: tuple[str, str]
    at_most: float | None  # None: a ratio reported without a goal


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


def published_anchor(case: BenchCase) -> Anchor:
    """torchvision's own model of the published weights `case` (a --weights name) was converted
    from, loaded with the same file (its SHA-256 checked again), eager, at the case's input size."""
    from mobilevision.backbones.pretrained import cached_download
    from mobilevision.tasks.published import published

    entry = published(case.published)
    if entry.builder not in TORCHVISION_BUILDERS:
        raise MobileVisionError(f"--compare torchvision: no torchvision anchor for {entry.name}; anchors: "
                                f"{', '.join(TORCHVISION_BUILDERS)}")
    if TORCHVISION_BUILDERS[entry.builder][0] == "detection" and case.imgsz != entry.input_size:
        # Its transform resizes every image to its own size: at another, the two would differ in work.
        raise MobileVisionError(f"--compare torchvision: torchvision's {entry.builder} runs at {entry.input_size} px "
                                f"only; bench {case.published} at --imgsz {entry.input_size}, not {case.imgsz}")
    url = entry.meta()["url"]
    state_dict = cached_download(url, file_name=Path(url).name, sha256=entry.sha256)
    return Anchor(name=entry.builder, task=entry.task, imgsz=case.imgsz, runtimes=("eager",), weights=entry.name,
                  state_dict=str(state_dict))


def published_goals(case: BenchCase, anchor: Anchor, *, runtimes: list[str]) -> tuple[Goal, ...]:
    """Ratios without a goal: each of our runtimes of a published model against torchvision's own
    model with the same file (published_anchor)."""
    return tuple(Goal(f"{case.published} {runtime} / torchvision's own, same file, eager",
                      (case.label, runtime), (anchor.label, "eager"), None) for runtime in runtimes)


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


def goal_ratios(rows: list[dict], *, goals: tuple[Goal, ...] = GOALS) -> list[dict]:
    """One entry per goal whose two rows were measured: ours/theirs of the median latency (the
    goal's measure), whether it holds (None without a goal), and ours/theirs of the minimum (least
    disturbed) latency."""
    measured = {(row["label"], row["runtime"]): row for row in rows if row.get("median_ms")}
    ratios = []
    for goal in goals:
        if goal.ours in measured and goal.theirs in measured:
            ours, theirs = measured[goal.ours], measured[goal.theirs]
            ratio = ours["median_ms"] / theirs["median_ms"]
            ratio_of_min = ours["min_ms"] / theirs["min_ms"] if ours.get("min_ms") and theirs.get("min_ms") else None
            ratios.append({"goal": goal.description, "ours_ms": ours["median_ms"], "theirs_ms": theirs["median_ms"],
                           "ratio": ratio, "at_most": goal.at_most,
                           "met": ratio <= goal.at_most if goal.at_most is not None else None,
                           "ratio_of_min": ratio_of_min})
    return ratios
