"""The Python API, in the style of timm and torchvision (`mobilevision/__init__.py` exports it):

    import mobilevision as mv

    mv.list_models()                                   # every model name, as `mobilevision info`
    model = mv.create_model("ssdlite_mobilenet_v2", width=0.5, num_classes=7)    # a torch nn.Module
    detector = mv.load("runs/detect/exp/weights/best.pt")
    results = detector.predict("image.jpg")            # one result per image, as `predict --json`
    rows = mv.benchmark("mobilenet_v2", imgsz=224, runtimes=["eager", "optimized"])

Each is what the command line runs: the model registry, the task's loader and frame predictor on
the runtime asked for, and the benchmark's worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import nn

from mobilevision.datasets.image_io import read_image
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.registry import MODELS, build_model, get_task

Image = str | Path | np.ndarray  # a file, or an RGB (H, W, 3) uint8 array


def list_models(task: str | None = None) -> list[str]:
    """Every registered model name, or only `task`'s (classify, detect, segment, multitask)."""
    return [name for name, entry in MODELS.items() if task is None or entry.task == get_task(task).name]


def create_model(name: str, *, weights: str | None = None, **kwargs) -> nn.Module:
    """The registered model `name` built with the builder's keyword arguments (width, num_classes,
    a head's options such as ssdlite={"nms_iou": 0.5}, ...), in training mode as torchvision's
    builders return it; `weights` (a checkpoint, a URL or a name like torchvision:IMAGENET1K_V2) are
    loaded into it."""
    model = build_model(name, **kwargs)
    if weights is not None:
        from mobilevision.engine.weights import load_weights

        load_weights(model, weights)
    return model


class Predictor:
    """A trained model ready to predict: `.task`, `.class_names` ({task: names}), `.runtime`,
    `.network` (the module that runs) and `.predict(images)`."""

    def __init__(self, predictor: FramePredictor) -> None:
        self.predictor = predictor
        self.task, self.class_names = predictor.task, predictor.class_names
        self.runtime, self.network = predictor.runtime, predictor.network

    def predict(self, images: Image | Sequence[Image], *, conf: float = 0.25, **options) -> list[dict]:
        """One result per image, in `mobilevision <task> predict --json`'s words: {"size": [w, h],
        "top" (classify), "detections" (detect), "classes" (segment)}. `options`: the task's predict
        flags (topk). The arrays behind them: `self.predictor(image, conf=conf)`."""
        task = get_task(self.task)
        batch = [images] if isinstance(images, (str, Path, np.ndarray)) else list(images)
        results = []
        for image in batch:
            pixels = image if isinstance(image, np.ndarray) else read_image(image)
            found = self.predictor(pixels, conf=conf)
            results.append({"size": [pixels.shape[1], pixels.shape[0]],
                            **task.describe_results(found, self.class_names, **options)})
        return results


def load(weights: str | Path, *, runtime: str = "torch", device: str = "auto", imgsz: int | None = None,
         model: str | None = None, width: float = 1.0) -> Predictor:
    """A checkpoint of any task's `train`, its .onnx export, or published classifier weights
    (`model` and `width` say which network) on `runtime` (torch, onnxruntime or auto)."""
    from mobilevision.deploy.runtime import frame_predictor, load_trained

    trained = load_trained(str(weights), runtime=runtime, device=device, imgsz=imgsz, model=model, width=width)
    return Predictor(frame_predictor(trained, device=device, imgsz=imgsz))


def benchmark(models: str | Sequence[str] | None = None, *, weights: str | Sequence[str] | None = None,
              widths: Sequence[float] | None = None, imgsz: int | Sequence[int] | None = None,
              runtimes: Sequence[str] | None = None, **settings) -> list[dict]:
    """`mobilevision bench`: each model (or trained checkpoint in `weights`) timed in every runtime
    in its own process; returns its rows (median_ms, p90_ms, images_per_s, peak_rss_mib, params,
    madds, ...), also written to runs/bench/<name>/. `settings`: BenchSettings' other fields
    (iters, warmup, batch, threads, data, project, name, ...)."""
    from mobilevision.bench.run import BenchSettings, run_bench

    def as_list(value):
        return None if value is None else [value] if isinstance(value, (str, int, float)) else list(value)

    chosen = {"models": as_list(models), "weights": as_list(weights), "widths": as_list(widths),
              "imgsz": as_list(imgsz)}
    if runtimes is not None:
        chosen["runtimes"] = list(runtimes)
    rows, _ = run_bench(BenchSettings(**chosen, **settings))
    return rows
