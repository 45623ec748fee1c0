"""Export a task model's `raw_outputs` to ONNX with a dynamic batch axis (a segmenter's class map too)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

# ONNX names of each task model's raw_outputs, in order (a multi-task model prefixes them with the task).
RAW_OUTPUT_NAMES = {"classify": ["logits"], "detect": ["box_deltas", "class_logits"], "segment": ["logits"]}
# A segmenter's graph also ends in its postprocess (the argmax over classes), as this extra output:
# ONNX Runtime's ArgMax over the channel axis took 7 ms for 21 x 512 x 512 logits on one thread,
# torch's 51 ms and numpy's 28 (its NCHW layout is the slow case for both).
CLASS_MAP_OUTPUT = "classes"


def output_names(model: nn.Module, *, task: str) -> list[str]:
    """ONNX names of the exported outputs: `model.raw_outputs` of the task, or of each chosen task
    for a multi-task model; then a segmenter's class map."""
    if task == "multitask":
        return [f"{name}_{output}" for name in model.task_names for output in RAW_OUTPUT_NAMES[name]]
    return RAW_OUTPUT_NAMES[task] + ([CLASS_MAP_OUTPUT] if task == "segment" else [])


class RawOutputs(nn.Module):
    """Wraps a task model so that its forward is `raw_outputs`: the part that is exported. With
    class_map=True (segmenters) it also returns `postprocess`'s class map (N, H, W) int64; a
    detector's post-processing stays outside the graph."""

    def __init__(self, model: nn.Module, *, class_map: bool = False) -> None:
        super().__init__()
        self.model = model
        self.class_map = class_map

    def forward(self, images: torch.Tensor):
        raw = self.model.raw_outputs(images)
        if not self.class_map:
            return raw
        return raw, self.model.postprocess(raw, image_size=tuple(images.shape[-2:]))


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
