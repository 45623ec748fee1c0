"""Export a task model's `raw_outputs` to ONNX with a dynamic batch axis (a segmenter's class map too)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

# A segmenting model's graph (a segmenter's, the multi-task model's with its segmentation head) also
# ends in its class map (the resize to the input and the argmax over classes), as this extra output:
# ONNX Runtime's ArgMax over the channel axis is several times faster than torch's or numpy's over
# an NCHW tensor's channels (docs/benchmarks.md).
CLASS_MAP_OUTPUT = "classes"


def output_names(model: nn.Module) -> list[str]:
    """ONNX names of the exported outputs: the model's names of its raw outputs, then the class map
    for a model that makes one from them (its `class_map_source`, that raw output's name)."""
    return [*model.raw_output_names, *([CLASS_MAP_OUTPUT] if getattr(model, "class_map_source", None) else [])]


class RawOutputs(nn.Module):
    """Wraps a task model so that its forward is `raw_outputs`: the part that is exported. With
    class_map=True (segmenting models) it also returns the model's `class_map` (N, H, W) int64; a
    detector's post-processing stays outside the graph."""

    def __init__(self, model: nn.Module, *, class_map: bool = False) -> None:
        super().__init__()
        self.model = model
        self.class_map = class_map

    def forward(self, images: torch.Tensor):
        raw = self.model.raw_outputs(images)
        if not self.class_map:
            return raw
        return raw, self.model.class_map(raw, image_size=tuple(images.shape[-2:]))


def export_onnx(model: nn.Module, path: Path, *, imgsz: int, output_names: list[str]) -> Path:
    """Write `model.raw_outputs` (images (N, 3, imgsz, imgsz) -> tensors) to `path`, and the class
    map after them when `output_names` ends with CLASS_MAP_OUTPUT.

    Uses torch.export's ONNX exporter (the default since PyTorch 2.9); its progress chatter goes
    to a buffer so `--json` output stays clean.
    """
    wrapped = RawOutputs(model, class_map=CLASS_MAP_OUTPUT in output_names).eval()
    example = torch.zeros(2, 3, imgsz, imgsz)
    with contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(
            wrapped,
            (example,),
            dynamo=True,
            input_names=["images"],
            output_names=output_names,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},),
        )
    program.save(str(path))
    return path
