"""`mobilevision multitask predict SOURCE`: every task's predictions on an image, each image of a
folder or each frame of a video, from one backbone pass, drawn and saved into runs/multitask/predict*."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilevision.datasets.transforms import detection_transforms
from mobilevision.visualize.draw import draw_detections, draw_panel
from mobilevision.visualize.masks import class_fractions, draw_segmentation
from mobilevision.demos.predictor import skip_scores_below
from mobilevision.tasks.classify.predict import top_classes
from mobilevision.tasks.detect.predict import describe_detections
from mobilevision.engine.device import select_device
from mobilevision.engine.run_dir import new_run_dir
from mobilevision.engine.media import VideoOutput, frames, is_video, save_drawn
from mobilevision.tasks.multitask.val import load_multitask
from mobilevision.tasks.segment.predict import class_map

TOP_K = 3  # classes listed and drawn per image
# The validation pipeline is box-aware and wants its box fields; a frame comes without boxes.
NO_BOXES = {"bboxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64), "flags": np.zeros(0, np.uint8)}


class MultiTaskPredictor:
    """A multi-task model (PyTorch, or its export in OnnxRuntimeModel) on frames of any size, with
    the demos' predictor contract (demos/predictor.py): name, tasks, class_names, runtime and

    __call__(image (H, W, 3) uint8 RGB, *, conf) -> {"classify": (K,) float32 logits, "detect":
    {"boxes" (D, 4) float32 xyxy in the image's pixels, "scores" (D,), "labels" (D,) int64 in 1..C}
    with scores >= conf, "segment": (H, W) uint8 class map} for the model's tasks.

    The network sees the (S, S) resize validation uses, once per frame; the segmentation logits
    are resized to the frame before the argmax, so the class map is not blocky. min_conf: the
    lowest `conf` it will be called with (demos.predictor.skip_scores_below).
    """

    def __init__(self, network: nn.Module, *, name: str, class_names: Mapping[str, list[str]], preprocessing: dict,
                 imgsz: int, runtime: str, device: torch.device, min_conf: float = 0.0) -> None:
        self.network, self.name, self.runtime, self.device = network, name, runtime, device
        # ONNX Runtime's wrapper holds the PyTorch model whose postprocess it runs.
        self.model = getattr(network, "task_model", network)
        self.tasks = tuple(self.model.task_names)
        if "detect" in self.tasks:
            skip_scores_below(self.model.tasks["detect"], min_conf=min_conf)
        self.class_names = {task: list(class_names[task]) for task in self.tasks}
        self.transform = detection_transforms(False, size=imgsz, mean=preprocessing["mean"], std=preprocessing["std"])
        self.memory_format = torch.contiguous_format if runtime == "onnxruntime" else torch.channels_last

    @torch.no_grad()
    def __call__(self, image: np.ndarray, *, conf: float) -> dict:
        height, width = image.shape[:2]
        batch = self.transform(image=image, **NO_BOXES)["image"][None].to(self.device, memory_format=self.memory_format)
        raw = self.model.split_raw_outputs(self.network.raw_outputs(batch))
        results = {}
        if "classify" in raw:
            results["classify"] = raw["classify"][0].float().cpu().numpy()
        if "detect" in raw:
            (found,) = self.model.tasks["detect"].postprocess(raw["detect"], image_size=tuple(batch.shape[-2:]),
                                                              orig_sizes=[(height, width)])
            keep = found["scores"] >= conf
            results["detect"] = {key: value[keep].cpu().numpy() for key, value in found.items()}
        if "segment" in raw:  # not the head's postprocess: its class map is at the input size
            results["segment"] = class_map(raw["segment"].float(), size=(height, width))
        return results


def draw_results(image: np.ndarray, results: dict, *, class_names: Mapping[str, list[str]]) -> np.ndarray:
    """A copy of image (H, W, 3) uint8 RGB with the class map blended under the boxes, its legend
    in the bottom-left corner and the top classes in the top-left one."""
    canvas = image
    if "segment" in results:
        canvas = draw_segmentation(canvas, results["segment"], class_names=class_names["segment"])
    if "detect" in results:
        found = results["detect"]
        canvas = draw_detections(canvas, found["boxes"], found["labels"], found["scores"],
                                 class_names=class_names["detect"])
    if "classify" in results:
        top = top_classes(results["classify"], class_names=class_names["classify"], k=TOP_K)
        canvas = draw_panel(canvas, [(f"{entry['name']} {entry['score']:.0%}", None) for entry in top])
    return canvas


def describe_results(results: dict, *, class_names: Mapping[str, list[str]]) -> dict:
    """The results as JSON, in the single-task predict commands' words: "top" (classify), "detections"
    (detect) and "classes" ({name: fraction of the pixels}, segment)."""
    described = {}
    if "classify" in results:
        described["top"] = top_classes(results["classify"], class_names=class_names["classify"], k=TOP_K)
    if "detect" in results:
        described["detections"] = describe_detections(results["detect"], class_names=class_names["detect"])
    if "segment" in results:
        names = class_names["segment"]
        described["classes"] = {names[index]: round(fraction, 4)
                                for index, fraction in class_fractions(results["segment"], class_names=names).items()}
    return described


def predict_multitask(source: str, *, weights: str, imgsz: int | None = None, conf: float = 0.25,
                      device: str = "auto", project: str = "runs", name: str | None = None) -> Iterator[dict]:
    """For each image or frame: {"source", "size": [w, h], "output", "top", "detections", "classes"}
    (describe_results; the keys of the model's tasks). Images are saved drawn as <stem>.jpg in the
    run folder, a video as <stem>.mp4 with every frame drawn; all results also go to predictions.json."""
    network, checkpoint = load_multitask(weights)
    target = select_device(device)
    network.to(device=target, memory_format=torch.channels_last)
    predictor = MultiTaskPredictor(network, name=Path(weights).name, class_names=checkpoint["class_names"],
                                   preprocessing=checkpoint["preprocessing"],
                                   imgsz=imgsz or checkpoint["preprocessing"]["input_size"], runtime="torch",
                                   device=target)
    run_dir = new_run_dir(project, "multitask", name or "predict", exist_ok=False)
    video, results = is_video(source), []
    with VideoOutput(run_dir / f"{Path(source).stem}.mp4", source=source) as video_output:
        try:
            for frame_name, image in frames(source):
                found = predictor(image, conf=conf)
                drawn = draw_results(image, found, class_names=predictor.class_names)
                output = save_drawn(drawn, frame_name=frame_name, run_dir=run_dir,
                                    video_output=video_output if video else None)
                result = {"source": frame_name, "size": [image.shape[1], image.shape[0]], "output": str(output),
                          **describe_results(found, class_names=predictor.class_names)}
                results.append(result)
                yield result
        finally:
            (run_dir / "predictions.json").write_text(json.dumps(results, indent=1))
