"""What `predict`, the Python API and the demos run on a frame: a predictor, one trained model on
one runtime. Each task's predictor (tasks/<task>/predictor.py) subclasses FramePredictor.

The contract:

    name: str                          shown in the demos' model picker and logs
    task: str                          the task of the model (a registry name)
    tasks: tuple[str, ...]             the keys __call__ returns: single tasks
    class_names: dict[str, list[str]]  per task; detect: the names of labels 1..C (no background),
                                       segment: of class-map values 0..K-1, classify: of logit indices
    runtime: str                       what runs the network
    __call__(image, *, conf) -> dict   image (H, W, 3) uint8 RGB of any size ->
        "classify": (C,) float32 logits
        "detect":   {"boxes": (D, 4) float32 xyxy in the image's pixels, "scores": (D,) float32,
                     "labels": (D,) int64 in 1..C}, only scores >= conf
        "segment":  (H, W) uint8 class map at the image's size
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from mobilevision.tasks.base import TrainedModel


class FramePredictor(ABC):
    """The shared part: the network, its preprocessing, the device and memory format it runs in."""

    def __init__(self, trained: TrainedModel, *, imgsz: int, device: torch.device, name: str | None = None) -> None:
        self.network, self.task, self.runtime, self.device = trained.network, trained.task, trained.runtime, device
        # ONNX Runtime's wrapper holds the PyTorch task model whose post-processing it runs.
        self.model = getattr(trained.network, "task_model", trained.network)
        self.name = name or f"{trained.task}: {trained.model_name}"
        self.class_names = trained.names_per_task()
        self.tasks = tuple(self.class_names)
        self.imgsz = imgsz
        self.mean, self.std = trained.preprocessing["mean"], trained.preprocessing["std"]
        # ONNX Runtime copies its input into a plain contiguous array anyway.
        on_onnxruntime = trained.runtime.startswith("onnxruntime")
        self.memory_format = torch.contiguous_format if on_onnxruntime else torch.channels_last
        # Segmentation class maps of frames larger than the input: False, logits resized to the frame
        # before the argmax (`predict`, pixel for pixel); True, the argmax at the input's size scaled
        # up (segment/predictor.py scale_up_map), what the live demo draws, 3-5 ms less a frame.
        self.maps_at_input = False

    def batch(self, tensor: torch.Tensor) -> torch.Tensor:
        """A preprocessed image (3, S, S) as a batch of one on the device, in the network's layout."""
        return tensor[None].to(self.device, memory_format=self.memory_format)

    @abstractmethod
    def __call__(self, image: np.ndarray, *, conf: float) -> dict:
        """image (H, W, 3) uint8 RGB -> {task: result}, as the module docstring lists them."""
