"""Export a task model's `raw_outputs` to ONNX with a dynamic batch axis."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

# ONNX names of each task model's raw_outputs, in order (a multi-task model prefixes them with the task).
RAW_OUTPUT_NAMES = {"classify": ["logits"], "detect": ["box_deltas", "class_logits"], "segment": ["logits"]}


def output_names(model: nn.Module, *, task: str) -> list[str]:
    """ONNX names of `model.raw_outputs`: the task's, or each chosen task's for a multi-task model."""
    if task == "multitask":
        return [f"{name}_{output}" for name in model.task_names for output in RAW_OUTPUT_NAMES[name]]
    return RAW_OUTPUT_NAMES[task]


class RawOutputs(nn.Module):
    """Wraps a task model so that its forward is `raw_outputs`: the part that is exported
    (a detector's post-processing and a segmenter's argmax stay outside the graph)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor):
        return self.model.raw_outputs(images)


def export_onnx(model: nn.Module, path: Path, *, imgsz: int, output_names: list[str]) -> Path:
    """Write `model.raw_outputs` (images (N, 3, imgsz, imgsz) -> tensors) to `path`.

    Uses torch.export's ONNX exporter (the default since PyTorch 2.9); its progress chatter goes
    to a buffer so `--json` output stays clean.
    """
    wrapped = RawOutputs(model).eval()
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
