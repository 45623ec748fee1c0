"""What one benchmark row is (a model at a width and input size) and the files it is timed from:
a checkpoint, its ONNX export and an INT8 copy, all made in the run folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mobilevision.engine.checkpoint import inference_checkpoint
from mobilevision.errors import MobileVisionError

# The default run: V1 against V2 for each task, and V2 at a second resolution (latency against
# resolution). About a minute per row on 2 idle cores (export, INT8 calibration and four timing
# processes); --widths / --imgsz widen it.
DEFAULT_CASES = (
    ("mobilenet_v2", 1.0, 224),
    ("mobilenet_v2", 1.0, 160),
    ("mobilenet_v1", 1.0, 224),
    ("ssdlite_mobilenet_v2", 1.0, 320),
    ("ssdlite_mobilenet_v1", 1.0, 320),
    ("deeplabv3_mobilenet_v2", 1.0, 512),
    ("deeplabv3_mobilenet_v1", 1.0, 512),
)

RUNTIMES = ("eager", "optimized", "ort_fp32", "ort_int8")


@dataclass
class BenchCase:
    """One row group of the table: a model at one width and input size, and its files."""

    model_name: str
    task: str
    width: float
    imgsz: int
    checkpoint: Path
    onnx: Path | None = None
    onnx_int8: Path | None = None
    stats: dict = field(default_factory=dict)  # params, madds, export max |ONNX - PyTorch|
    published: str | None = None  # the torchvision name the checkpoint was converted from (its anchor's file)

    @property
    def label(self) -> str:
        return f"{self.model_name}-{self.width:g}-{self.imgsz}"


def write_checkpoint(model: torch.nn.Module, path: Path, *, model_name: str, model_kwargs: dict, task: str,
                     class_names: list[str] | dict[str, list[str]], imgsz: int) -> Path:
    """Save `model` as a checkpoint with the keys tasks.registry's load_checkpoint reads, so fresh
    (random) models go through the same export path as trained ones, normalised as the task's
    models are by default. class_names: a multi-task model's per task."""
    from mobilevision.tasks.registry import get_task

    mean, std = get_task(task).default_mean, get_task(task).default_std
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ({task: list(names) for task, names in class_names.items()} if isinstance(class_names, dict)
             else list(class_names))
    torch.save(inference_checkpoint(model.state_dict(), task=task, model_name=model_name, model_kwargs=model_kwargs,
                                    class_names=names,
                                    preprocessing={"mean": list(mean), "std": list(std), "input_size": imgsz}), path)
    return path


def fresh_case(model_name: str, *, width: float, imgsz: int, folder: Path, class_names: list[str] | None = None,
               seed: int = 0) -> BenchCase:
    """A seeded random-weight model written as a checkpoint in `folder`. `class_names` (e.g. a
    --data dataset's; for detection without the background, as detection checkpoints store them)
    sets num_classes; default the registry's."""
    from mobilevision.tasks.registry import build_model, get_task, model_entry

    entry = model_entry(model_name)
    if width not in entry.widths:
        known = ", ".join(f"{w:g}" for w in entry.widths)
        raise MobileVisionError(f"{model_name} has no width {width:g}; widths: {known}")
    task = get_task(entry.task)
    names = class_names or [f"class{index}" for index in range(entry.num_classes - task.background_classes)]
    kwargs = task.fresh_model_kwargs(width=width, num_classes=len(names) + task.background_classes, imgsz=imgsz)
    torch.manual_seed(seed)
    model = build_model(model_name, **kwargs)
    case = BenchCase(model_name=model_name, task=entry.task, width=width, imgsz=imgsz,
                     checkpoint=folder / f"{model_name}-{width:g}-{imgsz}.pt")
    write_checkpoint(model, case.checkpoint, model_name=model_name, model_kwargs=kwargs, task=entry.task,
                     class_names=names, imgsz=imgsz)
    return case


def checkpoint_case(weights: str, *, imgsz: int | None) -> BenchCase:
    """A trained checkpoint or a published model's name (--weights), at its own input size unless
    `imgsz` is given."""
    from mobilevision.engine.checkpoint import read_checkpoint
    from mobilevision.tasks.published import catalogue, resolve_checkpoint

    path = resolve_checkpoint(weights)
    checkpoint = read_checkpoint(path)
    return BenchCase(model_name=checkpoint["model_name"], task=checkpoint["task"],
                     width=float(checkpoint["model_kwargs"].get("width", 1.0)),
                     imgsz=imgsz or int(checkpoint["preprocessing"]["input_size"]), checkpoint=Path(path),
                     published=weights if weights in catalogue() else None)


def random_calibration(*, imgsz: int, count: int, seed: int, batch: int = 8) -> Iterator[np.ndarray]:
    """(B, 3, imgsz, imgsz) float32 batches of seeded normal noise (already-normalised images)."""
    generator = np.random.default_rng(seed)
    for start in range(0, count, batch):
        yield generator.standard_normal((min(batch, count - start), 3, imgsz, imgsz), dtype=np.float32)


def prepare(case: BenchCase, *, folder: Path, data: str | None, calib_images: int, seed: int) -> BenchCase:
    """Count params and multiply-adds, export ONNX fp32 (BatchNorm folded, via `mobilevision
    export`'s function) and write an INT8 copy calibrated on `data`'s val images or on noise."""
    from mobilevision.analysis.complexity import count_madds, count_params
    from mobilevision.deploy.export import calibration_batches, export
    from mobilevision.deploy.quantize import quantize_int8
    from mobilevision.tasks.registry import load_checkpoint

    model, checkpoint = load_checkpoint(case.checkpoint)
    meta = model.to("meta")  # shapes only: counting a 512 px segmenter costs nothing
    case.stats = {"params": count_params(meta),
                  "madds": count_madds(meta, imgsz=case.imgsz, forward=meta.raw_outputs)}
    folder.mkdir(parents=True, exist_ok=True)
    case.onnx = folder / f"{case.label}.onnx"
    result = export(str(case.checkpoint), fmt="onnx", imgsz=case.imgsz, int8=False, calib=None, calib_images=0,
                    out=str(case.onnx))
    case.stats["export_max_abs_diff"] = result["max_abs_diff"]
    case.onnx_int8 = folder / f"{case.label}-int8.onnx"
    calibration = (calibration_batches(checkpoint, data=data, imgsz=case.imgsz, count=calib_images) if data
                   else random_calibration(imgsz=case.imgsz, count=calib_images, seed=seed))
    quantize_int8(case.onnx, case.onnx_int8, calibration=calibration)
    return case
