"""A trained model on the runtime asked for: PyTorch as trained, PyTorch with BatchNorm folded and
channels_last, or ONNX Runtime on its export (made once, kept beside the checkpoint).

`--runtime auto` (the demos' default): on a CPU the faster of folded PyTorch and ONNX Runtime (where
the export agrees with PyTorch), timed on first use and cached beside the checkpoint
(runtime_choice.py); PyTorch folded on a GPU or where the export fails. What runs is in
TrainedModel.runtime.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import torch

from mobilevision.engine.checkpoint import is_checkpoint
from mobilevision.engine.device import select_device
from mobilevision.engine.machine import cpu_name
from mobilevision.errors import MobileVisionError
from mobilevision.tasks.base import TrainedModel
from mobilevision.tasks.checkpoint_file import read_checkpoint
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.published import is_published, resolve_checkpoint
from mobilevision.tasks.registry import get_task

RUNTIMES = ("auto", "torch", "onnxruntime")
FOLDED = "torch (BN folded, channels_last)"
ONNXRUNTIME = "onnxruntime"
# Largest |ONNX Runtime - PyTorch| on the raw outputs for which the export counts as correct
# (fp32 exports agree to ~1e-6; a wrong graph is off by whole units).
ORT_TOLERANCE = 1e-3


def load_trained(weights: str, *, task: str | None = None, runtime: str = "torch", device: str = "auto",
                 imgsz: int | None = None, model: str | None = None, width: float = 1.0,
                 log: Callable[[str], None] = print) -> TrainedModel:
    """`weights` (a checkpoint, its .onnx export, a published model's name such as
    torchvision:ssdlite320_mobilenet_v3_large, or published classifier weights named with `model`
    and `width`) on `runtime`, for `task` (None: the task the weights were trained for).
    imgsz: the input size an ONNX export is made for (default: the weights' own)."""
    if runtime not in RUNTIMES:
        raise MobileVisionError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if is_published(weights):  # a published model's converted checkpoint, under its name
        trained = load_trained(resolve_checkpoint(weights), task=task, runtime=runtime, device=device, imgsz=imgsz,
                               log=log)
        trained.weights = weights
        return trained
    path = Path(weights)
    if path.suffix == ".onnx":
        if runtime == "torch":
            raise MobileVisionError(f"--weights {weights} is an ONNX file, which runs in ONNX Runtime; pass its .pt "
                                    "checkpoint for --runtime torch, or --runtime onnxruntime")
        return _onnx_model(path, task=task, imgsz=imgsz)
    if task is None:  # published weights are classifiers
        task = read_checkpoint(path)["task"] if is_checkpoint(path) else "classify"
    trained = get_task(task).load(weights, model=model, width=width)
    if runtime == "torch" or not trained.from_checkpoint:
        return trained
    if runtime == "auto" and select_device(device).type != "cpu":
        return _folded(trained)
    size = imgsz or int(trained.preprocessing["input_size"])
    try:
        onnx = exported_onnx(path, imgsz=size, log=log)
    except Exception as error:  # the exporter raises many types; auto falls back, explicit stops
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if runtime == "onnxruntime":
            raise MobileVisionError(f"--weights {weights}: no ONNX export for ONNX Runtime ({reason}); "
                                    "use --runtime torch") from error
        log(f"{weights}: ONNX Runtime unavailable ({reason}); running it in PyTorch")
        return _folded(trained)
    if runtime == "auto":
        return _fastest(trained, checkpoint=path, onnx=onnx, imgsz=size, log=log)
    return _onnx_model(onnx, task=trained.task, imgsz=size, weights=str(weights))


def frame_predictor(trained: TrainedModel, *, device: str = "auto", imgsz: int | None = None,
                    min_conf: float = 0.0) -> FramePredictor:
    """The task's frame predictor of `trained`, its network moved to `device` (ONNX Runtime runs on
    the CPU), at `imgsz` (default: the weights' input size). min_conf: the lowest box score asked for."""
    target = select_device(device if trained.runtime.startswith("torch") else "cpu")
    trained.network.to(device=target)
    size = imgsz or int(trained.preprocessing["input_size"])
    return get_task(trained.task).predictor(trained, imgsz=size, device=target, min_conf=min_conf)


def _folded(trained: TrainedModel) -> TrainedModel:
    from mobilevision.deploy.fold import optimize_for_inference

    trained.network, trained.runtime = optimize_for_inference(trained.network), FOLDED
    return trained


def _fastest(trained: TrainedModel, *, checkpoint: Path, onnx: Path, imgsz: int,
             log: Callable[[str], None]) -> TrainedModel:
    """--runtime auto on a CPU: `trained` folded or on ONNX Runtime (its export `onnx`), whichever
    runs faster here at `imgsz`, timed now or as cached beside `checkpoint`; the choice is logged."""
    from mobilevision.deploy.runtime_choice import choice_cache, choice_key, choose_runtime, network_timer

    # ONNX Runtime's sessions' count (_onnx_model), not torch's current one: an earlier model of the
    # same demo put on ONNX Runtime has left torch on 1 thread.
    threads = os.cpu_count() or 1
    on_onnxruntime = functools.cache(lambda: _onnx_model(onnx, task=trained.task, imgsz=imgsz,
                                                         weights=trained.weights))
    folded = _folded(trained)
    timers = {FOLDED: network_timer(lambda: folded.network, imgsz=imgsz, memory_format=torch.channels_last,
                                    torch_threads=threads),
              ONNXRUNTIME: network_timer(lambda: on_onnxruntime().network, imgsz=imgsz,
                                         memory_format=torch.contiguous_format, torch_threads=1)}
    cpu = cpu_name()
    choice = choose_runtime(cache=choice_cache(checkpoint), timers=timers, reference=FOLDED, imgsz=imgsz, cpu=cpu,
                            key=choice_key(checkpoint, imgsz=imgsz, threads=threads, cpu=cpu, runtimes=list(timers)))
    log(choice.summary())
    if choice.runtime == ONNXRUNTIME:
        leave_cores_to_onnxruntime()  # a cached choice timed nothing; the session is built now
        return on_onnxruntime()
    on_onnxruntime.cache_clear()  # a session built for timing goes, and its threads with it
    torch.set_num_threads(threads)
    return folded


def _onnx_model(path: Path, *, task: str | None, imgsz: int | None, weights: str | None = None) -> TrainedModel:
    from mobilevision.deploy.onnx_model import OnnxRuntimeModel

    network = OnnxRuntimeModel(path, threads=os.cpu_count() or 1)
    metadata = network.metadata
    if task is not None and metadata["task"] != task:
        raise MobileVisionError(f"--weights {path}: a {metadata['task']} model; {task} needs a {task} model")
    exported_size = int(metadata.get("imgsz") or metadata["preprocessing"]["input_size"])
    if imgsz and imgsz != exported_size:
        raise MobileVisionError(f"--imgsz {imgsz}: {path} was exported at {exported_size}; drop --imgsz or pass "
                                "the .pt checkpoint, which is exported at any size")
    leave_cores_to_onnxruntime()
    return TrainedModel(network, task=metadata["task"], model_name=metadata["model_name"],
                        class_names=network.class_names,
                        preprocessing={**network.preprocessing, "input_size": exported_size},
                        weights=weights or str(path), runtime=ONNXRUNTIME)


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
    except MobileVisionError:  # not ours, or cut short: export again
        return False
    return metadata.get("imgsz") == imgsz and not metadata.get("int8")


def leave_cores_to_onnxruntime() -> None:
    """Pre- and post-processing in torch on one thread: torch's OpenMP threads keep spinning after
    each op and can slow the next ONNX Runtime call by half (shared/reference/numbers.md)."""
    torch.set_num_threads(1)


def load_runtime(*, runtime: str, checkpoint: str, onnx: str | None, threads: int) -> tuple[torch.nn.Module, dict]:
    """(model with the task models' eval interface, checkpoint dict) for one of bench's runtimes:
    eager (as trained), optimized (folded + channels_last), ort_fp32 / ort_int8 (the `onnx` file)."""
    from mobilevision.deploy.fold import optimize_for_inference
    from mobilevision.deploy.onnx_model import OnnxRuntimeModel
    from mobilevision.tasks.registry import load_checkpoint

    if runtime in ("ort_fp32", "ort_int8"):
        # Set before loading the checkpoint: building the model with 2 threads left a spinning
        # OpenMP thread that slowed some ONNX Runtime workers for their whole life.
        leave_cores_to_onnxruntime()
        # The checkpoint dict only: the wrapper builds the post-processing model it needs itself.
        return OnnxRuntimeModel(Path(onnx), threads=threads), read_checkpoint(checkpoint)
    if runtime not in ("eager", "optimized"):
        raise MobileVisionError(f"unknown runtime {runtime!r}")
    model, info = load_checkpoint(checkpoint)
    return (optimize_for_inference(model) if runtime == "optimized" else model), info
