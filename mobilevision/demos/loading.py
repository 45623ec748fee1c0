"""Predictors from `--weights`: each model on the fastest correct runtime this machine has.

auto: on a CPU, ONNX Runtime on the checkpoint's ONNX export (about 4.5x eager PyTorch for
MobileNetV2 on 2 cores, README "Speed"), exported once and kept beside the checkpoint; where the
export fails or disagrees with PyTorch, and on a GPU, PyTorch with BatchNorm folded and
channels_last (about 2x eager). The export and the runtimes are the ones `mobilevision export`
and `mobilevision bench` use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mobilevision.demos.predictor import TASKS, Predictor, TaskPredictor
from mobilevision.errors import MobileVisionError

RUNTIMES = ("auto", "torch", "onnxruntime")
TORCH_RUNTIME = "torch (BN folded, channels_last)"
# Largest |ONNX Runtime - PyTorch| on the raw outputs for which the export counts as correct
# (fp32 exports agree to ~1e-6; a wrong graph is off by whole units).
ORT_TOLERANCE = 1e-3
# Checkpoint tasks the demos run: each single task, and the multi-task model (one backbone pass).
LOADABLE = (*TASKS, "multitask")


def load_predictors(weights: Sequence[str], *, runtime: str = "auto", imgsz: int | None = None,
                    device: str = "auto", min_conf: float = 0.0, log: Callable[[str], None] = print
                    ) -> list[Predictor]:
    """One predictor per --weights, named uniquely (two runs' best.pt are told apart by their run),
    each called twice on a blank image. min_conf: see TaskPredictor."""
    predictors = [load_predictor(spec, runtime=runtime, imgsz=imgsz, device=device, min_conf=min_conf, log=log)
                  for spec in weights]
    names = [predictor.name for predictor in predictors]
    for index, predictor in enumerate(predictors):
        if names.count(predictor.name) > 1:
            predictor.name = f"{predictor.name} #{index + 1}"
        # oneDNN builds its convolution kernels during the first two calls (about a second each for
        # SSDLite on 2 cores): paid here, not by the first frames shown.
        for _ in range(2):
            predictor(np.zeros((480, 640, 3), dtype=np.uint8), conf=1.0)
    return predictors


def load_predictor(weights: str, *, runtime: str = "auto", imgsz: int | None = None, device: str = "auto",
                   min_conf: float = 0.0, log: Callable[[str], None] = print) -> Predictor:
    """A checkpoint of `<task> train` (classify, detect, segment, multitask) or its `mobilevision
    export` .onnx."""
    import torch

    from mobilevision.bench.runtimes import load_ours
    from mobilevision.engine.checkpoint import read_checkpoint
    from mobilevision.engine.device import select_device

    if runtime not in RUNTIMES:
        raise MobileVisionError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    path = Path(weights)
    if path.suffix == ".onnx":
        if runtime == "torch":
            raise MobileVisionError(f"--weights {weights} is an ONNX file, which runs in ONNX Runtime; "
                                    "pass its .pt checkpoint for --runtime torch")
        return _onnx_predictor(path, imgsz=imgsz, min_conf=min_conf)
    checkpoint = read_checkpoint(path)
    task = checkpoint["task"]
    if task not in LOADABLE:
        raise MobileVisionError(f"--weights {weights}: a {task} checkpoint; the demos run {', '.join(LOADABLE)} "
                                "checkpoints")
    size = imgsz or int(checkpoint["preprocessing"]["input_size"])
    target = select_device(device)
    chosen = runtime if runtime != "auto" else "onnxruntime" if target.type == "cpu" else "torch"
    onnx_path = None
    if chosen == "onnxruntime":
        try:
            onnx_path = exported_onnx(path, imgsz=size, log=log)
        except Exception as error:  # the exporter raises many types; auto falls back, explicit stops
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            if runtime == "onnxruntime":
                raise MobileVisionError(f"--weights {weights}: no ONNX export for ONNX Runtime ({reason}); "
                                        "use --runtime torch") from error
            log(f"{weights}: ONNX Runtime unavailable ({reason}); running it in PyTorch")
            chosen = "torch"
    model, checkpoint = load_ours(runtime="ort_fp32" if onnx_path else "optimized", checkpoint=str(path),
                                  onnx=str(onnx_path) if onnx_path else None, threads=os.cpu_count() or 1)
    if onnx_path is None:
        model.to(device=target)
    else:
        _leave_cores_to_onnxruntime()
    return task_predictor(model, name=f"{task}: {checkpoint['model_name']} ({_short_name(path)})", task=task,
                          class_names=checkpoint["class_names"], preprocessing=checkpoint["preprocessing"],
                          imgsz=size, runtime="onnxruntime" if onnx_path else TORCH_RUNTIME,
                          device=torch.device("cpu") if onnx_path else target, min_conf=min_conf)


def task_predictor(network, *, name: str, task: str, class_names: list[str] | dict[str, list[str]],
                   preprocessing: dict, imgsz: int, runtime: str, device, min_conf: float) -> Predictor:
    """The predictor of a loaded network (PyTorch or OnnxRuntimeModel): a TaskPredictor for a single
    task, the multi-task model's own MultiTaskPredictor (one backbone pass for all its tasks)."""
    if task == "multitask":
        from mobilevision.tasks.multitask.predict import MultiTaskPredictor

        return MultiTaskPredictor(network, name=name, class_names=class_names, preprocessing=preprocessing,
                                  imgsz=imgsz, runtime=runtime, device=device, min_conf=min_conf)
    return TaskPredictor(network, name=name, task=task, class_names=class_names, preprocessing=preprocessing,
                         imgsz=imgsz, runtime=runtime, device=device, min_conf=min_conf)


def exported_onnx(checkpoint: Path, *, imgsz: int, log: Callable[[str], None] = print) -> Path:
    """The checkpoint's ONNX export at `imgsz`: `mobilevision export`'s <stem>.onnx beside it when
    it is as new as the checkpoint and of that size, else <stem>-<imgsz>.onnx, exported now when
    missing or older than the checkpoint (a retrained best.pt is exported again)."""
    from mobilevision.deploy.export import export

    candidates = (checkpoint.with_suffix(".onnx"), checkpoint.with_name(f"{checkpoint.stem}-{imgsz}.onnx"))
    for candidate in candidates:
        if is_current_export(candidate, checkpoint=checkpoint, imgsz=imgsz):
            return candidate
    target = candidates[1]
    log(f"exporting {checkpoint} to ONNX for ONNX Runtime (once; kept as {target})")
    result = export(str(checkpoint), fmt="onnx", imgsz=imgsz, int8=False, calib=None, calib_images=0, out=str(target))
    if not result["max_abs_diff"] <= ORT_TOLERANCE:
        target.unlink()
        raise MobileVisionError(f"its outputs differ from PyTorch's by {result['max_abs_diff']:.3g}")
    return target


def is_current_export(candidate: Path, *, checkpoint: Path, imgsz: int) -> bool:
    """`candidate` is an fp32 ONNX export of `checkpoint` at `imgsz`, written after it."""
    from mobilevision.deploy.onnx_model import read_metadata

    if not candidate.is_file() or candidate.stat().st_mtime < checkpoint.stat().st_mtime:
        return False
    try:
        metadata = read_metadata(candidate)
    except Exception:  # not ours, or cut short: export again
        return False
    return metadata.get("imgsz") == imgsz and not metadata.get("int8")


def _onnx_predictor(path: Path, *, imgsz: int | None, min_conf: float) -> Predictor:
    import torch

    from mobilevision.deploy.onnx_model import OnnxRuntimeModel

    network = OnnxRuntimeModel(path, threads=os.cpu_count() or 1)
    metadata = network.metadata
    if metadata["task"] not in LOADABLE:
        raise MobileVisionError(f"--weights {path}: a {metadata['task']} model; the demos run {', '.join(LOADABLE)}")
    exported_size = int(metadata.get("imgsz") or metadata["preprocessing"]["input_size"])
    if imgsz and imgsz != exported_size:
        raise MobileVisionError(f"--imgsz {imgsz}: {path} was exported at {exported_size}; drop --imgsz or pass "
                                "the .pt checkpoint, which is exported at any size")
    _leave_cores_to_onnxruntime()
    return task_predictor(network, name=f"{metadata['task']}: {metadata['model_name']} ({_short_name(path)})",
                          task=metadata["task"], class_names=network.class_names, preprocessing=network.preprocessing,
                          imgsz=exported_size, runtime="onnxruntime", device=torch.device("cpu"), min_conf=min_conf)


def _leave_cores_to_onnxruntime() -> None:
    """As bench does: torch's pre/post-processing on one thread. Its OpenMP threads keep spinning
    after each op and can slow the next ONNX Runtime call by half (reference/numbers.md)."""
    import torch

    torch.set_num_threads(1)


def _short_name(path: Path) -> str:
    """runs/detect/det/weights/best.pt -> det/best.pt; any other path -> its file name."""
    return f"{path.parent.parent.name}/{path.name}" if path.parent.name == "weights" else path.name
