"""Predictors from `--weights`: each model on the fastest correct runtime this machine has
(deploy/runtime.py), with its task's frame predictor, named and warmed up for the demos; and the
web page's list of models, where published models already in the torch hub cache are loaded
when first selected."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mobilevision.deploy.runtime import frame_predictor, load_trained
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.published import PREFIX, is_published, named_weights, published


def load_predictors(weights: Sequence[str], *, runtime: str = "auto", imgsz: int | None = None,
                    device: str = "auto", min_conf: float = 0.0, log: Callable[[str], None] = print
                    ) -> list[FramePredictor]:
    """One predictor per --weights, named uniquely (two runs' best.pt are told apart by their run),
    each warmed up (warm_up). min_conf: the lowest detection score they will be asked for."""
    predictors = [load_predictor(spec, runtime=runtime, imgsz=imgsz, device=device, min_conf=min_conf, log=log)
                  for spec in weights]
    names = [predictor.name for predictor in predictors]
    for index, predictor in enumerate(predictors):
        predictor.maps_at_input = True  # drawn over the frame, not saved as a mask: the faster map
        if names.count(predictor.name) > 1:
            predictor.name = f"{predictor.name} #{index + 1}"
        warm_up(predictor)
    return predictors


def load_predictor(weights: str, *, runtime: str = "auto", imgsz: int | None = None, device: str = "auto",
                   min_conf: float = 0.0, log: Callable[[str], None] = print) -> FramePredictor:
    """A checkpoint of any task's `train` (or its `mobilevision export` .onnx), or a published
    model's name, on `runtime`."""
    trained = load_trained(weights, runtime=runtime, device=device, imgsz=imgsz, log=log)
    predictor = frame_predictor(trained, device=device, imgsz=imgsz, min_conf=min_conf)
    predictor.name = predictor_name(task=trained.task, model_name=trained.model_name, weights=weights)
    return predictor


def warm_up(predictor: FramePredictor) -> None:
    """Two calls on a blank (480, 640, 3) image: oneDNN builds its convolution kernels during the
    first two (about a second each for SSDLite on 2 cores), paid here, not by the first frames shown."""
    for _ in range(2):
        predictor(np.zeros((480, 640, 3), dtype=np.uint8), conf=1.0)


def predictor_name(*, task: str, model_name: str, weights: str) -> str:
    """What the demos call a model: "detect: ssdlite_mobilenet_v2 (det/best.pt)"; a published one
    by its shortest name, the builder alone for its default weights, whichever name was given."""
    if is_published(weights):
        entry = published(weights)
        short = f"{PREFIX}{entry.builder}" if entry.default else entry.name
    else:  # runs/detect/det/weights/best.pt -> det/best.pt; any other path -> its file name
        path = Path(weights)
        short = f"{path.parent.parent.name}/{path.name}" if path.parent.name == "weights" else path.name
    return f"{task}: {model_name} ({short})"


def cached_published() -> list[str]:
    """The published models whose file is in the torch hub cache already, so that loading one
    downloads nothing (only the publisher's file counts: loading checks its SHA-256 every time)."""
    return [row["name"] for row in named_weights() if row["kind"] == "model" and row["cached"]]


class ModelList:
    """The web page's models by name: the predictors loaded at start, then the published models of
    `published_names` not among them, each loaded by `load` when first selected.

    No download happens behind the user's back: pass only published models already in the hub
    cache (cached_published). Requests run concurrently, so a model is loaded once, under a lock.
    """

    def __init__(self, predictors: Sequence[FramePredictor], *, published_names: Sequence[str],
                 load: Callable[[str], FramePredictor]) -> None:
        self.loaded = {predictor.name: predictor for predictor in predictors}
        self.on_selection: dict[str, str] = {}  # display name: published name, of the models not loaded at start
        self.tasks = {task for predictor in predictors for task in predictor.tasks}  # of every model, loaded or not
        for name in published_names:
            entry = published(name)
            display = predictor_name(task=entry.task, model_name=entry.model, weights=name)
            if display not in self.loaded:
                self.on_selection[display] = name
                self.tasks.add(entry.task)
        self.names = [*self.loaded, *self.on_selection]
        self._load = load
        self._lock = threading.Lock()

    def select(self, names: Sequence[str]) -> list[FramePredictor]:
        """The predictors of `names`, in the list's order, loading (and warming up) the ones not
        loaded yet; a name not in the list is ignored."""
        for display in self.on_selection:
            if display in names and display not in self.loaded:
                with self._lock:
                    if display not in self.loaded:  # another request may have loaded it meanwhile
                        predictor = self._load(self.on_selection[display])
                        predictor.name = display
                        warm_up(predictor)
                        self.loaded[display] = predictor
        return [self.loaded[display] for display in self.names if display in names]
