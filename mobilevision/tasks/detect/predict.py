"""`mobilevision detect predict SOURCE`: boxes, class names and scores on an image, every image of a
folder, or every frame of a video, drawn and saved into runs/detect/predict* with detections.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mobilevision.visualize.draw import draw_detections
from mobilevision.tasks.detect.val import load_detector
from mobilevision.engine.device import select_device
from mobilevision.engine.run_dir import new_run_dir
from mobilevision.engine.media import VideoOutput, frames, is_video, save_drawn
from mobilevision.datasets.network_input import network_input


@torch.no_grad()
def detect_image(network: nn.Module, image: np.ndarray, *, size: int, mean, std, device: torch.device,
                 score_threshold: float) -> dict[str, np.ndarray]:
    """RGB image (H, W, 3) uint8 of any size -> {"boxes" (D, 4) xyxy in the image's own pixels,
    "scores" (D,), "labels" (D,) in 1..C}, scores >= score_threshold.

    The network sees a (size, size) resize, as in training and validation (network_input).
    """
    height, width = image.shape[:2]
    batch = torch.from_numpy(network_input(image, size=size, mean=mean, std=std)).unsqueeze(0)
    batch = batch.to(device).contiguous(memory_format=torch.channels_last)
    detections = network(batch, orig_sizes=[(height, width)])[0]
    keep = detections["scores"] >= score_threshold
    return {key: value[keep].float().cpu().numpy() if key != "labels" else value[keep].cpu().numpy()
            for key, value in detections.items()}


def describe_detections(found: dict[str, np.ndarray], *, class_names: list[str]) -> list[dict]:
    """detect_image's result -> [{"box": [x1, y1, x2, y2], "score", "label", "name"}], rounded for JSON."""
    return [{"box": [round(float(v), 2) for v in box], "score": round(float(score), 4), "label": int(label),
             "name": class_names[int(label) - 1]}
            for box, score, label in zip(found["boxes"], found["scores"], found["labels"])]


def predict_detections(source: str, *, weights: str, imgsz: int | None = None, conf: float = 0.25,
                       device: str = "auto", project: str = "runs", name: str | None = None) -> Iterator[dict]:
    """For each image or frame: {"source", "size": [w, h], "detections": [{"box": [x1, y1, x2, y2],
    "score", "label", "name"}], "output"}. Images are saved annotated as <stem>.jpg in the run folder;
    a video as <stem>.mp4 with every frame annotated; all results also go to detections.json."""
    network, checkpoint = load_detector(weights)
    preprocessing, class_names = checkpoint["preprocessing"], list(checkpoint["class_names"])
    size = imgsz or preprocessing["input_size"]
    target = select_device(device)
    network.to(device=target, memory_format=torch.channels_last)
    run_dir = new_run_dir(project, "detect", name or "predict", exist_ok=False)
    video, results = is_video(source), []
    with VideoOutput(run_dir / f"{Path(source).stem}.mp4", source=source) as video_output:
        try:
            for frame_name, image in frames(source):
                found = detect_image(network, image, size=size, mean=preprocessing["mean"], std=preprocessing["std"],
                                     device=target, score_threshold=conf)
                drawn = draw_detections(image, found["boxes"], found["labels"], found["scores"],
                                        class_names=class_names)
                output = save_drawn(drawn, frame_name=frame_name, run_dir=run_dir,
                                    video_output=video_output if video else None)
                result = {"source": frame_name, "size": [image.shape[1], image.shape[0]], "output": str(output),
                          "detections": describe_detections(found, class_names=class_names)}
                results.append(result)
                yield result
        finally:
            (run_dir / "detections.json").write_text(json.dumps(results, indent=1))
