"""`mobilevision export`: a checkpoint to ONNX (optionally INT8) or TorchScript, BatchNorm folded."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from mobilevision.errors import MobileVisionError


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a checkpoint to ONNX / INT8 ONNX / TorchScript",
                                   description=__doc__)
    parser.add_argument("--weights", required=True, help="checkpoint to export (runs/<task>/<name>/weights/best.pt)")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="output format")
    parser.add_argument("--imgsz", type=int, default=None, help="input size (default: the checkpoint's)")
    parser.add_argument("--int8", action="store_true", help="also write an INT8 model (ONNX Runtime static quantisation)")
    parser.add_argument("--calib", default=None, help="dataset whose val images calibrate INT8 (path or YAML)")
    parser.add_argument("--calib-images", type=int, default=64, help="number of calibration images")
    parser.add_argument("--out", default=None, help="output file (default: beside the checkpoint)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.set_defaults(run=run)


def calibration_batches(checkpoint: dict, *, data: str, imgsz: int, count: int, batch: int = 8):
    """(B, 3, imgsz, imgsz) float32 arrays: `count` val images, preprocessed as for evaluation."""
    from mobilevision import datasets

    task = checkpoint["task"]
    mean, std = checkpoint["preprocessing"]["mean"], checkpoint["preprocessing"]["std"]
    transform = {
        "classify": datasets.classification_transforms,
        "detect": datasets.detection_transforms,
        "segment": datasets.segmentation_transforms,
        "multitask": datasets.detection_transforms,  # the square resize the multi-task model is validated at
    }[task](False, size=imgsz, mean=mean, std=std)
    dataset = datasets.build_dataset(data, task=task, split="val", transform=transform)
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
    from mobilevision.engine.checkpoint import load_checkpoint

    if int8 and (fmt != "onnx" or calib is None):
        raise MobileVisionError("--int8 needs --format onnx and --calib DATA (images to calibrate activation ranges)")
    model, checkpoint = load_checkpoint(weights)
    size = imgsz or checkpoint["preprocessing"]["input_size"]
    model = fold_batchnorm(model)
    target = Path(out) if out else Path(weights).with_suffix(".onnx" if fmt == "onnx" else ".torchscript")
    if fmt == "torchscript":
        from mobilevision.deploy.onnx_export import RawOutputs

        traced = torch.jit.trace(RawOutputs(model), torch.zeros(1, 3, size, size), check_trace=False)
        traced.save(str(target))
        return {"torchscript": str(target)}
    from mobilevision.deploy.onnx_model import OnnxRuntimeModel, write_metadata
    from mobilevision.deploy.onnx_export import export_onnx, output_names

    export_onnx(model, target, imgsz=size, output_names=output_names(model, task=checkpoint["task"]))
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


def run(args: argparse.Namespace) -> int:
    result = export(args.weights, fmt=args.format, imgsz=args.imgsz, int8=args.int8, calib=args.calib,
                    calib_images=args.calib_images, out=args.out)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
