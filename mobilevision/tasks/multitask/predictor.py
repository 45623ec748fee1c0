"""The multi-task model on frames: every head's result from one backbone pass."""

from __future__ import annotations

import numpy as np
import torch

from mobilevision.datasets.transforms import detection_transforms
from mobilevision.tasks.base import TrainedModel
from mobilevision.tasks.detect.predictor import keep_scores, skip_scores_below
from mobilevision.tasks.predictor import FramePredictor
from mobilevision.tasks.segment.predictor import frame_class_map

# The validation pipeline is box-aware and wants its box fields; a frame comes without boxes.
NO_BOXES = {"bboxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64), "flags": np.zeros(0, np.uint8)}


class MultiTaskPredictor(FramePredictor):
    """__call__(image (H, W, 3) uint8 RGB, *, conf) -> {"classify": (K,) float32 logits, "detect":
    {"boxes" (D, 4) float32 xyxy in the image's pixels, "scores" (D,), "labels" (D,) int64 in 1..C}
    with scores >= conf, "segment": (H, W) uint8 class map} for the model's tasks.

    The network sees the (S, S) resize validation uses, once per frame; the segmentation logits
    are resized to the frame before the argmax, so the class map is not blocky (with
    `maps_at_input`, a frame larger than S x S: to S x S, the map then scaled up). min_conf: the
    lowest `conf` it will be called with (detect.predictor.skip_scores_below).
    """

    def __init__(self, trained: TrainedModel, *, imgsz: int, device: torch.device, min_conf: float = 0.0,
                 name: str | None = None) -> None:
        super().__init__(trained, imgsz=imgsz, device=device, name=name)
        self.tasks = tuple(self.model.task_names)
        if "detect" in self.tasks:
            skip_scores_below(self.model.tasks["detect"], min_conf=min_conf)
        self.class_names = {task: self.class_names[task] for task in self.tasks}
        self.transform = detection_transforms(False, size=imgsz, mean=self.mean, std=self.std)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, *, conf: float) -> dict:
        height, width = image.shape[:2]
        batch = self.batch(self.transform(image=image, **NO_BOXES)["image"])
        raw = self.model.split_raw_outputs(self.network.raw_outputs(batch))
        results = {}
        if "classify" in raw:
            results["classify"] = raw["classify"][0].float().cpu().numpy()
        if "detect" in raw:
            (found,) = self.model.tasks["detect"].postprocess(raw["detect"], image_size=tuple(batch.shape[-2:]),
                                                              orig_sizes=[(height, width)])
            results["detect"] = keep_scores(found, conf=conf)
        if "segment" in raw:  # not the head's postprocess: its class map is at the input size
            # The whole (S, S) input is the frame: no padding to cut.
            input_size = tuple(batch.shape[-2:])
            results["segment"] = frame_class_map(raw["segment"].float(), input_size=input_size, content=input_size,
                                                 size=(height, width), at_input=self.maps_at_input)
        return results
