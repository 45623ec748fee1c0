"""A checkpoint to ONNX (optionally INT8) or TorchScript, BatchNorm folded: what `mobilevision export`
runs, and what bench and the demos export with."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from mobilevision.errors import MobileVisionError
from mobilevision.tasks.published import is_published, published, resolve_checkpoint
from mobilevision.tasks.registry import get_task, load_checkpoint


def calibration_batches(checkpoint: dict, *, data: str, imgsz: int, count: int, batch: int = 8):
    """(B, 3, imgsz, imgsz) float32 arrays: `count` val images, preprocessed as for evaluation."""
    task = get_task(checkpoint["task"])
    dataset = task.dataset(data, split="val", transform=task.eval_transform(size=imgsz,
                                                                           preprocessing=checkpoint["preprocessing"]))
    images = []
    for index in range(min(count, len(dataset))):
        sample = dataset[index]
        if sample is not None:
            images.append(sample[0])
        if len(images) == batch or (index == min(count, len(dataset)) - 1 and images):
            yield torch.stack(images).numpy()
            images = []


def export(weights: str, *, fmt: str, imgsz: int | None, int8: bool, calib: str | None, calib_images: int,
           out: str | None) -> dict:
    """Export and check: returns the written paths and the max |ONNX - PyTorch| of the raw outputs."""
    from mobilevision.deploy.fold import fold_batchnorm

    if int8 and (fmt != "onnx" or calib is None):
        raise MobileVisionError("--int8 needs --format onnx and --calib DATA (images to calibrate activation ranges)")
    suffix = ".onnx" if fmt == "onnx" else ".torchscript"
    # A published model is exported into the working folder, under its builder's name.
    default_target = (Path(f"{published(weights).builder}{suffix}") if is_published(weights)
                      else Path(weights).with_suffix(suffix))
    weights = resolve_checkpoint(weights)
    model, checkpoint = load_checkpoint(weights)
    size = imgsz or checkpoint["preprocessing"]["input_size"]
    model = fold_batchnorm(model)
    target = Path(out) if out else default_target
    if fmt == "torchscript":
        from mobilevision.deploy.onnx_export import RawOutputs

        traced = torch.jit.trace(RawOutputs(model), torch.zeros(1, 3, size, size), check_trace=False)
        traced.save(str(target))
        return {"torchscript": str(target)}
    from mobilevision.deploy.onnx_export import export_onnx, output_names
    from mobilevision.deploy.onnx_model import OnnxRuntimeModel, write_metadata

    export_onnx(model, target, imgsz=size, output_names=output_names(model))
    metadata = {key: checkpoint[key] for key in ("task", "model_name", "model_kwargs", "class_names", "preprocessing")}
    write_metadata(target, {**metadata, "imgsz": size})
    result = {"onnx": str(target), "max_abs_diff": _max_difference(model, OnnxRuntimeModel(target), size)}
    if not math.isfinite(result["max_abs_diff"]):
        # Caught here, not by ONNX Runtime's calibrator deep inside quantize_static ("scale issue").
        raise MobileVisionError(f"{weights}: the model's outputs are NaN or infinite on test inputs, so its weights "
                                "are unusable; retrain it (a lower --lr or --clip-grad keeps training finite)")
    if int8:
        from mobilevision.deploy.quantize import quantize_int8

        int8_path = target.with_name(f"{target.stem}-int8.onnx")
        quantize_int8(target, int8_path, calibration=calibration_batches(
            checkpoint, data=calib, imgsz=size, count=calib_images))
        result["onnx_int8"] = str(int8_path)
    return result


def _max_difference(model: torch.nn.Module, runtime, size: int) -> float:
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.raw_outputs(images)
    got = runtime.raw_outputs(images)
    pairs = zip(expected, got) if isinstance(expected, tuple) else [(expected, got)]
    return max(float((e - g).abs().max()) for e, g in pairs)
