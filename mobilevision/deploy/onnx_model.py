"""An exported ONNX model behind the same interface as the PyTorch task models.

The ONNX graph holds `raw_outputs` (network only). Post-processing (a detector's decoding and
NMS) is the task model's own `postprocess`, run on the ONNX outputs, so both runtimes share one
implementation and return the same structures. A segmenter's postprocess, the argmax, is exported
into the graph as its `classes` output, which is read instead when the file has it. The task model is rebuilt
from the builder name and arguments stored in the file's metadata; its weights are never used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import torch
from google.protobuf.message import DecodeError
from torch import nn

from mobilevision.deploy.onnx_export import CLASS_MAP_OUTPUT
from mobilevision.errors import MobileVisionError

METADATA_KEY = "mobilevision"
METADATA_KEYS = ("task", "model_name", "model_kwargs", "class_names", "preprocessing")
EXPORT_AGAIN = "export it again with `mobilevision export --weights <its checkpoint>`"


def write_metadata(path: Path, metadata: dict) -> None:
    """Store the builder name, its arguments, class names and preprocessing in the ONNX file."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    onnx.save(model, str(path))


def read_metadata(path: Path) -> dict:
    """What `write_metadata` stored; a file that is no ONNX model, or not ours, is one line naming it."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, OSError) as error:
        raise MobileVisionError(f"{path} is not an ONNX model ({_first_line(error)}): the file is cut short or of "
                                f"another format; {EXPORT_AGAIN}") from None
    for entry in model.metadata_props:
        if entry.key == METADATA_KEY:
            try:
                metadata = json.loads(entry.value)
            except json.JSONDecodeError as error:
                raise MobileVisionError(f"{path}: its {METADATA_KEY!r} metadata is not JSON ({error}); "
                                        f"{EXPORT_AGAIN}") from None
            missing = [key for key in METADATA_KEYS if key not in metadata]
            if missing:
                raise MobileVisionError(f"{path}: its {METADATA_KEY!r} metadata lacks {', '.join(missing)}; "
                                        f"{EXPORT_AGAIN}")
            return metadata
    raise MobileVisionError(f"{path} was not exported by `mobilevision export` (no {METADATA_KEY!r} metadata); "
                            f"{EXPORT_AGAIN}")


def ort_session(path: Path, *, threads: int | None = None):
    """An ONNX Runtime CPU session with all graph optimisations, `threads` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own types (InvalidGraph, Fail, ...)
        raise MobileVisionError(f"ONNX Runtime cannot load {path} ({_first_line(error)}); {EXPORT_AGAIN}") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class OnnxRuntimeModel(nn.Module):
    """Runs an exported model in ONNX Runtime; call it as the PyTorch task model in eval mode."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        from mobilevision.tasks.checkpoint_file import build_recorded

        super().__init__()
        path = Path(path)
        if not path.is_file():
            raise MobileVisionError(f"{path}: ONNX file not found; create it with `mobilevision export`")
        self.path = path
        self.metadata = read_metadata(path)
        self.task_model = build_recorded(self.metadata, path=path, fix=EXPORT_AGAIN).eval()
        self.session = ort_session(path, threads=threads)
        self.input_name = self.session.get_inputs()[0].name
        names = [output.name for output in self.session.get_outputs()]
        self.class_map_output = CLASS_MAP_OUTPUT if CLASS_MAP_OUTPUT in names else None
        self.raw_output_names = [name for name in names if name != CLASS_MAP_OUTPUT]
        self.class_names = self.metadata.get("class_names")
        self.preprocessing = self.metadata.get("preprocessing")

    def raw_outputs(self, images: torch.Tensor):
        """(N, 3, H, W) -> the same tensors as the task model's raw_outputs, computed by ORT."""
        return _as_raw(self._run(self.raw_output_names, images))

    def forward(self, images: torch.Tensor, **kwargs):
        image_size = tuple(images.shape[-2:])
        if self.class_map_output is None:
            return self.task_model.postprocess(self.raw_outputs(images), image_size=image_size, **kwargs)
        # The class map is the graph's; the logits it came from are not copied out of ORT (None in
        # their place: the model's postprocess takes the class map instead).
        source = self.task_model.class_map_source
        names = [name for name in self.raw_output_names if name != source]
        fetched = dict(zip([*names, self.class_map_output], self._run([*names, self.class_map_output], images)))
        raw = _as_raw([fetched.get(name) for name in self.raw_output_names])
        return self.task_model.postprocess(raw, image_size=image_size, class_map=fetched[self.class_map_output],
                                           **kwargs)

    def _run(self, names: list[str], images: torch.Tensor) -> list[torch.Tensor]:
        array = np.ascontiguousarray(images.detach().cpu().float().numpy())
        return [torch.from_numpy(output) for output in self.session.run(names, {self.input_name: array})]


def _as_raw(outputs: list):
    """ORT's outputs in the task model's raw_outputs form: a single tensor alone, else a tuple."""
    return outputs[0] if len(outputs) == 1 else tuple(outputs)
